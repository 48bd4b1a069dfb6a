//! SQL for equipment, provisioning status, audit and rules, shared by both backends.
//!
//! [`prov_helpers!`] writes free functions over the concrete store type; the `Store` impl in
//! `impl_store!` delegates to them with one line per method.

/// Writes `prov_*` helper functions for one backend (expanded inside `impl_store!`).
macro_rules! prov_helpers {
    (store = $store:ty, db = $db:ty, row = $row:ty $(,)?) => {
        use $crate::equipment::{
            AuditEntry, AuditFilter, Equipment, EquipmentFilter, EquipmentKind, NewAudit,
            NewEquipment, Profile, ProvisioningState, ProvisioningStatus,
        };
        use $crate::rules::Rule;

        const EQUIPMENT_COLS: &str = "id, kind, serial, model, status, customer_id, location_id, \
            profile, profile_version, device_id, prov_state, prov_applied_version, prov_attempts, \
            prov_last_fault, prov_next_attempt_at, prov_updated_at, created_at, updated_at";

        fn equipment_from_row(row: &$row, macs: Vec<String>) -> Result<Equipment> {
            const T: &str = "equipment";
            let kind: String = row.try_get("kind")?;
            let state: String = row.try_get("prov_state")?;
            let profile: String = row.try_get("profile")?;
            Ok(Equipment {
                id: row.try_get("id")?,
                kind: EquipmentKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt { table: T, reason: format!("kind {kind:?}") })?,
                serial: row.try_get("serial")?,
                macs,
                model: row.try_get("model")?,
                status: row.try_get("status")?,
                customer_id: row.try_get("customer_id")?,
                location_id: row.try_get("location_id")?,
                profile: from_json(T, &profile)?,
                profile_version: row.try_get("profile_version")?,
                device_id: row.try_get("device_id")?,
                provisioning: ProvisioningStatus {
                    state: ProvisioningState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                        table: T,
                        reason: format!("state {state:?}"),
                    })?,
                    applied_version: row.try_get("prov_applied_version")?,
                    attempts: to_u32(T, row.try_get("prov_attempts")?)?,
                    last_fault: opt_from_json(T, row.try_get("prov_last_fault")?)?,
                    next_attempt_at: opt_from_ms(T, row.try_get("prov_next_attempt_at")?)?,
                    updated_at: opt_from_ms(T, row.try_get("prov_updated_at")?)?,
                },
                created_at: from_ms(T, row.try_get("created_at")?)?,
                updated_at: from_ms(T, row.try_get("updated_at")?)?,
            })
        }

        async fn load_equipment<'e, E>(exec: E, rows: &[$row]) -> Result<Vec<Equipment>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let mut macs: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
            if !rows.is_empty() {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT mac, equipment_id FROM equipment_macs WHERE equipment_id IN (",
                );
                let mut sep = qb.separated(", ");
                for r in rows {
                    sep.push_bind(r.try_get::<i64, _>("id")?);
                }
                qb.push(") ORDER BY mac");
                for m in qb.build().fetch_all(exec).await? {
                    macs.entry(m.try_get("equipment_id")?).or_default().push(m.try_get("mac")?);
                }
            }
            rows.iter()
                .map(|r| {
                    let id: i64 = r.try_get("id")?;
                    equipment_from_row(r, macs.remove(&id).unwrap_or_default())
                })
                .collect()
        }

        async fn prov_get_equipment_tx(
            conn: &mut <$db as sqlx::Database>::Connection,
            id: i64,
        ) -> Result<Option<Equipment>> {
            let sql = format!("SELECT {EQUIPMENT_COLS} FROM equipment WHERE id = $1");
            let rows = sqlx::query(&sql).bind(id).fetch_all(&mut *conn).await?;
            Ok(load_equipment(&mut *conn, &rows).await?.pop())
        }

        async fn replace_macs(
            conn: &mut <$db as sqlx::Database>::Connection,
            id: i64,
            macs: &[String],
        ) -> Result<()> {
            sqlx::query("DELETE FROM equipment_macs WHERE equipment_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            for m in macs {
                sqlx::query("INSERT INTO equipment_macs (mac, equipment_id) VALUES ($1, $2)")
                    .bind(m.as_str())
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| map_db(e, || format!("MAC {m} belongs to other equipment")))?;
            }
            Ok(())
        }

        fn serial_key_of(n: &NewEquipment) -> Option<String> {
            n.serial.as_deref().and_then($crate::matching::normalize_serial)
        }

        async fn prov_insert_equipment(s: &$store, e: &NewEquipment) -> Result<Equipment> {
            let n = e.normalized()?;
            let now = ms(time::OffsetDateTime::now_utc());
            let mut tx = s.begin_write().await?;
            let row = sqlx::query(
                "INSERT INTO equipment (kind, serial, serial_key, model, status, customer_id, \
                 location_id, profile, profile_version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) RETURNING id",
            )
            .bind(n.kind.as_str())
            .bind(n.serial.clone())
            .bind(serial_key_of(&n))
            .bind(n.model.clone())
            .bind(n.status.clone().unwrap_or_else(|| "registered".to_owned()))
            .bind(n.customer_id)
            .bind(n.location_id)
            .bind(to_json(&n.profile)?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_db(e, || "equipment with this serial exists".to_owned()))?;
            let id: i64 = row.try_get("id")?;
            replace_macs(&mut *tx, id, &n.macs).await?;
            let eq = prov_get_equipment_tx(&mut *tx, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("equipment {id}")))?;
            tx.commit().await?;
            Ok(eq)
        }

        async fn prov_get_equipment(s: &$store, id: i64) -> Result<Option<Equipment>> {
            let sql = format!("SELECT {EQUIPMENT_COLS} FROM equipment WHERE id = $1");
            let rows = sqlx::query(&sql).bind(id).fetch_all(s.reader()).await?;
            Ok(load_equipment(s.reader(), &rows).await?.pop())
        }

        async fn prov_list_equipment(s: &$store, f: &EquipmentFilter) -> Result<Vec<Equipment>> {
            let (limit, offset) = page(f.limit, f.offset);
            let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                "SELECT {EQUIPMENT_COLS} FROM equipment WHERE 1 = 1"
            ));
            if let Some(k) = &f.serial_key {
                qb.push(" AND serial_key = ").push_bind(k.clone());
            }
            if let Some(m) = &f.mac {
                qb.push(" AND id IN (SELECT equipment_id FROM equipment_macs WHERE mac = ")
                    .push_bind(m.clone())
                    .push(")");
            }
            if let Some(d) = &f.device_id {
                qb.push(" AND device_id = ").push_bind(d.clone());
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
            let rows = qb.build().fetch_all(s.reader()).await?;
            let mut out = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(500) {
                out.extend(load_equipment(s.reader(), chunk).await?);
            }
            Ok(out)
        }

        async fn prov_update_equipment(s: &$store, id: i64, e: &NewEquipment) -> Result<Equipment> {
            let n = e.normalized()?;
            let now = ms(time::OffsetDateTime::now_utc());
            let mut tx = s.begin_write().await?;
            let old = prov_get_equipment_tx(&mut *tx, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("equipment {id}")))?;
            let profile_changed = old.profile != n.profile;
            let res = sqlx::query(
                "UPDATE equipment SET kind = $2, serial = $3, serial_key = $4, model = $5, \
                 status = $6, customer_id = $7, location_id = $8, profile = $9, \
                 profile_version = profile_version + $10, updated_at = $11 WHERE id = $1",
            )
            .bind(id)
            .bind(n.kind.as_str())
            .bind(n.serial.clone())
            .bind(serial_key_of(&n))
            .bind(n.model.clone())
            .bind(n.status.clone().unwrap_or_else(|| old.status.clone()))
            .bind(n.customer_id)
            .bind(n.location_id)
            .bind(to_json(&n.profile)?)
            .bind(i64::from(profile_changed))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_db(e, || "equipment with this serial exists".to_owned()))?;
            if res.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("equipment {id}")));
            }
            if profile_changed {
                reset_status(&mut *tx, id, now).await?;
            }
            replace_macs(&mut *tx, id, &n.macs).await?;
            let eq = prov_get_equipment_tx(&mut *tx, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("equipment {id}")))?;
            tx.commit().await?;
            Ok(eq)
        }

        async fn reset_status(
            conn: &mut <$db as sqlx::Database>::Connection,
            id: i64,
            now: i64,
        ) -> Result<()> {
            sqlx::query(
                "UPDATE equipment SET prov_state = 'pending', prov_attempts = 0, \
                 prov_next_attempt_at = NULL, prov_updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn prov_set_equipment_profile(s: &$store, id: i64, p: &Profile) -> Result<Equipment> {
            p.validate()?;
            let now = ms(time::OffsetDateTime::now_utc());
            let mut tx = s.begin_write().await?;
            let res = sqlx::query(
                "UPDATE equipment SET profile = $2, profile_version = profile_version + 1, \
                 updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(to_json(p)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("equipment {id}")));
            }
            reset_status(&mut *tx, id, now).await?;
            let eq = prov_get_equipment_tx(&mut *tx, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("equipment {id}")))?;
            tx.commit().await?;
            Ok(eq)
        }

        async fn prov_delete_equipment(s: &$store, id: i64) -> Result<bool> {
            let mut tx = s.begin_write().await?;
            sqlx::query("UPDATE devices SET equipment_id = NULL WHERE equipment_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM equipment_macs WHERE equipment_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let res = sqlx::query("DELETE FROM equipment WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(res.rows_affected() > 0)
        }

        async fn prov_bind_equipment(s: &$store, equipment_id: i64, device_id: &str) -> Result<()> {
            let mut tx = s.begin_write().await?;
            let row = sqlx::query("SELECT device_id FROM equipment WHERE id = $1")
                .bind(equipment_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("equipment {equipment_id}")))?;
            let bound: Option<String> = row.try_get("device_id")?;
            match bound {
                Some(other) if other != device_id => {
                    return Err(StoreError::Conflict(format!(
                        "equipment {equipment_id} is bound to device {other}"
                    )));
                }
                Some(_) => {}
                None => {
                    sqlx::query(
                        "UPDATE equipment SET device_id = $2, updated_at = $3 WHERE id = $1",
                    )
                    .bind(equipment_id)
                    .bind(device_id)
                    .bind(ms(time::OffsetDateTime::now_utc()))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_db(e, || format!("device {device_id} is bound to other equipment")))?;
                }
            }
            let res = sqlx::query("UPDATE devices SET equipment_id = $2 WHERE id = $1")
                .bind(device_id)
                .bind(equipment_id)
                .execute(&mut *tx)
                .await?;
            if res.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("device {device_id}")));
            }
            tx.commit().await?;
            Ok(())
        }

        async fn prov_unbind_equipment(s: &$store, equipment_id: i64) -> Result<bool> {
            let mut tx = s.begin_write().await?;
            sqlx::query("UPDATE devices SET equipment_id = NULL WHERE equipment_id = $1")
                .bind(equipment_id)
                .execute(&mut *tx)
                .await?;
            let res = sqlx::query(
                "UPDATE equipment SET device_id = NULL, prov_state = 'pending', \
                 prov_applied_version = NULL, prov_attempts = 0, prov_next_attempt_at = NULL \
                 WHERE id = $1",
            )
            .bind(equipment_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(res.rows_affected() > 0)
        }

        async fn prov_set_status(s: &$store, id: i64, st: &ProvisioningStatus) -> Result<()> {
            let fault = match &st.last_fault {
                Some(f) => Some(to_json(&$crate::equipment::redact_value(f))?),
                None => None,
            };
            let res = sqlx::query(
                "UPDATE equipment SET prov_state = $2, prov_applied_version = $3, \
                 prov_attempts = $4, prov_last_fault = $5, prov_next_attempt_at = $6, \
                 prov_updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(st.state.as_str())
            .bind(st.applied_version)
            .bind(i64::from(st.attempts))
            .bind(fault)
            .bind(opt_ms(st.next_attempt_at))
            .bind(ms(st.updated_at.unwrap_or_else(time::OffsetDateTime::now_utc)))
            .execute(s.writer())
            .await?;
            if res.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("equipment {id}")));
            }
            Ok(())
        }

        fn audit_from_row(row: &$row) -> Result<AuditEntry> {
            const T: &str = "audit_log";
            let detail: String = row.try_get("detail")?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: from_ms(T, row.try_get("at")?)?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                equipment_id: row.try_get("equipment_id")?,
                device_id: row.try_get("device_id")?,
                detail: from_json(T, &detail)?,
            })
        }

        async fn prov_insert_audit(s: &$store, a: &NewAudit) -> Result<AuditEntry> {
            // Redacted again here: a secret must never reach the table, whoever forgot.
            let detail = $crate::equipment::redact_value(&a.detail);
            let row = sqlx::query(
                "INSERT INTO audit_log (at, actor, action, equipment_id, device_id, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, at, actor, action, equipment_id, device_id, detail",
            )
            .bind(ms(time::OffsetDateTime::now_utc()))
            .bind(a.actor.as_str())
            .bind(a.action.as_str())
            .bind(a.equipment_id)
            .bind(a.device_id.clone())
            .bind(to_json(&detail)?)
            .fetch_one(s.writer())
            .await?;
            audit_from_row(&row)
        }

        async fn prov_list_audit(s: &$store, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
            let (limit, _) = page(f.limit, None);
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "SELECT id, at, actor, action, equipment_id, device_id, detail FROM audit_log \
                 WHERE 1 = 1",
            );
            if let Some(e) = f.equipment_id {
                qb.push(" AND equipment_id = ").push_bind(e);
            }
            if let Some(d) = &f.device_id {
                qb.push(" AND device_id = ").push_bind(d.clone());
            }
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            let rows = qb.build().fetch_all(s.reader()).await?;
            rows.iter().map(audit_from_row).collect()
        }

        fn rule_from_row(row: &$row) -> Result<Rule> {
            let doc: String = row.try_get("doc")?;
            let mut r: Rule = from_json("rules", &doc)?;
            r.version = row.try_get("version")?;
            Ok(r)
        }

        async fn prov_put_rule(s: &$store, r: &Rule) -> Result<Rule> {
            r.validate()?;
            let mut tx = s.begin_write().await?;
            let old = sqlx::query("SELECT version FROM rules WHERE name = $1")
                .bind(r.name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let version = match old {
                Some(row) => row.try_get::<i64, _>("version")? + 1,
                None => 1,
            };
            let mut stored = r.clone();
            stored.version = version;
            sqlx::query(
                "INSERT INTO rules (name, doc, version, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, \
                 version = excluded.version, updated_at = excluded.updated_at",
            )
            .bind(r.name.as_str())
            .bind(to_json(&stored)?)
            .bind(version)
            .bind(ms(time::OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(stored)
        }

        async fn prov_get_rule(s: &$store, name: &str) -> Result<Option<Rule>> {
            let row = sqlx::query("SELECT doc, version FROM rules WHERE name = $1")
                .bind(name)
                .fetch_optional(s.reader())
                .await?;
            row.as_ref().map(rule_from_row).transpose()
        }

        async fn prov_list_rules(s: &$store) -> Result<Vec<Rule>> {
            let rows = sqlx::query("SELECT doc, version FROM rules ORDER BY name")
                .fetch_all(s.reader())
                .await?;
            let mut out = rows.iter().map(rule_from_row).collect::<Result<Vec<_>>>()?;
            out.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
            Ok(out)
        }

        async fn prov_delete_rule(s: &$store, name: &str) -> Result<bool> {
            let res = sqlx::query("DELETE FROM rules WHERE name = $1")
                .bind(name)
                .execute(s.writer())
                .await?;
            Ok(res.rows_affected() > 0)
        }

        async fn prov_seed_rules(s: &$store, rules: &[Rule]) -> Result<u32> {
            let mut added = 0;
            for r in rules {
                r.validate()?;
                let res = sqlx::query(
                    "INSERT INTO rules (name, doc, version, updated_at) VALUES ($1, $2, 1, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(r.name.as_str())
                .bind(to_json(r)?)
                .bind(ms(time::OffsetDateTime::now_utc()))
                .execute(s.writer())
                .await?;
                if res.rows_affected() > 0 {
                    added += 1;
                }
            }
            Ok(added)
        }
    };
}

pub(crate) use prov_helpers;
