use cwmp_schema::{
    decode, decode_with_charset, encode, Body, CwmpVersion, DuOperation, EventCode, FaultCode,
    ValueType, Warning,
};

use crate::support::{read, valid_fixtures};

#[test]
fn every_fixture_decodes_and_reencodes_to_the_same_value() {
    let fixtures = valid_fixtures();
    assert!(fixtures.len() >= 25, "only {} fixtures", fixtures.len());
    for path in fixtures {
        let bytes = std::fs::read(&path).unwrap();
        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = encode(&decoded.envelope, decoded.version);
        let redecoded =
            decode(&again).unwrap_or_else(|e| panic!("{} re-encoded: {e}", path.display()));
        assert_eq!(redecoded.envelope, decoded.envelope, "{}", path.display());
        assert_eq!(redecoded.version, decoded.version, "{}", path.display());
        // Our own output only carries over quirks that live in the values themselves.
        for w in &redecoded.warnings {
            assert!(
                matches!(
                    w,
                    Warning::MissingHeader
                        | Warning::MissingId
                        | Warning::DateTimeWithoutZone { .. }
                        | Warning::InvalidDateTime { .. }
                        | Warning::EmptyCommandKey { .. }
                ),
                "{}: our encoding raised {w:?}",
                path.display()
            );
        }
        // Encoded output has no XML declaration and uses the fixed prefixes.
        assert!(again.starts_with(b"<soap-env:Envelope"));
    }
}

#[test]
fn message_fixtures_decode_to_the_message_named_by_the_file() {
    let dir = crate::support::data_dir().join("messages");
    let files = crate::support::xml_files(&dir);
    assert_eq!(files.len(), 49, "one fixture per message type besides Inform and Fault");
    for path in files {
        let decoded = decode(&std::fs::read(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(decoded.envelope.body.method_name(), stem);
        assert!(decoded.envelope.header.id.as_deref().unwrap().starts_with("msg-"));
        assert!(decoded.warnings.is_empty(), "{stem}: unexpected warnings {:?}", decoded.warnings);
    }
}

struct InformExpectation {
    file: &'static str,
    version: CwmpVersion,
    oui: &'static str,
    serial: &'static str,
    events: Vec<EventCode>,
    params: usize,
    first_param: &'static str,
}

fn exp(
    file: &'static str,
    version: CwmpVersion,
    oui: &'static str,
    serial: &'static str,
    events: Vec<EventCode>,
    params: usize,
    first_param: &'static str,
) -> InformExpectation {
    InformExpectation { file, version, oui, serial, events, params, first_param }
}

#[test]
fn inform_fixtures_yield_device_events_parameters_and_version() {
    use CwmpVersion::*;
    use EventCode::*;
    let igd = "InternetGatewayDevice.DeviceSummary";
    let cases = [
        exp(
            "tr098/huawei-style/inform-boot-8params.xml",
            V1_0,
            "00259E",
            "48575443A1B2C3D4",
            vec![Boot, Method(String::new())],
            8,
            igd,
        ),
        exp(
            "tr098/huawei-style/inform-periodic-big.xml",
            V1_1,
            "00259E",
            "48575443A1B2C3D4",
            vec![Periodic],
            242,
            igd,
        ),
        exp(
            "tr181/prpl-style/inform-bootstrap-8params.xml",
            V1_2,
            "F09FC2",
            "ACME0000000001",
            vec![Bootstrap, Boot],
            8,
            "Device.RootDataModelVersion",
        ),
        exp(
            "tr181/prpl-style/inform-periodic-big.xml",
            V1_4,
            "F09FC2",
            "ACME0000000001",
            vec![Periodic, ValueChange],
            235,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/no-header/inform.xml",
            V1_0,
            "00D0D0",
            "ZTEGC8A12345",
            vec![ConnectionRequest],
            8,
            igd,
        ),
        exp(
            "quirks/zero-padded/inform.xml",
            V1_0,
            "00D0D0",
            "ZTEGC8A12346",
            vec![Boot, ValueChange],
            8,
            igd,
        ),
        exp(
            "quirks/out-of-order/inform.xml",
            V1_2,
            "A0B1C2",
            "SN-OOO-1",
            vec![Periodic],
            3,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/soap-enc-array/inform.xml",
            V1_1,
            "C0D044",
            "SGM12345678",
            vec![Boot],
            2,
            "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
        ),
        exp(
            "quirks/soap-prefix-encoding/inform.xml",
            V1_0,
            "001122",
            "OB000001",
            vec![Boot],
            2,
            igd,
        ),
        exp(
            "quirks/whitespace-crlf/inform.xml",
            V1_0,
            "50C7BF",
            "2210ABCDEF",
            vec![Periodic],
            2,
            "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
        ),
        exp("quirks/xsd-1999/inform.xml", V1_0, "00147F", "CP0723JT123", vec![Boot], 8, igd),
        exp("quirks/single-quoted/inform.xml", V1_1, "00040E", "AVM7590000001", vec![Boot], 8, igd),
        exp(
            "quirks/datetime/inform-no-zone.xml",
            V1_2,
            "F09FC2",
            "ACME0000000002",
            vec![Periodic],
            6,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/datetime/inform-invalid.xml",
            V1_2,
            "F09FC2",
            "ACME0000000003",
            vec![Periodic],
            6,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/empty-commandkey/inform.xml",
            V1_0,
            "D4351D",
            "CP1234SA567",
            vec![Boot, Method(String::new()), Method(String::new()), TransferComplete],
            8,
            igd,
        ),
        exp("quirks/leading-dot/inform.xml", V1_0, "00a0b1", "GEN-0001", vec![Periodic], 4, igd),
        exp(
            "quirks/iso-8859-1/inform.xml",
            V1_0,
            "0011AA",
            "SR0001",
            vec![Boot],
            2,
            "InternetGatewayDevice.DeviceInfo.Description",
        ),
        exp(
            "easycwmp-style/inform-value-change.xml",
            V1_2,
            "002207",
            "E400A1000123",
            vec![ValueChange, Vendor(String::new())],
            5,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/vendor-events/inform-heartbeat.xml",
            V1_3,
            "ACD8F6",
            "ALCLB1234567",
            vec![Heartbeat, Wakeup, Vendor(String::new()), RequestDownload],
            3,
            "Device.RootDataModelVersion",
        ),
        exp(
            "quirks/value-types/inform.xml",
            V1_2,
            "F09FC2",
            "ACME0000000004",
            vec![Periodic],
            8,
            "Device.DeviceInfo.X_ACME_IP",
        ),
    ];
    for c in &cases {
        let decoded = decode(&read(c.file)).unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert_eq!(decoded.version, c.version, "{}", c.file);
        let Body::Inform(inform) = &decoded.envelope.body else {
            panic!("{}: not an Inform", c.file)
        };
        assert_eq!(inform.device_id.oui, c.oui, "{}", c.file);
        assert_eq!(inform.device_id.serial_number, c.serial, "{}", c.file);
        assert!(!inform.device_id.manufacturer.is_empty(), "{}", c.file);
        let kinds: Vec<_> =
            inform.events.iter().map(|e| std::mem::discriminant(&e.event_code)).collect();
        let want: Vec<_> = c.events.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds, want, "{}", c.file);
        assert_eq!(inform.parameter_list.len(), c.params, "{}", c.file);
        assert_eq!(inform.parameter_list[0].name, c.first_param, "{}", c.file);
        assert_eq!(inform.max_envelopes, 1, "{}", c.file);
    }
    // Every Inform fixture is in the table.
    let informs = valid_fixtures()
        .into_iter()
        .filter(|p| {
            matches!(decode(&std::fs::read(p).unwrap()).unwrap().envelope.body, Body::Inform(_))
        })
        .count();
    assert_eq!(informs, cases.len());
}

fn warnings(rel: &str) -> Vec<Warning> {
    decode(&read(rel)).unwrap().warnings
}

#[test]
fn quirks_are_reported_as_warnings() {
    assert!(warnings("quirks/no-header/inform.xml").contains(&Warning::MissingHeader));

    let w = warnings("quirks/zero-padded/inform.xml");
    assert!(w.contains(&Warning::ZeroPaddedCount { element: "Event".into() }));
    assert!(w.contains(&Warning::ZeroPaddedNumber { element: "RetryCount".into() }));
    assert!(w.contains(&Warning::ArrayCountMismatch {
        element: "ParameterList".into(),
        declared: 11,
        actual: 8
    }));

    let w = warnings("quirks/out-of-order/inform.xml");
    for element in ["Inform", "EventStruct", "DeviceId"] {
        assert!(w.contains(&Warning::OutOfOrder { element: element.into() }), "{element}");
    }

    let w = warnings("quirks/soap-enc-array/inform.xml");
    assert!(w.contains(&Warning::SoapEncArrayTyped { element: "ParameterList".into() }));
    assert!(w.contains(&Warning::SoapEncArrayTyped { element: "Event".into() }));

    assert!(warnings("quirks/soap-prefix-encoding/inform.xml")
        .contains(&Warning::EnvelopeInEncodingNamespace));
    assert!(warnings("quirks/xsd-1999/inform.xml").contains(&Warning::Xsd1999Namespace));
    assert!(warnings("quirks/whitespace-crlf/inform.xml")
        .iter()
        .any(|w| matches!(w, Warning::WhitespaceTrimmed { .. })));
    assert!(warnings("quirks/datetime/inform-no-zone.xml").contains(
        &Warning::DateTimeWithoutZone {
            element: "CurrentTime".into(),
            raw: "2024-05-01T10:00:00".into()
        }
    ));
    assert!(warnings("quirks/datetime/inform-invalid.xml").contains(&Warning::InvalidDateTime {
        element: "CurrentTime".into(),
        raw: "2019-03-05T11:54::14".into()
    }));
    let w = warnings("quirks/empty-commandkey/inform.xml");
    assert_eq!(w.iter().filter(|w| matches!(w, Warning::EmptyCommandKey { .. })).count(), 2);
    let w = warnings("quirks/leading-dot/inform.xml");
    assert_eq!(w.iter().filter(|w| matches!(w, Warning::LeadingDotName { .. })).count(), 4);
    assert!(warnings("quirks/iso-8859-1/inform.xml")
        .contains(&Warning::Transcoded { charset: "ISO-8859-1".into() }));
    assert!(warnings("quirks/value-types/inform.xml")
        .contains(&Warning::MissingValueType { name: "Device.DeviceInfo.X_ACME_Untyped".into() }));
    // Fixtures without quirks decode without warnings.
    assert!(warnings("tr181/prpl-style/inform-periodic-big.xml").is_empty());
    assert!(warnings("tr098/huawei-style/inform-periodic-big.xml").is_empty());
}

#[test]
fn quirky_values_decode_to_what_the_device_meant() {
    let d = decode(&read("quirks/whitespace-crlf/inform.xml")).unwrap();
    assert_eq!(d.envelope.header.id.as_deref(), Some("77"));
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert_eq!(i.device_id.manufacturer, "TP-Link");
    assert_eq!(i.device_id.oui, "50C7BF");
    assert_eq!(i.events[0].event_code, EventCode::Periodic);
    assert_eq!(i.parameter_list[0].name, "InternetGatewayDevice.DeviceInfo.SoftwareVersion");
    assert_eq!(i.parameter_list[0].value, "1.0.9 Build 20230101");
    assert_eq!(i.parameter_list[1].value, "86400");

    let d = decode(&read("quirks/zero-padded/inform.xml")).unwrap();
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert_eq!(i.retry_count, 5);

    let d = decode(&read("quirks/leading-dot/inform.xml")).unwrap();
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert!(i.parameter_list.iter().all(|p| p.name.starts_with("InternetGatewayDevice.")));

    let d = decode(&read("quirks/iso-8859-1/inform.xml")).unwrap();
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert_eq!(i.device_id.product_class, "Routeur \u{c9}volution");
    assert_eq!(i.parameter_list[0].value, "Bo\u{ee}te \u{e0} fibre");
    // The HTTP charset wins over the (absent) declaration.
    let raw = read("quirks/iso-8859-1/inform.xml");
    let after_decl = raw.windows(2).position(|w| w == b"?>").unwrap() + 2;
    let body = &raw[after_decl..];
    assert!(matches!(decode(body), Err(cwmp_schema::DecodeError::InvalidEncoding { .. })));
    let d = decode_with_charset(body, Some("\"iso-8859-1\"")).unwrap();
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert_eq!(i.device_id.product_class, "Routeur \u{c9}volution");

    let d = decode(&read("quirks/value-types/inform.xml")).unwrap();
    let Body::Inform(i) = d.envelope.body else { panic!() };
    let p = &i.parameter_list;
    assert_eq!(p[0].value_type, ValueType::Other("cwmp:IPAddress".into()));
    assert_eq!(p[1].as_bool(), Some(true));
    assert_eq!(p[2].value_type, ValueType::Int);
    assert_eq!(p[3].value, "AT&T <b> caf\u{e9} \u{263a}");
    assert_eq!(p[4].value, "<not-xml> & stuff");
    assert_eq!(p[5].value, "ab");
    assert_eq!(p[6].value, "  two spaces  ");
    assert_eq!(p[7].value_type, ValueType::String);

    let d = decode(&read("quirks/vendor-events/inform-heartbeat.xml")).unwrap();
    assert_eq!(d.envelope.header.session_timeout, Some(60));
    assert_eq!(d.envelope.header.no_more_requests, Some(true));
    let Body::Inform(i) = d.envelope.body else { panic!() };
    assert_eq!(i.events[2].event_code, EventCode::Vendor("X ACD8F6 DYING GASP".into()));
    assert_eq!(i.events[2].command_key, "dg-1");

    let d = decode(&read("tr181/prpl-style/inform-periodic-big.xml")).unwrap();
    assert_eq!(d.envelope.header.supported_cwmp_versions.as_deref(), Some("1.0,1.1,1.2,1.3,1.4"));
}

#[test]
fn message_fields_are_decoded() {
    let body = |rel: &str| decode(&read(rel)).unwrap().envelope.body;
    match body("messages/Download.xml") {
        Body::Download(d) => {
            assert_eq!(d.file_type, "1 Firmware Upgrade Image");
            assert_eq!(d.password, "s3cr<t");
            assert_eq!(d.file_size, 31_457_280);
        }
        other => panic!("{other:?}"),
    }
    match body("messages/ChangeDUState.xml") {
        Body::ChangeDuState(c) => {
            assert_eq!(c.operations.len(), 3);
            assert!(
                matches!(&c.operations[0], DuOperation::Install(i) if i.username.as_deref() == Some("u"))
            );
            assert!(
                matches!(&c.operations[1], DuOperation::Update(u) if u.version.as_deref() == Some("2.0") && u.url.is_none())
            );
            assert!(matches!(&c.operations[2], DuOperation::Uninstall(u) if u.version.is_none()));
            assert_eq!(c.command_key, "du-7");
        }
        other => panic!("{other:?}"),
    }
    match body("messages/ScheduleDownload.xml") {
        Body::ScheduleDownload(s) => {
            assert_eq!(s.time_window_list.len(), 2);
            assert_eq!(s.time_window_list[0].max_retries, -1);
            assert_eq!(s.time_window_list[1].window_mode, "4 Confirmation Needed");
        }
        other => panic!("{other:?}"),
    }
    match body("messages/DUStateChangeComplete.xml") {
        Body::DuStateChangeComplete(d) => {
            assert_eq!(d.results.len(), 2);
            assert!(d.results[0].fault.is_success());
            assert_eq!(d.results[1].fault.fault_code, FaultCode::FileTransferIncompleteDownload);
        }
        other => panic!("{other:?}"),
    }
    match body("faults/cpe-spv-fault.xml") {
        Body::Fault(f) => {
            assert_eq!(f.faultcode, "Client");
            assert_eq!(f.detail.code, FaultCode::CpeInvalidArguments);
            assert_eq!(f.detail.set_parameter_values_faults.len(), 2);
            assert_eq!(
                f.detail.set_parameter_values_faults[1].code,
                FaultCode::NonWritableParameter
            );
        }
        other => panic!("{other:?}"),
    }
    match body("faults/cpe-malformed-fault.xml") {
        Body::Fault(f) => {
            assert_eq!(f.detail.code, FaultCode::CpeInternalError);
            assert_eq!(f.detail.string, "Internal error");
        }
        other => panic!("{other:?}"),
    }
    match body("faults/cpe-vendor-fault.xml") {
        Body::Fault(f) => assert_eq!(f.detail.code, FaultCode::CpeVendor(9805)),
        other => panic!("{other:?}"),
    }
}
