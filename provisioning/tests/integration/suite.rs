//! The backend-independent scenarios.

use std::collections::HashSet;
use std::sync::Arc;

use provisioning::{
    cwmp_device_id, DataModel, Device, DeviceFilter, FaultFilter, FileMeta, NewFault, NewTask,
    Parameter, ParameterValueTuple, Protocol, Store, StoreError, TaskFault, TaskFilter, TaskSpec,
    TaskStatus, Telemetry,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::db::TestDb;

pub use crate::equipment_suite::{audit_is_redacted, equipment_crud_and_matching, rules_crud};

/// A millisecond-aligned instant (the stores keep milliseconds).
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_700_000_000 + secs)
}

/// Now, truncated to milliseconds.
pub fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc();
    n.replace_nanosecond(n.millisecond() as u32 * 1_000_000).unwrap()
}

pub fn device(serial: &str) -> Device {
    let mut d = Device::new(
        cwmp_device_id("00D09E", "HG8245", serial),
        Protocol::Cwmp,
        "00D09E",
        "HG8245",
        serial,
        at(0),
    );
    d.manufacturer = "Huawei".into();
    d.model_name = Some("HG8245H".into());
    d.software_version = Some("V3R017".into());
    d.data_model = DataModel::Tr098;
    d.last_inform_at = Some(at(100));
    d.last_events = vec!["0 BOOTSTRAP".into(), "1 BOOT".into()];
    d.ip = Some("192.0.2.10".into());
    d.connection_request_url = Some("http://192.0.2.10:7547/cr".into());
    d.cr_username = Some("cr-user".into());
    d.cr_password = Some("cr-pass".into());
    d.periodic_inform_interval = Some(3600);
    d
}

fn param(path: &str, value: &str) -> Parameter {
    Parameter::value(path, value, Some("xsd:string"), at(5))
}

fn gpv(path: &str) -> TaskSpec {
    TaskSpec::GetParameterValues { parameter_names: vec![path.into()] }
}

async fn store_with_device(db: &TestDb, serial: &str) -> (Arc<dyn Store>, Device) {
    let s = db.store();
    let d = device(serial);
    s.upsert_device(&d).await.unwrap();
    (s, d)
}

pub async fn ping_and_backend(db: &TestDb) {
    let s = db.store();
    s.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&s.backend()));
}

pub async fn devices_upsert_get_filters(db: &TestDb) {
    let s = db.store();
    assert!(s.get_device("nope").await.unwrap().is_none());

    let mut a = device("A1");
    a.tags = vec!["lab".into(), "east".into()];
    a.equipment_id = Some(42);
    a.cpe_username = Some("cpe".into());
    a.cpe_password = Some("secret".into());
    a.hardware_version = Some("HW1".into());
    a.last_boot_at = Some(at(90));
    a.last_bootstrap_at = Some(at(80));
    a.udp_connection_request_address = Some("192.0.2.10:7547".into());
    s.upsert_device(&a).await.unwrap();
    let mut b = device("B2");
    b.oui = "001122".into();
    b.id = cwmp_device_id("001122", "HG8245", "B2");
    b.last_inform_at = Some(at(500));
    s.upsert_device(&b).await.unwrap();
    let mut u = Device::new("os::012345-AABBCC", Protocol::Usp, "012345", "", "AABBCC", at(1));
    u.data_model = DataModel::Tr181;
    s.upsert_device(&u).await.unwrap();

    let mut got = s.get_device(&a.id).await.unwrap().unwrap();
    a.tags.sort();
    assert_eq!(got, a);
    got.software_version = Some("V4".into());
    got.last_events = vec!["2 PERIODIC".into()];
    s.upsert_device(&got).await.unwrap();
    assert_eq!(s.get_device(&a.id).await.unwrap().unwrap(), got);

    let ids = |v: Vec<Device>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let all = ids(s.list_devices(&DeviceFilter::default()).await.unwrap());
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "ordered by id");
    assert_eq!(all.len(), 3);

    let f = |f: DeviceFilter| {
        let s = s.clone();
        async move { ids(s.list_devices(&f).await.unwrap()) }
    };
    assert_eq!(
        f(DeviceFilter { oui: Some("001122".into()), ..Default::default() }).await,
        [b.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { id_prefix: Some("00D09E-".into()), ..Default::default() }).await,
        [a.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { id_prefix: Some("os::".into()), ..Default::default() }).await,
        [u.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { serial: Some("B2".into()), ..Default::default() }).await,
        [b.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { product_class: Some("HG8245".into()), ..Default::default() }).await.len(),
        2
    );
    assert_eq!(
        f(DeviceFilter { tag: Some("lab".into()), ..Default::default() }).await,
        [a.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { protocol: Some(Protocol::Usp), ..Default::default() }).await,
        [u.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { last_inform_after: Some(at(200)), ..Default::default() }).await,
        [b.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter { last_inform_before: Some(at(200)), ..Default::default() }).await,
        [a.id.clone()]
    );
    assert_eq!(
        f(DeviceFilter {
            last_inform_after: Some(at(100)),
            last_inform_before: Some(at(101)),
            ..Default::default()
        })
        .await,
        [a.id.clone()]
    );
    assert_eq!(f(DeviceFilter { limit: Some(2), ..Default::default() }).await, sorted[..2]);
    assert_eq!(
        f(DeviceFilter { limit: Some(2), offset: Some(2), ..Default::default() }).await,
        sorted[2..]
    );
    assert_eq!(f(DeviceFilter { offset: Some(1), ..Default::default() }).await, sorted[1..]);
    assert!(f(DeviceFilter { oui: Some("none".into()), ..Default::default() }).await.is_empty());

    let every = s.all_devices().await.unwrap();
    assert_eq!(every.len(), 3);
    let a_again = every.iter().find(|d| d.id == a.id).unwrap();
    assert_eq!(a_again.tags, ["east", "lab"]);
    // list_devices carries tags too.
    let listed = s
        .list_devices(&DeviceFilter { tag: Some("east".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(listed[0].tags, ["east", "lab"]);
}

pub async fn tags(db: &TestDb) {
    let (s, d) = store_with_device(db, "T1").await;
    assert!(s.add_tag(&d.id, "vip").await.unwrap());
    assert!(!s.add_tag(&d.id, "vip").await.unwrap(), "second add is a no-op");
    assert!(s.add_tag(&d.id, "a b/c").await.unwrap());
    assert_eq!(s.get_device(&d.id).await.unwrap().unwrap().tags, ["a b/c", "vip"]);
    assert!(s.remove_tag(&d.id, "vip").await.unwrap());
    assert!(!s.remove_tag(&d.id, "vip").await.unwrap());
    assert!(matches!(s.add_tag("missing", "x").await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.add_tag(&d.id, "").await, Err(StoreError::Invalid { .. })));
    // upsert_device replaces the tag set.
    let mut d2 = s.get_device(&d.id).await.unwrap().unwrap();
    d2.tags = vec!["x".into()];
    s.upsert_device(&d2).await.unwrap();
    assert_eq!(s.get_device(&d.id).await.unwrap().unwrap().tags, ["x"]);
}

pub async fn delete_device_cascades(db: &TestDb) {
    let (s, d) = store_with_device(db, "D1").await;
    let (_, other) = store_with_device(db, "D2").await;
    s.add_tag(&d.id, "t").await.unwrap();
    s.upsert_parameters(&d.id, &[param("InternetGatewayDevice.A", "1")]).await.unwrap();
    let task = s.insert_task(&NewTask::new(&d.id, gpv("InternetGatewayDevice."))).await.unwrap();
    s.insert_task(&NewTask::new(&other.id, gpv("InternetGatewayDevice."))).await.unwrap();
    s.insert_fault(&NewFault {
        device_id: d.id.clone(),
        task_id: Some(task.id),
        channel: "task".into(),
        code: "9005".into(),
        message: "Invalid parameter name".into(),
        detail: json!(null),
        retries: 1,
    })
    .await
    .unwrap();

    assert!(s.delete_device(&d.id).await.unwrap());
    assert!(!s.delete_device(&d.id).await.unwrap());
    assert!(s.get_device(&d.id).await.unwrap().is_none());
    assert!(s.get_parameters(&d.id, "").await.unwrap().is_empty());
    assert!(s.get_task(task.id).await.unwrap().is_none());
    assert!(s
        .list_faults(&FaultFilter { device_id: Some(d.id.clone()), ..Default::default() })
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.devices_with_due_tasks().await.unwrap(), [other.id.as_str()]);
    // Re-creating the device does not resurrect its tags.
    s.upsert_device(&device("D1")).await.unwrap();
    assert!(s.get_device(&d.id).await.unwrap().unwrap().tags.is_empty());
}

pub async fn telemetry_batch(db: &TestDb) {
    let s = db.store();
    let known = device("K1");
    s.upsert_device(&known).await.unwrap();
    s.upsert_parameters(
        &known.id,
        &[param("InternetGatewayDevice.Old", "x"), param("InternetGatewayDevice.Keep", "k")],
    )
    .await
    .unwrap();
    let fresh = device("N1");

    let mut known2 = known.clone();
    known2.last_inform_at = Some(at(1000));
    known2.last_events = vec!["2 PERIODIC".into()];
    known2.ip = Some("198.51.100.7".into());
    let batch = vec![
        Telemetry {
            device: known2.clone(),
            params: vec![
                param("InternetGatewayDevice.DeviceInfo.UpTime", "10"),
                param("InternetGatewayDevice.DeviceInfo.UpTime", "11"),
            ],
            bootstrap: false,
        },
        Telemetry {
            device: fresh.clone(),
            params: vec![param("InternetGatewayDevice.DeviceInfo.SerialNumber", "N1")],
            bootstrap: true,
        },
    ];
    s.apply_telemetry(&batch).await.unwrap();
    s.apply_telemetry(&[]).await.unwrap();

    let got = s.get_device(&known.id).await.unwrap().unwrap();
    assert_eq!(got.last_inform_at, Some(at(1000)));
    assert_eq!(got.ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(got.last_events, ["2 PERIODIC"]);
    let params = s.get_parameters(&known.id, "").await.unwrap();
    let paths: Vec<_> = params.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "InternetGatewayDevice.DeviceInfo.UpTime",
            "InternetGatewayDevice.Keep",
            "InternetGatewayDevice.Old"
        ]
    );
    assert_eq!(params[0].value.as_deref(), Some("11"), "later duplicate wins");
    assert!(s.get_device(&fresh.id).await.unwrap().is_some());

    // Bootstrap drops the cached data model first.
    s.apply_telemetry(&[Telemetry {
        device: known2.clone(),
        params: vec![param("InternetGatewayDevice.New", "n")],
        bootstrap: true,
    }])
    .await
    .unwrap();
    let params = s.get_parameters(&known.id, "").await.unwrap();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0].path, "InternetGatewayDevice.New");

    // Two items for one device in a batch apply in order: bootstrap then more params.
    s.apply_telemetry(&[
        Telemetry { device: known2.clone(), params: vec![param("A.x", "1")], bootstrap: true },
        Telemetry { device: known2.clone(), params: vec![param("A.y", "2")], bootstrap: false },
    ])
    .await
    .unwrap();
    let paths: Vec<_> =
        s.get_parameters(&known.id, "").await.unwrap().into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["A.x", "A.y"]);

    // A failing item rolls the whole batch back.
    let mut bad = device("Bad");
    bad.id = String::new();
    let r = s
        .apply_telemetry(&[
            Telemetry { device: device("Rollback"), params: vec![], bootstrap: false },
            Telemetry { device: bad, params: vec![], bootstrap: false },
        ])
        .await;
    assert!(r.is_err());
    assert!(s.get_device(&device("Rollback").id).await.unwrap().is_none());
}

pub async fn telemetry_large_batch_and_paging(db: &TestDb) {
    let s = db.store();
    // More devices than one multi-row statement holds; one of them new with tags.
    let mut batch = Vec::new();
    for i in 0..950 {
        let mut d = device(&format!("B{i:04}"));
        d.last_inform_at = Some(at(2000 + i));
        if i == 7 {
            d.tags = vec!["fresh".into(), "storm".into()];
        }
        batch.push(Telemetry {
            device: d,
            params: vec![
                param("InternetGatewayDevice.DeviceInfo.UpTime", &i.to_string()),
                param("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "V1"),
            ],
            bootstrap: false,
        });
    }
    s.apply_telemetry(&batch).await.unwrap();
    let tagged = s.get_device(&device("B0007").id).await.unwrap().unwrap();
    assert_eq!(tagged.tags, ["fresh", "storm"]);
    let d900 = s.get_device(&device("B0900").id).await.unwrap().unwrap();
    assert_eq!(d900.last_inform_at, Some(at(2900)));
    let p = s.get_parameters(&d900.id, "InternetGatewayDevice.DeviceInfo.UpTime").await.unwrap();
    assert_eq!(p[0].value.as_deref(), Some("900"));

    // Telemetry of existing devices keeps their tags and refreshes the rest.
    for t in &mut batch {
        t.device.tags.clear();
        t.device.ip = Some("203.0.113.9".into());
        t.params.truncate(1);
    }
    s.apply_telemetry(&batch).await.unwrap();
    let tagged = s.get_device(&device("B0007").id).await.unwrap().unwrap();
    assert_eq!(tagged.tags, ["fresh", "storm"]);
    assert_eq!(tagged.ip.as_deref(), Some("203.0.113.9"));

    // Keyset pages visit every device once, in id order.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.devices_after(&after, 300).await.unwrap();
        assert!(page.len() <= 300);
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        seen.extend(page.into_iter().map(|d| (d.id, d.tags)));
    }
    assert_eq!(seen.len(), 950);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(seen.iter().any(|(id, tags)| *id == tagged.id && tags.len() == 2));
    assert!(s.devices_after(&after, 10).await.unwrap().is_empty());
}

pub async fn complete_task_commits_cache_and_task(db: &TestDb) {
    let (s, d) = store_with_device(db, "CT1").await;
    s.upsert_parameters(
        &d.id,
        &[
            param("InternetGatewayDevice.LANDevice.1.Old", "x"),
            param("InternetGatewayDevice.LANDevice.1.Gone", "y"),
            param("InternetGatewayDevice.DeviceInfo.Keep", "k"),
        ],
    )
    .await
    .unwrap();
    let t = s.insert_task(&NewTask::new(&d.id, gpv("InternetGatewayDevice."))).await.unwrap();
    let mut claimed = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    claimed.status = TaskStatus::Done;
    claimed.result = Some(json!({"ok": true}));
    s.complete_task(
        &claimed,
        &["InternetGatewayDevice.LANDevice.".to_string()],
        &[param("InternetGatewayDevice.LANDevice.1.New", "n")],
    )
    .await
    .unwrap();
    let paths: Vec<_> =
        s.get_parameters(&d.id, "").await.unwrap().into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        ["InternetGatewayDevice.DeviceInfo.Keep", "InternetGatewayDevice.LANDevice.1.New"]
    );
    let stored = s.get_task(t.id).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Done);
    assert_eq!(stored.result, Some(json!({"ok": true})));

    // A task deleted meanwhile: nothing of the cache change is kept.
    assert!(s.delete_task(t.id).await.unwrap());
    let r = s
        .complete_task(&claimed, &[], &[param("InternetGatewayDevice.LANDevice.1.Late", "l")])
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert!(s
        .get_parameters(&d.id, "InternetGatewayDevice.LANDevice.1.Late")
        .await
        .unwrap()
        .is_empty());
}

pub async fn telemetry_keeps_operator_fields(db: &TestDb) {
    let s = db.store();
    // New device through telemetry: its snapshot's tags and credentials are stored.
    let mut d = device("OP1");
    d.tags = vec!["from-engine".into()];
    d.cpe_username = Some("u0".into());
    s.apply_telemetry(&[Telemetry { device: d.clone(), params: vec![], bootstrap: false }])
        .await
        .unwrap();
    let stored = s.get_device(&d.id).await.unwrap().unwrap();
    assert_eq!(stored.tags, ["from-engine"]);
    assert_eq!(stored.registered_at, at(0));

    // The operator changes tags, credentials and equipment while the engine's snapshot is stale.
    s.add_tag(&d.id, "operator").await.unwrap();
    s.remove_tag(&d.id, "from-engine").await.unwrap();
    let mut op = s.get_device(&d.id).await.unwrap().unwrap();
    op.cpe_username = Some("u1".into());
    op.cpe_password = Some("p1".into());
    op.equipment_id = Some(7);
    s.upsert_device(&op).await.unwrap();

    let mut stale = d.clone();
    stale.registered_at = at(999);
    stale.software_version = Some("V9".into());
    stale.equipment_id = None;
    s.apply_telemetry(&[Telemetry { device: stale, params: vec![], bootstrap: false }])
        .await
        .unwrap();
    let got = s.get_device(&d.id).await.unwrap().unwrap();
    assert_eq!(got.software_version.as_deref(), Some("V9"), "telemetry fields updated");
    assert_eq!(got.tags, ["operator"], "tags are operator-managed");
    assert_eq!(got.cpe_username.as_deref(), Some("u1"));
    assert_eq!(got.cpe_password.as_deref(), Some("p1"));
    assert_eq!(got.registered_at, at(0), "registration time is kept");
    assert_eq!(got.equipment_id, Some(7), "a missing equipment link does not erase one");
}

pub async fn parameters_prefix_and_merge(db: &TestDb) {
    let (s, d) = store_with_device(db, "P1").await;
    let id = &d.id;
    let mut obj = param("Device.WiFi.SSID.1.", "");
    obj.value = None;
    obj.value_type = None;
    obj.writable = Some(false);
    s.upsert_parameters(
        id,
        &[
            param("Device.WiFi.SSID.1.SSID", "home"),
            param("Device.WiFi.SSID.10.SSID", "ten"),
            param("Device.WiFiX.Other", "x"),
            param("Device.X_ABC_Thing", "underscore"),
            param("Device.XzABCzThing", "lookalike"),
            param("Device.100%.Odd", "percent"),
            obj,
        ],
    )
    .await
    .unwrap();

    let paths = |v: Vec<Parameter>| v.into_iter().map(|p| p.path).collect::<Vec<_>>();
    assert_eq!(
        paths(s.get_parameters(id, "Device.WiFi.").await.unwrap()),
        ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.10.SSID"]
    );
    assert_eq!(
        paths(s.get_parameters(id, "Device.WiFi.SSID.1.").await.unwrap()),
        ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.1.SSID"]
    );
    // `_` and `%` are literal, not LIKE wildcards.
    assert_eq!(paths(s.get_parameters(id, "Device.X_").await.unwrap()), ["Device.X_ABC_Thing"]);
    assert_eq!(paths(s.get_parameters(id, "Device.100%").await.unwrap()), ["Device.100%.Odd"]);
    assert_eq!(s.get_parameters(id, "").await.unwrap().len(), 7);
    assert_eq!(s.get_parameters(id, "Device.WiFi.SSID.1.SSID").await.unwrap().len(), 1);
    assert!(s.get_parameters("other-device", "").await.unwrap().is_empty());

    // Merge: GPN-style writable-only entry keeps the value, GPA adds attributes.
    let mut gpn = param("Device.WiFi.SSID.1.SSID", "");
    gpn.value = None;
    gpn.value_type = None;
    gpn.writable = Some(true);
    gpn.updated_at = at(50);
    let mut gpa = param("Device.WiFi.SSID.1.SSID", "");
    gpa.value = None;
    gpa.value_type = None;
    gpa.notification = Some(2);
    gpa.access_list = Some(vec!["Subscriber".into()]);
    gpa.updated_at = at(60);
    s.upsert_parameters(id, &[gpn]).await.unwrap();
    s.upsert_parameters(id, &[gpa]).await.unwrap();
    let p = s.get_parameters(id, "Device.WiFi.SSID.1.SSID").await.unwrap().remove(0);
    assert_eq!(p.value.as_deref(), Some("home"));
    assert_eq!(p.value_type.as_deref(), Some("xsd:string"));
    assert_eq!(p.writable, Some(true));
    assert_eq!(p.notification, Some(2));
    assert_eq!(p.access_list, Some(vec!["Subscriber".to_owned()]));
    assert_eq!(p.updated_at, at(60));
    // An empty string value is a value.
    s.upsert_parameters(id, &[param("Device.WiFi.SSID.1.SSID", "")]).await.unwrap();
    let p = s.get_parameters(id, "Device.WiFi.SSID.1.SSID").await.unwrap().remove(0);
    assert_eq!(p.value.as_deref(), Some(""));

    // Delete a subtree (DeleteObject) by prefix.
    assert_eq!(s.delete_parameters(id, "Device.WiFi.SSID.1.").await.unwrap(), 2);
    assert_eq!(
        paths(s.get_parameters(id, "Device.WiFi.").await.unwrap()),
        ["Device.WiFi.SSID.10.SSID"]
    );
    assert_eq!(s.delete_parameters(id, "").await.unwrap(), 5);

    // Large batch crosses the multi-row chunk size.
    let many: Vec<_> = (0..2500).map(|i| param(&format!("Device.Big.{i}.V"), "v")).collect();
    s.upsert_parameters(id, &many).await.unwrap();
    assert_eq!(s.get_parameters(id, "Device.Big.").await.unwrap().len(), 2500);

    assert!(matches!(
        s.upsert_parameters("missing", &[param("A", "b")]).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn task_lifecycle(db: &TestDb) {
    let (s, d) = store_with_device(db, "TL1").await;
    let spec = TaskSpec::SetParameterValues {
        parameter_values: vec![ParameterValueTuple::new(
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
            "300",
            Some("xsd:unsignedInt"),
        )],
        parameter_key: None,
    };
    let t = s.insert_task(&NewTask::new(&d.id, spec.clone())).await.unwrap();
    assert_eq!(t.status, TaskStatus::Queued);
    assert_eq!(t.attempts, 0);
    assert_eq!(t.max_attempts, 5);
    assert_eq!(t.spec, spec);
    assert!(t.not_before <= now() + Duration::seconds(1));
    assert_eq!(s.get_task(t.id).await.unwrap().unwrap(), t);
    assert_eq!(s.devices_with_due_tasks().await.unwrap(), [d.id.as_str()]);

    let claimed = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(claimed.id, t.id);
    assert_eq!(claimed.status, TaskStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert!(s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().is_none());
    assert!(s.devices_with_due_tasks().await.unwrap().is_empty());

    // Fault, then retry, then done.
    let mut f = claimed.clone();
    f.status = TaskStatus::Queued;
    f.fault = Some(TaskFault {
        code: "9002".into(),
        message: "Internal error".into(),
        detail: json!({"x": 1}),
    });
    f.not_before = now();
    s.update_task(&f).await.unwrap();
    let again = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.fault, f.fault);
    let mut done = again.clone();
    done.status = TaskStatus::Done;
    done.fault = None;
    done.result = Some(json!({"status": 0}));
    s.update_task(&done).await.unwrap();
    let stored = s.get_task(t.id).await.unwrap().unwrap();
    assert_eq!(stored.status, TaskStatus::Done);
    assert_eq!(stored.result, Some(json!({"status": 0})));
    assert_eq!(stored.fault, None);
    assert!(stored.updated_at >= stored.created_at);

    // A task that faults for good.
    let t2 = s.insert_task(&NewTask::new(&d.id, gpv("InternetGatewayDevice.X"))).await.unwrap();
    let mut c2 = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(c2.id, t2.id);
    c2.status = TaskStatus::Fault;
    c2.fault = Some(TaskFault {
        code: "9005".into(),
        message: "Invalid parameter name".into(),
        detail: json!(null),
    });
    s.update_task(&c2).await.unwrap();
    assert_eq!(s.get_task(t2.id).await.unwrap().unwrap().status, TaskStatus::Fault);

    // Listing.
    let by_dev = s
        .list_tasks(&TaskFilter { device_id: Some(d.id.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(by_dev.iter().map(|t| t.id).collect::<Vec<_>>(), [t.id, t2.id]);
    let faulted = s
        .list_tasks(&TaskFilter { status: Some(TaskStatus::Fault), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(faulted.len(), 1);
    assert_eq!(faulted[0].id, t2.id);
    let page = s
        .list_tasks(&TaskFilter { limit: Some(1), offset: Some(1), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, t2.id);

    assert!(s.delete_task(t2.id).await.unwrap());
    assert!(!s.delete_task(t2.id).await.unwrap());
    assert!(matches!(s.update_task(&c2).await, Err(StoreError::NotFound(_))));
    assert!(s.get_task(t2.id).await.unwrap().is_none());
}

pub async fn task_backoff_and_order(db: &TestDb) {
    let (s, d) = store_with_device(db, "TB1").await;
    let first = s.insert_task(&NewTask::new(&d.id, gpv("A."))).await.unwrap();
    let second = s.insert_task(&NewTask::new(&d.id, gpv("B."))).await.unwrap();
    assert!(second.id > first.id);
    let base = now() + Duration::seconds(1);

    let c = s.next_due_task(&d.id, base).await.unwrap().unwrap();
    assert_eq!(c.id, first.id, "oldest first");
    let mut retry = c.clone();
    retry.status = TaskStatus::Queued;
    retry.not_before = base + Duration::seconds(60);
    s.update_task(&retry).await.unwrap();

    let c = s.next_due_task(&d.id, base).await.unwrap().unwrap();
    assert_eq!(c.id, second.id, "backed-off task waits; the next one runs");
    assert!(s.next_due_task(&d.id, base + Duration::seconds(59)).await.unwrap().is_none());
    let c = s.next_due_task(&d.id, base + Duration::seconds(60)).await.unwrap().unwrap();
    assert_eq!(c.id, first.id);
    assert_eq!(c.attempts, 2);
    // Another device's tasks are not handed out.
    let (_, other) = store_with_device(db, "TB2").await;
    assert!(s.next_due_task(&other.id, base + Duration::seconds(120)).await.unwrap().is_none());
}

pub async fn task_expiry(db: &TestDb) {
    let (s, d) = store_with_device(db, "TE1").await;
    let base = now();
    let mut nt = NewTask::new(&d.id, TaskSpec::Reboot);
    nt.expires_at = Some(base + Duration::seconds(10));
    let expiring = s.insert_task(&nt).await.unwrap();
    assert_eq!(expiring.expires_at, Some(base + Duration::seconds(10)));
    let keeper = s.insert_task(&NewTask::new(&d.id, TaskSpec::GetRpcMethods)).await.unwrap();

    let c = s.next_due_task(&d.id, base + Duration::seconds(20)).await.unwrap().unwrap();
    assert_eq!(c.id, keeper.id, "the expired task is skipped");
    assert_eq!(s.get_task(expiring.id).await.unwrap().unwrap().status, TaskStatus::Expired);

    // Not yet expired: it is claimed normally.
    nt.expires_at = Some(base + Duration::seconds(100));
    let alive = s.insert_task(&nt).await.unwrap();
    let c = s.next_due_task(&d.id, base + Duration::seconds(20)).await.unwrap().unwrap();
    assert_eq!(c.id, alive.id);
}

pub async fn tasks_survive_reopen_and_requeue(db: &TestDb) {
    let (s, d) = store_with_device(db, "R1").await;
    let (_, d2) = store_with_device(db, "R2").await;
    let t1 = s.insert_task(&NewTask::new(&d.id, gpv("A."))).await.unwrap();
    let t2 = s.insert_task(&NewTask::new(&d.id, TaskSpec::Reboot)).await.unwrap();
    let t3 = s.insert_task(&NewTask::new(&d2.id, TaskSpec::FactoryReset)).await.unwrap();
    let running = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(running.id, t1.id);
    // A transfer the CPE accepted waits for its TransferComplete across a restart.
    let mut awaiting =
        s.next_due_task(&d2.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(awaiting.id, t3.id);
    awaiting.command_key = Some("acsd-awaiting".into());
    s.update_task(&awaiting).await.unwrap();

    // "Crash": open the same database from scratch.
    let s2 = db.reopen().await;
    let tasks = s2.list_tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [t1.id, t2.id, t3.id]);
    assert_eq!(tasks[0].status, TaskStatus::Running);
    assert_eq!(tasks[1].spec, TaskSpec::Reboot);
    assert_eq!(s2.devices_with_due_tasks().await.unwrap(), [d.id.as_str()]);
    assert_eq!(s2.requeue_running_tasks().await.unwrap(), 1);
    assert_eq!(s2.get_task(t3.id).await.unwrap().unwrap().status, TaskStatus::Running);
    assert_eq!(s2.requeue_running_tasks().await.unwrap(), 0);
    let again = s2.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(again.id, t1.id);
    assert_eq!(again.attempts, 2, "the interrupted attempt counts");
    // Migrations are idempotent: a third open works too.
    let s3 = db.reopen().await;
    assert_eq!(s3.list_tasks(&TaskFilter::default()).await.unwrap().len(), 3);
}

pub async fn find_task_by_command_key(db: &TestDb) {
    let (s, d) = store_with_device(db, "CK1").await;
    let (_, other) = store_with_device(db, "CK2").await;
    let download = TaskSpec::Download {
        file_type: None,
        file_name: Some("fw.bin".into()),
        url: None,
        target_file_name: None,
        file_size: None,
        delay_seconds: None,
        username: None,
        password: None,
    };
    s.insert_task(&NewTask::new(&d.id, download.clone())).await.unwrap();
    let mut t = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    t.command_key = Some("dl-1".into());
    s.update_task(&t).await.unwrap();

    let found = s.find_task_by_command_key(&d.id, "dl-1").await.unwrap().unwrap();
    assert_eq!(found.id, t.id);
    assert_eq!(found.status, TaskStatus::Running);
    assert!(s.find_task_by_command_key(&d.id, "dl-2").await.unwrap().is_none());
    assert!(s.find_task_by_command_key(&other.id, "dl-1").await.unwrap().is_none());

    // The newest task with a reused key wins.
    s.insert_task(&NewTask::new(&d.id, download)).await.unwrap();
    let mut t2 = s.next_due_task(&d.id, now() + Duration::seconds(1)).await.unwrap().unwrap();
    t2.command_key = Some("dl-1".into());
    s.update_task(&t2).await.unwrap();
    assert_eq!(s.find_task_by_command_key(&d.id, "dl-1").await.unwrap().unwrap().id, t2.id);
}

pub async fn faults(db: &TestDb) {
    let (s, d) = store_with_device(db, "F1").await;
    let (_, d2) = store_with_device(db, "F2").await;
    let task = s.insert_task(&NewTask::new(&d.id, gpv("A."))).await.unwrap();
    let new = |dev: &str, task_id: Option<i64>, code: &str| NewFault {
        device_id: dev.into(),
        task_id,
        channel: "task".into(),
        code: code.into(),
        message: format!("fault {code}"),
        detail: json!({"faults": [{"parameter": "A.b", "code": code}]}),
        retries: 2,
    };
    let f1 = s.insert_fault(&new(&d.id, Some(task.id), "9005")).await.unwrap();
    let f2 = s.insert_fault(&new(&d.id, None, "timeout")).await.unwrap();
    let f3 = s.insert_fault(&new(&d2.id, None, "9002")).await.unwrap();
    assert_eq!(f1.task_id, Some(task.id));
    assert_eq!(f1.retries, 2);
    assert_eq!(f1.detail["faults"][0]["code"], "9005");
    assert!(f1.timestamp <= OffsetDateTime::now_utc());

    let all = s.list_faults(&FaultFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|f| f.id).collect::<Vec<_>>(), [f3.id, f2.id, f1.id], "newest first");
    let mine = s
        .list_faults(&FaultFilter { device_id: Some(d.id.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let by_task =
        s.list_faults(&FaultFilter { task_id: Some(task.id), ..Default::default() }).await.unwrap();
    assert_eq!(by_task, std::slice::from_ref(&f1));
    let page = s
        .list_faults(&FaultFilter { limit: Some(1), offset: Some(1), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page[0].id, f2.id);

    // Deleting the task keeps its fault, unlinked.
    s.delete_task(task.id).await.unwrap();
    let kept = s
        .list_faults(&FaultFilter { device_id: Some(d.id.clone()), ..Default::default() })
        .await
        .unwrap();
    assert!(kept.iter().any(|f| f.id == f1.id && f.task_id.is_none()));

    assert!(s.delete_fault(f2.id).await.unwrap());
    assert!(!s.delete_fault(f2.id).await.unwrap());
    assert!(matches!(
        s.insert_fault(&new("missing", None, "1")).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn files(db: &TestDb) {
    let s = db.store();
    let meta = |name: &str, len: u64| FileMeta {
        name: name.into(),
        file_type: "1 Firmware Upgrade Image".into(),
        oui: Some("00D09E".into()),
        product_class: Some("HG8245".into()),
        version: Some("V3R017C10S115".into()),
        length: len,
        sha256: "ab".repeat(32),
        content_type: Some("application/octet-stream".into()),
        uploaded_at: at(7),
    };
    assert!(s.get_file("fw.bin").await.unwrap().is_none());
    s.put_file(&meta("fw.bin", 10)).await.unwrap();
    s.put_file(&meta("a.cfg", 1)).await.unwrap();
    assert_eq!(s.get_file("fw.bin").await.unwrap().unwrap(), meta("fw.bin", 10));
    let mut replaced = meta("fw.bin", u64::from(u32::MAX) + 5);
    replaced.oui = None;
    replaced.version = None;
    s.put_file(&replaced).await.unwrap();
    assert_eq!(s.get_file("fw.bin").await.unwrap().unwrap(), replaced);
    let names: Vec<_> = s.list_files().await.unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["a.cfg", "fw.bin"]);
    assert!(s.delete_file("a.cfg").await.unwrap());
    assert!(!s.delete_file("a.cfg").await.unwrap());
    assert!(matches!(s.put_file(&meta("huge", u64::MAX)).await, Err(StoreError::Invalid { .. })));
}

pub async fn tokens_and_settings(db: &TestDb) {
    let s = db.store();
    assert_eq!(s.count_api_tokens().await.unwrap(), 0);
    assert!(s.find_api_token("h1").await.unwrap().is_none());
    s.insert_api_token("bootstrap admin", "h1", "admin").await.unwrap();
    s.insert_api_token("reader", "h2", "read").await.unwrap();
    assert_eq!(s.count_api_tokens().await.unwrap(), 2);
    let t = s.find_api_token("h1").await.unwrap().unwrap();
    assert_eq!(
        (t.name.as_str(), t.role.as_str(), t.token_hash.as_str()),
        ("bootstrap admin", "admin", "h1")
    );
    assert!(matches!(s.insert_api_token("dup", "h1", "read").await, Err(StoreError::Conflict(_))));

    assert!(s.get_setting("cpe.username").await.unwrap().is_none());
    s.set_setting("cpe.username", "acs").await.unwrap();
    s.set_setting("cpe.username", "acs2").await.unwrap();
    assert_eq!(s.get_setting("cpe.username").await.unwrap().as_deref(), Some("acs2"));
    // Settings and tokens survive a reopen.
    let s2 = db.reopen().await;
    assert_eq!(s2.get_setting("cpe.username").await.unwrap().as_deref(), Some("acs2"));
    assert_eq!(s2.count_api_tokens().await.unwrap(), 2);
}

pub async fn concurrent_claimers_never_share_a_task(db: &TestDb) {
    let s = db.store();
    let devices: Vec<Device> = (0..3).map(|i| device(&format!("CC{i}"))).collect();
    let mut expected = HashSet::new();
    for d in &devices {
        s.upsert_device(d).await.unwrap();
        for _ in 0..20 {
            expected
                .insert(s.insert_task(&NewTask::new(&d.id, TaskSpec::Reboot)).await.unwrap().id);
        }
    }
    let when = now() + Duration::seconds(1);
    let mut handles = Vec::new();
    for worker in 0..8 {
        let s = s.clone();
        let id = devices[worker % devices.len()].id.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(t) = s.next_due_task(&id, when).await.unwrap() {
                assert_eq!(t.status, TaskStatus::Running);
                assert_eq!(t.attempts, 1);
                got.push(t.id);
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.await.unwrap() {
            assert!(seen.insert(id), "task {id} claimed twice");
        }
    }
    assert_eq!(seen, expected);
    assert!(s
        .list_tasks(&TaskFilter { status: Some(TaskStatus::Queued), ..Default::default() })
        .await
        .unwrap()
        .is_empty());
}

pub async fn invalid_input_is_the_callers_fault(db: &TestDb) {
    let (s, d) = store_with_device(db, "INV").await;
    let e = s
        .insert_task(&NewTask::new(&d.id, TaskSpec::GetParameterValues { parameter_names: vec![] }))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid { .. }) && e.is_client_error(), "{e}");
    let mut nt = NewTask::new(&d.id, TaskSpec::Reboot);
    nt.max_attempts = 0;
    assert!(matches!(s.insert_task(&nt).await, Err(StoreError::Invalid { .. })));
    let e = s.insert_task(&NewTask::new("no-such-device", TaskSpec::Reboot)).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    // Task JSON from the API: unknown names and missing fields explain themselves.
    let e = TaskSpec::from_json(r#"{"name":"rebootNow"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown variant `rebootNow`"), "{e}");
    let e = TaskSpec::from_json(r#"{"name":"addObject"}"#).unwrap_err();
    assert!(e.to_string().contains("missing field `objectName`"), "{e}");
    let mut bad = device("x");
    bad.id = String::new();
    assert!(matches!(s.upsert_device(&bad).await, Err(StoreError::Invalid { .. })));
    assert!(s.list_tasks(&TaskFilter::default()).await.unwrap().is_empty());
}
