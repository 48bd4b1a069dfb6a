//! End-to-end scenarios: the real `acsd` server on 127.0.0.1:0, a test CPE speaking SOAP over
//! HTTP, and the REST API over HTTP. Runs on SQLite always and on PostgreSQL when
//! `ACSD_TEST_DATABASE_URL` is set (CI sets it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cpe;
mod usp;

use std::net::SocketAddr;
use std::time::Duration;

use api::{ConfigArgs, CpeAuth, RunningServer, Settings};
use bytes::Bytes;
use cpe::TestCpe;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

const TOKEN: &str = "test-admin-token-0123456789";

struct Harness {
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
    db_url: String,
    auth: CpeAuth,
    /// PEM certificate and key files for the CWMP-over-TLS listener.
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

async fn pg_url() -> Option<String> {
    let base = std::env::var("ACSD_TEST_DATABASE_URL").ok()?;
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&base).await.expect("postgres reachable");
    let schema = format!("acsd_api_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

impl Harness {
    async fn new(backend: Backend, auth: CpeAuth) -> Option<Harness> {
        let dir = tempfile::tempdir().unwrap();
        let db_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("acs.db").display()),
            Backend::Postgres => match pg_url().await {
                Some(u) => u,
                None => {
                    eprintln!("skipped: ACSD_TEST_DATABASE_URL not set");
                    return None;
                }
            },
        };
        let mut h = Harness { server: None, dir, db_url, auth, tls: None };
        h.start().await;
        Some(h)
    }

    async fn start(&mut self) {
        let args = ConfigArgs {
            data_dir: Some(self.dir.path().to_path_buf()),
            database_url: Some(self.db_url.clone()),
            cwmp_listen: Some("127.0.0.1:0".parse().unwrap()),
            api_listen: Some("127.0.0.1:0".parse().unwrap()),
            usp_ws_listen: Some("127.0.0.1:0".parse().unwrap()),
            cpe_auth: Some(self.auth),
            cpe_username: Some("cpe".into()),
            cpe_password: Some("cpe-secret".into()),
            session_timeout: Some(2),
            flush_interval_ms: Some(20),
            cwmps_listen: self.tls.as_ref().map(|_| "127.0.0.1:0".parse().unwrap()),
            tls_cert: self.tls.as_ref().map(|t| t.0.clone()),
            tls_key: self.tls.as_ref().map(|t| t.1.clone()),
            ..Default::default()
        };
        let settings = Settings::resolve(args).unwrap();
        self.server = Some(api::start(settings, Some(TOKEN.into())).await.unwrap());
    }

    async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.start().await;
    }

    fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }
    fn cwmp(&self) -> SocketAddr {
        self.server().cwmp_addr
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        api_call(
            self.server().api_addr,
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
            Some(TOKEN),
        )
        .await
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

async fn api_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> (u16, Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder().method(method).uri(path).header("host", "acsd");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Poll `f` until it returns true or the deadline passes.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(super::Backend::Postgres).await
            }
        }
    };
}

both_backends!(bootstrap_sets_cr_credentials_and_periodic_inform, bootstrap_case);
async fn bootstrap_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    for mut cpe in [TestCpe::tr181(h.cwmp(), "B181"), TestCpe::tr098(h.cwmp(), "B098")] {
        let rpcs = cpe.session(&["0 BOOTSTRAP", "1 BOOT"]).await.unwrap();
        assert_eq!(rpcs, vec!["SetParameterValues"]);
        let ms = format!("{}ManagementServer.", cpe.root);
        let user = cpe.value(&format!("{ms}ConnectionRequestUsername")).unwrap().to_string();
        assert!(user.starts_with("cr-"), "{user}");
        assert!(!cpe.value(&format!("{ms}ConnectionRequestPassword")).unwrap().is_empty());
        assert_eq!(cpe.value(&format!("{ms}PeriodicInformEnable")), Some("true"));
        assert_eq!(cpe.value(&format!("{ms}PeriodicInformInterval")), Some("3600"));
        assert!(cpe.value(&format!("{ms}PeriodicInformTime")).unwrap().starts_with("1970-01-01T"));
        let (st, dev) =
            h.api("GET", &format!("/api/v1/devices/{}", enc(&cpe.device_id())), None).await;
        assert_eq!(st, 200, "{dev}");
        assert_eq!(dev["periodicInformInterval"], 3600);
        assert_eq!(dev["online"], true);
        assert!(dev.get("crPassword").is_none() && !dev.to_string().contains("Password"));
        // A periodic inform afterwards has nothing to do.
        assert!(cpe.session(&["2 PERIODIC"]).await.unwrap().is_empty());
    }
}

both_backends!(queued_task_runs_at_next_inform, queued_task_case);
async fn queued_task_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let mut cpe = TestCpe::tr181(h.cwmp(), "Q1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let (st, task) = h
        .api(
            "POST",
            &format!("/api/v1/devices/{id}/tasks"),
            Some(json!({
                "name": "setParameterValues",
                "parameterValues": [["Device.WiFi.SSID.1.SSID", "home-net", "xsd:string"]]
            })),
        )
        .await;
    assert_eq!(st, 202, "{task}");
    assert_eq!(task["status"], "queued");
    let rpcs = cpe.session(&["2 PERIODIC"]).await.unwrap();
    assert_eq!(rpcs, vec!["SetParameterValues"]);
    assert_eq!(cpe.value("Device.WiFi.SSID.1.SSID"), Some("home-net"));
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "done", "{t}");
    let (_, params) =
        h.api("GET", &format!("/api/v1/devices/{id}/parameters?prefix=Device.WiFi."), None).await;
    assert!(
        params["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["path"] == "Device.WiFi.SSID.1.SSID" && p["value"] == "home-net"),
        "{params}"
    );

    // Every other RPC round-trips too.
    for spec in [
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]}),
        json!({"name": "getParameterNames", "parameterName": "Device.WiFi.", "nextLevel": false}),
        json!({"name": "refreshObject", "objectName": "Device.WiFi."}),
        json!({"name": "addObject", "objectName": "Device.WiFi.SSID.", "parameterValues": [["SSID", "guest"]]}),
        json!({"name": "deleteObject", "objectName": "Device.WiFi.SSID.2."}),
        json!({"name": "getRPCMethods"}),
        json!({"name": "scheduleInform", "delaySeconds": 5}),
        json!({"name": "reboot"}),
    ] {
        let (st, _) =
            h.api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(spec.clone())).await;
        assert_eq!(st, 202);
    }
    let rpcs = cpe.session(&["2 PERIODIC"]).await.unwrap();
    assert_eq!(
        rpcs,
        vec![
            "GetParameterValues",
            "GetParameterNames",
            "GetParameterNames",
            "GetParameterValues",
            "AddObject",
            "SetParameterValues",
            "DeleteObject",
            "GetRPCMethods",
            "ScheduleInform",
            "Reboot",
        ]
    );
    let (_, tasks) = h.api("GET", &format!("/api/v1/tasks?device={id}&status=done"), None).await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 9, "{tasks}");
}

both_backends!(cpe_fault_is_recorded, fault_case);
async fn fault_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let mut cpe = TestCpe::tr181(h.cwmp(), "F1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let (_, task) = h
        .api(
            "POST",
            &format!("/api/v1/devices/{id}/tasks"),
            Some(json!({"name": "getParameterValues", "parameterNames": ["Device.Nope."]})),
        )
        .await;
    cpe.session(&["2 PERIODIC"]).await.unwrap();
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "fault", "{t}");
    assert_eq!(t["fault"]["code"], "9005");
    let (_, faults) = h.api("GET", &format!("/api/v1/faults?device={id}"), None).await;
    assert_eq!(faults["items"][0]["code"], "9005", "{faults}");
    // Retry through the API runs it again at the next contact.
    let (st, _) = h.api("POST", &format!("/api/v1/tasks/{}/retry", task["id"]), None).await;
    assert_eq!(st, 200);
    assert_eq!(cpe.session(&["2 PERIODIC"]).await.unwrap(), vec!["GetParameterValues"]);
    // Per-parameter SetParameterValues faults keep their detail.
    let (_, task) = h
        .api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(json!({"name": "setParameterValues", "parameterValues": [["Device.DeviceInfo.ModelName", "x"]]})))
        .await;
    cpe.session(&["2 PERIODIC"]).await.unwrap();
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["fault"]["detail"]["setParameterValuesFaults"][0]["faultCode"], 9008, "{t}");
}

both_backends!(tasks_survive_restart, restart_case);
async fn restart_case(b: Backend) {
    let Some(mut h) = Harness::new(b, CpeAuth::None).await else { return };
    let mut cpe = TestCpe::tr181(h.cwmp(), "R1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let (_, task) = h
        .api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(json!({"name": "setParameterValues", "parameterValues": [["Device.WiFi.SSID.1.SSID", "after-restart"]]})))
        .await;
    h.restart().await;
    let mut cpe2 = TestCpe::tr181(h.cwmp(), "R1");
    cpe2.params = cpe.params.clone();
    assert_eq!(cpe2.session(&["2 PERIODIC"]).await.unwrap(), vec!["SetParameterValues"]);
    assert_eq!(cpe2.value("Device.WiFi.SSID.1.SSID"), Some("after-restart"));
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_then_transfer_complete_matched_by_command_key() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "D1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let firmware = b"firmware-image-bytes".to_vec();
    let (st, meta) = api_call(
        h.server().api_addr,
        "PUT",
        "/api/v1/files/fw-1.bin?fileType=1%20Firmware%20Upgrade%20Image&version=2.0",
        Some(firmware.clone()),
        Some(TOKEN),
    )
    .await;
    assert_eq!(st, 201, "{meta}");
    let (_, task) = h
        .api(
            "POST",
            &format!("/api/v1/devices/{id}/tasks"),
            Some(json!({"name": "download", "fileName": "fw-1.bin"})),
        )
        .await;
    assert_eq!(cpe.session(&["2 PERIODIC"]).await.unwrap(), vec!["Download"]);
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "running", "waits for TransferComplete: {t}");
    // The CPE fetches the signed URL it was given (here: the first four bytes).
    let url = cpe.download_url.clone().unwrap();
    let (status, body, etag) = http_get(&url, Some("bytes=0-3")).await;
    assert_eq!(status, 206);
    assert_eq!(body, b"firm");
    assert!(etag.is_some());
    let (status, _, _) = http_get(&url.replace("sig=", "sig=00"), None).await;
    assert_eq!(status, 403, "a tampered signature is refused");
    let key = cpe.pending_transfer.clone().unwrap();
    // The CPE reboots into the new image and reports the transfer.
    assert!(cpe
        .session(&["1 BOOT", "7 TRANSFER COMPLETE", &format!("M Download|{key}")])
        .await
        .unwrap()
        .is_empty());
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["result"]["completeTime"], "2026-11-25T12:00:05Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_without_cookies_and_reconnect_with_cookie() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "K1");
    cpe.send_cookies = false;
    assert_eq!(cpe.session(&["0 BOOTSTRAP"]).await.unwrap(), vec!["SetParameterValues"]);

    let mut cpe = TestCpe::tr181(h.cwmp(), "K2");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    h.api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.ModelName"]}))).await;
    let first = cpe.inform(&["2 PERIODIC"]).await.unwrap();
    assert!(first.cookie.is_some());
    cpe.disconnect();
    let next = cpe.post_raw(Vec::new()).await.unwrap();
    assert_eq!(next.status, 200);
    assert!(matches!(next.body, Some(cwmp_schema::Body::GetParameterValues { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_per_device_and_idle_expiry() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut a = TestCpe::tr181(h.cwmp(), "S1");
    a.session(&["0 BOOTSTRAP"]).await.unwrap();
    let first = a.inform(&["2 PERIODIC"]).await.unwrap();
    assert_eq!(first.status, 200);
    let mut b = TestCpe::tr181(h.cwmp(), "S1");
    let second = b.inform(&["2 PERIODIC"]).await.unwrap();
    assert_eq!(second.status, 503);
    assert!(second.headers.get("retry-after").is_some());
    // The first session goes idle and expires; then the device can inform again.
    let acs = h.server().acs.clone();
    eventually("idle session expiry", || {
        let acs = acs.clone();
        async move { acs.session_count() == 0 }
    })
    .await;
    assert_eq!(b.inform(&["2 PERIODIC"]).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_precise_errors() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::Digest).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "E1");
    // Wrong credentials: 401 with a Digest challenge.
    cpe.authorization = Some("Basic d3Jvbmc6d3Jvbmc=".into());
    let r = cpe.inform(&["2 PERIODIC"]).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(r.headers.get("www-authenticate").unwrap().to_str().unwrap().starts_with("Digest"));
    // Right credentials (Basic is refused in digest mode unless configured, so use no-auth server).
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "E2");
    let r = cpe.post_raw(b"<soap:Envelope><oops".to_vec()).await.unwrap();
    assert_eq!(r.status, 400);
    let r = cpe.post_raw(Vec::new()).await.unwrap();
    assert_eq!(r.status, 400, "empty POST outside a session");
    // Unknown method: fault 8000.
    let unknown = b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\"><soapenv:Header><cwmp:ID soapenv:mustUnderstand=\"1\">9</cwmp:ID></soapenv:Header><soapenv:Body><cwmp:FrobnicateDevice/></soapenv:Body></soapenv:Envelope>";
    let r = cpe.post_raw(unknown.to_vec()).await.unwrap();
    assert_eq!(r.status, 500);
    match r.body {
        Some(cwmp_schema::Body::Fault(f)) => assert_eq!(f.detail.code.code(), 8000),
        other => panic!("{other:?}"),
    }
    // API: no token → 401 JSON; invalid task → 400 JSON with the reason.
    let (st, body) = api_call(h.server().api_addr, "GET", "/api/v1/devices", None, None).await;
    assert_eq!(st, 401);
    assert_eq!(body["error"], "unauthorized");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let (st, body) = h
        .api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(json!({"name": "frobnicate"})))
        .await;
    assert_eq!(st, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("invalid task"));
    let (st, _) = h.api("GET", "/api/v1/devices/nope", None).await;
    assert_eq!(st, 404);
}

/// A CPE-side connection request listener: answers 200 to a GET that passes Digest auth with
/// the CPE's current ConnectionRequestUsername/Password, and reports each accepted request.
async fn cr_listener(
    creds: std::sync::Arc<std::sync::Mutex<(String, String)>>,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<()>) {
    use acs::auth::{AuthOutcome, Authenticator, CpeAuthMode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let auth = std::sync::Arc::new(Authenticator::new(
        CpeAuthMode::Digest,
        "test-cpe",
        b"cpe-secret-for-nonces-0123456789",
    ));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (tx, auth, creds) = (tx.clone(), auth.clone(), creds.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (tx, auth, creds) = (tx.clone(), auth.clone(), creds.clone());
                        async move {
                            let lookup = |u: &str| {
                                let c = creds.lock().unwrap();
                                (c.0 == u).then(|| c.1.clone())
                            };
                            let outcome = auth.authenticate(
                                req.method(),
                                req.uri(),
                                req.headers().get("authorization"),
                                &lookup,
                            );
                            let mut resp = http::Response::new(Full::new(Bytes::new()));
                            match outcome {
                                AuthOutcome::Rejected(ch) => {
                                    *resp.status_mut() = http::StatusCode::UNAUTHORIZED;
                                    ch.apply(resp.headers_mut());
                                }
                                _ => {
                                    let _ = tx.send(());
                                }
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, rx)
}

both_backends!(connection_request_runs_task_now, connection_request_case);
async fn connection_request_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let creds = std::sync::Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let (cr_addr, mut cr_rx) = cr_listener(creds.clone()).await;
    let mut cpe = TestCpe::tr181(h.cwmp(), "CR1");
    cpe.set_connection_request_url(&format!("http://{cr_addr}/cr/CR1"));
    cpe.session(&["0 BOOTSTRAP", "1 BOOT"]).await.unwrap();
    *creds.lock().unwrap() = (
        cpe.value("Device.ManagementServer.ConnectionRequestUsername").unwrap().to_string(),
        cpe.value("Device.ManagementServer.ConnectionRequestPassword").unwrap().to_string(),
    );
    let id = enc(&cpe.device_id());
    let api = h.server().api_addr;
    let call = tokio::spawn(async move {
        api_call(
            api,
            "POST",
            &format!("/api/v1/devices/{id}/tasks?connection_request=true&timeout=5000"),
            Some(json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.SoftwareVersion"]}).to_string().into_bytes()),
            Some(TOKEN),
        )
        .await
    });
    // The ACS knocks (Digest-authenticated); the CPE opens a session right away.
    tokio::time::timeout(Duration::from_secs(5), cr_rx.recv())
        .await
        .expect("connection request arrives")
        .unwrap();
    assert_eq!(cpe.session(&["6 CONNECTION REQUEST"]).await.unwrap(), vec!["GetParameterValues"]);
    let (status, task) = call.await.unwrap();
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["status"], "done");
    assert_eq!(task["result"]["parameters"][0][1], "1.0.0");

    // Wrong CR credentials on the CPE side: the call still queues the task and says why.
    *creds.lock().unwrap() = ("someone".into(), "else".into());
    let (status, task) = h
        .api(
            "POST",
            &format!(
                "/api/v1/devices/{}/tasks?connection_request=true&timeout=1000",
                enc(&cpe.device_id())
            ),
            Some(json!({"name": "reboot"})),
        )
        .await;
    assert_eq!(status, 202, "{task}");
    assert_eq!(task["status"], "queued");
    assert!(task["connectionRequestError"].as_str().is_some(), "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_authenticated_session_with_global_credentials() {
    use acs::auth::{digest_response, parse_challenges, DigestAlgorithm, DigestInput};
    let h = Harness::new(Backend::Sqlite, CpeAuth::Digest).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "DG1");
    let first = cpe.inform(&["0 BOOTSTRAP"]).await.unwrap();
    assert_eq!(first.status, 401);
    let header = first.headers.get("www-authenticate").unwrap().to_str().unwrap().to_string();
    let challenge = parse_challenges(&header).into_iter().find(|c| c.is("Digest")).unwrap();
    let (realm, nonce) =
        (challenge.get("realm").unwrap().to_string(), challenge.get("nonce").unwrap().to_string());
    let response = digest_response(&DigestInput {
        algorithm: DigestAlgorithm::Md5,
        username: "cpe",
        realm: &realm,
        password: "cpe-secret",
        method: "POST",
        uri: "/",
        nonce: &nonce,
        qop: Some(("auth", "00000001", "0a4f113b")),
        sess_cnonce: None,
    });
    cpe.authorization = Some(format!(
        "Digest username=\"cpe\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"/\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"{response}\""
    ));
    // The whole session runs on the authenticated connection / cookie.
    assert_eq!(cpe.session(&["0 BOOTSTRAP"]).await.unwrap(), vec!["SetParameterValues"]);
    // A wrong password is refused.
    cpe.authorization = Some(
        cpe.authorization.clone().unwrap().replace(&response, "0123456789abcdef0123456789abcdef"),
    );
    cpe.disconnect();
    assert_eq!(cpe.inform(&["2 PERIODIC"]).await.unwrap().status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_remaining_rpc_round_trips() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "ALL1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let specs = [
        json!({"name": "getParameterAttributes", "parameterNames": ["Device.WiFi.SSID.1.SSID"]}),
        json!({"name": "setParameterAttributes", "parameters": [{"name": "Device.WiFi.SSID.1.SSID", "notification": 2}]}),
        json!({"name": "getAllQueuedTransfers"}),
        json!({"name": "getQueuedTransfers"}),
        json!({"name": "cancelTransfer", "commandKey": "k"}),
        json!({"name": "factoryReset"}),
    ];
    let mut ids = Vec::new();
    for spec in specs {
        let (st, t) = h.api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(spec)).await;
        assert_eq!(st, 202, "{t}");
        ids.push(t["id"].clone());
    }
    assert_eq!(
        cpe.session(&["2 PERIODIC"]).await.unwrap(),
        vec![
            "GetParameterAttributes",
            "SetParameterAttributes",
            "GetAllQueuedTransfers",
            "GetQueuedTransfers",
            "CancelTransfer",
            "FactoryReset"
        ]
    );
    for tid in &ids {
        let (_, t) = h.api("GET", &format!("/api/v1/tasks/{tid}"), None).await;
        assert_eq!(t["status"], "done", "{t}");
    }
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", ids[0]), None).await;
    assert_eq!(t["result"]["parameters"][0]["accessList"][0], "Subscriber");

    // Transfers that finish later: Upload, ScheduleDownload, ChangeDUState.
    for (spec, rpc) in [
        (
            json!({"name": "upload", "fileType": "1 Vendor Configuration File", "url": "http://127.0.0.1:1/up"}),
            "Upload",
        ),
        (
            json!({"name": "scheduleDownload", "url": "http://127.0.0.1:1/fw.bin", "timeWindows": [{"windowStart": 0, "windowEnd": 3600, "windowMode": "1 At Any Time"}]}),
            "ScheduleDownload",
        ),
    ] {
        let (_, t) = h.api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(spec)).await;
        assert_eq!(cpe.session(&["2 PERIODIC"]).await.unwrap(), vec![rpc]);
        let (_, running) = h.api("GET", &format!("/api/v1/tasks/{}", t["id"]), None).await;
        assert_eq!(running["status"], "running", "{running}");
        assert!(cpe.pending_transfer.as_deref().is_some_and(|k| !k.is_empty()));
        // An empty CommandKey matches the one outstanding transfer.
        cpe.pending_transfer = Some(String::new());
        cpe.session(&["7 TRANSFER COMPLETE"]).await.unwrap();
        let (_, done) = h.api("GET", &format!("/api/v1/tasks/{}", t["id"]), None).await;
        assert_eq!(done["status"], "done", "{done}");
    }
    let (_, t) = h
        .api("POST", &format!("/api/v1/devices/{id}/tasks"), Some(json!({"name": "changeDUState", "operations": [{"type": "install", "url": "http://127.0.0.1:1/du.ipk"}]})))
        .await;
    assert_eq!(cpe.session(&["2 PERIODIC"]).await.unwrap(), vec!["ChangeDUState"]);
    let (_, running) = h.api("GET", &format!("/api/v1/tasks/{}", t["id"]), None).await;
    assert_eq!(running["status"], "running");
}

/// GET an absolute http URL; returns status, body and ETag.
async fn http_get(url: &str, range: Option<&str>) -> (u16, Vec<u8>, Option<String>) {
    let uri: http::Uri = url.parse().unwrap();
    let addr = format!("{}:{}", uri.host().unwrap(), uri.port_u16().unwrap());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get(uri.path_and_query().unwrap().as_str()).header("host", "acs");
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = sender.send_request(req.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, body, etag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_probes() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr098(h.cwmp(), "M1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let (st, text) = api_call(h.server().api_addr, "GET", "/metrics", None, None).await;
    assert_eq!(st, 200);
    let text = text.as_str().unwrap().to_string();
    assert!(text.contains("acsd_cwmp_informs_total 1"), "{text}");
    assert!(text.contains("acsd_cwmp_inform_events_total{event=\"0 BOOTSTRAP\"} 1"), "{text}");
    assert!(text.contains("acsd_cwmp_sessions_total{outcome=\"Completed\"} 1"), "{text}");
    let (st, ready) = api_call(h.server().api_addr, "GET", "/readyz", None, None).await;
    assert_eq!((st, ready["status"].as_str()), (200, Some("ready")));
    let (st, _) = api_call(h.server().api_addr, "GET", "/healthz", None, None).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwmp_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();

    let mut h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    h.tls = Some((cert_path, key_path));
    h.restart().await;
    let addr = h.server().cwmps_addr.unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let cpe = TestCpe::tr181(addr, "TLS1");
    let req = http::Request::post("/")
        .header("host", "localhost")
        .body(Full::new(Bytes::from(cpe.inform_envelope(&["0 BOOTSTRAP"]))))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let decoded = cwmp_schema::decode(&bytes).unwrap();
    assert!(matches!(decoded.envelope.body, cwmp_schema::Body::InformResponse { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_envelope_mid_session_ends_the_session() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut cpe = TestCpe::tr181(h.cwmp(), "MAL1");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&cpe.device_id());
    let (_, task) = h
        .api(
            "POST",
            &format!("/api/v1/devices/{id}/tasks"),
            Some(json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo."]})),
        )
        .await;
    assert_eq!(cpe.inform(&["2 PERIODIC"]).await.unwrap().status, 200);
    let rpc = cpe.post_raw(Vec::new()).await.unwrap();
    assert!(matches!(rpc.body, Some(cwmp_schema::Body::GetParameterValues { .. })));
    // The CPE answers with garbage: 400, and the session is over.
    let bad = cpe.post_raw(b"<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap-env:Body><cwmp:GetParameterValuesResponse>".to_vec()).await.unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(h.server().acs.session_count(), 0);
    assert_eq!(cpe.post_raw(Vec::new()).await.unwrap().status, 400, "no session any more");
    // The interrupted attempt is recorded and the task retried at the next contact.
    let (_, t) = h.api("GET", &format!("/api/v1/tasks/{}", task["id"]), None).await;
    assert_eq!(t["status"], "queued", "{t}");
    assert_eq!(t["fault"]["code"], "session_aborted");
}

mod provisioning;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_device_filters() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let mut a = TestCpe::tr181(h.cwmp(), "TAG1");
    let mut b = TestCpe::tr098(h.cwmp(), "TAG2");
    a.session(&["0 BOOTSTRAP"]).await.unwrap();
    b.session(&["0 BOOTSTRAP"]).await.unwrap();
    let id = enc(&a.device_id());
    let (st, tags) = h.api("POST", &format!("/api/v1/devices/{id}/tags/vip"), None).await;
    assert_eq!(st, 200, "{tags}");
    assert_eq!(tags["tags"], json!(["vip"]));
    let (_, list) = h.api("GET", "/api/v1/devices?tag=vip", None).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], a.device_id());
    assert_eq!(items[0]["tags"], json!(["vip"]));
    let (_, list) = h.api("GET", "/api/v1/devices?serial=TAG2", None).await;
    assert_eq!(list["items"][0]["dataModel"], "tr-098");
    let (st, _) = h.api("GET", "/api/v1/devices?limit=nope", None).await;
    assert_eq!(st, 400);
    let (st, _) = h.api("DELETE", &format!("/api/v1/devices/{id}/tags/vip"), None).await;
    assert_eq!(st, 200);
    let (st, _) = h.api("DELETE", &format!("/api/v1/devices/{id}/tags/vip"), None).await;
    assert_eq!(st, 404);
    let (st, _) = h.api("DELETE", &format!("/api/v1/devices/{id}"), None).await;
    assert_eq!(st, 204);
    let (st, _) = h.api("GET", &format!("/api/v1/devices/{id}"), None).await;
    assert_eq!(st, 404);
}
