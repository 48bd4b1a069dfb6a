//! Binary Record fixtures under `tests/data/synthetic/`, built by this crate's encoder from
//! TR-369 examples, plus a garbage and a truncated one.
//!
//! The test checks that the encoder still produces exactly the checked-in bytes and that each
//! file decodes to what it should. Rewrite the files (after an intended change) with
//! `USP_REGEN=1 cargo test -p usp --test integration fixtures`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use usp::codec::agent::{self, GetResult, ResolvedObject};
use usp::codec::incoming::{CommandResult, Notification, NotifyView, OperateOutcome};
use usp::codec::record::mqtt_connect_record::MqttVersion;
use usp::codec::{
    classify, decode_record, encode_record, request, IncomingKind, Record, RecordKind,
};
use usp::ErrorCode;

const AGENT: &str = "os::012345-ABCDEF012345";
const CONTROLLER: &str = "self::acsd";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/synthetic")
}

fn map(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn from_agent(msg: &usp::codec::Msg) -> Vec<u8> {
    encode_record(&Record::wrap(CONTROLLER, AGENT, "1.3", msg))
}

fn onboard_request() -> Vec<u8> {
    from_agent(&agent::notify(
        "onboard-1",
        "",
        true,
        Notification::OnBoardRequest {
            oui: "012345".into(),
            product_class: "ONT-X1".into(),
            serial_number: "ABCDEF012345".into(),
            agent_supported_protocol_versions: "1.0,1.1,1.2,1.3".into(),
        },
    ))
}

/// Every fixture: file name and bytes.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let onboard = onboard_request();
    let truncated = onboard[..onboard.len() / 2].to_vec();
    vec![
        ("onboard_request.bin", onboard),
        (
            "boot_event.bin",
            from_agent(&agent::notify(
                "boot-7",
                "boot-sub",
                true,
                Notification::Event {
                    obj_path: "Device.".into(),
                    event_name: "Boot!".into(),
                    params: map(&[
                        ("Cause", "LocalReboot"),
                        ("CommandKey", ""),
                        ("FirmwareUpdated", "false"),
                        ("ParameterMap", r#"{"Device.DeviceInfo.SoftwareVersion":"1.2.3"}"#),
                    ]),
                },
            )),
        ),
        (
            "get_resp.bin",
            from_agent(&agent::get_resp(
                "get-1",
                vec![GetResult {
                    requested_path: "Device.DeviceInfo.".into(),
                    result: Ok(vec![ResolvedObject {
                        path: "Device.DeviceInfo.".into(),
                        params: map(&[
                            ("ManufacturerOUI", "012345"),
                            ("ProductClass", "ONT-X1"),
                            ("SerialNumber", "ABCDEF012345"),
                            ("SoftwareVersion", "1.2.3"),
                        ]),
                    }]),
                }],
            )),
        ),
        (
            "operate_resp_async.bin",
            from_agent(&agent::operate_resp(
                "op-1",
                vec![OperateOutcome {
                    executed_command: "Device.DeviceInfo.FirmwareImage.2.Download()".into(),
                    result: CommandResult::Started {
                        request_path: "Device.LocalAgent.Request.1.".into(),
                    },
                }],
            )),
        ),
        (
            "error_invalid_arguments.bin",
            from_agent(&request::error(
                "set-1",
                ErrorCode::InvalidArguments,
                "Invalid arguments",
                [("Device.WiFi.SSID.1.SSID", ErrorCode::InvalidValue, "value too long")],
            )),
        ),
        (
            "get_request.bin",
            encode_record(&Record::wrap(
                AGENT,
                CONTROLLER,
                "1.3",
                &request::get("get-1", ["Device.DeviceInfo."], 0),
            )),
        ),
        (
            "websocket_connect.bin",
            encode_record(&Record::websocket_connect(CONTROLLER, AGENT, "1.3")),
        ),
        (
            "mqtt_connect.bin",
            encode_record(&Record::mqtt_connect(
                CONTROLLER,
                AGENT,
                "1.3",
                MqttVersion::V5,
                "usp/agent/os::012345-ABCDEF012345",
            )),
        ),
        (
            "disconnect.bin",
            encode_record(&Record::disconnect(CONTROLLER, AGENT, "1.3", "rebooting", 0)),
        ),
        ("truncated_onboard_request.bin", truncated),
        ("garbage.bin", b"\xff\xfeGET / HTTP/1.1\r\n\x00\x01\x02\x03\xde\xad\xbe\xef".to_vec()),
    ]
}

#[test]
fn fixtures_match_encoder_and_decode() {
    let regen = std::env::var_os("USP_REGEN").is_some_and(|v| v == "1");
    if regen {
        std::fs::create_dir_all(dir()).unwrap();
    }
    for (name, bytes) in fixtures() {
        let path = dir().join(name);
        if regen {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; write it with USP_REGEN=1", path.display()));
        assert_eq!(on_disk, bytes, "{name} differs from the encoder's output");
    }

    let read = |name: &str| std::fs::read(dir().join(name)).unwrap();

    let onboard = decode_record(&read("onboard_request.bin")).unwrap();
    assert_eq!((onboard.from_id.as_str(), onboard.to_id.as_str()), (AGENT, CONTROLLER));
    let incoming = classify(onboard.msg().unwrap()).unwrap();
    assert_eq!(incoming.msg_id, "onboard-1");
    let IncomingKind::Notify(NotifyView { send_resp: true, notification, .. }) = incoming.kind
    else {
        panic!("not a Notify needing a response")
    };
    assert!(
        matches!(notification, Notification::OnBoardRequest { ref serial_number, .. } if serial_number == "ABCDEF012345")
    );

    let boot = classify(decode_record(&read("boot_event.bin")).unwrap().msg().unwrap()).unwrap();
    let IncomingKind::Notify(view) = boot.kind else { panic!("not a Notify") };
    assert_eq!(view.notification.event_path().as_deref(), Some("Device.Boot!"));

    let get = classify(decode_record(&read("get_resp.bin")).unwrap().msg().unwrap()).unwrap();
    let IncomingKind::GetResp(get) = get.kind else { panic!("not a GetResp") };
    assert_eq!(get.values["Device.DeviceInfo.SerialNumber"], "ABCDEF012345");

    let op =
        classify(decode_record(&read("operate_resp_async.bin")).unwrap().msg().unwrap()).unwrap();
    assert!(
        matches!(op.kind, IncomingKind::OperateResp(ref o) if matches!(o[0].result, CommandResult::Started { .. }))
    );

    let err = classify(decode_record(&read("error_invalid_arguments.bin")).unwrap().msg().unwrap())
        .unwrap();
    assert!(
        matches!(err.kind, IncomingKind::Error(ref e) if e.code == ErrorCode::InvalidArguments && e.param_errs.len() == 1)
    );

    let get_req =
        classify(decode_record(&read("get_request.bin")).unwrap().msg().unwrap()).unwrap();
    assert_eq!(get_req.kind, IncomingKind::UnsupportedRequest { name: "Get" });

    let ws = decode_record(&read("websocket_connect.bin")).unwrap();
    assert_eq!(ws.kind().unwrap(), RecordKind::WebSocketConnect);
    let mqtt = decode_record(&read("mqtt_connect.bin")).unwrap();
    assert!(matches!(
        mqtt.kind().unwrap(),
        RecordKind::MqttConnect { version: MqttVersion::V5, .. }
    ));
    let bye = decode_record(&read("disconnect.bin")).unwrap();
    assert!(matches!(bye.kind().unwrap(), RecordKind::Disconnect { reason: "rebooting", .. }));

    let err = decode_record(&read("truncated_onboard_request.bin")).unwrap_err();
    assert_eq!(err.usp_code(), ErrorCode::RecordNotParsed);
    let err = decode_record(&read("garbage.bin")).unwrap_err();
    assert_eq!(err.usp_code(), ErrorCode::RecordNotParsed);
}
