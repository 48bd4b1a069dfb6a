//! A test CPE that speaks CWMP over real HTTP to the server under test: an in-memory data model,
//! Informs, and answers to every ACS RPC, with the faults a real CPE gives.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use cwmp_schema::{
    Body, CwmpFault, CwmpVersion, DeviceIdStruct, Envelope, EventCode, EventStruct, FaultCode,
    Inform, ParameterInfo, ParameterValue, SetParameterValuesFault, SoapFault, TransferComplete,
    ValueType,
};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Param {
    pub value: String,
    pub ty: ValueType,
    pub writable: bool,
}

/// What one HTTP exchange returned.
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub body: Option<Body>,
    pub cookie: Option<String>,
    pub headers: http::HeaderMap,
}

#[derive(Debug)]
pub struct TestCpe {
    pub oui: String,
    pub product_class: String,
    pub serial: String,
    pub root: String,
    pub version: CwmpVersion,
    pub params: BTreeMap<String, Param>,
    pub send_cookies: bool,
    pub cookie: Option<String>,
    /// RPC names received, in order.
    pub received: Vec<String>,
    /// Download command keys to report after the next boot.
    pub pending_transfer: Option<String>,
    /// URL of the last Download request.
    pub download_url: Option<String>,
    pub authorization: Option<String>,
    sender: Option<SendRequest<Full<Bytes>>>,
    acs: SocketAddr,
}

impl TestCpe {
    pub fn tr181(acs: SocketAddr, serial: &str) -> Self {
        let mut cpe = Self::empty(acs, serial, "Device.");
        for (k, v, ty, w) in [
            ("Device.DeviceInfo.Manufacturer", "TestCo", ValueType::String, false),
            ("Device.DeviceInfo.ModelName", "T-181", ValueType::String, false),
            ("Device.DeviceInfo.SoftwareVersion", "1.0.0", ValueType::String, false),
            ("Device.DeviceInfo.HardwareVersion", "hw1", ValueType::String, false),
            ("Device.ManagementServer.URL", "http://acs", ValueType::String, true),
            ("Device.ManagementServer.ConnectionRequestURL", "", ValueType::String, false),
            ("Device.ManagementServer.ConnectionRequestUsername", "", ValueType::String, true),
            ("Device.ManagementServer.ConnectionRequestPassword", "", ValueType::String, true),
            ("Device.ManagementServer.PeriodicInformEnable", "false", ValueType::Boolean, true),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "86400",
                ValueType::UnsignedInt,
                true,
            ),
            (
                "Device.ManagementServer.PeriodicInformTime",
                "0001-01-01T00:00:00Z",
                ValueType::DateTime,
                true,
            ),
            ("Device.ManagementServer.ParameterKey", "", ValueType::String, false),
            ("Device.WiFi.SSID.1.SSID", "default", ValueType::String, true),
            ("Device.WiFi.SSID.1.Enable", "true", ValueType::Boolean, true),
        ] {
            cpe.params.insert(k.into(), Param { value: v.into(), ty, writable: w });
        }
        cpe
    }

    pub fn tr098(acs: SocketAddr, serial: &str) -> Self {
        let mut cpe = Self::empty(acs, serial, "InternetGatewayDevice.");
        for (k, v, ty, w) in [
            (
                "InternetGatewayDevice.DeviceSummary",
                "InternetGatewayDevice:1.4[](Baseline:2)",
                ValueType::String,
                false,
            ),
            ("InternetGatewayDevice.DeviceInfo.Manufacturer", "OldCo", ValueType::String, false),
            ("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "3.2", ValueType::String, false),
            ("InternetGatewayDevice.DeviceInfo.HardwareVersion", "A", ValueType::String, false),
            (
                "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
                "",
                ValueType::String,
                false,
            ),
            (
                "InternetGatewayDevice.ManagementServer.ConnectionRequestUsername",
                "",
                ValueType::String,
                true,
            ),
            (
                "InternetGatewayDevice.ManagementServer.ConnectionRequestPassword",
                "",
                ValueType::String,
                true,
            ),
            (
                "InternetGatewayDevice.ManagementServer.PeriodicInformEnable",
                "false",
                ValueType::Boolean,
                true,
            ),
            (
                "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                "86400",
                ValueType::UnsignedInt,
                true,
            ),
            (
                "InternetGatewayDevice.ManagementServer.PeriodicInformTime",
                "0001-01-01T00:00:00Z",
                ValueType::DateTime,
                true,
            ),
            ("InternetGatewayDevice.ManagementServer.ParameterKey", "", ValueType::String, false),
            (
                "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID",
                "old",
                ValueType::String,
                true,
            ),
        ] {
            cpe.params.insert(k.into(), Param { value: v.into(), ty, writable: w });
        }
        cpe
    }

    fn empty(acs: SocketAddr, serial: &str, root: &str) -> Self {
        TestCpe {
            oui: "00D09E".into(),
            product_class: "TestBox".into(),
            serial: serial.into(),
            root: root.into(),
            version: CwmpVersion::V1_2,
            params: BTreeMap::new(),
            send_cookies: true,
            cookie: None,
            received: Vec::new(),
            pending_transfer: None,
            download_url: None,
            authorization: None,
            sender: None,
            acs,
        }
    }

    pub fn device_id(&self) -> String {
        provisioning::cwmp_device_id(&self.oui, &self.product_class, &self.serial)
    }

    pub fn value(&self, path: &str) -> Option<&str> {
        self.params.get(path).map(|p| p.value.as_str())
    }

    pub fn set_connection_request_url(&mut self, url: &str) {
        let key = format!("{}ManagementServer.ConnectionRequestURL", self.root);
        if let Some(p) = self.params.get_mut(&key) {
            p.value = url.to_string();
        }
    }

    /// Drop the current TCP connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.sender = None;
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = tokio::net::TcpStream::connect(self.acs).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// POST raw bytes (empty = empty POST).
    pub async fn post_raw(&mut self, body: Vec<u8>) -> anyhow::Result<Exchange> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let mut req = http::Request::post("/").header("Content-Type", "text/xml; charset=utf-8");
        if !body.is_empty() {
            req = req.header("SOAPAction", "");
        }
        if let (true, Some(c)) = (self.send_cookies, &self.cookie) {
            req = req.header("Cookie", c.clone());
        }
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a.clone());
        }
        let req = req.body(Full::new(Bytes::from(body)))?;
        let sender = self.sender.as_mut().ok_or_else(|| anyhow::anyhow!("no connection"))?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(c) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = c.split(';').next().map(str::to_string);
        }
        if headers.get("connection").is_some_and(|v| v == "close") {
            self.sender = None;
        }
        let bytes = resp.into_body().collect().await?.to_bytes();
        let body = if bytes.is_empty() || !(status == 200 || status == 500) {
            None
        } else {
            Some(cwmp_schema::decode(&bytes)?.envelope.body)
        };
        Ok(Exchange { status, body, cookie: self.cookie.clone(), headers })
    }

    pub fn inform_envelope(&self, events: &[&str]) -> Vec<u8> {
        let mut list = Vec::new();
        for key in [
            "DeviceInfo.HardwareVersion",
            "DeviceInfo.SoftwareVersion",
            "ManagementServer.ConnectionRequestURL",
            "ManagementServer.ParameterKey",
            "ManagementServer.PeriodicInformInterval",
        ] {
            let path = format!("{}{key}", self.root);
            if let Some(p) = self.params.get(&path) {
                list.push(ParameterValue::new(path, p.value.clone(), p.ty.clone()));
            }
        }
        let inform = Inform {
            device_id: DeviceIdStruct {
                manufacturer: "TestCo".into(),
                oui: self.oui.clone(),
                product_class: self.product_class.clone(),
                serial_number: self.serial.clone(),
            },
            events: events
                .iter()
                .map(|e| {
                    let (code, key) = e.split_once('|').unwrap_or((e, ""));
                    EventStruct { event_code: EventCode::parse(code), command_key: key.to_string() }
                })
                .collect(),
            max_envelopes: 1,
            current_time: "2026-11-25T12:00:00Z".into(),
            retry_count: 0,
            parameter_list: list,
        };
        cwmp_schema::encode(
            &Envelope::new(Some("cpe-1".into()), Body::Inform(inform)),
            self.version,
        )
    }

    /// Send the Inform; returns the exchange (InformResponse expected).
    pub async fn inform(&mut self, events: &[&str]) -> anyhow::Result<Exchange> {
        self.cookie = None;
        let body = self.inform_envelope(events);
        self.post_raw(body).await
    }

    /// A whole session: Inform, optional TransferComplete, then answer RPCs until 204.
    pub async fn session(&mut self, events: &[&str]) -> anyhow::Result<Vec<String>> {
        let first = self.inform(events).await?;
        anyhow::ensure!(first.status == 200, "inform answered {}", first.status);
        anyhow::ensure!(
            matches!(first.body, Some(Body::InformResponse { .. })),
            "not an InformResponse: {:?}",
            first.body
        );
        let mut rpcs = Vec::new();
        let mut next = if let Some(key) = self.pending_transfer.take() {
            let tc = Body::TransferComplete(TransferComplete {
                command_key: key,
                fault_struct: Default::default(),
                start_time: "2026-11-25T12:00:00Z".into(),
                complete_time: "2026-11-25T12:00:05Z".into(),
            });
            let r = self
                .post_raw(cwmp_schema::encode(
                    &Envelope::new(Some("cpe-2".into()), tc),
                    self.version,
                ))
                .await?;
            anyhow::ensure!(matches!(r.body, Some(Body::TransferCompleteResponse)), "{:?}", r.body);
            self.post_raw(Vec::new()).await?
        } else {
            self.post_raw(Vec::new()).await?
        };
        for _ in 0..100 {
            match next.status {
                204 => return Ok(rpcs),
                200 => {}
                other => anyhow::bail!("unexpected status {other}"),
            }
            let Some(request) = next.body.take() else { anyhow::bail!("200 without a body") };
            rpcs.push(request.method_name().to_string());
            self.received.push(request.method_name().to_string());
            let answer = self.answer(request);
            next = self
                .post_raw(cwmp_schema::encode(
                    &Envelope::new(Some("cpe-r".into()), answer),
                    self.version,
                ))
                .await?;
        }
        anyhow::bail!("session did not end")
    }

    fn fault(code: u32, msg: &str) -> Body {
        Body::Fault(SoapFault::new(FaultCode::from_code(code), msg))
    }

    /// The CPE's answer to one ACS request.
    pub fn answer(&mut self, request: Body) -> Body {
        match request {
            Body::GetParameterValues { parameter_names } => {
                let mut out = Vec::new();
                for n in parameter_names {
                    let matches: Vec<_> = self
                        .params
                        .iter()
                        .filter(|(k, _)| {
                            if n.ends_with('.') || n.is_empty() {
                                k.starts_with(&n)
                            } else {
                                **k == n
                            }
                        })
                        .map(|(k, p)| {
                            ParameterValue::new(
                                k.clone(),
                                if k.ends_with("Password") {
                                    String::new()
                                } else {
                                    p.value.clone()
                                },
                                p.ty.clone(),
                            )
                        })
                        .collect();
                    if matches.is_empty() {
                        return Self::fault(9005, "Invalid parameter name");
                    }
                    out.extend(matches);
                }
                Body::GetParameterValuesResponse { parameter_list: out }
            }
            Body::SetParameterValues { parameter_list, parameter_key } => {
                let mut faults = Vec::new();
                for p in &parameter_list {
                    match self.params.get(&p.name) {
                        None => faults.push((p.name.clone(), 9005, "Invalid parameter name")),
                        Some(x) if !x.writable => faults.push((
                            p.name.clone(),
                            9008,
                            "Attempt to set a non-writable parameter",
                        )),
                        _ => {}
                    }
                }
                if !faults.is_empty() {
                    let mut f = SoapFault::new(FaultCode::from_code(9003), "Invalid arguments");
                    f.detail = CwmpFault {
                        code: FaultCode::from_code(9003),
                        string: "Invalid arguments".into(),
                        set_parameter_values_faults: faults
                            .into_iter()
                            .map(|(n, c, s)| SetParameterValuesFault {
                                parameter_name: n,
                                code: FaultCode::from_code(c),
                                string: s.into(),
                            })
                            .collect(),
                    };
                    return Body::Fault(f);
                }
                for p in parameter_list {
                    if let Some(x) = self.params.get_mut(&p.name) {
                        x.value = p.value;
                    }
                }
                let key = format!("{}ManagementServer.ParameterKey", self.root);
                if let Some(x) = self.params.get_mut(&key) {
                    x.value = parameter_key;
                }
                Body::SetParameterValuesResponse { status: 0 }
            }
            Body::GetParameterNames { parameter_path, next_level } => {
                let mut names: BTreeMap<String, bool> = BTreeMap::new();
                for (k, p) in &self.params {
                    if !k.starts_with(&parameter_path) {
                        continue;
                    }
                    let rest = &k[parameter_path.len()..];
                    let segs: Vec<&str> = rest.split('.').collect();
                    for i in 1..segs.len() {
                        names.insert(format!("{parameter_path}{}.", segs[..i].join(".")), false);
                    }
                    names.insert(k.clone(), p.writable);
                }
                if names.is_empty() {
                    return Self::fault(9005, "Invalid parameter name");
                }
                let list = names
                    .into_iter()
                    .filter(|(n, _)| {
                        !next_level
                            || n[parameter_path.len()..].trim_end_matches('.').split('.').count()
                                == 1
                    })
                    .map(|(name, writable)| ParameterInfo { name, writable })
                    .collect();
                Body::GetParameterNamesResponse { parameter_list: list }
            }
            Body::AddObject { object_name, .. } => {
                let n = (1..)
                    .find(|i| {
                        !self.params.keys().any(|k| k.starts_with(&format!("{object_name}{i}.")))
                    })
                    .unwrap_or(1);
                self.params.insert(
                    format!("{object_name}{n}.SSID"),
                    Param { value: String::new(), ty: ValueType::String, writable: true },
                );
                Body::AddObjectResponse { instance_number: n, status: 0 }
            }
            Body::DeleteObject { object_name, .. } => {
                self.params.retain(|k, _| !k.starts_with(&object_name));
                Body::DeleteObjectResponse { status: 0 }
            }
            Body::Reboot { .. } => Body::RebootResponse,
            Body::FactoryReset => Body::FactoryResetResponse,
            Body::Download(d) => {
                self.pending_transfer = Some(d.command_key);
                self.download_url = Some(d.url);
                Body::DownloadResponse {
                    status: 1,
                    start_time: "0001-01-01T00:00:00Z".into(),
                    complete_time: "0001-01-01T00:00:00Z".into(),
                }
            }
            Body::GetRpcMethods => Body::GetRpcMethodsResponse {
                method_list: vec!["GetParameterValues".into(), "SetParameterValues".into()],
            },
            Body::ScheduleInform { .. } => Body::ScheduleInformResponse,
            Body::GetParameterAttributes { parameter_names } => {
                Body::GetParameterAttributesResponse {
                    parameter_list: parameter_names
                        .into_iter()
                        .map(|name| cwmp_schema::ParameterAttributeStruct {
                            name,
                            notification: 0,
                            access_list: vec!["Subscriber".into()],
                        })
                        .collect(),
                }
            }
            Body::SetParameterAttributes { .. } => Body::SetParameterAttributesResponse,
            Body::Upload(u) => {
                self.pending_transfer = Some(u.command_key);
                Body::UploadResponse {
                    status: 1,
                    start_time: "0001-01-01T00:00:00Z".into(),
                    complete_time: "0001-01-01T00:00:00Z".into(),
                }
            }
            Body::GetAllQueuedTransfers => Body::GetAllQueuedTransfersResponse {
                transfer_list: vec![cwmp_schema::AllQueuedTransferStruct {
                    command_key: "k".into(),
                    state: 2,
                    is_download: true,
                    file_type: "1 Firmware Upgrade Image".into(),
                    file_size: 10,
                    target_file_name: String::new(),
                }],
            },
            Body::GetQueuedTransfers => {
                Body::GetQueuedTransfersResponse { transfer_list: Vec::new() }
            }
            Body::ScheduleDownload(d) => {
                self.pending_transfer = Some(d.command_key);
                Body::ScheduleDownloadResponse
            }
            Body::CancelTransfer { .. } => Body::CancelTransferResponse,
            Body::ChangeDuState(_) => Body::ChangeDuStateResponse,
            other => Self::fault(9000, &format!("{} not supported", other.method_name())),
        }
    }
}
