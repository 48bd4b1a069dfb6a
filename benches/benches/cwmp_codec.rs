//! CWMP codec micro-benchmarks on the `cwmp-schema` fixtures.
//!
//! Run: `cargo bench -p benches --bench cwmp_codec`
//! Throughput is reported in bytes of XML (decode: input size, encode: output size); divide
//! by the message size for messages per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cwmp_schema::{decode, encode_into, Body, CwmpVersion, Envelope, ParameterValue, ValueType};

const SMALL_INFORM: &[u8] =
    include_bytes!("../../cwmp-schema/tests/data/tr098/huawei-style/inform-boot-8params.xml");
const TR098_BIG_INFORM: &[u8] =
    include_bytes!("../../cwmp-schema/tests/data/tr098/huawei-style/inform-periodic-big.xml");
const TR181_BIG_INFORM: &[u8] =
    include_bytes!("../../cwmp-schema/tests/data/tr181/prpl-style/inform-periodic-big.xml");
const GPV_RESPONSE_1000: &[u8] =
    include_bytes!("../../cwmp-schema/tests/data/large/gpv-response-1000.xml");

fn decode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("cwmp_decode");
    for (name, bytes) in [
        ("inform_8_params", SMALL_INFORM),
        ("inform_242_params_tr098", TR098_BIG_INFORM),
        ("inform_235_params_tr181", TR181_BIG_INFORM),
        ("gpv_response_1000", GPV_RESPONSE_1000),
    ] {
        // Fail loudly rather than benchmark an error path.
        if let Err(e) = decode(bytes) {
            panic!("{name}: fixture does not decode: {e}");
        }
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| decode(black_box(bytes))));
    }
    group.finish();
}

fn encode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("cwmp_encode");
    let inform_response =
        Envelope::new(Some("1234567".into()), Body::InformResponse { max_envelopes: 1 });
    let parameter_list = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                ParameterValue::string(
                    format!("Device.WiFi.SSID.{i}.SSID"),
                    format!("Home & Co {i}"),
                )
            } else {
                ParameterValue::new(
                    format!("Device.WiFi.AccessPoint.{i}.Enable"),
                    "true",
                    ValueType::Boolean,
                )
            }
        })
        .collect();
    let spv = Envelope::new(
        Some("1234568".into()),
        Body::SetParameterValues { parameter_list, parameter_key: "pk-1".into() },
    );
    for (name, envelope) in [("inform_response", &inform_response), ("spv_20_params", &spv)] {
        let mut out = Vec::with_capacity(8192);
        encode_into(envelope, CwmpVersion::V1_2, &mut out);
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode_into(black_box(envelope), CwmpVersion::V1_2, &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_benches, encode_benches);
criterion_main!(benches);
