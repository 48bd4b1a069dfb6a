//! Provisioning REST routes under `/api/v1`: service equipment with its profile, provisioning
//! status and audit, re-provisioning, declarative rules and vendor overrides.
//!
//! Secrets (WiFi passphrases, SIP passwords) are accepted on input and never shown: every
//! equipment answer is [`Equipment::redacted`], audit details are redacted before storing.

use std::sync::Arc;

use acs::Acs;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use provisioning::equipment::{
    redact_value, AuditFilter, Equipment, EquipmentFilter, NewAudit, NewEquipment, Profile,
};
use provisioning::matching::{normalize_mac, normalize_serial};
use provisioning::rules::Rule;
use provisioning::{Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::rest::{AppState, Caller};

/// What the handlers share.
#[derive(Clone)]
struct Ctx {
    acs: Acs,
    store: Arc<dyn Store>,
}

type Shared = Extension<Arc<Ctx>>;

/// The provisioning routes, to be nested under `/api/v1`.
pub fn router(acs: Acs, store: Arc<dyn Store>) -> Router<AppState> {
    let ctx = Arc::new(Ctx { acs, store });
    Router::new()
        .route("/equipment", get(list_equipment).post(create_equipment))
        .route("/equipment/{id}", get(get_equipment).put(update_equipment).delete(delete_equipment))
        .route("/equipment/{id}/profile", put(put_profile))
        .route("/equipment/{id}/provisioning", get(provisioning_status))
        .route("/equipment/{id}/reprovision", post(reprovision))
        .route("/rules", get(list_rules).post(create_rule))
        .route("/rules/{name}", get(get_rule).put(put_rule).delete(delete_rule))
        .route("/overrides", get(get_overrides))
        .route("/overrides/reload", post(reload_overrides))
        .layer(Extension(ctx))
}

fn require_write(c: &Caller) -> Result<(), ApiError> {
    if c.role == "admin" || c.role == "write" {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Store errors with the right status: the caller's faults are 4xx.
fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid { reason } => ApiError::BadRequest(reason),
        StoreError::NotFound(what) => ApiError::NotFound(what),
        StoreError::Conflict(what) => ApiError::Conflict(what),
        other => ApiError::Store(other),
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn show(e: &Equipment) -> Value {
    serde_json::to_value(e.redacted()).unwrap_or(Value::Null)
}

async fn audit(ctx: &Ctx, c: &Caller, action: &str, e: Option<&Equipment>, detail: Value) {
    let a = NewAudit {
        actor: c.name.clone(),
        action: action.into(),
        equipment_id: e.map(|e| e.id),
        device_id: e.and_then(|e| e.device_id.clone()),
        detail: redact_value(&detail),
    };
    if let Err(err) = ctx.store.insert_audit(&a).await {
        tracing::warn!(error = %err, action, "could not write audit row");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EquipmentQuery {
    serial: Option<String>,
    mac: Option<String>,
    #[serde(alias = "deviceId")]
    device_id: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_equipment(
    Extension(ctx): Shared,
    _c: Caller,
    q: Result<Query<EquipmentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mac = match &q.mac {
        Some(m) => Some(
            normalize_mac(m).ok_or_else(|| ApiError::BadRequest(format!("{m:?} is not a MAC")))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).min(10_000);
    let f = EquipmentFilter {
        serial_key: q.serial.as_deref().and_then(normalize_serial),
        mac,
        device_id: q.device_id,
        limit: Some(limit),
        offset: q.offset,
    };
    let items: Vec<Value> =
        ctx.store.list_equipment(&f).await.map_err(store_err)?.iter().map(show).collect();
    Ok(Json(json!({"items": items, "limit": limit, "offset": q.offset.unwrap_or(0)})))
}

async fn load(ctx: &Ctx, id: i64) -> Result<Equipment, ApiError> {
    ctx.store
        .get_equipment(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| ApiError::NotFound(format!("equipment {id}")))
}

async fn create_equipment(
    Extension(ctx): Shared,
    c: Caller,
    b: Result<Json<NewEquipment>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_write(&c)?;
    let n = body(b)?;
    let e = ctx.store.insert_equipment(&n).await.map_err(store_err)?;
    ctx.acs.equipment_changed(&e);
    audit(&ctx, &c, "equipment.create", Some(&e), json!({"new": show(&e)})).await;
    Ok((StatusCode::CREATED, Json(show(&e))))
}

async fn get_equipment(
    Extension(ctx): Shared,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(show(&load(&ctx, id).await?)))
}

async fn update_equipment(
    Extension(ctx): Shared,
    c: Caller,
    Path(id): Path<i64>,
    b: Result<Json<NewEquipment>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_write(&c)?;
    let n = body(b)?;
    let old = load(&ctx, id).await?;
    let e = ctx.store.update_equipment(id, &n).await.map_err(store_err)?;
    ctx.acs.equipment_changed(&e);
    audit(&ctx, &c, "equipment.update", Some(&e), json!({"old": show(&old), "new": show(&e)}))
        .await;
    let pushed = if e.profile_version != old.profile_version {
        ctx.acs.reprovision(e.id).await?.is_some()
    } else {
        false
    };
    let mut v = show(&e);
    v["connectionRequest"] = json!(pushed);
    Ok(Json(v))
}

async fn delete_equipment(
    Extension(ctx): Shared,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    require_write(&c)?;
    let old = load(&ctx, id).await?;
    ctx.store.delete_equipment(id).await.map_err(store_err)?;
    ctx.acs.equipment_removed(id);
    audit(&ctx, &c, "equipment.delete", Some(&old), json!({"old": show(&old)})).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_profile(
    Extension(ctx): Shared,
    c: Caller,
    Path(id): Path<i64>,
    b: Result<Json<Profile>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_write(&c)?;
    let p = body(b)?;
    let old = load(&ctx, id).await?;
    let e = ctx.store.set_equipment_profile(id, &p).await.map_err(store_err)?;
    ctx.acs.equipment_changed(&e);
    audit(
        &ctx,
        &c,
        "profile.update",
        Some(&e),
        json!({
            "oldVersion": old.profile_version, "newVersion": e.profile_version,
            "old": old.profile.redacted(), "new": e.profile.redacted(),
        }),
    )
    .await;
    // Re-push at once through a connection request; else at the next contact.
    let pushed = ctx.acs.reprovision(e.id).await?.is_some();
    let mut v = show(&e);
    v["connectionRequest"] = json!(pushed);
    Ok(Json(v))
}

async fn provisioning_status(
    Extension(ctx): Shared,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let e = load(&ctx, id).await?;
    let audit = ctx
        .store
        .list_audit(&AuditFilter { equipment_id: Some(id), limit: Some(100), ..Default::default() })
        .await
        .map_err(store_err)?;
    let st = &e.provisioning;
    Ok(Json(json!({
        "equipmentId": e.id,
        "deviceId": e.device_id,
        "profileVersion": e.profile_version,
        "state": st.state,
        "appliedVersion": st.applied_version,
        "attempts": st.attempts,
        "lastFault": st.last_fault.as_ref().map(redact_value),
        "nextAttemptAt": st.next_attempt_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "updatedAt": st.updated_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "audit": audit,
    })))
}

async fn reprovision(
    Extension(ctx): Shared,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_write(&c)?;
    let e = load(&ctx, id).await?;
    let device = ctx.acs.reprovision(id).await?;
    audit(&ctx, &c, "equipment.reprovision", Some(&e), json!({"version": e.profile_version})).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"equipmentId": id, "deviceId": device, "connectionRequest": device.is_some()})),
    ))
}

async fn list_rules(Extension(ctx): Shared, _c: Caller) -> Result<Json<Value>, ApiError> {
    let rules = ctx.store.list_rules().await.map_err(store_err)?;
    Ok(Json(json!({ "items": rules })))
}

async fn get_rule(
    Extension(ctx): Shared,
    _c: Caller,
    Path(name): Path<String>,
) -> Result<Json<Rule>, ApiError> {
    ctx.store
        .get_rule(&name)
        .await
        .map_err(store_err)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("rule {name:?}")))
}

async fn save_rule(ctx: &Ctx, c: &Caller, r: Rule, created: bool) -> Result<Rule, ApiError> {
    let old = ctx.store.get_rule(&r.name).await.map_err(store_err)?;
    if created && old.is_some() {
        return Err(ApiError::Conflict(format!("rule {:?} exists", r.name)));
    }
    let saved = ctx.store.put_rule(&r).await.map_err(store_err)?;
    ctx.acs.reload_rules().await?;
    let a = NewAudit {
        actor: c.name.clone(),
        action: if created { "rule.create" } else { "rule.update" }.into(),
        equipment_id: None,
        device_id: None,
        detail: json!({"rule": saved.name, "old": old, "new": saved}),
    };
    if let Err(e) = ctx.store.insert_audit(&a).await {
        tracing::warn!(error = %e, "could not write audit row");
    }
    Ok(saved)
}

async fn create_rule(
    Extension(ctx): Shared,
    c: Caller,
    b: Result<Json<Rule>, JsonRejection>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    require_write(&c)?;
    let r = body(b)?;
    Ok((StatusCode::CREATED, Json(save_rule(&ctx, &c, r, true).await?)))
}

async fn put_rule(
    Extension(ctx): Shared,
    c: Caller,
    Path(name): Path<String>,
    b: Result<Json<Rule>, JsonRejection>,
) -> Result<Json<Rule>, ApiError> {
    require_write(&c)?;
    let r = body(b)?;
    if r.name != name {
        return Err(ApiError::BadRequest(format!(
            "the body names rule {:?}, the path {name:?}",
            r.name
        )));
    }
    Ok(Json(save_rule(&ctx, &c, r, false).await?))
}

async fn delete_rule(
    Extension(ctx): Shared,
    c: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_write(&c)?;
    if !ctx.store.delete_rule(&name).await.map_err(store_err)? {
        return Err(ApiError::NotFound(format!("rule {name:?}")));
    }
    ctx.acs.reload_rules().await?;
    let a = NewAudit {
        actor: c.name.clone(),
        action: "rule.delete".into(),
        equipment_id: None,
        device_id: None,
        detail: json!({"rule": name}),
    };
    if let Err(e) = ctx.store.insert_audit(&a).await {
        tracing::warn!(error = %e, "could not write audit row");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn get_overrides(Extension(ctx): Shared, _c: Caller) -> Json<Value> {
    Json(serde_json::to_value(&*ctx.acs.overrides()).unwrap_or(Value::Null))
}

async fn reload_overrides(Extension(ctx): Shared, c: Caller) -> Result<Json<Value>, ApiError> {
    require_write(&c)?;
    let n = ctx.acs.reload_overrides().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(json!({ "loaded": n })))
}
