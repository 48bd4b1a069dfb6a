//! Every Msg the crate builds survives Record wrapping, encoding and decoding, and every Msg
//! an agent sends classifies into the expected typed view.

use std::collections::BTreeMap;

use usp::codec::agent::{
    self, DeleteResult, GetResult, InstancesResult, ParamErr, ResolvedObject, SetFailure,
    SetResult, UpdatedInstance,
};
use usp::codec::incoming::{
    AddOutcome, CommandResult, Created, ErrorView, Failure, GetInstancesOutcome, Instance,
    Notification, NotifyView, OperateOutcome, PathFailure,
};
use usp::codec::msg::{body::MsgBody, header::MsgType, request::ReqType, Body, Header, Msg};
use usp::codec::record::{
    mqtt_connect_record::MqttVersion, record::RecordType, SessionContextRecord, UdsConnectRecord,
};
use usp::codec::request::{self, ObjectSettings, ParamSetting, SupportedDmOptions};
use usp::codec::version::{negotiate, version_list, CONTROLLER_VERSIONS};
use usp::codec::{
    classify, decode_msg, decode_record, encode_msg, encode_record, msg_id, Incoming, IncomingKind,
    Record, RecordKind, UspVersion,
};
use usp::{ErrorCode, UspError};

const AGENT: &str = "os::012345-ABCDEF012345";
const CONTROLLER: &str = "self::acsd";

fn map(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Wraps, encodes, decodes and unwraps; asserts nothing changed on the way.
fn through_the_wire(msg: &Msg) -> Msg {
    let record = Record::wrap(AGENT, CONTROLLER, UspVersion::V1_3, msg);
    let bytes = encode_record(&record);
    let decoded = decode_record(&bytes).unwrap();
    assert_eq!(decoded, record);
    assert_eq!(decoded.version, "1.3");
    assert_eq!(decoded.to_id, AGENT);
    assert_eq!(decoded.from_id, CONTROLLER);
    let inner = decoded.msg().unwrap();
    assert_eq!(&inner, msg);
    assert_eq!(decode_msg(&encode_msg(msg)).unwrap(), *msg);
    inner
}

fn msg_type(msg: &Msg) -> MsgType {
    msg.header.as_ref().unwrap().msg_type()
}

fn request_body(msg: &Msg) -> &ReqType {
    match msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
        Some(MsgBody::Request(r)) => r.req_type.as_ref().unwrap(),
        other => panic!("not a request: {other:?}"),
    }
}

fn classified(msg: Msg) -> Incoming {
    classify(through_the_wire(&msg)).unwrap()
}

#[test]
fn get_request() {
    let msg = request::get("get-1", ["Device.DeviceInfo.", "Device.WiFi.SSID.*.SSID"], 2);
    let msg = through_the_wire(&msg);
    assert_eq!(msg_id(&msg), "get-1");
    assert_eq!(msg_type(&msg), MsgType::Get);
    let ReqType::Get(get) = request_body(&msg) else { panic!("not a Get") };
    assert_eq!(get.param_paths, ["Device.DeviceInfo.", "Device.WiFi.SSID.*.SSID"]);
    assert_eq!(get.max_depth, 2);
    let incoming = classify(msg).unwrap();
    assert_eq!(incoming.kind, IncomingKind::UnsupportedRequest { name: "Get" });
    assert!(!incoming.is_response());
}

#[test]
fn set_request_with_required_flags() {
    let msg = request::set(
        "set-1",
        true,
        [ObjectSettings::new(
            "Device.WiFi.SSID.1.",
            vec![
                ParamSetting::new("SSID", "home", true),
                ParamSetting::new("Enable", "true", false),
            ],
        )],
    );
    let msg = through_the_wire(&msg);
    assert_eq!(msg_type(&msg), MsgType::Set);
    let ReqType::Set(set) = request_body(&msg) else { panic!("not a Set") };
    assert!(set.allow_partial);
    assert_eq!(set.update_objs[0].obj_path, "Device.WiFi.SSID.1.");
    assert!(set.update_objs[0].param_settings[0].required);
    assert!(!set.update_objs[0].param_settings[1].required);
}

#[test]
fn set_params_groups_by_object() {
    let msg = request::set_params(
        "set-2",
        false,
        true,
        [
            ("Device.WiFi.SSID.1.SSID", "home"),
            (r#"Device.WiFi.AccessPoint.[SSIDReference=="Device.WiFi.SSID.1"].Security.KeyPassphrase"#, "secret"),
            ("Device.WiFi.SSID.1.Enable", "1"),
        ],
    )
    .unwrap();
    let msg = through_the_wire(&msg);
    let ReqType::Set(set) = request_body(&msg) else { panic!("not a Set") };
    assert!(!set.allow_partial);
    assert_eq!(set.update_objs.len(), 2);
    assert_eq!(set.update_objs[0].obj_path, "Device.WiFi.SSID.1.");
    let names: Vec<_> =
        set.update_objs[0].param_settings.iter().map(|p| p.param.as_str()).collect();
    assert_eq!(names, ["SSID", "Enable"]);
    assert_eq!(
        set.update_objs[1].obj_path,
        r#"Device.WiFi.AccessPoint.[SSIDReference=="Device.WiFi.SSID.1"].Security."#
    );
    assert_eq!(set.update_objs[1].param_settings[0].param, "KeyPassphrase");
    assert!(set.update_objs.iter().flat_map(|o| &o.param_settings).all(|p| p.required));

    let err = request::set_params("x", false, true, [("Device..SSID", "a")]).unwrap_err();
    assert_eq!(err.usp_code(), ErrorCode::InvalidPathSyntax);
    let err = request::set_params("x", false, true, [("Device.WiFi.", "a")]).unwrap_err();
    assert_eq!(err.usp_code(), ErrorCode::InvalidPath);
}

#[test]
fn add_delete_operate_requests() {
    let msg = through_the_wire(&request::add(
        "add-1",
        false,
        [ObjectSettings::new(
            "Device.LocalAgent.Subscription.",
            vec![
                ParamSetting::new("Enable", "true", true),
                ParamSetting::new("NotifType", "Event", true),
                ParamSetting::new("ReferenceList", "Device.Boot!", true),
                ParamSetting::new("Persistent", "true", true),
            ],
        )],
    ));
    assert_eq!(msg_type(&msg), MsgType::Add);
    let ReqType::Add(add) = request_body(&msg) else { panic!("not an Add") };
    assert_eq!(add.create_objs[0].param_settings.len(), 4);

    let msg = through_the_wire(&request::delete("del-1", true, ["Device.WiFi.SSID.3."]));
    assert_eq!(msg_type(&msg), MsgType::Delete);
    let ReqType::Delete(delete) = request_body(&msg) else { panic!("not a Delete") };
    assert!(delete.allow_partial);
    assert_eq!(delete.obj_paths, ["Device.WiFi.SSID.3."]);

    let msg = through_the_wire(&request::operate(
        "op-1",
        "Device.DeviceInfo.FirmwareImage.2.Download()",
        "fw-42",
        true,
        [("URL", "http://127.0.0.1/fw.bin"), ("AutoActivate", "true")],
    ));
    assert_eq!(msg_type(&msg), MsgType::Operate);
    let ReqType::Operate(op) = request_body(&msg) else { panic!("not an Operate") };
    assert_eq!(op.command_key, "fw-42");
    assert!(op.send_resp);
    assert_eq!(op.input_args, map(&[("AutoActivate", "true"), ("URL", "http://127.0.0.1/fw.bin")]));

    let msg = through_the_wire(&request::operate(
        "op-2",
        "Device.Reboot()",
        "",
        false,
        Vec::<(String, String)>::new(),
    ));
    let ReqType::Operate(op) = request_body(&msg) else { panic!("not an Operate") };
    assert!(op.input_args.is_empty());
}

#[test]
fn discovery_requests() {
    let msg = through_the_wire(&request::get_instances("gi-1", ["Device.WiFi.SSID."], true));
    assert_eq!(msg_type(&msg), MsgType::GetInstances);
    let ReqType::GetInstances(gi) = request_body(&msg) else { panic!("not GetInstances") };
    assert!(gi.first_level_only);

    let msg = through_the_wire(&request::get_supported_dm(
        "gsdm-1",
        ["Device."],
        SupportedDmOptions::all(),
    ));
    assert_eq!(msg_type(&msg), MsgType::GetSupportedDm);
    let ReqType::GetSupportedDm(g) = request_body(&msg) else { panic!("not GetSupportedDM") };
    assert!(g.return_commands && g.return_events && g.return_params && g.return_unique_key_sets);
    assert!(!g.first_level_only);

    let msg = through_the_wire(&request::get_supported_protocol(
        "gsp-1",
        version_list(CONTROLLER_VERSIONS),
    ));
    assert_eq!(msg_type(&msg), MsgType::GetSupportedProto);
    let ReqType::GetSupportedProtocol(g) = request_body(&msg) else { panic!("not GSP") };
    assert_eq!(g.controller_supported_protocol_versions, "1.0,1.1,1.2,1.3,1.4");
}

#[test]
fn notify_resp_and_error() {
    let incoming = classified(request::notify_resp("notify-7", "boot-sub"));
    assert_eq!(incoming.msg_id, "notify-7");
    assert_eq!(incoming.kind, IncomingKind::NotifyResp { subscription_id: "boot-sub".into() });

    let incoming = classified(request::error(
        "set-9",
        ErrorCode::MessageNotSupported,
        "no",
        request::no_param_errs(),
    ));
    assert_eq!(
        incoming.kind,
        IncomingKind::Error(ErrorView {
            code: ErrorCode::MessageNotSupported,
            message: "no".into(),
            param_errs: vec![],
        })
    );

    let incoming = classified(request::error(
        "set-10",
        ErrorCode::InvalidArguments,
        "bad",
        [("Device.WiFi.SSID.1.SSID", ErrorCode::InvalidValue, "too long")],
    ));
    let IncomingKind::Error(e) = incoming.kind else { panic!("not an error") };
    assert_eq!(e.code, ErrorCode::InvalidArguments);
    assert_eq!(
        e.param_errs,
        [PathFailure::new("Device.WiFi.SSID.1.SSID", ErrorCode::InvalidValue, "too long")]
    );
    assert!(incoming.msg_id == "set-10");
}

#[test]
fn notifications_classify_back() {
    let notifications = vec![
        Notification::OnBoardRequest {
            oui: "012345".into(),
            product_class: "ONT".into(),
            serial_number: "ABCDEF012345".into(),
            agent_supported_protocol_versions: "1.0,1.1,1.2,1.3".into(),
        },
        Notification::Event {
            obj_path: "Device.".into(),
            event_name: "Boot!".into(),
            params: map(&[("Cause", "LocalReboot"), ("FirmwareUpdated", "false")]),
        },
        Notification::ValueChange {
            param_path: "Device.WiFi.SSID.1.SSID".into(),
            param_value: "home".into(),
        },
        Notification::ObjectCreation {
            obj_path: "Device.Hosts.Host.4.".into(),
            unique_keys: map(&[("PhysAddress", "00:11:22:33:44:55")]),
        },
        Notification::ObjectDeletion { obj_path: "Device.Hosts.Host.4.".into() },
        Notification::OperationComplete {
            obj_path: "Device.DeviceInfo.FirmwareImage.2.".into(),
            command_name: "Download()".into(),
            command_key: "fw-42".into(),
            result: CommandResult::Completed { output_args: BTreeMap::new() },
        },
        Notification::OperationComplete {
            obj_path: "Device.DeviceInfo.FirmwareImage.2.".into(),
            command_name: "Download()".into(),
            command_key: "fw-43".into(),
            result: CommandResult::Failed(Failure::new(ErrorCode::CommandFailure, "no space")),
        },
    ];
    for (i, notification) in notifications.into_iter().enumerate() {
        let id = format!("n-{i}");
        let incoming =
            classified(agent::notify(id.clone(), "sub-1", i % 2 == 0, notification.clone()));
        assert_eq!(incoming.msg_id, id);
        assert!(!incoming.is_response());
        assert_eq!(
            incoming.kind,
            IncomingKind::Notify(NotifyView {
                subscription_id: "sub-1".into(),
                send_resp: i % 2 == 0,
                notification,
            })
        );
    }
    let boot = Notification::Event {
        obj_path: "Device.".into(),
        event_name: "Boot!".into(),
        params: BTreeMap::new(),
    };
    assert_eq!(boot.event_path().as_deref(), Some("Device.Boot!"));
    assert_eq!(boot.name(), "event");
}

#[test]
fn onboarding_versions_negotiate() {
    let incoming = classified(agent::notify(
        "ob",
        "",
        true,
        Notification::OnBoardRequest {
            oui: "012345".into(),
            product_class: "ONT".into(),
            serial_number: "S1".into(),
            agent_supported_protocol_versions: "1.0,1.1,1.2,1.3".into(),
        },
    ));
    let IncomingKind::Notify(NotifyView {
        notification: Notification::OnBoardRequest { agent_supported_protocol_versions, .. },
        ..
    }) = incoming.kind
    else {
        panic!("not an OnBoardRequest")
    };
    assert_eq!(
        negotiate(&agent_supported_protocol_versions, CONTROLLER_VERSIONS),
        Some(UspVersion::V1_3)
    );

    let incoming = classified(agent::get_supported_protocol_resp("gsp", "1.2,1.3,1.4,1.5"));
    let IncomingKind::GetSupportedProtocolResp { agent_supported_protocol_versions } =
        incoming.kind
    else {
        panic!("not a GetSupportedProtocolResp")
    };
    assert_eq!(
        negotiate(&agent_supported_protocol_versions, CONTROLLER_VERSIONS),
        Some(UspVersion::V1_4)
    );
}

#[test]
fn get_resp_flattens() {
    let incoming = classified(agent::get_resp(
        "get-1",
        vec![
            GetResult {
                requested_path: "Device.WiFi.SSID.*.".into(),
                result: Ok(vec![
                    ResolvedObject {
                        path: "Device.WiFi.SSID.1.".into(),
                        params: map(&[("SSID", "home"), ("Stats.BytesSent", "10")]),
                    },
                    ResolvedObject {
                        path: "Device.WiFi.SSID.2".into(), // agent forgot the dot
                        params: map(&[("SSID", "guest")]),
                    },
                ]),
            },
            GetResult {
                requested_path: "Device.Nope.".into(),
                result: Err(Failure::new(ErrorCode::InvalidPath, "no such object")),
            },
        ],
    ));
    assert!(incoming.is_response());
    let IncomingKind::GetResp(get) = incoming.kind else { panic!("not a GetResp") };
    assert_eq!(
        get.values,
        map(&[
            ("Device.WiFi.SSID.1.SSID", "home"),
            ("Device.WiFi.SSID.1.Stats.BytesSent", "10"),
            ("Device.WiFi.SSID.2.SSID", "guest"),
        ])
    );
    assert_eq!(
        get.failures,
        [PathFailure::new("Device.Nope.", ErrorCode::InvalidPath, "no such object")]
    );
}

#[test]
fn set_resp_reports_per_parameter_errors() {
    let incoming = classified(agent::set_resp(
        "set-1",
        vec![
            SetResult {
                requested_path: "Device.WiFi.SSID.1.".into(),
                result: Ok(vec![UpdatedInstance {
                    path: "Device.WiFi.SSID.1.".into(),
                    updated: map(&[("SSID", "home")]),
                    param_errs: vec![ParamErr {
                        param: "Enable".into(),
                        code: ErrorCode::ParameterReadOnly,
                        message: "read-only".into(),
                    }],
                }]),
            },
            SetResult {
                requested_path: "Device.WiFi.AccessPoint.1.Security.".into(),
                result: Err(SetFailure {
                    failure: Failure::new(ErrorCode::RequiredParameterFailed, "required failed"),
                    instances: vec![(
                        "Device.WiFi.AccessPoint.1.Security.".into(),
                        vec![ParamErr {
                            param: "KeyPassphrase".into(),
                            code: ErrorCode::InvalidValue,
                            message: "too short".into(),
                        }],
                    )],
                }),
            },
        ],
    ));
    let IncomingKind::SetResp(set) = incoming.kind else { panic!("not a SetResp") };
    assert_eq!(set.updated, map(&[("Device.WiFi.SSID.1.SSID", "home")]));
    assert_eq!(
        set.param_failures,
        [
            PathFailure::new(
                "Device.WiFi.SSID.1.Enable",
                ErrorCode::ParameterReadOnly,
                "read-only"
            ),
            PathFailure::new(
                "Device.WiFi.AccessPoint.1.Security.KeyPassphrase",
                ErrorCode::InvalidValue,
                "too short"
            ),
        ]
    );
    assert_eq!(
        set.object_failures,
        [PathFailure::new(
            "Device.WiFi.AccessPoint.1.Security.",
            ErrorCode::RequiredParameterFailed,
            "required failed"
        )]
    );
}

#[test]
fn add_resp_round_trips() {
    let outcomes = vec![
        AddOutcome {
            requested_path: "Device.LocalAgent.Subscription.".into(),
            result: Ok(Created {
                instantiated_path: "Device.LocalAgent.Subscription.3.".into(),
                unique_keys: map(&[
                    ("ID", "boot"),
                    ("Recipient", "Device.LocalAgent.Controller.1"),
                ]),
                param_failures: vec![PathFailure::new(
                    "Device.LocalAgent.Subscription.3.TimeToLive",
                    ErrorCode::InvalidValue,
                    "bad",
                )],
            }),
        },
        AddOutcome {
            requested_path: "Device.WiFi.Radio.".into(),
            result: Err(Failure::new(ErrorCode::ObjectNotCreatable, "fixed table")),
        },
    ];
    let incoming = classified(agent::add_resp("add-1", outcomes.clone()));
    assert_eq!(incoming.kind, IncomingKind::AddResp(outcomes));
}

#[test]
fn delete_resp_flattens() {
    let incoming = classified(agent::delete_resp(
        "del-1",
        vec![
            DeleteResult {
                requested_path: "Device.Hosts.Host.*.".into(),
                result: Ok((
                    vec!["Device.Hosts.Host.1.".into(), "Device.Hosts.Host.2.".into()],
                    vec![PathFailure::new(
                        "Device.Hosts.Host.3.",
                        ErrorCode::DeleteFailure,
                        "busy",
                    )],
                )),
            },
            DeleteResult {
                requested_path: "Device.WiFi.Radio.1.".into(),
                result: Err(Failure::new(ErrorCode::ObjectNotCreatable, "fixed")),
            },
        ],
    ));
    let IncomingKind::DeleteResp(d) = incoming.kind else { panic!("not a DeleteResp") };
    assert_eq!(d.deleted, ["Device.Hosts.Host.1.", "Device.Hosts.Host.2."]);
    assert_eq!(
        d.failures,
        [
            PathFailure::new("Device.Hosts.Host.3.", ErrorCode::DeleteFailure, "busy"),
            PathFailure::new("Device.WiFi.Radio.1.", ErrorCode::ObjectNotCreatable, "fixed"),
        ]
    );
}

#[test]
fn operate_resp_round_trips() {
    let outcomes = vec![
        OperateOutcome {
            executed_command: "Device.DeviceInfo.FirmwareImage.2.Download()".into(),
            result: CommandResult::Started { request_path: "Device.LocalAgent.Request.4.".into() },
        },
        OperateOutcome {
            executed_command: "Device.IP.Diagnostics.IPPing()".into(),
            result: CommandResult::Completed { output_args: map(&[("AverageResponseTime", "3")]) },
        },
        OperateOutcome {
            executed_command: "Device.Reboot()".into(),
            result: CommandResult::Failed(Failure::new(ErrorCode::CommandFailure, "busy")),
        },
    ];
    let incoming = classified(agent::operate_resp("op-1", outcomes.clone()));
    assert_eq!(incoming.kind, IncomingKind::OperateResp(outcomes));
}

#[test]
fn get_instances_resp_flattens() {
    let instance = Instance {
        path: "Device.WiFi.SSID.1.".into(),
        unique_keys: map(&[("Alias", "cpe-1"), ("Name", "wl0")]),
    };
    let incoming = classified(agent::get_instances_resp(
        "gi-1",
        vec![
            InstancesResult {
                requested_path: "Device.WiFi.SSID.".into(),
                result: Ok(vec![instance.clone()]),
            },
            InstancesResult {
                requested_path: "Device.Nope.".into(),
                result: Err(Failure::new(ErrorCode::InvalidPath, "nope")),
            },
        ],
    ));
    assert_eq!(
        incoming.kind,
        IncomingKind::GetInstancesResp(GetInstancesOutcome {
            instances: vec![instance],
            failures: vec![PathFailure::new("Device.Nope.", ErrorCode::InvalidPath, "nope")],
        })
    );
}

#[test]
fn malformed_msgs_are_errors_not_panics() {
    let no_header = Msg { header: None, body: Some(Body::default()) };
    assert!(matches!(classify(no_header), Err(UspError::MissingField { field: "header", .. })));
    let no_body = Msg { header: Some(Header::default()), body: None };
    assert!(matches!(classify(no_body), Err(UspError::MissingField { field: "body", .. })));
    let empty_body = Msg { header: Some(Header::default()), body: Some(Body { msg_body: None }) };
    assert!(matches!(classify(empty_body), Err(UspError::MissingField { field: "body", .. })));
    let empty_request = Msg {
        header: Some(Header::default()),
        body: Some(Body { msg_body: Some(MsgBody::Request(Default::default())) }),
    };
    let err = classify(empty_request).unwrap_err();
    assert!(matches!(err, UspError::MissingField { field: "req_type", .. }));
    assert_eq!(err.usp_code(), ErrorCode::MessageFailed);
    let empty_response = Msg {
        header: Some(Header::default()),
        body: Some(Body { msg_body: Some(MsgBody::Response(Default::default())) }),
    };
    assert!(classify(empty_response).is_err());
    let empty_notify = Msg {
        header: Some(Header::default()),
        body: Some(Body {
            msg_body: Some(MsgBody::Request(usp::codec::msg::Request {
                req_type: Some(ReqType::Notify(Default::default())),
            })),
        }),
    };
    assert!(matches!(
        classify(empty_notify),
        Err(UspError::MissingField { field: "notification", .. })
    ));
    // The body decides; a lying header type does not matter.
    let mut lying = request::notify_resp("x", "s");
    lying.header.as_mut().unwrap().msg_type = MsgType::Get.into();
    assert!(matches!(classify(lying).unwrap().kind, IncomingKind::NotifyResp { .. }));
    // An unknown msg_type value decodes (proto3 open enums) and reads as the default.
    let mut odd = request::notify_resp("x", "s");
    odd.header.as_mut().unwrap().msg_type = 99;
    let decoded = decode_msg(&encode_msg(&odd)).unwrap();
    assert_eq!(decoded.header.as_ref().unwrap().msg_type, 99);
    assert_eq!(msg_type(&decoded), MsgType::Error);
}

#[test]
fn record_kinds() {
    let ws = Record::websocket_connect(CONTROLLER, AGENT, "1.3");
    let ws = decode_record(&encode_record(&ws)).unwrap();
    assert_eq!(ws.kind().unwrap(), RecordKind::WebSocketConnect);
    assert!(ws.kind().unwrap().is_connect());
    assert!(matches!(ws.msg(), Err(UspError::NoPayload { record_type: "websocket_connect" })));

    let mqtt = Record::mqtt_connect(CONTROLLER, AGENT, "1.3", MqttVersion::V5, "usp/agent/ont1");
    let mqtt = decode_record(&encode_record(&mqtt)).unwrap();
    assert_eq!(
        mqtt.kind().unwrap(),
        RecordKind::MqttConnect { version: MqttVersion::V5, subscribed_topic: "usp/agent/ont1" }
    );
    let mqtt311 = Record::mqtt_connect(CONTROLLER, AGENT, "1.3", MqttVersion::V311, "t");
    assert!(matches!(
        decode_record(&encode_record(&mqtt311)).unwrap().kind().unwrap(),
        RecordKind::MqttConnect { version: MqttVersion::V311, .. }
    ));

    let stomp = Record::stomp_connect(CONTROLLER, AGENT, "1.3", "/queue/agent");
    assert_eq!(
        decode_record(&encode_record(&stomp)).unwrap().kind().unwrap(),
        RecordKind::StompConnect { subscribed_destination: "/queue/agent" }
    );

    let bye = Record::disconnect(CONTROLLER, AGENT, "1.3", "shutting down", 7105);
    let bye = decode_record(&encode_record(&bye)).unwrap();
    assert_eq!(
        bye.kind().unwrap(),
        RecordKind::Disconnect { reason: "shutting down", reason_code: 7105 }
    );
    assert!(!bye.kind().unwrap().is_connect());

    let uds = Record {
        record_type: Some(RecordType::UdsConnect(UdsConnectRecord {})),
        ..Record::default()
    };
    assert_eq!(
        decode_record(&encode_record(&uds)).unwrap().kind().unwrap(),
        RecordKind::UdsConnect
    );

    let session = Record {
        version: "1.3".into(),
        record_type: Some(RecordType::SessionContext(SessionContextRecord {
            session_id: 1,
            sequence_id: 1,
            expected_id: 1,
            payload: vec![vec![1, 2, 3]],
            ..SessionContextRecord::default()
        })),
        ..Record::default()
    };
    let session = decode_record(&encode_record(&session)).unwrap();
    assert!(matches!(session.kind().unwrap(), RecordKind::SessionContext(_)));
    let err = session.msg().unwrap_err();
    assert!(matches!(err, UspError::SessionContextNotSupported));
    assert_eq!(err.usp_code(), ErrorCode::SessionContextNotAllowed);

    let empty = decode_record(&encode_record(&Record::default())).unwrap();
    let err = empty.kind().unwrap_err();
    assert_eq!(err.usp_code(), ErrorCode::RecordNotParsed);

    // A well-formed Record whose payload is not a Msg.
    let mut bad_payload =
        Record::wrap(AGENT, CONTROLLER, "1.3", &request::get("g", ["Device."], 0));
    if let Some(RecordType::NoSessionContext(r)) = &mut bad_payload.record_type {
        r.payload = vec![0xff, 0xff, 0xff];
    }
    let err = decode_record(&encode_record(&bad_payload)).unwrap().msg().unwrap_err();
    assert!(matches!(err, UspError::MsgDecode(_)));
}
