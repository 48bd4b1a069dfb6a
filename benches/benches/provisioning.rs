//! Provisioning per-device costs: rule evaluation (JSONLogic precondition, events filter,
//! schedule) over a realistic rule set, and profile → parameter-set mapping for a TR-181 device
//! with two radios and two SIP lines (the work the engine does per contact that needs a push).
//! Target: ≤ 20 µs per device for each.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use provisioning::equipment::{Band, Profile, Security, VoiceLine, WifiConfig};
use provisioning::mapping::{discovery_paths, map_profile};
use provisioning::overrides::Overrides;
use provisioning::plan::{EquipmentJob, Need, ProvisionRun};
use provisioning::rules::{default_rules, Declaration, DeviceFacts, Rule};
use provisioning::DataModel;
use serde_json::json;
use time::OffsetDateTime;

fn rules() -> Vec<Rule> {
    let mut rules = default_rules();
    for i in 0..8 {
        rules.push(Rule {
            name: format!("vendor-{i}"),
            enabled: true,
            order: i,
            precondition: json!({"and": [
                {"==": [{"var": "oui"}, format!("00D0{i:02}")]},
                {"in": ["lab", {"var": "tags"}]},
                {"<": ["1.0", {"var": "softwareVersion"}]}
            ]}),
            events: vec![],
            schedule: Some("* 0-23 * * *".into()),
            declarations: vec![Declaration {
                path: "Device.WiFi.SSID.*.Enable".into(),
                refresh_age: None,
                value: Some(json!(true)),
                instances: None,
            }],
            version: 1,
        });
    }
    rules
}

fn known_181() -> BTreeMap<String, String> {
    let mut k = BTreeMap::new();
    let mut put = |p: &str, v: &str| {
        k.insert(p.to_owned(), v.to_owned());
    };
    put("Device.WiFi.Radio.1.OperatingFrequencyBand", "5GHz");
    put("Device.WiFi.Radio.3.OperatingFrequencyBand", "2.4GHz");
    put("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.3");
    put("Device.WiFi.SSID.2.LowerLayers", "Device.WiFi.Radio.1");
    put("Device.WiFi.AccessPoint.1.SSIDReference", "Device.WiFi.SSID.2");
    put("Device.WiFi.AccessPoint.2.SSIDReference", "Device.WiFi.SSID.1");
    let vs = "Device.Services.VoiceService.1.";
    for i in 1..=2 {
        put(&format!("{vs}SIP.Client.{i}.Network"), &format!("{vs}SIP.Network.{i}"));
        put(&format!("{vs}CallControl.Line.{i}.Provider"), &format!("{vs}SIP.Client.{i}"));
    }
    for i in 0..200 {
        put(&format!("Device.DeviceInfo.X_Filler.{i}.Value"), "x");
    }
    k
}

fn profile() -> Profile {
    Profile {
        wifi: vec![
            WifiConfig {
                band: Band::B2_4,
                ssid: "Casa".into(),
                passphrase: "wifi-secret-24".into(),
                security: Security::Wpa2Psk,
                enabled: true,
            },
            WifiConfig {
                band: Band::B5,
                ssid: "Casa-5G".into(),
                passphrase: "wifi-secret-5g".into(),
                security: Security::Wpa2Wpa3,
                enabled: true,
            },
        ],
        voice: (1..=2)
            .map(|line| VoiceLine {
                line,
                sip_username: format!("555100{line}"),
                sip_password: "sip-secret".into(),
                registrar: Some("sip.isp.example".into()),
                proxy: Some("proxy.isp.example".into()),
                outbound_proxy: None,
                domain: Some("isp.example".into()),
                directory_number: Some(format!("+1 555 100{line}")),
                display_name: Some("Home".into()),
            })
            .collect(),
        periodic_inform_interval: Some(3600),
        extra: BTreeMap::new(),
    }
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let facts = DeviceFacts {
        id: "00D003-Box-SN1".into(),
        oui: "00D003".into(),
        product_class: "Box".into(),
        manufacturer: "Acme".into(),
        model: "X1".into(),
        software_version: "2.1".into(),
        data_model: "tr-181".into(),
        tags: vec!["lab".into(), "north".into()],
        events: vec!["2 PERIODIC".into()],
        protocol: "cwmp".into(),
    };
    let now = OffsetDateTime::now_utc();
    c.bench_function("provisioning/rules_evaluate_10_per_device", |b| {
        b.iter(|| {
            let fj = facts.to_json();
            let n = rules.iter().filter(|r| r.applies(black_box(&facts), &fj, now)).count();
            black_box(n)
        })
    });

    let known = known_181();
    let profile = profile();
    let overrides = Overrides::builtin();
    c.bench_function("provisioning/profile_to_parameter_set_tr181", |b| {
        b.iter(|| {
            let ov = overrides.matching("00D003", "Box", "X1");
            let m = map_profile(DataModel::Tr181, black_box(&profile), &known, &ov);
            black_box((discovery_paths(DataModel::Tr181, &profile).len(), m.values.len()))
        })
    });

    let known_vec: Vec<(String, String, Option<String>)> =
        known.iter().map(|(k, v)| (k.clone(), v.clone(), None)).collect();
    c.bench_function("provisioning/run_plan_profile_diff_tr181", |b| {
        b.iter_batched(
            || (known_vec.clone(), profile.clone()),
            |(known, profile)| {
                let job =
                    EquipmentJob { equipment_id: 1, version: 2, profile, overrides: Vec::new() };
                let mut run = ProvisionRun::new(DataModel::Tr181, known, Vec::new(), Some(job));
                // Discovery answered from the cache, then the set is planned.
                let mut sets = 0;
                while let Some(n) = run.next_need() {
                    match n {
                        Need::Refresh(_) => run.on_values(&[]),
                        Need::Set { values, .. } => {
                            sets += values.len();
                            break;
                        }
                        _ => break,
                    }
                }
                black_box(sets)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
