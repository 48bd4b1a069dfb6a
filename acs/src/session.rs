//! One CWMP session: Inform, the CPE's own requests, then one ACS request per HTTP response
//! until `204 No Content`.

use std::collections::VecDeque;
use std::time::Duration;

use cwmp_schema::{
    Body, CwmpVersion, Envelope, EventCode, FaultCode, Header, Inform, ParameterValue, SoapFault,
    ValueType,
};
use provisioning::{
    cwmp_device_id, DataModel, Device, FileMeta, NewFault, Parameter, Protocol, Task, TaskFault,
    TaskFilter, TaskSpec, TaskStatus, Telemetry,
};
use rand::Rng;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::engine::{Acs, DeviceEntry};
use crate::error::AcsError;
use crate::metrics::{SessionOutcome, TaskOutcome};
use crate::rpc::{self, Progress, ResolvedFile, TaskRun};

/// Longest idle timeout a CPE may ask for with the SessionTimeout header.
const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(300);

/// What to send back on the HTTP response.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A SOAP envelope in the session's namespace; `fault` selects HTTP 500.
    Envelope { envelope: Box<Envelope>, version: CwmpVersion, fault: bool },
    /// `204 No Content`: the session is over.
    Done,
}

/// ACS-internal work done in a session before queued tasks (bootstrap duties).
#[derive(Debug, Clone)]
enum Internal {
    ManagementServer { cr_username: String, cr_password: String, interval: u32 },
}

#[derive(Debug)]
enum InFlight {
    Task { task: Box<Task>, run: TaskRun, request: Body },
    Internal { action: Internal, request: Body },
    Provision { request: Body },
}

/// What a finished RPC changed in the device's parameter cache.
#[derive(Debug, Default)]
struct CacheChange {
    /// Prefixes whose cached parameters are deleted first.
    forget: Vec<String>,
    /// Parameters merged afterwards.
    learned: Vec<Parameter>,
}

/// Live state of one session.
#[derive(Debug)]
pub struct Session {
    pub(crate) id: u64,
    pub(crate) device_id: String,
    pub(crate) version: CwmpVersion,
    pub(crate) started: Instant,
    pub(crate) last_activity: Instant,
    pub(crate) idle_timeout: Duration,
    internal: VecDeque<Internal>,
    inflight: Option<InFlight>,
    rpcs_sent: u32,
    pub(crate) finished: bool,
    /// Event codes of the Inform and whether the device was first seen in it (provisioning).
    events: Vec<String>,
    is_new: bool,
    /// Provisioning work of this session, once asked for.
    prov: Option<Box<crate::provision::ProvSession>>,
    prov_checked: bool,
}

/// Result of starting a session with an Inform.
pub(crate) enum Started {
    Session(Box<Session>, Reply),
    /// Another session of the same device is open.
    Busy,
}

fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Take what an Inform says about the device into `device`; returns the parameters to cache.
///
/// `written` holds a hash per Inform parameter as last handed to the store; only parameters
/// whose hash differs are returned (all of them when the list changed shape or `written` is
/// empty), and `written` is updated. A periodic Inform that reports the same values as the
/// previous one therefore costs the store a timestamp update, not a rewrite of every value.
pub(crate) fn apply_inform(
    device: &mut Device,
    inform: &Inform,
    ip: Option<String>,
    now: OffsetDateTime,
    written: &mut Vec<u64>,
) -> Vec<Parameter> {
    device.manufacturer = inform.device_id.manufacturer.clone();
    device.last_inform_at = Some(now);
    device.last_events =
        inform.events.iter().map(|e| e.event_code.as_wire().into_owned()).collect();
    if ip.is_some() {
        device.ip = ip;
    }
    if inform.events.iter().any(|e| e.event_code == EventCode::Bootstrap) {
        device.last_bootstrap_at = Some(now);
    }
    if inform.events.iter().any(|e| e.event_code == EventCode::Boot) {
        device.last_boot_at = Some(now);
    }
    let same_shape = written.len() == inform.parameter_list.len();
    if !same_shape {
        written.clear();
        written.resize(inform.parameter_list.len(), 0);
    }
    let mut params = Vec::new();
    for (p, last) in inform.parameter_list.iter().zip(written.iter_mut()) {
        let name = p.name.as_str();
        if device.data_model == DataModel::Unknown {
            device.data_model = DataModel::from_root(name);
        }
        let value = p.value.trim();
        if name.ends_with(".ManagementServer.ConnectionRequestURL") {
            device.connection_request_url = Some(value.to_string());
        } else if name.ends_with(".ManagementServer.UDPConnectionRequestAddress") {
            device.udp_connection_request_address = Some(value.to_string());
        } else if name.ends_with(".ManagementServer.PeriodicInformInterval") {
            if let Ok(v) = value.parse() {
                device.periodic_inform_interval = Some(v);
            }
        } else if name.ends_with(".DeviceInfo.SoftwareVersion") {
            device.software_version = Some(value.to_string());
        } else if name.ends_with(".DeviceInfo.HardwareVersion") {
            device.hardware_version = Some(value.to_string());
        } else if name.ends_with(".DeviceInfo.ModelName") {
            device.model_name = Some(value.to_string());
        }
        let hash = parameter_hash(name, &p.value, p.value_type.as_xsd());
        if !same_shape || *last != hash {
            *last = hash;
            params.push(Parameter::value(name, p.value.clone(), Some(p.value_type.as_xsd()), now));
        }
    }
    params
}

/// FNV-1a over a parameter's name, value and type (0xff separates the fields).
fn parameter_hash(name: &str, value: &str, value_type: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [name, value, value_type] {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // 0 marks "never written".
    h.max(1)
}

/// A spread PeriodicInformTime: the device id hashed onto the interval, so a fleet's informs
/// are spread evenly instead of arriving in lock-step.
pub(crate) fn spread_inform_time(device_id: &str, interval: u32) -> String {
    // FNV-1a: stable across releases and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in device_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let offset = h % u64::from(interval.max(1));
    let t =
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(i64::try_from(offset).unwrap_or(0));
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// The highest CWMP version both sides support, from the CPE's SupportedCWMPVersions.
fn negotiate_version(supported: &str) -> Option<String> {
    supported
        .split(',')
        .filter_map(|v| {
            let v = v.trim();
            let (maj, min) = v.split_once('.')?;
            let (maj, min): (u32, u32) = (maj.parse().ok()?, min.parse().ok()?);
            (maj == 1 && min <= 4).then_some((maj, min))
        })
        .max()
        .map(|(maj, min)| format!("{maj}.{min}"))
}

fn envelope(id: String, body: Body) -> Envelope {
    Envelope::new(Some(id), body)
}

impl Session {
    /// Start a session from an Inform: register or update the device, claim it (one session
    /// per device), queue bootstrap duties, answer InformResponse.
    pub(crate) async fn start(
        acs: &Acs,
        id: u64,
        header: &Header,
        version: CwmpVersion,
        inform: Inform,
        peer_ip: Option<String>,
    ) -> Result<Started, AcsError> {
        let inner = &acs.inner;
        let now = now_utc();
        let d = &inform.device_id;
        let device_id =
            cwmp_device_id(d.oui.trim(), d.product_class.trim(), d.serial_number.trim());
        let bootstrap = inform.events.iter().any(|e| e.event_code == EventCode::Bootstrap);
        for e in &inform.events {
            inner.metrics.event(event_label(&e.event_code));
        }
        inner.metrics.informs.inc();

        // Claim the device and update its snapshot without holding the map across an await.
        let mut is_new = false;
        let (device, params) = {
            let mut entry = inner.devices.entry(device_id.clone()).or_insert_with(|| {
                is_new = true;
                let dev = Device::new(
                    device_id.clone(),
                    Protocol::Cwmp,
                    d.oui.trim(),
                    d.product_class.trim(),
                    d.serial_number.trim(),
                    now,
                );
                DeviceEntry::new(dev)
            });
            if let Some(other) = entry.session {
                if other != id && inner.sessions.contains_key(&other) {
                    return Ok(Started::Busy);
                }
            }
            entry.session = Some(id);
            let entry = &mut *entry;
            if bootstrap {
                // The cached data model is dropped: everything the Inform says is new again.
                entry.inform_written.clear();
            }
            let params =
                apply_inform(&mut entry.device, &inform, peer_ip, now, &mut entry.inform_written);
            (entry.device.clone(), params)
        };
        if is_new {
            inner.metrics.known_devices.set(i64::try_from(inner.devices.len()).unwrap_or(0));
        }

        // New devices and bootstraps are written synchronously (tasks reference the device;
        // a bootstrap forgets the cached data model). Everything else goes write-behind.
        let params = if is_new || bootstrap {
            // One transaction: the device row, the bootstrap's wipe of the cached data model
            // and the Inform's values.
            let now_durable = Telemetry { device: device.clone(), params, bootstrap };
            if let Err(e) = inner.store.apply_telemetry(std::slice::from_ref(&now_durable)).await {
                // Nothing was written: the next Inform must send every value again.
                acs.forget_inform_values(&device.id);
                return Err(AcsError::storage(e));
            }
            // The write-behind still gets the snapshot (below, without values) so that an older
            // snapshot pending there cannot overwrite this one.
            Vec::new()
        } else {
            params
        };
        let mut internal = VecDeque::new();
        if device.data_model.root().is_some() && (bootstrap || device.cr_username.is_none()) {
            internal.push_back(Internal::ManagementServer {
                cr_username: device
                    .cr_username
                    .clone()
                    .unwrap_or_else(|| format!("cr-{}", random_token(10))),
                cr_password: random_token(20),
                interval: inner.config.periodic_inform_interval,
            });
        }
        let session_device_id = device.id.clone();
        inner.telemetry.submit(Telemetry { device, params, bootstrap: false });

        let idle_timeout = header
            .session_timeout
            .map(|s| {
                Duration::from_secs(u64::from(s))
                    .clamp(inner.config.session_timeout, MAX_SESSION_TIMEOUT)
            })
            .unwrap_or(inner.config.session_timeout);
        let use_cwmp_version =
            header.supported_cwmp_versions.as_deref().and_then(negotiate_version);
        let session = Session {
            id,
            device_id: session_device_id,
            version,
            started: Instant::now(),
            last_activity: Instant::now(),
            idle_timeout,
            internal,
            inflight: None,
            rpcs_sent: 0,
            finished: false,
            events: inform.events.iter().map(|e| e.event_code.as_wire().into_owned()).collect(),
            is_new,
            prov: None,
            prov_checked: false,
        };
        let mut response =
            Envelope::new(header.id.clone(), Body::InformResponse { max_envelopes: 1 });
        response.header.use_cwmp_version = use_cwmp_version;
        Ok(Started::Session(
            Box::new(session),
            Reply::Envelope { envelope: Box::new(response), version, fault: false },
        ))
    }

    /// Handle one more HTTP request of this session: `None` is an empty POST.
    pub(crate) async fn on_request(
        &mut self,
        acs: &Acs,
        message: Option<(Header, Body)>,
    ) -> Result<Reply, AcsError> {
        self.last_activity = Instant::now();
        let Some((header, body)) = message else {
            if let Some(inflight) = self.inflight.take() {
                // An empty POST while we wait for an answer: the CPE dropped our request.
                self.fail_inflight(
                    acs,
                    inflight,
                    rpc::fault("no_response", "the CPE answered an RPC with an empty POST"),
                )
                .await?;
            }
            return self.next(acs).await;
        };
        let reply_id = header.id.clone();
        match body {
            Body::Inform(_) => Ok(self.fault_reply(
                reply_id,
                FaultCode::RequestDenied,
                "Inform is only allowed at the start of a session",
            )),
            Body::TransferComplete(tc) => {
                self.transfer_complete(
                    acs,
                    &tc.command_key,
                    &tc.fault_struct,
                    json!({
                        "startTime": tc.start_time, "completeTime": tc.complete_time,
                    }),
                )
                .await?;
                Ok(self.reply(reply_id, Body::TransferCompleteResponse))
            }
            Body::AutonomousTransferComplete(atc) => {
                if !atc.fault_struct.is_success() {
                    self.record_fault(
                        acs,
                        None,
                        "autonomous_transfer",
                        &atc.fault_struct.fault_code.code().to_string(),
                        &atc.fault_struct.fault_string,
                        json!({"transferURL": atc.transfer_url, "fileType": atc.file_type}),
                    )
                    .await;
                }
                tracing::info!(device = %self.device_id, file_type = %atc.file_type, ok = atc.fault_struct.is_success(), "autonomous transfer complete");
                Ok(self.reply(reply_id, Body::AutonomousTransferCompleteResponse))
            }
            Body::DuStateChangeComplete(du) => {
                let failed = du.results.iter().find(|r| !r.fault.is_success());
                let fault_struct = failed.map(|r| r.fault.clone()).unwrap_or_default();
                let results: Vec<Value> = du.results.iter().map(|r| json!({
                    "uuid": r.uuid, "deploymentUnitRef": r.deployment_unit_ref, "version": r.version,
                    "currentState": r.current_state, "resolved": r.resolved, "faultCode": r.fault.fault_code.code(),
                })).collect();
                self.transfer_complete(
                    acs,
                    &du.command_key,
                    &fault_struct,
                    json!({ "results": results }),
                )
                .await?;
                Ok(self.reply(reply_id, Body::DuStateChangeCompleteResponse))
            }
            Body::AutonomousDuStateChangeComplete(_) => {
                tracing::info!(device = %self.device_id, "autonomous deployment unit change");
                Ok(self.reply(reply_id, Body::AutonomousDuStateChangeCompleteResponse))
            }
            Body::RequestDownload { file_type, .. } => {
                self.request_download(acs, &file_type).await?;
                Ok(self.reply(reply_id, Body::RequestDownloadResponse))
            }
            Body::GetRpcMethods => Ok(self.reply(
                reply_id,
                Body::GetRpcMethodsResponse {
                    method_list: rpc::ACS_METHODS.iter().map(|m| (*m).to_string()).collect(),
                },
            )),
            Body::Kicked { next, .. } => {
                Ok(self.reply(reply_id, Body::KickedResponse { next_url: next }))
            }
            response if response.is_response() || response.is_fault() => {
                match self.inflight.take() {
                    Some(inflight) => self.on_response(acs, inflight, response).await,
                    None => {
                        tracing::warn!(device = %self.device_id, method = response.method_name(), "response with no request outstanding");
                        self.next(acs).await
                    }
                }
            }
            other => Ok(self.fault_reply(
                reply_id,
                FaultCode::MethodNotSupported,
                format!("{} is not an ACS method", other.method_name()),
            )),
        }
    }

    fn reply(&self, id: Option<String>, body: Body) -> Reply {
        Reply::Envelope {
            envelope: Box::new(Envelope::new(id, body)),
            version: self.version,
            fault: false,
        }
    }

    fn fault_reply(
        &self,
        id: Option<String>,
        code: FaultCode,
        message: impl Into<String>,
    ) -> Reply {
        Reply::Envelope {
            envelope: Box::new(Envelope::new(id, Body::Fault(SoapFault::new(code, message)))),
            version: self.version,
            fault: true,
        }
    }

    async fn on_response(
        &mut self,
        acs: &Acs,
        inflight: InFlight,
        response: Body,
    ) -> Result<Reply, AcsError> {
        let now = now_utc();
        match inflight {
            InFlight::Internal { action, request } => {
                match (&action, &response) {
                    (
                        Internal::ManagementServer { cr_username, cr_password, interval },
                        Body::SetParameterValuesResponse { .. },
                    ) => {
                        let updated = acs.inner.devices.get_mut(&self.device_id).map(|mut e| {
                            e.device.cr_username = Some(cr_username.clone());
                            e.device.cr_password = Some(cr_password.clone());
                            e.device.periodic_inform_interval = Some(*interval);
                            e.device.clone()
                        });
                        if let Some(device) = updated {
                            // Through the ordered write-behind, after the Inform's snapshot. The
                            // index already holds the credentials for connection requests; if
                            // acsd stops before the flush, the next Inform finds no
                            // ConnectionRequestUsername and sets them again.
                            acs.inner.telemetry.submit(Telemetry {
                                device,
                                params: Vec::new(),
                                bootstrap: false,
                            });
                        }
                        // The cache is read by the provisioning rules later in this session.
                        let learned = redact_secrets(rpc::set_values_learned(&request, now));
                        acs.inner
                            .store
                            .upsert_parameters(&self.device_id, &learned)
                            .await
                            .map_err(AcsError::storage)?;
                    }
                    (_, Body::Fault(f)) => {
                        let tf = rpc::cpe_fault(f);
                        self.record_fault(
                            acs,
                            None,
                            "bootstrap",
                            &tf.code,
                            &tf.message,
                            tf.detail.clone(),
                        )
                        .await;
                    }
                    (_, other) => {
                        tracing::warn!(device = %self.device_id, method = other.method_name(), "unexpected answer to bootstrap settings");
                    }
                }
                self.next(acs).await
            }
            InFlight::Provision { request } => {
                if let Some(p) = self.prov.as_mut() {
                    p.on_response(acs, &request, &response).await?;
                }
                self.next(acs).await
            }
            InFlight::Task { task, mut run, request } => {
                let progress = run.on_response(&response, now);
                match progress {
                    Progress::Next(body) => {
                        self.inflight = Some(InFlight::Task { task, run, request: body.clone() });
                        Ok(self.send(acs, body))
                    }
                    Progress::Done { result, mut learned, forget_prefix } => {
                        if matches!(response, Body::SetParameterValuesResponse { .. })
                            && learned.is_empty()
                        {
                            learned = rpc::set_values_learned(&request, now);
                        }
                        let mut forget = Vec::new();
                        if let Body::DeleteObject { object_name, .. } = &request {
                            forget.push(object_name.clone());
                        }
                        forget.extend(forget_prefix);
                        if !forget.is_empty() {
                            acs.forget_inform_values(&self.device_id);
                        }
                        // Cache changes and the task's outcome commit together.
                        self.finish_task_with(
                            acs,
                            *task,
                            TaskStatus::Done,
                            Some(result),
                            None,
                            None,
                            CacheChange { forget, learned },
                        )
                        .await?;
                        self.next(acs).await
                    }
                    Progress::AwaitCompletion { result } => {
                        let key = run.command_key.clone();
                        self.finish_task(
                            acs,
                            *task,
                            TaskStatus::Running,
                            Some(result),
                            None,
                            Some(key),
                        )
                        .await?;
                        self.next(acs).await
                    }
                    Progress::Fault(fault) => {
                        self.fail_inflight(acs, InFlight::Task { task, run, request }, fault)
                            .await?;
                        self.next(acs).await
                    }
                }
            }
        }
    }

    /// Pick the next ACS request, or end the session.
    async fn next(&mut self, acs: &Acs) -> Result<Reply, AcsError> {
        loop {
            if self.rpcs_sent >= acs.inner.config.max_rpcs_per_session {
                tracing::warn!(device = %self.device_id, rpcs = self.rpcs_sent, "rpc limit for one session reached");
                return Ok(self.end(acs));
            }
            if let Some(action) = self.internal.pop_front() {
                let Some(request) = self.internal_request(acs, &action) else { continue };
                self.inflight = Some(InFlight::Internal { action, request: request.clone() });
                return Ok(self.send(acs, request));
            }
            let now = now_utc();
            let due = acs
                .inner
                .devices
                .get(&self.device_id)
                .and_then(|e| e.next_task_due)
                .is_some_and(|t| t <= now);
            if !due {
                return self.provision_or_end(acs).await;
            }
            match acs
                .inner
                .store
                .next_due_task(&self.device_id, now)
                .await
                .map_err(AcsError::storage)?
            {
                Some(task) => {
                    let file = match self.resolve_file(acs, &task.spec).await {
                        Ok(f) => f,
                        Err(fault) => {
                            self.fail_task(acs, task, fault).await?;
                            continue;
                        }
                    };
                    match rpc::start(task.id, &task.spec, file.as_ref()) {
                        Ok((run, request)) => {
                            tracing::debug!(device = %self.device_id, task = task.id, name = task.spec.name(), "running task");
                            self.inflight = Some(InFlight::Task {
                                task: Box::new(task),
                                run,
                                request: request.clone(),
                            });
                            return Ok(self.send(acs, request));
                        }
                        Err(fault) => {
                            self.fail_task(acs, task, fault).await?;
                        }
                    }
                }
                None => {
                    // Nothing due now: remember when the earliest backed-off task is due.
                    let queued = acs
                        .inner
                        .store
                        .list_tasks(&TaskFilter {
                            device_id: Some(self.device_id.clone()),
                            status: Some(TaskStatus::Queued),
                            ..Default::default()
                        })
                        .await
                        .map_err(AcsError::storage)?;
                    let next = queued.iter().map(|t| t.not_before).min();
                    if let Some(mut e) = acs.inner.devices.get_mut(&self.device_id) {
                        e.next_task_due = next;
                    }
                    if next.is_some_and(|t| t <= now) {
                        // A task became due between the two queries; go round again.
                        continue;
                    }
                    return self.provision_or_end(acs).await;
                }
            }
        }
    }

    /// After tasks: the provisioning hook (match, rules, profile push), then the end.
    async fn provision_or_end(&mut self, acs: &Acs) -> Result<Reply, AcsError> {
        if !self.prov_checked {
            self.prov_checked = true;
            self.prov = crate::provision::ProvSession::start(
                acs,
                &self.device_id,
                &self.events,
                self.is_new,
            )
            .await?
            .map(Box::new);
        }
        if let Some(p) = self.prov.as_mut() {
            if let Some(request) = p.next_request(acs).await? {
                self.inflight = Some(InFlight::Provision { request: request.clone() });
                return Ok(self.send(acs, request));
            }
        }
        if let Some(p) = self.prov.take() {
            p.finish(acs).await;
        }
        Ok(self.end(acs))
    }

    fn internal_request(&self, acs: &Acs, action: &Internal) -> Option<Body> {
        let root = acs.inner.devices.get(&self.device_id)?.device.data_model.root()?;
        match action {
            Internal::ManagementServer { cr_username, cr_password, interval } => {
                let ms = format!("{root}ManagementServer.");
                Some(Body::SetParameterValues {
                    parameter_list: vec![
                        ParameterValue::string(
                            format!("{ms}ConnectionRequestUsername"),
                            cr_username.clone(),
                        ),
                        ParameterValue::string(
                            format!("{ms}ConnectionRequestPassword"),
                            cr_password.clone(),
                        ),
                        ParameterValue::new(
                            format!("{ms}PeriodicInformEnable"),
                            "true",
                            ValueType::Boolean,
                        ),
                        ParameterValue::new(
                            format!("{ms}PeriodicInformInterval"),
                            interval.to_string(),
                            ValueType::UnsignedInt,
                        ),
                        ParameterValue::new(
                            format!("{ms}PeriodicInformTime"),
                            spread_inform_time(&self.device_id, *interval),
                            ValueType::DateTime,
                        ),
                    ],
                    parameter_key: format!("acsd-bootstrap-{}", now_utc().unix_timestamp()),
                })
            }
        }
    }

    fn send(&mut self, acs: &Acs, body: Body) -> Reply {
        self.rpcs_sent += 1;
        acs.inner.metrics.sent(body.method_name());
        Reply::Envelope {
            envelope: Box::new(envelope(acs.next_request_id(), body)),
            version: self.version,
            fault: false,
        }
    }

    fn end(&mut self, acs: &Acs) -> Reply {
        self.release(acs, SessionOutcome::Completed);
        Reply::Done
    }

    /// Release the device claim and record the session's end.
    pub(crate) fn release(&mut self, acs: &Acs, outcome: SessionOutcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(mut e) = acs.inner.devices.get_mut(&self.device_id) {
            if e.session == Some(self.id) {
                e.session = None;
            }
        }
        acs.inner.metrics.session_ended(outcome);
        acs.inner.metrics.session_seconds.observe(self.started.elapsed().as_secs_f64());
    }

    /// The session timed out: its RPC in flight is a failed attempt.
    pub(crate) async fn expire(&mut self, acs: &Acs) {
        if let Some(inflight) = self.inflight.take() {
            if let Err(e) = self
                .fail_inflight(
                    acs,
                    inflight,
                    rpc::fault("timeout", "the CPE did not answer within the session timeout"),
                )
                .await
            {
                tracing::warn!(device = %self.device_id, error = %e, "could not record a timed-out task");
            }
        }
        tracing::info!(device = %self.device_id, session = self.id, "session expired");
        if let Some(p) = self.prov.take() {
            p.finish(acs).await;
        }
        self.release(acs, SessionOutcome::Expired);
    }

    /// The session is being abandoned (malformed request, connection error).
    pub(crate) async fn abort(&mut self, acs: &Acs, reason: &str) {
        if let Some(inflight) = self.inflight.take() {
            if let Err(e) = self
                .fail_inflight(acs, inflight, rpc::fault("session_aborted", reason.to_string()))
                .await
            {
                tracing::warn!(device = %self.device_id, error = %e, "could not record an aborted task");
            }
        }
        if let Some(p) = self.prov.take() {
            p.finish(acs).await;
        }
        self.release(acs, SessionOutcome::Aborted);
    }

    async fn fail_inflight(
        &mut self,
        acs: &Acs,
        inflight: InFlight,
        fault: TaskFault,
    ) -> Result<(), AcsError> {
        match inflight {
            InFlight::Task { task, .. } => self.fail_task(acs, *task, fault).await,
            InFlight::Provision { .. } => {
                if let Some(p) = self.prov.as_mut() {
                    p.on_lost(&fault.code, &fault.message);
                }
                Ok(())
            }
            InFlight::Internal { .. } => {
                self.record_fault(
                    acs,
                    None,
                    "bootstrap",
                    &fault.code,
                    &fault.message,
                    fault.detail.clone(),
                )
                .await;
                Ok(())
            }
        }
    }

    /// Record a task fault; transient faults are retried with backoff until attempts run out.
    async fn fail_task(
        &mut self,
        acs: &Acs,
        mut task: Task,
        fault: TaskFault,
    ) -> Result<(), AcsError> {
        self.record_fault(
            acs,
            Some(task.id),
            "task",
            &fault.code,
            &fault.message,
            fault.detail.clone(),
        )
        .await;
        let retry = rpc::is_transient(&fault.code) && task.attempts < task.max_attempts;
        tracing::info!(device = %self.device_id, task = task.id, code = %fault.code, retry, "task fault");
        if retry {
            let backoff = retry_backoff(task.attempts);
            task.not_before = now_utc() + backoff;
            acs.inner.metrics.task(TaskOutcome::Retry);
            let due = task.not_before;
            self.finish_task(acs, task, TaskStatus::Queued, None, Some(fault), None).await?;
            acs.mark_due(&self.device_id, due);
        } else {
            self.finish_task(acs, task, TaskStatus::Fault, None, Some(fault), None).await?;
        }
        Ok(())
    }

    async fn finish_task(
        &mut self,
        acs: &Acs,
        task: Task,
        status: TaskStatus,
        result: Option<Value>,
        fault: Option<TaskFault>,
        command_key: Option<String>,
    ) -> Result<(), AcsError> {
        self.finish_task_with(acs, task, status, result, fault, command_key, CacheChange::default())
            .await
    }

    /// Write a task's outcome together with what its RPC changed in the parameter cache.
    #[allow(clippy::too_many_arguments)]
    async fn finish_task_with(
        &mut self,
        acs: &Acs,
        mut task: Task,
        status: TaskStatus,
        result: Option<Value>,
        fault: Option<TaskFault>,
        command_key: Option<String>,
        cache: CacheChange,
    ) -> Result<(), AcsError> {
        task.status = status;
        if result.is_some() {
            task.result = result;
        }
        task.fault = fault;
        task.command_key = command_key;
        acs.inner
            .store
            .complete_task(&task, &cache.forget, &cache.learned)
            .await
            .map_err(AcsError::storage)?;
        match status {
            TaskStatus::Done => acs.inner.metrics.task(TaskOutcome::Done),
            TaskStatus::Fault => acs.inner.metrics.task(TaskOutcome::Fault),
            _ => {}
        }
        acs.notify_task(&task);
        Ok(())
    }

    async fn record_fault(
        &self,
        acs: &Acs,
        task_id: Option<i64>,
        channel: &str,
        code: &str,
        message: &str,
        detail: Value,
    ) {
        let f = NewFault {
            device_id: self.device_id.clone(),
            task_id,
            channel: channel.to_string(),
            code: code.to_string(),
            message: message.to_string(),
            detail,
            retries: 0,
        };
        if let Err(e) = acs.inner.store.insert_fault(&f).await {
            tracing::warn!(device = %self.device_id, error = %e, "could not record fault");
        }
    }

    /// TransferComplete / DUStateChangeComplete: finish the task sent with this CommandKey;
    /// an empty key matches the one outstanding transfer of the device.
    async fn transfer_complete(
        &mut self,
        acs: &Acs,
        command_key: &str,
        fault: &cwmp_schema::FaultStruct,
        extra: Value,
    ) -> Result<(), AcsError> {
        let store = &acs.inner.store;
        let task = if command_key.is_empty() {
            let running = store
                .list_tasks(&TaskFilter {
                    device_id: Some(self.device_id.clone()),
                    status: Some(TaskStatus::Running),
                    ..Default::default()
                })
                .await
                .map_err(AcsError::storage)?;
            let mut awaiting: Vec<Task> =
                running.into_iter().filter(|t| t.command_key.is_some()).collect();
            if awaiting.len() == 1 {
                awaiting.pop()
            } else {
                None
            }
        } else {
            store
                .find_task_by_command_key(&self.device_id, command_key)
                .await
                .map_err(AcsError::storage)?
        };
        let Some(task) = task.filter(|t| t.status == TaskStatus::Running) else {
            tracing::info!(device = %self.device_id, command_key, "transfer completion matches no waiting task");
            return Ok(());
        };
        let mut result = task.result.clone().unwrap_or_else(|| json!({}));
        if let (Value::Object(r), Value::Object(e)) = (&mut result, extra) {
            r.extend(e);
        }
        if fault.is_success() {
            self.finish_task(acs, task, TaskStatus::Done, Some(result), None, None).await
        } else {
            let mut t = task;
            t.result = Some(result);
            let tf = TaskFault {
                code: fault.fault_code.code().to_string(),
                message: if fault.fault_string.is_empty() {
                    fault.fault_code.meaning().to_string()
                } else {
                    fault.fault_string.clone()
                },
                detail: Value::Null,
            };
            self.fail_task(acs, t, tf).await
        }
    }

    /// RequestDownload: queue a Download of the newest matching stored file, if any.
    async fn request_download(&mut self, acs: &Acs, file_type: &str) -> Result<(), AcsError> {
        let device = acs.device(&self.device_id);
        let files = acs.inner.store.list_files().await.map_err(AcsError::storage)?;
        let candidate = files
            .into_iter()
            .filter(|f| f.file_type == file_type && file_matches_device(f, device.as_ref()))
            .max_by_key(|f| f.uploaded_at);
        match candidate {
            Some(f) => {
                let spec = TaskSpec::Download {
                    file_type: Some(f.file_type.clone()),
                    file_name: Some(f.name.clone()),
                    url: None,
                    target_file_name: None,
                    file_size: None,
                    delay_seconds: None,
                    username: None,
                    password: None,
                };
                acs.enqueue_task(provisioning::NewTask::new(self.device_id.clone(), spec)).await?;
            }
            None => {
                tracing::info!(device = %self.device_id, file_type, "RequestDownload: no matching file")
            }
        }
        Ok(())
    }

    async fn resolve_file(
        &self,
        acs: &Acs,
        spec: &TaskSpec,
    ) -> Result<Option<ResolvedFile>, TaskFault> {
        let (file_name, url) = match spec {
            TaskSpec::Download { file_name, url, .. }
            | TaskSpec::ScheduleDownload { file_name, url, .. } => (file_name, url),
            _ => return Ok(None),
        };
        if let Some(url) = url {
            return Ok(Some(ResolvedFile { url: url.clone(), size: 0 }));
        }
        let Some(name) = file_name else {
            return Err(rpc::fault("invalid_task", "download needs fileName or url"));
        };
        let meta = acs
            .inner
            .store
            .get_file(name)
            .await
            .map_err(|e| rpc::fault("storage", e.to_string()))?
            .ok_or_else(|| {
                rpc::fault("file_not_found", format!("no stored file named {name:?}"))
            })?;
        let base = acs.inner.config.public_url.clone().ok_or_else(|| {
            rpc::fault("no_public_url", "set --public-url so CPEs can be given download URLs")
        })?;
        let expires = now_utc().unix_timestamp().max(0).unsigned_abs()
            + acs.inner.config.file_url_ttl.as_secs();
        let url = crate::files::sign_file_url(&base, &meta.name, expires, &acs.inner.config.secret);
        Ok(Some(ResolvedFile { url, size: meta.length }))
    }
}

fn file_matches_device(f: &FileMeta, device: Option<&Device>) -> bool {
    let Some(d) = device else { return f.oui.is_none() && f.product_class.is_none() };
    f.oui.as_deref().is_none_or(|o| o.eq_ignore_ascii_case(&d.oui))
        && f.product_class.as_deref().is_none_or(|p| p == d.product_class)
}

/// Backoff before retry `attempt` (1-based): 10 s, 20 s, 40 s … capped at one hour.
pub(crate) fn retry_backoff(attempt: u32) -> time::Duration {
    let exp = attempt.saturating_sub(1).min(9);
    let secs = (10u64 << exp).min(3600);
    time::Duration::seconds(i64::try_from(secs).unwrap_or(3600))
}

/// Passwords never go into the parameter cache in clear.
fn redact_secrets(mut params: Vec<Parameter>) -> Vec<Parameter> {
    for p in &mut params {
        if p.path.ends_with("Password")
            || p.path.ends_with("KeyPassphrase")
            || p.path.ends_with("PreSharedKey")
        {
            p.value = Some(String::new());
        }
    }
    params
}

/// Bounded metric label for an event code.
pub(crate) fn event_label(code: &EventCode) -> &'static str {
    match code {
        EventCode::Bootstrap => "0 BOOTSTRAP",
        EventCode::Boot => "1 BOOT",
        EventCode::Periodic => "2 PERIODIC",
        EventCode::Scheduled => "3 SCHEDULED",
        EventCode::ValueChange => "4 VALUE CHANGE",
        EventCode::Kicked => "5 KICKED",
        EventCode::ConnectionRequest => "6 CONNECTION REQUEST",
        EventCode::TransferComplete => "7 TRANSFER COMPLETE",
        EventCode::DiagnosticsComplete => "8 DIAGNOSTICS COMPLETE",
        EventCode::RequestDownload => "9 REQUEST DOWNLOAD",
        EventCode::AutonomousTransferComplete => "10 AUTONOMOUS TRANSFER COMPLETE",
        EventCode::DuStateChangeComplete => "11 DU STATE CHANGE COMPLETE",
        EventCode::AutonomousDuStateChangeComplete => "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
        EventCode::Wakeup => "13 WAKEUP",
        EventCode::Heartbeat => "14 HEARTBEAT",
        EventCode::Method(_) => "M",
        EventCode::Vendor(_) => "X",
        EventCode::Other(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn inform_writes_only_changed_values() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut device = Device::new("D", Protocol::Cwmp, "00D09E", "IGD", "S1", now);
        let mut inform = Inform {
            parameter_list: vec![
                ParameterValue::string("Device.DeviceInfo.SoftwareVersion", "1.0"),
                ParameterValue::new("Device.DeviceInfo.UpTime", "10", ValueType::UnsignedInt),
                ParameterValue::string("Device.ManagementServer.ConnectionRequestURL", "http://a"),
            ],
            ..Default::default()
        };
        let mut written = Vec::new();
        let first = apply_inform(&mut device, &inform, None, now, &mut written);
        assert_eq!(first.len(), 3, "everything is new");
        assert_eq!(device.software_version.as_deref(), Some("1.0"));
        assert!(apply_inform(&mut device, &inform, None, now, &mut written).is_empty());

        inform.parameter_list[1].value = "20".into();
        let changed = apply_inform(&mut device, &inform, None, now, &mut written);
        let paths: Vec<_> = changed.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["Device.DeviceInfo.UpTime"]);
        assert_eq!(changed[0].value.as_deref(), Some("20"));

        // A type change counts as a change; a different list writes everything.
        inform.parameter_list[1].value_type = ValueType::String;
        assert_eq!(apply_inform(&mut device, &inform, None, now, &mut written).len(), 1);
        inform.parameter_list.pop();
        assert_eq!(apply_inform(&mut device, &inform, None, now, &mut written).len(), 2);
        // After the cache was dropped (bootstrap, refresh), the caller clears `written`.
        written.clear();
        assert_eq!(apply_inform(&mut device, &inform, None, now, &mut written).len(), 2);
    }

    #[test]
    fn periodic_inform_time_is_spread_and_stable() {
        let a = spread_inform_time("00D09E-IGD-1", 3600);
        let b = spread_inform_time("00D09E-IGD-2", 3600);
        assert_eq!(a, spread_inform_time("00D09E-IGD-1", 3600));
        assert_ne!(a, b);
        assert!(a.starts_with("1970-01-01T"), "{a}");
    }

    #[test]
    fn version_negotiation_picks_highest_common() {
        assert_eq!(negotiate_version("1.0,1.1,1.2,1.3,1.4").as_deref(), Some("1.4"));
        assert_eq!(negotiate_version("1.2, 1.5").as_deref(), Some("1.2"));
        assert_eq!(negotiate_version("junk"), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(retry_backoff(1).whole_seconds(), 10);
        assert_eq!(retry_backoff(2).whole_seconds(), 20);
        assert_eq!(retry_backoff(30).whole_seconds(), 3600);
    }
}
