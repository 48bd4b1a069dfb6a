//! One simulated CWMP CPE: its identity, data model, and how it answers each ACS request.
//!
//! Pure logic, no I/O: [`Cpe::handle`] turns an ACS request into the CPE's response plus an
//! optional [`Action`] the fleet carries out after the session (reboot, download ...).

use std::sync::Arc;

use cwmp_schema::{
    Body, CwmpFault, DeviceIdStruct, EventCode, EventStruct, FaultCode, FaultStruct, Inform,
    ParameterAttributeStruct, ParameterInfo, ParameterValue, SetParameterValuesFault, SoapFault,
    TransferComplete, ValueType,
};

use crate::model::{DeviceModel, Identity, Item, ModelFault, ModelTemplate};

/// Methods the simulated CPE supports (GetRPCMethods).
pub const CPE_METHODS: &[&str] = &[
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "Download",
    "Upload",
    "FactoryReset",
    "ScheduleInform",
    "GetQueuedTransfers",
    "GetAllQueuedTransfers",
    "ScheduleDownload",
    "CancelTransfer",
];

/// Work the CPE does after the session that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Reboot, then inform `1 BOOT` + `M Reboot`.
    Reboot {
        /// CommandKey of the Reboot.
        command_key: String,
    },
    /// Reset to defaults, then inform `0 BOOTSTRAP` + `1 BOOT`.
    FactoryReset,
    /// Fetch `url`, then inform `7 TRANSFER COMPLETE` + `M Download` with TransferComplete.
    Download {
        /// CommandKey of the Download.
        command_key: String,
        /// Where to fetch from.
        url: String,
        /// e.g. `1 Firmware Upgrade Image`.
        file_type: String,
        /// Seconds to wait first.
        delay_seconds: u32,
        /// `M Download` or `M ScheduleDownload`.
        method: &'static str,
    },
    /// Upload a small file to `url` with PUT, then report TransferComplete (`M Upload`).
    Upload {
        /// CommandKey of the Upload.
        command_key: String,
        /// Where to put the file.
        url: String,
        /// Seconds to wait first.
        delay_seconds: u32,
    },
    /// Inform `3 SCHEDULED` + `M ScheduleInform` after `delay_seconds`.
    ScheduleInform {
        /// CommandKey of the ScheduleInform.
        command_key: String,
        /// Delay.
        delay_seconds: u32,
    },
}

/// A simulated CPE.
#[derive(Debug, Clone)]
pub struct Cpe {
    /// Who it is (also the placeholder values of its model).
    pub identity: Identity,
    /// `DeviceId.Manufacturer`.
    pub manufacturer: String,
    /// Its data model.
    pub model: DeviceModel,
    /// Until a session completes after a factory reset or first start, Informs carry
    /// `0 BOOTSTRAP`.
    pub needs_bootstrap: bool,
    /// A TransferComplete to deliver in the next session.
    pub pending_transfer: Option<TransferComplete>,
    /// Extra events for the next Inform (M Reboot, 7 TRANSFER COMPLETE ...).
    pub pending_events: Vec<EventStruct>,
    /// Parameters that changed locally (reported with `4 VALUE CHANGE`).
    pub changed: Vec<String>,
}

/// An event with an empty CommandKey.
pub fn event(code: EventCode) -> EventStruct {
    EventStruct { event_code: code, command_key: String::new() }
}

fn fault(code: u32, text: impl Into<String>) -> Body {
    Body::Fault(SoapFault::new(FaultCode::from_code(code), text))
}

fn model_fault(f: ModelFault, path: &str) -> Body {
    let text = match f {
        ModelFault::InvalidName => format!("invalid parameter name {path}"),
        ModelFault::InvalidType => format!("invalid parameter type for {path}"),
        ModelFault::InvalidValue => format!("invalid parameter value for {path}"),
        ModelFault::NotWritable => format!("{path} is not writable"),
    };
    fault(f.code(), text)
}

fn to_wire(i: &Item) -> ParameterValue {
    ParameterValue::new(
        i.path.clone(),
        i.value.clone(),
        i.value_type.clone().unwrap_or(ValueType::String),
    )
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "0001-01-01T00:00:00Z".into())
}

impl Cpe {
    /// A CPE fresh from the factory. `index` makes the serial, MAC and IP unique.
    pub fn new(
        template: Arc<ModelTemplate>,
        oui: &str,
        product_class: &str,
        serial: String,
        index: u64,
        cr_url: String,
    ) -> Cpe {
        let b = index.to_be_bytes();
        let identity = Identity {
            oui: oui.to_string(),
            product_class: product_class.to_string(),
            mac: format!("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[3], b[4], b[5], b[6], b[7]),
            ip: format!("10.{}.{}.{}", b[5], b[6], b[7]),
            serial,
            cr_url,
        };
        Cpe {
            identity,
            manufacturer: "ACME Networks".into(),
            model: DeviceModel::new(template),
            needs_bootstrap: true,
            pending_transfer: None,
            pending_events: Vec::new(),
            changed: Vec::new(),
        }
    }

    fn root(&self) -> String {
        self.model.template().root.clone()
    }

    /// The ConnectionRequest credentials the ACS set (empty until it sets them).
    pub fn cr_credentials(&self) -> (String, String) {
        let ms = format!("{}ManagementServer.", self.root());
        (
            self.model
                .value(&format!("{ms}ConnectionRequestUsername"), &self.identity)
                .unwrap_or_default(),
            self.model
                .value(&format!("{ms}ConnectionRequestPassword"), &self.identity)
                .unwrap_or_default(),
        )
    }

    /// The Inform for a session opened for `events` (pending events are appended and taken).
    pub fn inform(&mut self, mut events: Vec<EventStruct>) -> Inform {
        if self.needs_bootstrap && !events.iter().any(|e| e.event_code == EventCode::Bootstrap) {
            events.insert(0, event(EventCode::Bootstrap));
        }
        events.append(&mut self.pending_events);
        if self.changed.is_empty() && events.iter().any(|e| e.event_code == EventCode::ValueChange)
        {
            self.local_change();
        }
        let mut params: Vec<ParameterValue> =
            self.model.inform_parameters(&self.identity).iter().map(to_wire).collect();
        if events.iter().any(|e| e.event_code == EventCode::ValueChange) {
            for path in std::mem::take(&mut self.changed) {
                if params.iter().any(|p| p.name == path) {
                    continue;
                }
                if let Some(item) = self.model.get(&path, &self.identity) {
                    params.push(to_wire(&item));
                }
            }
        }
        Inform {
            device_id: DeviceIdStruct {
                manufacturer: self.manufacturer.clone(),
                oui: self.identity.oui.clone(),
                product_class: self.identity.product_class.clone(),
                serial_number: self.identity.serial.clone(),
            },
            events,
            max_envelopes: 1,
            current_time: now_text(),
            retry_count: 0,
            parameter_list: params,
        }
    }

    /// A local change (as if the subscriber edited the WiFi name): reported with `4 VALUE CHANGE`.
    pub fn local_change(&mut self) {
        let root = self.root();
        let candidates = [
            format!("{root}WiFi.SSID.1.SSID"),
            format!("{root}LANDevice.1.WLANConfiguration.1.SSID"),
        ];
        for path in candidates {
            if self.model.exists(&path) {
                let v = format!("home-{}", rand::random::<u16>());
                self.model.set(&path, &v);
                self.changed.push(path);
                return;
            }
        }
    }

    /// The session completed: bootstrap is acknowledged.
    pub fn session_completed(&mut self) {
        self.needs_bootstrap = false;
    }

    /// Answer one ACS request.
    pub fn handle(&mut self, request: &Body) -> (Body, Option<Action>) {
        match request {
            Body::GetRpcMethods => (
                Body::GetRpcMethodsResponse {
                    method_list: CPE_METHODS.iter().map(|m| (*m).to_string()).collect(),
                },
                None,
            ),
            Body::GetParameterValues { parameter_names } => {
                (self.get_values(parameter_names), None)
            }
            Body::SetParameterValues { parameter_list, parameter_key } => {
                (self.set_values(parameter_list, parameter_key), None)
            }
            Body::GetParameterNames { parameter_path, next_level } => {
                (self.get_names(parameter_path, *next_level), None)
            }
            Body::GetParameterAttributes { parameter_names } => {
                (self.get_attributes(parameter_names), None)
            }
            Body::SetParameterAttributes { parameter_list } => {
                for p in parameter_list {
                    if !self.model.exists(&p.name) {
                        return (model_fault(ModelFault::InvalidName, &p.name), None);
                    }
                }
                for p in parameter_list {
                    if p.notification_change {
                        self.model.notifications.insert(p.name.clone(), p.notification);
                    }
                }
                (Body::SetParameterAttributesResponse, None)
            }
            Body::AddObject { object_name, parameter_key } => {
                match self.model.add_object(object_name) {
                    Ok(n) => {
                        self.set_parameter_key(parameter_key);
                        (Body::AddObjectResponse { instance_number: n, status: 0 }, None)
                    }
                    Err(f) => (model_fault(f, object_name), None),
                }
            }
            Body::DeleteObject { object_name, parameter_key } => {
                match self.model.delete_object(object_name) {
                    Ok(()) => {
                        self.set_parameter_key(parameter_key);
                        (Body::DeleteObjectResponse { status: 0 }, None)
                    }
                    Err(f) => (model_fault(f, object_name), None),
                }
            }
            Body::Reboot { command_key } => {
                (Body::RebootResponse, Some(Action::Reboot { command_key: command_key.clone() }))
            }
            Body::FactoryReset => (Body::FactoryResetResponse, Some(Action::FactoryReset)),
            Body::Download(d) => {
                if !d.url.starts_with("http://") {
                    return (fault(9013, "unsupported protocol for file transfer"), None);
                }
                (
                    Body::DownloadResponse {
                        status: 1,
                        start_time: "0001-01-01T00:00:00Z".into(),
                        complete_time: "0001-01-01T00:00:00Z".into(),
                    },
                    Some(Action::Download {
                        command_key: d.command_key.clone(),
                        url: d.url.clone(),
                        file_type: d.file_type.clone(),
                        delay_seconds: d.delay_seconds,
                        method: "Download",
                    }),
                )
            }
            Body::ScheduleDownload(d) => {
                if !d.url.starts_with("http://") {
                    return (fault(9013, "unsupported protocol for file transfer"), None);
                }
                let delay = d.time_window_list.first().map_or(0, |w| w.window_start);
                (
                    Body::ScheduleDownloadResponse,
                    Some(Action::Download {
                        command_key: d.command_key.clone(),
                        url: d.url.clone(),
                        file_type: d.file_type.clone(),
                        delay_seconds: delay,
                        method: "ScheduleDownload",
                    }),
                )
            }
            Body::Upload(u) => {
                if !u.url.starts_with("http://") {
                    return (fault(9013, "unsupported protocol for file transfer"), None);
                }
                (
                    Body::UploadResponse {
                        status: 1,
                        start_time: "0001-01-01T00:00:00Z".into(),
                        complete_time: "0001-01-01T00:00:00Z".into(),
                    },
                    Some(Action::Upload {
                        command_key: u.command_key.clone(),
                        url: u.url.clone(),
                        delay_seconds: u.delay_seconds,
                    }),
                )
            }
            Body::ScheduleInform { delay_seconds, command_key } => (
                Body::ScheduleInformResponse,
                Some(Action::ScheduleInform {
                    command_key: command_key.clone(),
                    delay_seconds: *delay_seconds,
                }),
            ),
            Body::GetQueuedTransfers => {
                (Body::GetQueuedTransfersResponse { transfer_list: Vec::new() }, None)
            }
            Body::GetAllQueuedTransfers => {
                (Body::GetAllQueuedTransfersResponse { transfer_list: Vec::new() }, None)
            }
            Body::CancelTransfer { .. } => (fault(9021, "cannot cancel file transfer"), None),
            other => (fault(9000, format!("method {} not supported", other.method_name())), None),
        }
    }

    fn set_parameter_key(&mut self, key: &str) {
        let path = format!("{}ManagementServer.ParameterKey", self.root());
        self.model.set(&path, key);
    }

    fn get_values(&self, names: &[String]) -> Body {
        let mut out = Vec::new();
        for name in names {
            if name.is_empty() || name.ends_with('.') {
                let prefix = if name.is_empty() { self.root() } else { name.clone() };
                if !self.model.exists(&prefix) {
                    return model_fault(ModelFault::InvalidName, name);
                }
                out.extend(
                    self.model
                        .subtree(&prefix, &self.identity)
                        .iter()
                        .filter(|i| i.value_type.is_some())
                        .map(to_wire),
                );
            } else {
                match self.model.get(name, &self.identity) {
                    Some(i) if i.value_type.is_some() => out.push(to_wire(&i)),
                    _ => return model_fault(ModelFault::InvalidName, name),
                }
            }
        }
        Body::GetParameterValuesResponse { parameter_list: out }
    }

    fn set_values(&mut self, list: &[ParameterValue], key: &str) -> Body {
        let mut faults = Vec::new();
        for p in list {
            if let Err(f) = self.model.check_set(&p.name, &p.value, &p.value_type) {
                faults.push(SetParameterValuesFault {
                    parameter_name: p.name.clone(),
                    code: FaultCode::from_code(f.code()),
                    string: match f {
                        ModelFault::InvalidName => "Invalid parameter name",
                        ModelFault::InvalidType => "Invalid parameter type",
                        ModelFault::InvalidValue => "Invalid parameter value",
                        ModelFault::NotWritable => "Attempt to set a non-writable parameter",
                    }
                    .into(),
                });
            }
        }
        if !faults.is_empty() {
            return Body::Fault(SoapFault {
                faultcode: "Client".into(),
                faultstring: "CWMP fault".into(),
                detail: CwmpFault {
                    code: FaultCode::from_code(9003),
                    string: "Invalid arguments".into(),
                    set_parameter_values_faults: faults,
                },
            });
        }
        for p in list {
            self.model.set(&p.name, p.value.trim_matches(char::is_whitespace));
        }
        self.set_parameter_key(key);
        Body::SetParameterValuesResponse { status: 0 }
    }

    fn get_names(&self, path: &str, next_level: bool) -> Body {
        let root = self.root();
        if path.is_empty() {
            // The root object itself (next level) or the whole tree.
            if next_level {
                return Body::GetParameterNamesResponse {
                    parameter_list: vec![ParameterInfo { name: root, writable: false }],
                };
            }
            return self.get_names(&root, false);
        }
        let Some(item) = self.model.get(path, &self.identity) else {
            return model_fault(ModelFault::InvalidName, path);
        };
        if item.value_type.is_some() {
            if next_level {
                return fault(9003, "NextLevel true on a parameter");
            }
            return Body::GetParameterNamesResponse {
                parameter_list: vec![ParameterInfo { name: item.path, writable: item.writable }],
            };
        }
        let list = self
            .model
            .subtree(path, &self.identity)
            .into_iter()
            .filter(|i| i.path != path)
            .filter(|i| {
                if !next_level {
                    return true;
                }
                let rest = &i.path[path.len()..];
                let rest = rest.strip_suffix('.').unwrap_or(rest);
                !rest.contains('.')
            })
            .map(|i| ParameterInfo { name: i.path, writable: i.writable })
            .collect();
        Body::GetParameterNamesResponse { parameter_list: list }
    }

    fn get_attributes(&self, names: &[String]) -> Body {
        let mut out = Vec::new();
        for name in names {
            let items = if name.is_empty() || name.ends_with('.') {
                let prefix = if name.is_empty() { self.root() } else { name.clone() };
                if !self.model.exists(&prefix) {
                    return model_fault(ModelFault::InvalidName, name);
                }
                self.model
                    .subtree(&prefix, &self.identity)
                    .into_iter()
                    .filter(|i| i.value_type.is_some())
                    .collect()
            } else {
                match self.model.get(name, &self.identity) {
                    Some(i) if i.value_type.is_some() => vec![i],
                    _ => return model_fault(ModelFault::InvalidName, name),
                }
            };
            for i in items {
                let notification = self.model.notifications.get(&i.path).copied().unwrap_or(0);
                out.push(ParameterAttributeStruct {
                    name: i.path,
                    notification,
                    access_list: Vec::new(),
                });
            }
        }
        Body::GetParameterAttributesResponse { parameter_list: out }
    }

    /// Apply a factory reset: defaults back, bootstrap next.
    pub fn factory_reset(&mut self) {
        self.model.reset();
        self.needs_bootstrap = true;
        self.pending_transfer = None;
        self.pending_events.clear();
        self.changed.clear();
        self.pending_events.push(event(EventCode::Boot));
    }

    /// After a reboot: `1 BOOT` and `M Reboot` in the next Inform.
    pub fn rebooted(&mut self, command_key: &str) {
        self.pending_events.push(event(EventCode::Boot));
        self.pending_events.push(EventStruct {
            event_code: EventCode::Method("Reboot".into()),
            command_key: command_key.into(),
        });
    }

    /// A transfer finished (`fault_code` 0 = success): report it in the next session.
    pub fn transfer_done(
        &mut self,
        method: &str,
        command_key: &str,
        fault_code: u32,
        started: String,
        firmware: bool,
    ) {
        if fault_code == 0 && firmware {
            // A firmware image was installed: the device reboots into it.
            self.pending_events.push(event(EventCode::Boot));
        }
        self.pending_events.push(event(EventCode::TransferComplete));
        self.pending_events.push(EventStruct {
            event_code: EventCode::Method(method.into()),
            command_key: command_key.into(),
        });
        self.pending_transfer = Some(TransferComplete {
            command_key: command_key.into(),
            fault_struct: if fault_code == 0 {
                FaultStruct::default()
            } else {
                FaultStruct {
                    fault_code: FaultCode::from_code(fault_code),
                    fault_string: "Download failure".into(),
                }
            },
            start_time: started,
            complete_time: now_text(),
        });
    }
}

/// The current time as CWMP dateTime text.
pub fn now() -> String {
    now_text()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cwmp_schema::SetParameterAttributesStruct;

    fn cpe(model: &str) -> Cpe {
        let t = ModelTemplate::load(model).unwrap();
        Cpe::new(t, "00D09E", "GW", "SIM0001".into(), 1, "http://127.0.0.1:9/SIM0001".into())
    }

    fn fault_code(b: &Body) -> u32 {
        match b {
            Body::Fault(f) => f.detail.code.code(),
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    #[test]
    fn inform_carries_bootstrap_identity_and_forced_parameters() {
        let mut c = cpe("tr181");
        let inf = c.inform(vec![event(EventCode::Boot)]);
        assert_eq!(inf.events[0].event_code, EventCode::Bootstrap);
        assert_eq!(inf.device_id.serial_number, "SIM0001");
        let cr = inf
            .parameter_list
            .iter()
            .find(|p| p.name == "Device.ManagementServer.ConnectionRequestURL")
            .unwrap();
        assert_eq!(cr.value, "http://127.0.0.1:9/SIM0001");
        c.session_completed();
        let inf = c.inform(vec![event(EventCode::Periodic)]);
        assert_eq!(inf.events.len(), 1);
    }

    #[test]
    fn get_values_names_and_faults() {
        let mut c = cpe("tr098");
        let (r, _) = c.handle(&Body::GetParameterValues {
            parameter_names: vec!["InternetGatewayDevice.DeviceInfo.SerialNumber".into()],
        });
        let Body::GetParameterValuesResponse { parameter_list } = r else { panic!() };
        assert_eq!(parameter_list[0].value, "SIM0001");
        let (r, _) = c.handle(&Body::GetParameterValues {
            parameter_names: vec!["InternetGatewayDevice.DeviceInfo.".into()],
        });
        let Body::GetParameterValuesResponse { parameter_list } = r else { panic!() };
        assert!(parameter_list.len() > 5);
        let (r, _) = c.handle(&Body::GetParameterValues {
            parameter_names: vec!["InternetGatewayDevice.Nope".into()],
        });
        assert_eq!(fault_code(&r), 9005);
        let (r, _) = c.handle(&Body::GetParameterNames {
            parameter_path: "InternetGatewayDevice.".into(),
            next_level: true,
        });
        let Body::GetParameterNamesResponse { parameter_list } = r else { panic!() };
        assert!(parameter_list.iter().any(|p| p.name == "InternetGatewayDevice.DeviceInfo."));
        assert!(parameter_list.iter().all(|p| !p.name.contains("DeviceInfo.SerialNumber")));
        let (r, _) =
            c.handle(&Body::GetParameterNames { parameter_path: String::new(), next_level: false });
        let Body::GetParameterNamesResponse { parameter_list } = r else { panic!() };
        assert!(parameter_list.len() > 300);
    }

    #[test]
    fn set_values_applies_or_faults_per_parameter() {
        let mut c = cpe("tr181");
        let ok = Body::SetParameterValues {
            parameter_list: vec![
                ParameterValue::string("Device.WiFi.SSID.1.SSID", "home"),
                ParameterValue::new(
                    "Device.ManagementServer.PeriodicInformInterval",
                    "300",
                    ValueType::UnsignedInt,
                ),
                ParameterValue::string("Device.ManagementServer.ConnectionRequestUsername", "u"),
                ParameterValue::string("Device.ManagementServer.ConnectionRequestPassword", "p"),
            ],
            parameter_key: "k1".into(),
        };
        assert_eq!(c.handle(&ok).0, Body::SetParameterValuesResponse { status: 0 });
        assert_eq!(c.cr_credentials(), ("u".into(), "p".into()));
        let bad = Body::SetParameterValues {
            parameter_list: vec![
                ParameterValue::string("Device.DeviceInfo.SerialNumber", "x"),
                ParameterValue::string("Device.Nope", "x"),
                ParameterValue::new("Device.WiFi.Radio.1.Channel", "abc", ValueType::UnsignedInt),
            ],
            parameter_key: "k2".into(),
        };
        let (r, _) = c.handle(&bad);
        let Body::Fault(f) = r else { panic!() };
        assert_eq!(f.detail.code.code(), 9003);
        let codes: Vec<u32> =
            f.detail.set_parameter_values_faults.iter().map(|x| x.code.code()).collect();
        assert_eq!(codes, vec![9008, 9005, 9007]);
        // Nothing of a rejected request is applied.
        let (r, _) = c.handle(&Body::GetParameterValues {
            parameter_names: vec!["Device.ManagementServer.ParameterKey".into()],
        });
        let Body::GetParameterValuesResponse { parameter_list } = r else { panic!() };
        assert_eq!(parameter_list[0].value, "k1");
    }

    #[test]
    fn objects_attributes_and_transfers() {
        let mut c = cpe("tr181");
        let (r, _) = c.handle(&Body::AddObject {
            object_name: "Device.NAT.PortMapping.".into(),
            parameter_key: "a".into(),
        });
        assert_eq!(r, Body::AddObjectResponse { instance_number: 5, status: 0 });
        let (r, _) = c.handle(&Body::DeleteObject {
            object_name: "Device.NAT.PortMapping.5.".into(),
            parameter_key: "b".into(),
        });
        assert_eq!(r, Body::DeleteObjectResponse { status: 0 });
        let (r, _) = c.handle(&Body::DeleteObject {
            object_name: "Device.NAT.PortMapping.5.".into(),
            parameter_key: "b".into(),
        });
        assert_eq!(fault_code(&r), 9005);
        let (r, _) = c.handle(&Body::SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: "Device.DeviceInfo.SoftwareVersion".into(),
                notification_change: true,
                notification: 2,
                access_list_change: false,
                access_list: vec![],
            }],
        });
        assert_eq!(r, Body::SetParameterAttributesResponse);
        let (r, _) = c.handle(&Body::GetParameterAttributes {
            parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
        });
        let Body::GetParameterAttributesResponse { parameter_list } = r else { panic!() };
        assert_eq!(parameter_list[0].notification, 2);
        let (_, a) = c.handle(&Body::Reboot { command_key: "r1".into() });
        assert_eq!(a, Some(Action::Reboot { command_key: "r1".into() }));
        let (_, a) = c.handle(&Body::FactoryReset);
        assert_eq!(a, Some(Action::FactoryReset));
        c.transfer_done("Download", "d1", 0, now(), true);
        let inf = c.inform(vec![]);
        let codes: Vec<String> =
            inf.events.iter().map(|e| e.event_code.as_wire().into_owned()).collect();
        assert!(
            codes.contains(&"7 TRANSFER COMPLETE".to_string())
                && codes.contains(&"M Download".to_string()),
            "{codes:?}"
        );
        assert!(c.pending_transfer.is_some());
        let (r, _) = c.handle(&Body::InformResponse { max_envelopes: 1 });
        assert_eq!(fault_code(&r), 9000);
    }
}
