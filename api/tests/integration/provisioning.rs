//! Provisioning end to end: equipment created over the API, test CPEs over HTTP that bootstrap,
//! get matched (serial, GPON hex serial, MAC only), receive WiFi and SIP settings on the right
//! instances in their first session, and are verified and audited with secrets redacted.

use cwmp_schema::{Body, CwmpFault, FaultCode, SetParameterValuesFault, SoapFault, ValueType};
use serde_json::{json, Value};

use super::cpe::{Param, TestCpe};
use super::{cr_listener, enc, Backend, Harness};
use api::CpeAuth;

fn add(cpe: &mut TestCpe, items: &[(&str, &str, ValueType)]) {
    for (k, v, ty) in items {
        cpe.params
            .insert((*k).into(), Param { value: (*v).into(), ty: ty.clone(), writable: true });
    }
}

/// TR-181 CPE: 5 GHz on Radio.1, 2.4 GHz on Radio.3; SSID.1 on the 2.4 GHz radio, SSID.2 on
/// the 5 GHz one; AccessPoint.1 → SSID.2, AccessPoint.2 → SSID.1; TR-104 v2 voice with two SIP
/// clients on two networks and two call-control lines; an Ethernet MAC.
fn tr181_two_radios(cpe: &mut TestCpe, mac: &str) {
    use ValueType::{Boolean as B, String as S};
    add(
        cpe,
        &[
            ("Device.WiFi.Radio.1.OperatingFrequencyBand", "5GHz", S),
            ("Device.WiFi.Radio.3.OperatingFrequencyBand", "2.4GHz", S),
            ("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.3", S),
            ("Device.WiFi.SSID.1.SSID", "factory-2g", S),
            ("Device.WiFi.SSID.1.Enable", "false", B),
            ("Device.WiFi.SSID.2.LowerLayers", "Device.WiFi.Radio.1.", S),
            ("Device.WiFi.SSID.2.SSID", "factory-5g", S),
            ("Device.WiFi.SSID.2.Enable", "false", B),
            ("Device.WiFi.AccessPoint.1.SSIDReference", "Device.WiFi.SSID.2", S),
            ("Device.WiFi.AccessPoint.1.Enable", "false", B),
            ("Device.WiFi.AccessPoint.1.Security.ModeEnabled", "None", S),
            ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "", S),
            ("Device.WiFi.AccessPoint.1.Security.SAEPassphrase", "", S),
            ("Device.WiFi.AccessPoint.2.SSIDReference", "Device.WiFi.SSID.1.", S),
            ("Device.WiFi.AccessPoint.2.Enable", "false", B),
            ("Device.WiFi.AccessPoint.2.Security.ModeEnabled", "None", S),
            ("Device.WiFi.AccessPoint.2.Security.KeyPassphrase", "", S),
            ("Device.WiFi.AccessPoint.2.Security.SAEPassphrase", "", S),
            ("Device.Ethernet.Interface.1.MACAddress", mac, S),
        ],
    );
    let vs = "Device.Services.VoiceService.1.";
    for i in 1..=2 {
        for (leaf, v, ty) in [
            ("AuthUserName", "", S),
            ("AuthPassword", "", S),
            ("RegisterURI", "", S),
            ("Enable", "false", B),
        ] {
            add(cpe, &[(&format!("{vs}SIP.Client.{i}.{leaf}"), v, ty)]);
        }
        add(cpe, &[(&format!("{vs}SIP.Client.{i}.Network"), &format!("{vs}SIP.Network.{i}"), S)]);
        for leaf in ["RegistrarServer", "ProxyServer", "OutboundProxy", "UserAgentDomain"] {
            add(cpe, &[(&format!("{vs}SIP.Network.{i}.{leaf}"), "", S)]);
        }
        add(
            cpe,
            &[
                (&format!("{vs}CallControl.Line.{i}.DirectoryNumber"), "", S),
                (&format!("{vs}CallControl.Line.{i}.Provider"), &format!("{vs}SIP.Client.{i}"), S),
            ],
        );
    }
}

/// TR-098 CPE: one 2.4 GHz WLANConfiguration and TR-104 v1 voice with two lines on one
/// profile; a LAN Ethernet MAC.
fn tr098_voice_v1(cpe: &mut TestCpe, mac: &str) {
    use ValueType::{Boolean as B, String as S};
    let w = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.";
    for (leaf, v, ty) in [
        ("Standard", "g", S),
        ("Enable", "false", B),
        ("BeaconType", "Basic", S),
        ("IEEE11iAuthenticationMode", "", S),
        ("IEEE11iEncryptionModes", "", S),
        ("KeyPassphrase", "", S),
    ] {
        add(cpe, &[(&format!("{w}{leaf}"), v, ty)]);
    }
    add(
        cpe,
        &[("InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress", mac, S)],
    );
    let vp = "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.";
    for leaf in ["RegistrarServer", "ProxyServer", "OutboundProxy", "UserAgentDomain"] {
        add(cpe, &[(&format!("{vp}SIP.{leaf}"), "", S)]);
    }
    for i in 1..=2 {
        for leaf in [
            "Enable",
            "DirectoryNumber",
            "SIP.AuthUserName",
            "SIP.AuthPassword",
            "SIP.URI",
            "CallingFeatures.CallerIDName",
        ] {
            add(cpe, &[(&format!("{vp}Line.{i}.{leaf}"), "", S)]);
        }
    }
}

fn profile() -> Value {
    json!({
        "wifi": [
            {"band": "2.4", "ssid": "Casa", "passphrase": "wifi-secret-24", "security": "wpa2-psk"},
            {"band": "5", "ssid": "Casa-5G", "passphrase": "wifi-secret-5g", "security": "wpa2-wpa3"}
        ],
        "voice": [
            {"line": 1, "sip_username": "5551001", "sip_password": "sip-secret-1",
             "registrar": "sip.isp.example", "proxy": "proxy.isp.example", "domain": "isp.example",
             "directory_number": "+1 555 1001", "display_name": "Home"},
            {"line": 2, "sip_username": "5551002", "sip_password": "sip-secret-2",
             "registrar": "sip.isp.example", "domain": "isp.example", "directory_number": "+1 555 1002"}
        ]
    })
}

const SECRETS: [&str; 4] = ["wifi-secret-24", "wifi-secret-5g", "sip-secret-1", "sip-secret-2"];

fn no_secrets(v: &Value) {
    let s = v.to_string();
    for secret in SECRETS {
        assert!(!s.contains(secret), "secret {secret} leaked: {s}");
    }
}

async fn create_equipment(h: &Harness, body: Value) -> i64 {
    let (st, e) = h.api("POST", "/api/v1/equipment", Some(body)).await;
    assert_eq!(st, 201, "{e}");
    no_secrets(&e);
    e["id"].as_i64().unwrap()
}

async fn status(h: &Harness, id: i64) -> Value {
    let (st, s) = h.api("GET", &format!("/api/v1/equipment/{id}/provisioning"), None).await;
    assert_eq!(st, 200, "{s}");
    no_secrets(&s);
    s
}

both_backends!(tr181_matched_by_serial_gets_wifi_and_sip, tr181_case);
async fn tr181_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    // Equipment registered with the GPON vendor-id serial; the ONT reports the hex form.
    let id = create_equipment(
        &h,
        json!({"kind": "ont", "serial": "TPLG1A2B3C4D", "model": "T-181", "profile": profile()}),
    )
    .await;
    let mut cpe = TestCpe::tr181(h.cwmp(), "54504C471A2B3C4D");
    tr181_two_radios(&mut cpe, "00:11:22:33:44:55");
    let rpcs = cpe.session(&["0 BOOTSTRAP", "1 BOOT"]).await.unwrap();
    assert_eq!(rpcs.first().map(String::as_str), Some("SetParameterValues"), "{rpcs:?}");
    assert!(rpcs.len() >= 4, "{rpcs:?}");
    // 2.4 GHz → Radio.3 → SSID.1 → AccessPoint.2; 5 GHz → Radio.1 → SSID.2 → AccessPoint.1.
    assert_eq!(cpe.value("Device.WiFi.SSID.1.SSID"), Some("Casa"));
    assert_eq!(cpe.value("Device.WiFi.SSID.2.SSID"), Some("Casa-5G"));
    assert_eq!(cpe.value("Device.WiFi.SSID.1.Enable"), Some("true"));
    let ap = "Device.WiFi.AccessPoint.";
    assert_eq!(cpe.value(&format!("{ap}2.Security.KeyPassphrase")), Some("wifi-secret-24"));
    assert_eq!(cpe.value(&format!("{ap}2.Security.ModeEnabled")), Some("WPA2-Personal"));
    assert_eq!(cpe.value(&format!("{ap}1.Security.SAEPassphrase")), Some("wifi-secret-5g"));
    assert_eq!(cpe.value(&format!("{ap}1.Security.ModeEnabled")), Some("WPA3-Personal-Transition"));
    let vs = "Device.Services.VoiceService.1.";
    assert_eq!(cpe.value(&format!("{vs}SIP.Client.1.AuthUserName")), Some("5551001"));
    assert_eq!(cpe.value(&format!("{vs}SIP.Client.2.AuthPassword")), Some("sip-secret-2"));
    assert_eq!(cpe.value(&format!("{vs}SIP.Network.1.RegistrarServer")), Some("sip.isp.example"));
    assert_eq!(cpe.value(&format!("{vs}CallControl.Line.2.DirectoryNumber")), Some("+1 555 1002"));
    assert_eq!(
        cpe.value("Device.ManagementServer.ParameterKey"),
        Some(format!("prov-{id}-v1").as_str())
    );

    let s = status(&h, id).await;
    assert_eq!(s["state"], "verified", "{s}");
    assert_eq!(s["appliedVersion"], 1);
    assert_eq!(s["deviceId"], cpe.device_id());
    let actions: Vec<&str> =
        s["audit"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    for want in ["equipment.create", "device.match", "provision.push"] {
        assert!(actions.contains(&want), "{actions:?}");
    }
    let push =
        s["audit"].as_array().unwrap().iter().find(|a| a["action"] == "provision.push").unwrap();
    assert!(push["detail"].to_string().contains("Casa-5G"), "{push}");
    assert!(push["detail"].to_string().contains("***"), "{push}");

    let (_, dev) = h.api("GET", &format!("/api/v1/devices/{}", enc(&cpe.device_id())), None).await;
    assert_eq!(dev["equipmentId"], id);
    // Cached parameters never hold the secrets either.
    let (_, params) =
        h.api("GET", &format!("/api/v1/devices/{}/parameters", enc(&cpe.device_id())), None).await;
    no_secrets(&params);

    // Applied and verified: the next periodic contact has nothing to do.
    assert!(cpe.session(&["2 PERIODIC"]).await.unwrap().is_empty());
}

both_backends!(tr098_matched_only_by_mac_gets_wifi_and_tr104_v1, tr098_case);
async fn tr098_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let mut p = profile();
    p["wifi"] = json!([{"band": "any", "ssid": "Velha", "passphrase": "wifi-secret-24"}]);
    let id = create_equipment(
        &h,
        json!({"kind": "router", "macs": ["00-AA-BB-CC-DD-EE"], "profile": p}),
    )
    .await;
    let mut cpe = TestCpe::tr098(h.cwmp(), "NOSERIALMATCH");
    tr098_voice_v1(&mut cpe, "00aa.bbcc.ddee");
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    let w = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.";
    assert_eq!(cpe.value(&format!("{w}SSID")), Some("Velha"));
    assert_eq!(cpe.value(&format!("{w}KeyPassphrase")), Some("wifi-secret-24"));
    assert_eq!(cpe.value(&format!("{w}BeaconType")), Some("11i"));
    assert_eq!(cpe.value(&format!("{w}IEEE11iAuthenticationMode")), Some("PSKAuthentication"));
    let vp = "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.";
    assert_eq!(cpe.value(&format!("{vp}Line.1.SIP.AuthUserName")), Some("5551001"));
    assert_eq!(cpe.value(&format!("{vp}Line.1.SIP.AuthPassword")), Some("sip-secret-1"));
    assert_eq!(cpe.value(&format!("{vp}Line.2.SIP.URI")), Some("5551002@isp.example"));
    assert_eq!(cpe.value(&format!("{vp}Line.1.DirectoryNumber")), Some("+1 555 1001"));
    assert_eq!(cpe.value(&format!("{vp}Line.1.CallingFeatures.CallerIDName")), Some("Home"));
    assert_eq!(cpe.value(&format!("{vp}SIP.RegistrarServer")), Some("sip.isp.example"));
    assert_eq!(cpe.value(&format!("{vp}SIP.ProxyServer")), Some("proxy.isp.example"));
    let s = status(&h, id).await;
    assert_eq!(s["state"], "verified", "{s}");
    let matched =
        s["audit"].as_array().unwrap().iter().find(|a| a["action"] == "device.match").unwrap();
    assert_eq!(matched["detail"]["by"], "mac");
    let (_, list) = h.api("GET", "/api/v1/devices?matched=true", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

both_backends!(vendor_override_model_gets_its_x_paths, override_case);
async fn override_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let p = json!({"wifi": [{"band": "2.4", "ssid": "Acme", "passphrase": "wifi-secret-24"}]});
    let id = create_equipment(&h, json!({"serial": "ACME0001", "profile": p})).await;
    let mut cpe = TestCpe::tr181(h.cwmp(), "ACME0001");
    cpe.product_class = "ACME-ONT".into();
    tr181_two_radios(&mut cpe, "00:11:22:33:44:66");
    add(
        &mut cpe,
        &[
            ("Device.WiFi.X_ACME_BandSteering.Enable", "false", ValueType::String),
            ("Device.WiFi.SSID.1.X_ACME_WMMEnable", "false", ValueType::String),
        ],
    );
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    assert_eq!(cpe.value("Device.WiFi.X_ACME_BandSteering.Enable"), Some("true"));
    assert_eq!(cpe.value("Device.WiFi.SSID.1.X_ACME_WMMEnable"), Some("true"));
    // The firmware's own security mode spelling.
    assert_eq!(cpe.value("Device.WiFi.AccessPoint.2.Security.ModeEnabled"), Some("WPA2-PSK"));
    assert_eq!(status(&h, id).await["state"], "verified");
    let (st, o) = h.api("GET", "/api/v1/overrides", None).await;
    assert_eq!(st, 200);
    assert!(o["overrides"].as_array().unwrap().len() >= 3);
    let (st, r) = h.api("POST", "/api/v1/overrides/reload", None).await;
    assert_eq!((st, r["loaded"].as_u64().unwrap() >= 3), (200, true), "{r}");
}

both_backends!(profile_edit_repushes_through_connection_request, profile_edit_case);
async fn profile_edit_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let id = create_equipment(&h, json!({"serial": "EDIT1", "profile": profile()})).await;
    let creds = std::sync::Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let (cr_addr, mut cr_rx) = cr_listener(creds.clone()).await;
    let mut cpe = TestCpe::tr181(h.cwmp(), "EDIT1");
    tr181_two_radios(&mut cpe, "00:11:22:33:44:77");
    cpe.set_connection_request_url(&format!("http://{cr_addr}/cr"));
    cpe.session(&["0 BOOTSTRAP", "1 BOOT"]).await.unwrap();
    *creds.lock().unwrap() = (
        cpe.value("Device.ManagementServer.ConnectionRequestUsername").unwrap().to_string(),
        cpe.value("Device.ManagementServer.ConnectionRequestPassword").unwrap().to_string(),
    );
    assert_eq!(status(&h, id).await["state"], "verified");

    let mut p = profile();
    p["wifi"][0]["ssid"] = json!("Casa-Nova");
    let (st, e) = h.api("PUT", &format!("/api/v1/equipment/{id}/profile"), Some(p)).await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["profileVersion"], 2);
    assert_eq!(e["connectionRequest"], true);
    no_secrets(&e);
    tokio::time::timeout(std::time::Duration::from_secs(5), cr_rx.recv())
        .await
        .expect("connection request arrives")
        .unwrap();
    let rpcs = cpe.session(&["6 CONNECTION REQUEST"]).await.unwrap();
    assert!(rpcs.contains(&"SetParameterValues".to_string()), "{rpcs:?}");
    assert_eq!(cpe.value("Device.WiFi.SSID.1.SSID"), Some("Casa-Nova"));
    assert_eq!(
        cpe.value("Device.ManagementServer.ParameterKey"),
        Some(format!("prov-{id}-v2").as_str())
    );
    let s = status(&h, id).await;
    assert_eq!(
        (s["state"].as_str(), s["appliedVersion"].as_i64()),
        (Some("verified"), Some(2)),
        "{s}"
    );
    let upd =
        s["audit"].as_array().unwrap().iter().find(|a| a["action"] == "profile.update").unwrap();
    assert!(upd["detail"].to_string().contains("Casa-Nova"));
    assert_eq!(upd["actor"], "admin", "{upd}");
}

both_backends!(conflict_and_unmatched_devices, conflict_case);
async fn conflict_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let id = create_equipment(&h, json!({"serial": "DUP1", "profile": {"extra": {}}})).await;
    let mut first = TestCpe::tr181(h.cwmp(), "DUP1");
    first.session(&["0 BOOTSTRAP"]).await.unwrap();
    // Same serial, other product class: another device claims bound equipment.
    let mut second = TestCpe::tr181(h.cwmp(), "DUP1");
    second.product_class = "OtherBox".into();
    second.session(&["0 BOOTSTRAP"]).await.unwrap();
    let s = status(&h, id).await;
    assert_eq!(s["deviceId"], first.device_id(), "never silently overwritten");
    let (_, faults) =
        h.api("GET", &format!("/api/v1/faults?device={}", enc(&second.device_id())), None).await;
    assert!(
        faults["items"].as_array().unwrap().iter().any(|f| f["code"] == "equipment_conflict"),
        "{faults}"
    );
    assert!(s["audit"].as_array().unwrap().iter().any(|a| a["action"] == "device.conflict"));
    // An unknown device is registered and listed as unmatched.
    let mut stranger = TestCpe::tr098(h.cwmp(), "STRANGER");
    stranger.session(&["0 BOOTSTRAP"]).await.unwrap();
    let (st, list) = h.api("GET", "/api/v1/devices?matched=false", None).await;
    assert_eq!(st, 200);
    let ids: Vec<&str> =
        list["items"].as_array().unwrap().iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(
        ids.contains(&stranger.device_id().as_str()) && ids.contains(&second.device_id().as_str()),
        "{ids:?}"
    );
    assert!(!ids.contains(&first.device_id().as_str()));
}

/// A whole session in which the CPE answers SetParameterValues touching `bad` with a 9007
/// per-parameter fault (the rest as the test CPE would).
async fn session_rejecting(cpe: &mut TestCpe, events: &[&str], bad: &str) -> Vec<String> {
    let first = cpe.inform(events).await.unwrap();
    assert_eq!(first.status, 200);
    let mut rpcs = Vec::new();
    let mut next = cpe.post_raw(Vec::new()).await.unwrap();
    while next.status == 200 {
        let request = next.body.take().unwrap();
        rpcs.push(request.method_name().to_string());
        let answer = match &request {
            Body::SetParameterValues { parameter_list, .. }
                if parameter_list.iter().any(|p| p.name == bad) =>
            {
                let mut f = SoapFault::new(FaultCode::from_code(9003), "Invalid arguments");
                f.detail = CwmpFault {
                    code: FaultCode::from_code(9003),
                    string: "Invalid arguments".into(),
                    set_parameter_values_faults: vec![SetParameterValuesFault {
                        parameter_name: bad.into(),
                        code: FaultCode::from_code(9007),
                        string: "Invalid parameter value".into(),
                    }],
                };
                Body::Fault(f)
            }
            _ => cpe.answer(request),
        };
        let bytes =
            cwmp_schema::encode(&cwmp_schema::Envelope::new(Some("r".into()), answer), cpe.version);
        next = cpe.post_raw(bytes).await.unwrap();
        assert!(rpcs.len() < 50);
    }
    assert_eq!(next.status, 204);
    rpcs
}

both_backends!(cpe_fault_9007_marks_failed_and_retries, fault_case);
async fn fault_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let id = create_equipment(&h, json!({"serial": "F9007", "profile": profile()})).await;
    let mut cpe = TestCpe::tr181(h.cwmp(), "F9007");
    tr181_two_radios(&mut cpe, "00:11:22:33:44:88");
    let bad = "Device.WiFi.SSID.2.SSID";
    session_rejecting(&mut cpe, &["0 BOOTSTRAP"], bad).await;
    let s = status(&h, id).await;
    assert_eq!(s["state"], "failed", "{s}");
    assert_eq!(s["attempts"], 1);
    assert_eq!(s["lastFault"]["code"], "9003");
    assert!(s["lastFault"].to_string().contains("9007"), "{s}");
    assert!(s["nextAttemptAt"].is_string());
    let (_, faults) =
        h.api("GET", &format!("/api/v1/faults?device={}", enc(&cpe.device_id())), None).await;
    assert!(
        faults["items"].as_array().unwrap().iter().any(|f| f["channel"] == "provisioning"),
        "{faults}"
    );
    // Before the backoff is over a periodic contact does not retry.
    assert!(cpe.session(&["2 PERIODIC"]).await.unwrap().is_empty());
    // The operator asks for a retry; the next contact pushes again and succeeds.
    let (st, r) = h.api("POST", &format!("/api/v1/equipment/{id}/reprovision"), None).await;
    assert_eq!(st, 202, "{r}");
    let rpcs = cpe.session(&["6 CONNECTION REQUEST"]).await.unwrap();
    assert!(rpcs.contains(&"SetParameterValues".to_string()), "{rpcs:?}");
    let s = status(&h, id).await;
    assert_eq!((s["state"].as_str(), s["attempts"].as_u64()), (Some("verified"), Some(2)), "{s}");
    assert_eq!(cpe.value(bad), Some("Casa-5G"));
}

both_backends!(rules_validated_applied_and_non_convergence_detected, rules_case);
async fn rules_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let (st, rules) = h.api("GET", "/api/v1/rules", None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> =
        rules["items"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"bootstrap") && names.contains(&"refresh-basics"), "{names:?}");
    // Bad JSONLogic and bad paths are refused with the reason.
    let bad = json!({"name": "bad", "precondition": {"exec": ["x"]}, "declarations": [{"path": "Device.X", "value": 1}]});
    let (st, e) = h.api("POST", "/api/v1/rules", Some(bad)).await;
    assert_eq!(st, 400, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("exec"), "{e}");
    let bad = json!({"name": "bad", "declarations": [{"path": "Device..X", "value": 1}]});
    let (st, e) = h.api("POST", "/api/v1/rules", Some(bad)).await;
    assert_eq!(st, 400, "{e}");

    // A working rule: set a value on one product class.
    let led = json!({"name": "ssid-on", "precondition": {"==": [{"var": "productClass"}, "RuleBox"]},
        "declarations": [{"path": "Device.WiFi.SSID.*.Enable", "value": true}]});
    let (st, r) = h.api("POST", "/api/v1/rules", Some(led)).await;
    assert_eq!((st, r["version"].as_i64()), (201, Some(1)), "{r}");
    let mut cpe = TestCpe::tr181(h.cwmp(), "RULE1");
    cpe.product_class = "RuleBox".into();
    cpe.params.get_mut("Device.WiFi.SSID.1.Enable").unwrap().value = "false".into();
    cpe.session(&["0 BOOTSTRAP"]).await.unwrap();
    assert_eq!(cpe.value("Device.WiFi.SSID.1.Enable"), Some("true"));
    assert!(cpe.session(&["2 PERIODIC"]).await.unwrap().is_empty());

    // Two rules that fight over one value never converge: the session stops with a fault.
    for (name, v) in [("fight-a", "100"), ("fight-b", "200")] {
        let r = json!({"name": name, "precondition": {"==": [{"var": "productClass"}, "RuleBox"]},
            "declarations": [{"path": "Device.ManagementServer.PeriodicInformInterval", "value": v}]});
        let (st, e) = h.api("POST", "/api/v1/rules", Some(r)).await;
        assert_eq!(st, 201, "{e}");
    }
    let rpcs = cpe.session(&["2 PERIODIC"]).await.unwrap();
    assert!(rpcs.len() >= 4, "{rpcs:?}");
    let (_, faults) =
        h.api("GET", &format!("/api/v1/faults?device={}", enc(&cpe.device_id())), None).await;
    assert!(
        faults["items"].as_array().unwrap().iter().any(|f| f["code"] == "did_not_converge"),
        "{faults}"
    );
    let (st, _) = h.api("DELETE", "/api/v1/rules/fight-b", None).await;
    assert_eq!(st, 204);
    let (st, _) = h.api("GET", "/api/v1/rules/fight-b", None).await;
    assert_eq!(st, 404);
}
