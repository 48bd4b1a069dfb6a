use cwmp_schema::limits::{MAX_BODY_BYTES, MAX_DEPTH};
use cwmp_schema::{decode, CwmpVersion, DecodeError};

use crate::support::{read, wrap};

#[test]
fn invalid_fixtures_give_typed_errors() {
    let err = |rel: &str| decode(&read(rel)).unwrap_err();

    match err("invalid/unknown-method.xml") {
        DecodeError::UnknownMethod { name, id, version } => {
            assert_eq!(name, "SetVouchers");
            assert_eq!(id.as_deref(), Some("uk-1"));
            assert_eq!(version, Some(CwmpVersion::V1_2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err("invalid/doctype.xml"), DecodeError::Doctype);
    assert_eq!(
        err("invalid/wrong-envelope-namespace.xml"),
        DecodeError::WrongEnvelopeNamespace {
            found: "http://www.w3.org/2003/05/soap-envelope".into()
        }
    );
    assert_eq!(err("invalid/no-body.xml"), DecodeError::NoBody);
    let e = err("invalid/inform-without-serial.xml");
    assert!(matches!(e, DecodeError::MissingDeviceId { .. }), "{e:?}");
    assert_eq!(e.header_id(), Some("ns-1"));
    assert_eq!(e.cwmp_version(), Some(CwmpVersion::V1_0));
    assert!(matches!(err("invalid/invalid-utf8.xml"), DecodeError::InvalidEncoding { .. }));
    assert_eq!(
        err("invalid/not-an-envelope.xml"),
        DecodeError::NotAnEnvelope { found: "html".into() }
    );
    // Every file in invalid/ is covered above.
    let dir = crate::support::data_dir().join("invalid");
    assert_eq!(crate::support::xml_files(&dir).len(), 7);
}

#[test]
fn a_100_mb_body_is_rejected_before_parsing() {
    let body = vec![b' '; 100 * 1024 * 1024];
    assert_eq!(
        decode(&body),
        Err(DecodeError::TooLarge { size: body.len(), limit: MAX_BODY_BYTES })
    );
}

#[test]
fn deep_nesting_is_rejected() {
    let depth = 100_000;
    let mut s = String::with_capacity(depth * 8);
    for _ in 0..depth {
        s.push_str("<a>");
    }
    for _ in 0..depth {
        s.push_str("</a>");
    }
    let e = decode(wrap(&format!("<cwmp:GetRPCMethods>{s}</cwmp:GetRPCMethods>")).as_bytes())
        .unwrap_err();
    assert_eq!(e, DecodeError::TooDeep { limit: MAX_DEPTH });
    // Also as a bare document and as self-closing leaves.
    let bare =
        format!("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">{s}");
    assert_eq!(decode(bare.as_bytes()).unwrap_err(), DecodeError::TooDeep { limit: MAX_DEPTH });
}

#[test]
fn invalid_utf8_is_a_typed_error() {
    let mut body = wrap("<cwmp:Reboot><CommandKey>X</CommandKey></cwmp:Reboot>").into_bytes();
    let at = body.iter().position(|&b| b == b'X').unwrap();
    body[at] = 0xC3; // a lone lead byte
    assert!(matches!(decode(&body), Err(DecodeError::InvalidEncoding { .. })));
    // Even with an HTTP charset of utf-8.
    assert!(matches!(
        cwmp_schema::decode_with_charset(&body, Some("utf-8")),
        Err(DecodeError::InvalidEncoding { .. })
    ));
}

#[test]
fn doctype_and_entity_declarations_are_rejected() {
    let billion_laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
    assert_eq!(decode(billion_laughs.as_bytes()), Err(DecodeError::Doctype));
    let external = "<!DOCTYPE soap:Envelope SYSTEM \"http://evil.example/x.dtd\"><soap:Envelope/>";
    assert_eq!(decode(external.as_bytes()), Err(DecodeError::Doctype));
}

#[test]
fn unknown_rpc_reports_its_name_id_and_version() {
    let e = decode(wrap("<cwmp:X_ACME_Frobnicate/>").as_bytes()).unwrap_err();
    assert_eq!(
        e,
        DecodeError::UnknownMethod {
            name: "X_ACME_Frobnicate".into(),
            id: Some("t".into()),
            version: Some(CwmpVersion::V1_2)
        }
    );
    assert_eq!(e.header_id(), Some("t"));
}

#[test]
fn strict_errors_and_garbage_never_panic() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"<",
        b"<soap:Envelope",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'>",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body></soap:Body></soap:Envelope>",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><a></b></soap:Body></soap:Envelope>",
        b"<a/><b/>",
        b"\xff\xfe<\x00a\x00/\x00>\x00",
        b"\xef\xbb\xbf<x/>",
        b"<?xml version='1.0' encoding='x-unknown'?><x/>",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><cwmp:Inform/></soap:Body></soap:Envelope>",
        b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body><Fault/></e:Body></e:Envelope>",
    ];
    for c in cases {
        let _ = decode(c);
    }
    assert!(matches!(decode(b""), Err(DecodeError::NotAnEnvelope { .. })));
    assert!(matches!(decode(cases[5]), Err(DecodeError::EmptyBody { .. })));
    assert!(matches!(decode(cases[6]), Err(DecodeError::Xml { .. })));
    assert!(matches!(
        decode(b"<?xml version='1.0' encoding='x-unknown'?><x/>"),
        Err(DecodeError::UnsupportedCharset { .. })
    ));
    assert!(matches!(decode(cases[11]), Err(DecodeError::MissingDeviceId { .. })));
}
