//! The simulator end to end against a scripted ACS on 127.0.0.1: one session with a cookie,
//! every answer checked, then the fleet's connection-request listener with Digest; the USP
//! agents against the real USP engine (`usp_fleet`).
#![allow(clippy::unwrap_used)]

mod usp_fleet;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benches::cpe::{event, Action, Cpe};
use benches::digest;
use benches::fleet::{Fleet, FleetConfig};
use benches::http::{write_request, Conn, Url};
use benches::model::ModelTemplate;
use benches::session::{run, Target};
use benches::stats::Stats;
use bytes::Bytes;
use cwmp_schema::{decode, encode, Body, CwmpVersion, Envelope, EventCode, ParameterValue};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A scripted ACS: answers the Inform, then sends `script` one request per POST, recording
/// what the CPE sent back; then 204.
async fn scripted_acs(script: Vec<Body>) -> (std::net::SocketAddr, Arc<Mutex<Vec<Body>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(Mutex::new(script.into_iter()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (seen, state) = (seen2.clone(), state.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (seen, state) = (seen.clone(), state.clone());
                    async move {
                        let has_cookie = req.headers().get("cookie").is_some();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                        if !body.is_empty() {
                            let env = decode(&body).unwrap().envelope;
                            let is_inform = matches!(env.body, Body::Inform(_));
                            seen.lock().unwrap().push(env.body);
                            if is_inform {
                                let r = Envelope::new(
                                    Some("1".into()),
                                    Body::InformResponse { max_envelopes: 1 },
                                );
                                *resp.body_mut() =
                                    Full::new(Bytes::from(encode(&r, CwmpVersion::V1_2)));
                                resp.headers_mut()
                                    .insert("set-cookie", "s=42; Path=/".parse().unwrap());
                                return Ok::<_, Infallible>(resp);
                            }
                        }
                        assert!(has_cookie, "the CPE must send the session cookie back");
                        let next = state.lock().unwrap().next();
                        match next {
                            Some(b) => {
                                let r = Envelope::new(Some("7".into()), b);
                                *resp.body_mut() =
                                    Full::new(Bytes::from(encode(&r, CwmpVersion::V1_2)));
                            }
                            None => *resp.status_mut() = hyper::StatusCode::NO_CONTENT,
                        }
                        Ok(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn target(addr: std::net::SocketAddr) -> Target {
    Target {
        url: Url::parse(&format!("http://{addr}/acs")).unwrap(),
        addr,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        version: CwmpVersion::V1_2,
        think: Duration::ZERO,
        keep_alive: false,
    }
}

#[tokio::test]
async fn a_session_answers_every_request_with_the_right_fault() {
    let script = vec![
        Body::GetParameterValues {
            parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
        },
        Body::GetParameterValues { parameter_names: vec!["Device.NoSuchThing".into()] },
        Body::SetParameterValues {
            parameter_list: vec![ParameterValue::string("Device.DeviceInfo.SerialNumber", "x")],
            parameter_key: "k".into(),
        },
        Body::SetParameterValues {
            parameter_list: vec![ParameterValue::string(
                "Device.ManagementServer.ConnectionRequestUsername",
                "acs",
            )],
            parameter_key: "k2".into(),
        },
        Body::Reboot { command_key: "r1".into() },
    ];
    let (addr, seen) = scripted_acs(script).await;
    let model = ModelTemplate::load("tr181").unwrap();
    let mut cpe =
        Cpe::new(model, "00D09E", "GW", "T0001".into(), 1, "http://127.0.0.1:1/cr/0".into());
    let r = run(&target(addr), &mut cpe, vec![event(EventCode::Boot)]).await.unwrap();
    assert_eq!(r.acs_requests.len(), 5);
    assert_eq!(r.faults_sent, vec![9005, 9003]);
    assert_eq!(r.actions, vec![Action::Reboot { command_key: "r1".into() }]);
    assert!(!cpe.needs_bootstrap);
    assert_eq!(cpe.cr_credentials().0, "acs");
    let seen = seen.lock().unwrap();
    let Body::Inform(inform) = &seen[0] else { panic!("first message must be the Inform") };
    assert_eq!(inform.events[0].event_code, EventCode::Bootstrap);
    let Body::GetParameterValuesResponse { parameter_list } = &seen[1] else {
        panic!("{:?}", seen[1])
    };
    assert_eq!(parameter_list[0].value, "4.2.1");
    let Body::Fault(f) = &seen[3] else { panic!("{:?}", seen[3]) };
    assert_eq!(f.detail.set_parameter_values_faults[0].code.code(), 9008);
    assert!(matches!(seen[5], Body::RebootResponse));
}

#[tokio::test]
async fn connection_requests_need_digest_and_open_a_session() {
    let (addr, seen) = scripted_acs(Vec::new()).await;
    let model = ModelTemplate::load("tr098").unwrap();
    let fleet = Fleet::start(FleetConfig {
        target: target(addr),
        devices: 3,
        models: vec![model],
        oui: "00D09E".into(),
        product_class: "GW".into(),
        serial_prefix: "CR".into(),
        cr_listen: Some("127.0.0.1:0".parse().unwrap()),
    })
    .await
    .unwrap();
    // Give device 1 its ConnectionRequest credentials as an ACS would.
    {
        let mut cpe = fleet.devices[1].lock().await;
        let set = Body::SetParameterValues {
            parameter_list: vec![
                ParameterValue::string(
                    "InternetGatewayDevice.ManagementServer.ConnectionRequestUsername",
                    "u1",
                ),
                ParameterValue::string(
                    "InternetGatewayDevice.ManagementServer.ConnectionRequestPassword",
                    "p1",
                ),
            ],
            parameter_key: String::new(),
        };
        assert_eq!(cpe.handle(&set).0, Body::SetParameterValuesResponse { status: 0 });
        cpe.session_completed();
    }
    let cr = fleet.cr_addr.unwrap();
    let url = Url::parse(&format!("http://{cr}/cr/1")).unwrap();
    let mut conn = Conn::connect(cr, Duration::from_secs(5)).await.unwrap();
    let mut req = Vec::new();
    write_request(&mut req, "GET", &url, &[], None, b"");
    let r = conn.roundtrip(&req, false, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.status, 401);
    let ch = digest::parse_challenge(r.www_authenticate.as_deref().unwrap()).unwrap();
    for (password, expected) in [("wrong", 401), ("p1", 200)] {
        let auth = digest::authorization(&ch, "u1", password, "GET", "/cr/1", 1, "abc");
        let mut req = Vec::new();
        write_request(&mut req, "GET", &url, &[("Authorization", &auth)], None, b"");
        let mut conn = Conn::connect(cr, Duration::from_secs(5)).await.unwrap();
        let r = conn.roundtrip(&req, false, Duration::from_secs(5)).await.unwrap();
        assert_eq!(r.status, expected);
    }
    // The accepted request makes device 1 inform with 6 CONNECTION REQUEST.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = seen.lock().unwrap().iter().any(|b| match b {
            Body::Inform(i) => {
                i.device_id.serial_number.ends_with('1')
                    && i.events.iter().any(|e| e.event_code == EventCode::ConnectionRequest)
            }
            _ => false,
        });
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "no CONNECTION REQUEST inform");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(fleet.wait_followups(Duration::from_secs(5)).await);
    let stats: &Stats = &fleet.followups;
    assert_eq!(stats.summary(Duration::from_secs(1))["sessions"]["ok"], 1);
}
