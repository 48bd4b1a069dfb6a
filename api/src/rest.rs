//! The operator REST API (`/api/v1`, bearer tokens, JSON errors), health probes and metrics.

use std::sync::Arc;
use std::time::Duration;

use acs::Acs;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use provisioning::{
    Device, DeviceFilter, FaultFilter, FileMeta, NewTask, Protocol, Store, TaskFilter, TaskSpec,
    TaskStatus,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::server::token_hash;

/// Largest file accepted by `PUT /api/v1/files/{name}`.
pub const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;
/// Longest `timeout` a task request may wait for its result.
pub const MAX_TASK_WAIT: Duration = Duration::from_secs(120);

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    acs: Acs,
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    usp: Option<usp::Usp>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Bundle the engine, the store and the metrics registry.
    pub fn new(acs: Acs, store: Arc<dyn Store>, registry: Registry) -> Self {
        AppState { acs, store, registry: Arc::new(registry), usp: None }
    }

    /// Serve USP agents' tasks and presence through the USP engine.
    pub fn with_usp(mut self, usp: usp::Usp) -> Self {
        self.usp = Some(usp);
        self
    }

    /// USP presence for USP agents, CWMP contact for CPEs.
    fn is_online(&self, d: &Device) -> bool {
        match (&self.usp, d.protocol) {
            (Some(usp), Protocol::Usp) => usp.is_online(&d.id),
            _ => self.acs.is_online(&d.id),
        }
    }
}

/// An authenticated API caller.
#[derive(Debug)]
pub struct Caller {
    /// Token name.
    pub name: String,
    /// Token role.
    pub role: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        let found =
            state.store.find_api_token(&token_hash(token)).await?.ok_or(ApiError::Unauthorized)?;
        Ok(Caller { name: found.name, role: found.role })
    }
}

impl Caller {
    fn require_write(&self) -> Result<(), ApiError> {
        if self.role == "admin" || self.role == "write" {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/devices", get(list_devices))
        .route("/devices/{id}", get(get_device).delete(delete_device))
        .route("/devices/{id}/parameters", get(device_parameters))
        .route("/devices/{id}/tags/{tag}", post(add_tag).delete(remove_tag))
        .route("/devices/{id}/tasks", post(create_task).get(device_tasks))
        .route("/tasks", get(list_tasks))
        .route("/tasks/{id}", get(get_task).delete(delete_task))
        .route("/tasks/{id}/retry", post(retry_task))
        .route("/faults", get(list_faults))
        .route("/faults/{id}", axum::routing::delete(delete_fault))
        .route("/files", get(list_files))
        .route("/files/{name}", get(get_file).put(put_file).delete(delete_file))
        .merge(crate::rest_provisioning::router(state.acs.clone(), state.store.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FILE_BYTES));
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.acs.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "draining"})))
            .into_response();
    }
    match s.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "store": s.store.backend() })).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "detail": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &s.registry) {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            out,
        )
            .into_response(),
        Err(_) => ApiError::BadRequest("metrics encoding failed".into()).into_response(),
    }
}

fn rfc3339(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// Device as the API shows it: no stored secrets.
fn device_json(s: &AppState, d: &Device) -> Value {
    json!({
        "id": d.id,
        "protocol": d.protocol,
        "oui": d.oui,
        "productClass": d.product_class,
        "serialNumber": d.serial_number,
        "manufacturer": d.manufacturer,
        "modelName": d.model_name,
        "softwareVersion": d.software_version,
        "hardwareVersion": d.hardware_version,
        "dataModel": d.data_model,
        "root": d.data_model.root(),
        "registeredAt": rfc3339(Some(d.registered_at)),
        "lastInform": rfc3339(d.last_inform_at),
        "lastBoot": rfc3339(d.last_boot_at),
        "lastBootstrap": rfc3339(d.last_bootstrap_at),
        "events": d.last_events,
        "ip": d.ip,
        "connectionRequestUrl": d.connection_request_url,
        "udpConnectionRequestAddress": d.udp_connection_request_address,
        "periodicInformInterval": d.periodic_inform_interval,
        "tags": d.tags,
        "equipmentId": d.equipment_id,
        "online": s.is_online(d),
    })
}

fn parse_time(field: &str, v: &Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    v.as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceQuery {
    #[serde(alias = "idPrefix")]
    id_prefix: Option<String>,
    oui: Option<String>,
    #[serde(alias = "productClass")]
    product_class: Option<String>,
    serial: Option<String>,
    tag: Option<String>,
    protocol: Option<Protocol>,
    /// `false`: devices not bound to service equipment; `true`: bound ones.
    matched: Option<bool>,
    #[serde(alias = "lastInformAfter")]
    last_inform_after: Option<String>,
    #[serde(alias = "lastInformBefore")]
    last_inform_before: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_devices(
    State(s): State<AppState>,
    _c: Caller,
    q: Result<Query<DeviceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100).min(10_000);
    let filter = DeviceFilter {
        id_prefix: q.id_prefix,
        oui: q.oui,
        product_class: q.product_class,
        serial: q.serial,
        tag: q.tag,
        last_inform_after: parse_time("last_inform_after", &q.last_inform_after)?,
        last_inform_before: parse_time("last_inform_before", &q.last_inform_before)?,
        protocol: q.protocol,
        matched: q.matched,
        limit: Some(limit),
        offset: q.offset,
    };
    let devices = s.store.list_devices(&filter).await?;
    let items: Vec<Value> = devices
        .iter()
        .map(|d| {
            // The engine's index has the freshest telemetry (write-behind may lag).
            // (The USP engine writes through, so the store is current for USP agents.)
            let fresh = match d.protocol {
                Protocol::Usp => d.clone(),
                Protocol::Cwmp => s.acs.device(&d.id).unwrap_or_else(|| d.clone()),
            };
            device_json(&s, &fresh)
        })
        .collect();
    Ok(Json(json!({ "items": items, "limit": limit, "offset": q.offset.unwrap_or(0) })))
}

async fn load_device(s: &AppState, id: &str) -> Result<Device, ApiError> {
    if let Some(d) = s.acs.device(id).filter(|d| d.protocol == Protocol::Cwmp) {
        return Ok(d);
    }
    s.store.get_device(id).await?.ok_or_else(|| ApiError::NotFound(format!("device {id}")))
}

async fn get_device(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = load_device(&s, &id).await?;
    Ok(Json(device_json(&s, &d)))
}

async fn delete_device(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require_write()?;
    if s.acs.has_session(&id) {
        return Err(ApiError::Conflict(format!("device {id} is in a session; retry shortly")));
    }
    s.acs.flush().await?;
    let existed = s.store.delete_device(&id).await?;
    s.acs.forget_device(&id);
    if let Some(usp) = &s.usp {
        usp.forget_device(&id);
    }
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("device {id}")))
    }
}

#[derive(Debug, Deserialize)]
struct PrefixQuery {
    prefix: Option<String>,
}

async fn device_parameters(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
    Query(q): Query<PrefixQuery>,
) -> Result<Json<Value>, ApiError> {
    load_device(&s, &id).await?;
    s.acs.flush().await?;
    let params = s.store.get_parameters(&id, q.prefix.as_deref().unwrap_or("")).await?;
    let items: Vec<Value> = params
        .iter()
        .map(|p| {
            json!({
                "path": p.path, "value": p.value, "type": p.value_type, "writable": p.writable,
                "notification": p.notification, "accessList": p.access_list,
                "updatedAt": rfc3339(Some(p.updated_at)),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn add_tag(
    State(s): State<AppState>,
    c: Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    c.require_write()?;
    if tag.is_empty() || tag.len() > 128 || tag.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("a tag is 1 to 128 printable characters".into()));
    }
    load_device(&s, &id).await?;
    s.acs.flush().await?;
    s.store.add_tag(&id, &tag).await?;
    tags_reply(&s, &id).await
}

/// The device's stored tags, copied into the engine's index so filters and views agree.
async fn tags_reply(s: &AppState, id: &str) -> Result<Json<Value>, ApiError> {
    let d =
        s.store.get_device(id).await?.ok_or_else(|| ApiError::NotFound(format!("device {id}")))?;
    if let Some(mut live) = s.acs.device(id) {
        live.tags = d.tags.clone();
        s.acs.refresh_device(live);
    }
    Ok(Json(json!({ "tags": d.tags })))
}

async fn remove_tag(
    State(s): State<AppState>,
    c: Caller,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    c.require_write()?;
    load_device(&s, &id).await?;
    s.acs.flush().await?;
    if !s.store.remove_tag(&id, &tag).await? {
        return Err(ApiError::NotFound(format!("tag {tag}")));
    }
    tags_reply(&s, &id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    connection_request: Option<bool>,
    timeout: Option<u64>,
}

async fn create_task(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    q: Result<Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    c.require_write()?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let spec: TaskSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid task: {e}")))?;
    spec.validate()?;
    let device = load_device(&s, &id).await?;
    if device.protocol == Protocol::Cwmp && spec.is_usp_only() {
        return Err(ApiError::BadRequest(format!(
            "task {} is only available over USP",
            spec.name()
        )));
    }
    if let (Protocol::Usp, Some(usp)) = (device.protocol, &s.usp) {
        return create_usp_task(usp, &c, id, q, spec).await;
    }
    let task = s.acs.enqueue_task(NewTask::new(id.clone(), spec)).await?;
    tracing::info!(device = %id, task = task.id, caller = %c.name, "task queued");
    let mut cr_error = None;
    if q.connection_request.unwrap_or(false) && !s.acs.has_session(&id) {
        if let Err(e) = s.acs.connection_request(&id).await {
            cr_error = Some(e.to_string());
        }
    }
    let wait = q.timeout.map(|ms| Duration::from_millis(ms).min(MAX_TASK_WAIT));
    let task = match (wait, &cr_error) {
        (Some(w), None) => s.acs.wait_task(task.id, w).await?.unwrap_or(task),
        _ => task,
    };
    Ok(task_reply(&task, cr_error))
}

/// `200` with the task when it reached a final state, else `202`; a failed connection request
/// (or an offline agent) is reported as `connectionRequestError`.
fn task_reply(task: &provisioning::Task, connection_request_error: Option<String>) -> Response {
    let status = if task.status.is_final() { StatusCode::OK } else { StatusCode::ACCEPTED };
    let mut body = serde_json::to_value(task).unwrap_or(Value::Null);
    if let (Some(e), Value::Object(m)) = (connection_request_error, &mut body) {
        m.insert("connectionRequestError".into(), Value::String(e));
    }
    (status, Json(body)).into_response()
}

/// `create_task` for a USP agent: queue; run now when the agent is online; wait like CWMP.
async fn create_usp_task(
    usp: &usp::Usp,
    c: &Caller,
    id: String,
    q: TaskQuery,
    spec: TaskSpec,
) -> Result<Response, ApiError> {
    use crate::server::usp_error;
    if !usp::supports_task(&spec) {
        return Err(ApiError::BadRequest(format!(
            "task {} is not available over USP",
            spec.name()
        )));
    }
    let task = usp.enqueue_task(NewTask::new(id.clone(), spec)).await.map_err(usp_error)?;
    tracing::info!(device = %id, task = task.id, caller = %c.name, "usp task queued");
    let mut offline = None;
    if q.connection_request.unwrap_or(false) && !usp.run_now(&id) {
        offline = Some("the agent is offline; the task runs when it reconnects".to_string());
    }
    let wait = q.timeout.map(|ms| Duration::from_millis(ms).min(MAX_TASK_WAIT));
    let task = match (wait, &offline) {
        (Some(w), None) => usp.wait_task(task.id, w).await.map_err(usp_error)?.unwrap_or(task),
        _ => task,
    };
    Ok(task_reply(&task, offline))
}

async fn device_tasks(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tasks =
        s.store.list_tasks(&TaskFilter { device_id: Some(id), ..Default::default() }).await?;
    Ok(Json(json!({ "items": tasks })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskListQuery {
    device: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_tasks(
    State(s): State<AppState>,
    _c: Caller,
    q: Result<Query<TaskListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = match q.status.as_deref() {
        None => None,
        Some(st) => Some(TaskStatus::parse(st).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "status must be queued, running, done, fault or expired, not {st:?}"
            ))
        })?),
    };
    let tasks = s
        .store
        .list_tasks(&TaskFilter {
            device_id: q.device,
            status,
            limit: Some(q.limit.unwrap_or(100).min(10_000)),
            offset: q.offset,
        })
        .await?;
    Ok(Json(json!({ "items": tasks })))
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("{raw:?} is not a numeric id")))
}

async fn get_task(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let t = s.store.get_task(id).await?.ok_or_else(|| ApiError::NotFound(format!("task {id}")))?;
    Ok(Json(serde_json::to_value(&t).unwrap_or(Value::Null)))
}

async fn delete_task(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require_write()?;
    let id = parse_id(&id)?;
    if s.store.delete_task(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("task {id}")))
    }
}

async fn retry_task(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    c.require_write()?;
    let id = parse_id(&id)?;
    let t = s.acs.retry_task(id).await?.ok_or_else(|| ApiError::NotFound(format!("task {id}")))?;
    Ok(Json(serde_json::to_value(&t).unwrap_or(Value::Null)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultQuery {
    device: Option<String>,
    task: Option<i64>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_faults(
    State(s): State<AppState>,
    _c: Caller,
    q: Result<Query<FaultQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let faults = s
        .store
        .list_faults(&FaultFilter {
            device_id: q.device,
            task_id: q.task,
            limit: Some(q.limit.unwrap_or(100).min(10_000)),
            offset: q.offset,
        })
        .await?;
    Ok(Json(json!({ "items": faults })))
}

async fn delete_fault(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require_write()?;
    let id = parse_id(&id)?;
    if s.store.delete_fault(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("fault {id}")))
    }
}

fn valid_file_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "file names use letters, digits, '.', '-' and '_' and do not start with '.'".into(),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuery {
    #[serde(alias = "fileType")]
    file_type: Option<String>,
    oui: Option<String>,
    #[serde(alias = "productClass")]
    product_class: Option<String>,
    version: Option<String>,
    #[serde(alias = "contentType")]
    content_type: Option<String>,
}

async fn put_file(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
    q: Result<Query<FileQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<FileMeta>), ApiError> {
    c.require_write()?;
    valid_file_name(&name)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let dir = s.acs.config().files_dir.clone();
    let tmp = dir.join(format!(".{name}.upload"));
    tokio::fs::write(&tmp, &body).await?;
    tokio::fs::rename(&tmp, dir.join(&name)).await?;
    let meta = FileMeta {
        name: name.clone(),
        file_type: q.file_type.unwrap_or_else(|| "1 Firmware Upgrade Image".into()),
        oui: q.oui,
        product_class: q.product_class,
        version: q.version,
        length: u64::try_from(body.len()).unwrap_or(u64::MAX),
        sha256: hex::encode(Sha256::digest(&body)),
        content_type: q.content_type,
        uploaded_at: OffsetDateTime::now_utc(),
    };
    s.store.put_file(&meta).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

async fn get_file(
    State(s): State<AppState>,
    _c: Caller,
    Path(name): Path<String>,
) -> Result<Json<FileMeta>, ApiError> {
    s.store
        .get_file(&name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("file {name}")))
}

async fn list_files(State(s): State<AppState>, _c: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": s.store.list_files().await? })))
}

async fn delete_file(
    State(s): State<AppState>,
    c: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    c.require_write()?;
    valid_file_name(&name)?;
    if !s.store.delete_file(&name).await? {
        return Err(ApiError::NotFound(format!("file {name}")));
    }
    let _ = tokio::fs::remove_file(s.acs.config().files_dir.join(&name)).await;
    Ok(StatusCode::NO_CONTENT)
}
