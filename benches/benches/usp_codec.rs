//! USP (TR-369) codec micro-benchmarks: what the controller does per Get round trip.
//!
//! Run: `cargo bench -p benches --bench usp_codec`
//! - `build_get_record`: build a Get Msg and wrap it in a no-session-context Record, encoded.
//! - `decode_get_resp_record`: decode an agent's GetResp Record (20 parameters) and classify
//!   the Msg inside it.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use usp::codec::agent::{get_resp, GetResult, ResolvedObject};
use usp::codec::{classify, decode_record, encode_record, request, Record};

const CONTROLLER: &str = "self::acsd-controller";
const AGENT: &str = "os::00D09E-SIM000001";

fn get_resp_record(params: usize) -> Vec<u8> {
    let mut p = BTreeMap::new();
    for i in 0..params {
        p.insert(format!("Param{i}"), format!("value-{i}"));
    }
    let msg = get_resp(
        "get-1",
        vec![GetResult {
            requested_path: "Device.DeviceInfo.".into(),
            result: Ok(vec![ResolvedObject { path: "Device.DeviceInfo.".into(), params: p }]),
        }],
    );
    encode_record(&Record::wrap(CONTROLLER, AGENT, "1.4", &msg))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("usp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("build_get_record", |b| {
        b.iter(|| {
            let msg = request::get(
                black_box("get-1"),
                ["Device.DeviceInfo.", "Device.WiFi.SSID.1.SSID"],
                0,
            );
            encode_record(&Record::wrap(AGENT, CONTROLLER, "1.4", &msg))
        })
    });
    for n in [20usize, 200] {
        let bytes = get_resp_record(n);
        // Fail loudly rather than benchmark an error path.
        let check = decode_record(&bytes).and_then(|r| r.msg()).and_then(classify);
        if let Err(e) = check {
            panic!("GetResp fixture does not decode: {e}");
        }
        g.bench_function(format!("decode_get_resp_record_{n}_params"), |b| {
            b.iter(|| {
                let record = decode_record(black_box(&bytes))?;
                classify(record.msg()?)
            })
        });
    }
    g.finish();
}

criterion_group!(usp_benches, benches);
criterion_main!(usp_benches);
