//! Equipment, binding, provisioning status, audit and rules on both backends.

use provisioning::equipment::{
    AuditFilter, Band, EquipmentFilter, NewAudit, NewEquipment, Profile, ProvisioningState,
    ProvisioningStatus, Security, WifiConfig,
};
use provisioning::matching::normalize_serial;
use provisioning::rules::{default_rules, Declaration, Rule};
use provisioning::{DeviceFilter, StoreError};
use serde_json::json;

use crate::db::TestDb;
use crate::suite::device;

fn profile(ssid: &str) -> Profile {
    Profile {
        wifi: vec![WifiConfig {
            band: Band::Any,
            ssid: ssid.into(),
            passphrase: "very-secret-1".into(),
            security: Security::Wpa2Psk,
            enabled: true,
        }],
        ..Default::default()
    }
}

pub async fn equipment_crud_and_matching(db: &TestDb) {
    let s = db.store();
    let e = s
        .insert_equipment(&NewEquipment {
            serial: Some("TPLG1A2B3C4D".into()),
            macs: vec!["aa-bb-cc-dd-ee-01".into()],
            model: Some("XZ000".into()),
            profile: profile("Home"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(e.profile_version, 1);
    assert_eq!(e.macs, vec!["AA:BB:CC:DD:EE:01".to_string()]);
    assert_eq!(e.provisioning.state, ProvisioningState::Pending);
    assert_eq!(e.status, "registered");

    // The hex form of the GPON serial finds it; so does the MAC in another notation.
    let by_serial = s
        .list_equipment(&EquipmentFilter {
            serial_key: normalize_serial("54504C471A2B3C4D"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_serial.len(), 1);
    let by_mac = s
        .list_equipment(&EquipmentFilter {
            mac: Some("AA:BB:CC:DD:EE:01".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_mac[0].id, e.id);

    // Duplicates are conflicts.
    let dup = s
        .insert_equipment(&NewEquipment {
            serial: Some("54504c471a2b3c4d".into()),
            ..Default::default()
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let dup = s
        .insert_equipment(&NewEquipment { macs: vec!["AABBCCDDEE01".into()], ..Default::default() })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(s.list_equipment(&EquipmentFilter::default()).await.unwrap().len(), 1);

    // Profile change bumps the version and resets the status.
    s.set_provisioning_status(
        e.id,
        &ProvisioningStatus {
            state: ProvisioningState::Failed,
            applied_version: Some(1),
            attempts: 2,
            last_fault: Some(json!({"code": "9007", "detail": {"passphrase": "leak"}})),
            next_attempt_at: None,
            updated_at: None,
        },
    )
    .await
    .unwrap();
    let got = s.get_equipment(e.id).await.unwrap().unwrap();
    assert_eq!(got.provisioning.state, ProvisioningState::Failed);
    assert_eq!(got.provisioning.attempts, 2);
    assert!(!got.provisioning.last_fault.unwrap().to_string().contains("leak"));
    let p2 = s.set_equipment_profile(e.id, &profile("Home2")).await.unwrap();
    assert_eq!(p2.profile_version, 2);
    assert_eq!(p2.provisioning.state, ProvisioningState::Pending);
    assert_eq!(p2.provisioning.attempts, 0);
    assert_eq!(p2.provisioning.applied_version, Some(1));
    let mut upd = NewEquipment {
        serial: Some("TPLG1A2B3C4D".into()),
        macs: vec![],
        profile: profile("Home2"),
        status: Some("installed".into()),
        ..Default::default()
    };
    let u = s.update_equipment(e.id, &upd).await.unwrap();
    assert_eq!((u.profile_version, u.status.as_str(), u.macs.len()), (2, "installed", 0));
    upd.profile = profile("Home3");
    assert_eq!(s.update_equipment(e.id, &upd).await.unwrap().profile_version, 3);
    assert!(matches!(s.update_equipment(9999, &upd).await, Err(StoreError::NotFound(_))));
    let bad = Profile {
        wifi: vec![WifiConfig { passphrase: "x".into(), ..profile("a").wifi[0].clone() }],
        ..Default::default()
    };
    assert!(matches!(s.set_equipment_profile(e.id, &bad).await, Err(StoreError::Invalid { .. })));

    // Binding: both sides; a second device is a conflict.
    let d1 = device("EQ1");
    let d2 = device("EQ2");
    s.upsert_device(&d1).await.unwrap();
    s.upsert_device(&d2).await.unwrap();
    s.bind_equipment(e.id, &d1.id).await.unwrap();
    s.bind_equipment(e.id, &d1.id).await.unwrap();
    assert!(matches!(s.bind_equipment(e.id, &d2.id).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.get_device(&d1.id).await.unwrap().unwrap().equipment_id, Some(e.id));
    assert_eq!(
        s.get_equipment(e.id).await.unwrap().unwrap().device_id.as_deref(),
        Some(d1.id.as_str())
    );
    let unmatched =
        s.list_devices(&DeviceFilter { matched: Some(false), ..Default::default() }).await.unwrap();
    assert_eq!(unmatched.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![d2.id.clone()]);
    let matched =
        s.list_devices(&DeviceFilter { matched: Some(true), ..Default::default() }).await.unwrap();
    assert_eq!(matched.len(), 1);
    assert!(s.unbind_equipment(e.id).await.unwrap());
    assert_eq!(s.get_device(&d1.id).await.unwrap().unwrap().equipment_id, None);
    s.bind_equipment(e.id, &d2.id).await.unwrap();
    assert!(matches!(s.bind_equipment(e.id, "nope").await, Err(StoreError::Conflict(_))));

    // Deleting equipment leaves the device, unbound.
    assert!(s.delete_equipment(e.id).await.unwrap());
    assert!(!s.delete_equipment(e.id).await.unwrap());
    assert_eq!(s.get_device(&d2.id).await.unwrap().unwrap().equipment_id, None);
    assert!(s.get_equipment(e.id).await.unwrap().is_none());
}

pub async fn audit_is_redacted(db: &TestDb) {
    let s = db.store();
    let a = s
        .insert_audit(&NewAudit {
            actor: "ops".into(),
            action: "profile.update".into(),
            equipment_id: Some(5),
            device_id: None,
            detail: json!({"old": {"wifi": [{"ssid": "a", "passphrase": "p1"}]},
                           "values": [{"path": "Device.X.AuthPassword", "value": "p2"}]}),
        })
        .await
        .unwrap();
    assert!(!a.detail.to_string().contains("p1") && !a.detail.to_string().contains("p2"));
    s.insert_audit(&NewAudit {
        actor: "acsd".into(),
        action: "device.match".into(),
        equipment_id: Some(6),
        device_id: Some("dev".into()),
        detail: json!({}),
    })
    .await
    .unwrap();
    let all = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].action, "device.match");
    let five =
        s.list_audit(&AuditFilter { equipment_id: Some(5), ..Default::default() }).await.unwrap();
    assert_eq!(five.len(), 1);
    let dev = s
        .list_audit(&AuditFilter {
            device_id: Some("dev".into()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dev[0].equipment_id, Some(6));
}

pub async fn rules_crud(db: &TestDb) {
    let s = db.store();
    assert_eq!(s.seed_rules(&default_rules()).await.unwrap(), 2);
    assert_eq!(s.seed_rules(&default_rules()).await.unwrap(), 0);
    let r = Rule {
        name: "led-off".into(),
        enabled: true,
        order: 5,
        precondition: json!({"==": [{"var": "productClass"}, "HG8245"]}),
        events: vec![],
        schedule: Some("* 1-5 * * *".into()),
        declarations: vec![Declaration {
            path: "Device.X_ACME.Led".into(),
            refresh_age: None,
            value: Some(json!(false)),
            instances: None,
        }],
        version: 0,
    };
    assert_eq!(s.put_rule(&r).await.unwrap().version, 1);
    assert_eq!(s.put_rule(&r).await.unwrap().version, 2);
    let got = s.get_rule("led-off").await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.declarations, r.declarations);
    let names: Vec<String> = s.list_rules().await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, vec!["bootstrap", "led-off", "refresh-basics"]);
    let mut bad = r.clone();
    bad.precondition = json!({"system": ["rm -rf"]});
    assert!(matches!(s.put_rule(&bad).await, Err(StoreError::Invalid { .. })));
    assert!(s.delete_rule("led-off").await.unwrap());
    assert!(!s.delete_rule("led-off").await.unwrap());
    assert!(s.get_rule("led-off").await.unwrap().is_none());
}
