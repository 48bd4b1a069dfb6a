//! Raw bytes into the USP Record decoder, then everything the controller does with a Record:
//! its kind, the Msg inside, the typed view, and the paths of requests. A decoded Record must
//! re-encode and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usp::codec::msg::{body::MsgBody, request::ReqType};
use usp::codec::{classify, decode_record, encode_record, Path};

fuzz_target!(|data: &[u8]| {
    let Ok(record) = decode_record(data) else {
        return;
    };
    let again = decode_record(&encode_record(&record)).expect("re-encoded record decodes");
    assert_eq!(again, record);
    let _ = record.kind().map(|k| (k.name(), k.is_connect()));
    let Ok(msg) = record.msg() else {
        return;
    };
    if let Some(MsgBody::Request(req)) = msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
        let paths: Vec<&String> = match &req.req_type {
            Some(ReqType::Get(g)) => g.param_paths.iter().collect(),
            Some(ReqType::Delete(d)) => d.obj_paths.iter().collect(),
            Some(ReqType::GetInstances(g)) => g.obj_paths.iter().collect(),
            Some(ReqType::Operate(o)) => vec![&o.command],
            _ => Vec::new(),
        };
        for p in paths {
            if let Ok(parsed) = Path::parse(p) {
                let shown = parsed.to_string();
                let reparsed = Path::parse(&shown).expect("a displayed path parses");
                assert_eq!(reparsed, parsed);
            }
        }
    }
    let _ = classify(msg);
});
