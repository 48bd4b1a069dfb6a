//! The typed CWMP messages: one Rust type per SOAP structure of `cwmp-1-x.xsd`.
//!
//! All text is owned (`String`) so callers can keep messages beyond the request body.
//! Date/time fields keep the raw text the peer sent (CPEs send all sorts of dateTimes);
//! the decoder reports a [`crate::Warning`] when one is not a valid `xsd:dateTime`.

use crate::codes::{EventCode, FaultCode, ValueType};

/// A CWMP SOAP envelope: header plus exactly one message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Envelope {
    /// The CWMP SOAP header elements (all optional).
    pub header: Header,
    /// The single RPC request, response or fault in the SOAP body.
    pub body: Body,
}

impl Envelope {
    /// An envelope with the given header `ID` and body.
    pub fn new(id: Option<String>, body: Body) -> Self {
        Envelope { header: Header { id, ..Header::default() }, body }
    }
}

/// The CWMP SOAP header elements (TR-069 section 3.4.1 and A.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Header {
    /// `cwmp:ID` (mustUnderstand 1): correlates a request with its response.
    pub id: Option<String>,
    /// `cwmp:HoldRequests` (mustUnderstand 1): ACS asks the CPE not to send requests.
    pub hold_requests: Option<bool>,
    /// `cwmp:NoMoreRequests`: deprecated, still sent by old CPE firmware.
    pub no_more_requests: Option<bool>,
    /// `cwmp:SessionTimeout` (CWMP 1.3+, mustUnderstand 0), in seconds.
    pub session_timeout: Option<u32>,
    /// `cwmp:SupportedCWMPVersions` (CWMP 1.4+, mustUnderstand 0), e.g. `"1.0,1.1,1.2,1.3,1.4"`.
    pub supported_cwmp_versions: Option<String>,
    /// `cwmp:UseCWMPVersion` (CWMP 1.4+, mustUnderstand 1), e.g. `"1.4"`.
    pub use_cwmp_version: Option<String>,
}

/// Every CWMP message in both directions, plus SOAP faults.
///
/// Variant names follow the wire element names, with `DU` spelled `Du` and `RPC` spelled
/// `Rpc`; [`Body::method_name`] gives the exact wire name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[allow(missing_docs)]
pub enum Body {
    // ---- CPE -> ACS requests and their ACS responses -------------------------------------
    Inform(Inform),
    InformResponse {
        max_envelopes: u32,
    },
    TransferComplete(TransferComplete),
    TransferCompleteResponse,
    AutonomousTransferComplete(AutonomousTransferComplete),
    AutonomousTransferCompleteResponse,
    DuStateChangeComplete(DuStateChangeComplete),
    DuStateChangeCompleteResponse,
    AutonomousDuStateChangeComplete(AutonomousDuStateChangeComplete),
    AutonomousDuStateChangeCompleteResponse,
    RequestDownload {
        file_type: String,
        /// `FileTypeArg` entries as (`Name`, `Value`).
        file_type_arg: Vec<(String, String)>,
    },
    RequestDownloadResponse,
    Kicked {
        command: String,
        referer: String,
        arg: String,
        next: String,
    },
    KickedResponse {
        next_url: String,
    },

    // ---- both directions -----------------------------------------------------------------
    GetRpcMethods,
    GetRpcMethodsResponse {
        method_list: Vec<String>,
    },

    // ---- ACS -> CPE requests and their CPE responses -------------------------------------
    SetParameterValues {
        parameter_list: Vec<ParameterValue>,
        parameter_key: String,
    },
    SetParameterValuesResponse {
        /// 0 = applied, 1 = committed but not yet applied.
        status: u32,
    },
    GetParameterValues {
        parameter_names: Vec<String>,
    },
    GetParameterValuesResponse {
        parameter_list: Vec<ParameterValue>,
    },
    GetParameterNames {
        parameter_path: String,
        next_level: bool,
    },
    GetParameterNamesResponse {
        parameter_list: Vec<ParameterInfo>,
    },
    SetParameterAttributes {
        parameter_list: Vec<SetParameterAttributesStruct>,
    },
    SetParameterAttributesResponse,
    GetParameterAttributes {
        parameter_names: Vec<String>,
    },
    GetParameterAttributesResponse {
        parameter_list: Vec<ParameterAttributeStruct>,
    },
    AddObject {
        object_name: String,
        parameter_key: String,
    },
    AddObjectResponse {
        instance_number: u32,
        status: u32,
    },
    DeleteObject {
        object_name: String,
        parameter_key: String,
    },
    DeleteObjectResponse {
        status: u32,
    },
    Reboot {
        command_key: String,
    },
    RebootResponse,
    Download(Download),
    DownloadResponse {
        status: u32,
        start_time: String,
        complete_time: String,
    },
    Upload(Upload),
    UploadResponse {
        status: u32,
        start_time: String,
        complete_time: String,
    },
    FactoryReset,
    FactoryResetResponse,
    GetQueuedTransfers,
    GetQueuedTransfersResponse {
        transfer_list: Vec<QueuedTransferStruct>,
    },
    GetAllQueuedTransfers,
    GetAllQueuedTransfersResponse {
        transfer_list: Vec<AllQueuedTransferStruct>,
    },
    ScheduleInform {
        delay_seconds: u32,
        command_key: String,
    },
    ScheduleInformResponse,
    ScheduleDownload(ScheduleDownload),
    ScheduleDownloadResponse,
    CancelTransfer {
        command_key: String,
    },
    CancelTransferResponse,
    ChangeDuState(ChangeDuState),
    ChangeDuStateResponse,

    // ---- faults (both directions) --------------------------------------------------------
    Fault(SoapFault),
}

impl Body {
    /// The wire element name of this message, e.g. `"GetParameterValuesResponse"`;
    /// `"Fault"` for a SOAP fault.
    pub fn method_name(&self) -> &'static str {
        match self {
            Body::Inform(_) => "Inform",
            Body::InformResponse { .. } => "InformResponse",
            Body::TransferComplete(_) => "TransferComplete",
            Body::TransferCompleteResponse => "TransferCompleteResponse",
            Body::AutonomousTransferComplete(_) => "AutonomousTransferComplete",
            Body::AutonomousTransferCompleteResponse => "AutonomousTransferCompleteResponse",
            Body::DuStateChangeComplete(_) => "DUStateChangeComplete",
            Body::DuStateChangeCompleteResponse => "DUStateChangeCompleteResponse",
            Body::AutonomousDuStateChangeComplete(_) => "AutonomousDUStateChangeComplete",
            Body::AutonomousDuStateChangeCompleteResponse => {
                "AutonomousDUStateChangeCompleteResponse"
            }
            Body::RequestDownload { .. } => "RequestDownload",
            Body::RequestDownloadResponse => "RequestDownloadResponse",
            Body::Kicked { .. } => "Kicked",
            Body::KickedResponse { .. } => "KickedResponse",
            Body::GetRpcMethods => "GetRPCMethods",
            Body::GetRpcMethodsResponse { .. } => "GetRPCMethodsResponse",
            Body::SetParameterValues { .. } => "SetParameterValues",
            Body::SetParameterValuesResponse { .. } => "SetParameterValuesResponse",
            Body::GetParameterValues { .. } => "GetParameterValues",
            Body::GetParameterValuesResponse { .. } => "GetParameterValuesResponse",
            Body::GetParameterNames { .. } => "GetParameterNames",
            Body::GetParameterNamesResponse { .. } => "GetParameterNamesResponse",
            Body::SetParameterAttributes { .. } => "SetParameterAttributes",
            Body::SetParameterAttributesResponse => "SetParameterAttributesResponse",
            Body::GetParameterAttributes { .. } => "GetParameterAttributes",
            Body::GetParameterAttributesResponse { .. } => "GetParameterAttributesResponse",
            Body::AddObject { .. } => "AddObject",
            Body::AddObjectResponse { .. } => "AddObjectResponse",
            Body::DeleteObject { .. } => "DeleteObject",
            Body::DeleteObjectResponse { .. } => "DeleteObjectResponse",
            Body::Reboot { .. } => "Reboot",
            Body::RebootResponse => "RebootResponse",
            Body::Download(_) => "Download",
            Body::DownloadResponse { .. } => "DownloadResponse",
            Body::Upload(_) => "Upload",
            Body::UploadResponse { .. } => "UploadResponse",
            Body::FactoryReset => "FactoryReset",
            Body::FactoryResetResponse => "FactoryResetResponse",
            Body::GetQueuedTransfers => "GetQueuedTransfers",
            Body::GetQueuedTransfersResponse { .. } => "GetQueuedTransfersResponse",
            Body::GetAllQueuedTransfers => "GetAllQueuedTransfers",
            Body::GetAllQueuedTransfersResponse { .. } => "GetAllQueuedTransfersResponse",
            Body::ScheduleInform { .. } => "ScheduleInform",
            Body::ScheduleInformResponse => "ScheduleInformResponse",
            Body::ScheduleDownload(_) => "ScheduleDownload",
            Body::ScheduleDownloadResponse => "ScheduleDownloadResponse",
            Body::CancelTransfer { .. } => "CancelTransfer",
            Body::CancelTransferResponse => "CancelTransferResponse",
            Body::ChangeDuState(_) => "ChangeDUState",
            Body::ChangeDuStateResponse => "ChangeDUStateResponse",
            Body::Fault(_) => "Fault",
        }
    }

    /// True for a SOAP fault.
    pub fn is_fault(&self) -> bool {
        matches!(self, Body::Fault(_))
    }

    /// True for messages that are responses (their name ends in `Response`).
    pub fn is_response(&self) -> bool {
        self.method_name().ends_with("Response")
    }
}

/// `Inform` (TR-069 A.3.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Inform {
    /// Who the CPE is.
    pub device_id: DeviceIdStruct,
    /// Why it is informing.
    pub events: Vec<EventStruct>,
    /// How many envelopes the CPE accepts in one HTTP response (always 1 in practice).
    pub max_envelopes: u32,
    /// The CPE's clock, raw text as sent.
    pub current_time: String,
    /// Number of prior failed session attempts.
    pub retry_count: u32,
    /// Forced and changed parameters.
    pub parameter_list: Vec<ParameterValue>,
}

/// `DeviceIdStruct`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DeviceIdStruct {
    /// Manufacturer name.
    pub manufacturer: String,
    /// Organizationally unique identifier, six hex digits (case kept as sent).
    pub oui: String,
    /// Product class (may be empty).
    pub product_class: String,
    /// Serial number.
    pub serial_number: String,
}

/// `EventStruct`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct EventStruct {
    /// The event code.
    pub event_code: EventCode,
    /// The CommandKey of the RPC that caused an `M ...` event (often empty).
    pub command_key: String,
}

/// `ParameterValueStruct`: a parameter name with a typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ParameterValue {
    /// Full parameter path, e.g. `Device.DeviceInfo.SoftwareVersion`.
    pub name: String,
    /// The value as text. Typed values (`int`, `boolean` ...) are trimmed when decoded;
    /// `string` values are kept exactly as sent.
    pub value: String,
    /// The `xsi:type` of the value.
    pub value_type: ValueType,
}

impl ParameterValue {
    /// A value of the given type.
    pub fn new(name: impl Into<String>, value: impl Into<String>, value_type: ValueType) -> Self {
        ParameterValue { name: name.into(), value: value.into(), value_type }
    }

    /// An `xsd:string` value.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, value, ValueType::String)
    }

    /// The value read as an `xsd:boolean` (`true`/`false`/`1`/`0`, any case, trimmed).
    pub fn as_bool(&self) -> Option<bool> {
        crate::codes::parse_bool(&self.value)
    }
}

/// `ParameterInfoStruct` (GetParameterNamesResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ParameterInfo {
    /// Parameter or object path (objects end with `.`).
    pub name: String,
    /// Whether the ACS may set it (or add/delete instances for an object).
    pub writable: bool,
}

/// `SetParameterAttributesStruct`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SetParameterAttributesStruct {
    /// Parameter path (partial paths end with `.`).
    pub name: String,
    /// Whether `notification` is to be applied.
    pub notification_change: bool,
    /// 0 off, 1 passive, 2 active, 3..6 lightweight variants (CWMP 1.4).
    pub notification: i32,
    /// Whether `access_list` is to be applied.
    pub access_list_change: bool,
    /// Entities allowed to write besides the ACS (only `"Subscriber"` is defined).
    pub access_list: Vec<String>,
}

/// `ParameterAttributeStruct` (GetParameterAttributesResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ParameterAttributeStruct {
    /// Parameter path.
    pub name: String,
    /// Notification setting, see [`SetParameterAttributesStruct::notification`].
    pub notification: i32,
    /// Access list.
    pub access_list: Vec<String>,
}

/// `Download` (TR-069 A.3.2.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Download {
    /// Correlates with TransferComplete.
    pub command_key: String,
    /// e.g. `"1 Firmware Upgrade Image"`.
    pub file_type: String,
    /// Where to fetch the file.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// File size in bytes (0 = unknown).
    pub file_size: u32,
    /// Name of the file on the CPE.
    pub target_file_name: String,
    /// Seconds to wait before starting.
    pub delay_seconds: u32,
    /// URL for the CPE to redirect a user to on success.
    pub success_url: String,
    /// URL for the CPE to redirect a user to on failure.
    pub failure_url: String,
}

/// `Upload` (TR-069 A.4.1.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Upload {
    /// Correlates with TransferComplete.
    pub command_key: String,
    /// e.g. `"1 Vendor Configuration File"`.
    pub file_type: String,
    /// Where to put the file.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// Seconds to wait before starting.
    pub delay_seconds: u32,
}

/// `QueuedTransferStruct` (GetQueuedTransfersResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct QueuedTransferStruct {
    /// The transfer's CommandKey.
    pub command_key: String,
    /// 1 not yet started, 2 in progress, 3 completed.
    pub state: i32,
}

/// `AllQueuedTransferStruct` (GetAllQueuedTransfersResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AllQueuedTransferStruct {
    /// The transfer's CommandKey.
    pub command_key: String,
    /// 1 not yet started, 2 in progress, 3 completed.
    pub state: i32,
    /// Download (true) or upload (false).
    pub is_download: bool,
    /// File type.
    pub file_type: String,
    /// File size in bytes.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
}

/// `ScheduleDownload` (TR-069 A.4.1.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ScheduleDownload {
    /// Correlates with TransferComplete.
    pub command_key: String,
    /// File type.
    pub file_type: String,
    /// Where to fetch the file.
    pub url: String,
    /// File server username.
    pub username: String,
    /// File server password.
    pub password: String,
    /// File size in bytes.
    pub file_size: u32,
    /// Name of the file on the CPE.
    pub target_file_name: String,
    /// One or two time windows.
    pub time_window_list: Vec<TimeWindow>,
}

/// `TimeWindowStruct`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TimeWindow {
    /// Seconds from receipt of the request until the window starts.
    pub window_start: u32,
    /// Seconds from receipt of the request until the window ends.
    pub window_end: u32,
    /// `"1 At Any Time"`, `"2 Immediately"`, `"3 When Idle"`, `"4 Confirmation Needed"` or vendor.
    pub window_mode: String,
    /// Message shown to the user for mode 4.
    pub user_message: String,
    /// Retries allowed within the window (-1 = CPE decides).
    pub max_retries: i32,
}

/// `ChangeDUState` (TR-069 A.4.1.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ChangeDuState {
    /// The operations, in order.
    pub operations: Vec<DuOperation>,
    /// Correlates with DUStateChangeComplete.
    pub command_key: String,
}

/// One deployment-unit operation of ChangeDUState (`Operations xsi:type="cwmp:...OpStruct"`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum DuOperation {
    /// `InstallOpStruct`.
    Install(InstallOp),
    /// `UpdateOpStruct`.
    Update(UpdateOp),
    /// `UninstallOpStruct`.
    Uninstall(UninstallOp),
}

/// `InstallOpStruct`. Optional schema elements are `Option`s and omitted when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct InstallOp {
    /// URL of the deployment unit.
    pub url: String,
    /// UUID to give the deployment unit.
    pub uuid: Option<String>,
    /// File server username.
    pub username: Option<String>,
    /// File server password.
    pub password: Option<String>,
    /// Execution environment path.
    pub execution_env_ref: Option<String>,
}

/// `UpdateOpStruct`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct UpdateOp {
    /// UUID of the deployment unit to update.
    pub uuid: Option<String>,
    /// Version to update.
    pub version: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// File server username.
    pub username: Option<String>,
    /// File server password.
    pub password: Option<String>,
}

/// `UninstallOpStruct`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct UninstallOp {
    /// UUID of the deployment unit.
    pub uuid: String,
    /// Version to uninstall.
    pub version: Option<String>,
    /// Execution environment path.
    pub execution_env_ref: Option<String>,
}

/// `TransferCompleteFaultStruct` / `DeploymentUnitFaultStruct`: code 0 means success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FaultStruct {
    /// Fault code, [`FaultCode::NoFault`] on success.
    pub fault_code: FaultCode,
    /// Human-readable fault text.
    pub fault_string: String,
}

impl Default for FaultStruct {
    fn default() -> Self {
        FaultStruct { fault_code: FaultCode::NoFault, fault_string: String::new() }
    }
}

impl FaultStruct {
    /// True when the code is 0 (no fault).
    pub fn is_success(&self) -> bool {
        self.fault_code == FaultCode::NoFault
    }
}

/// `TransferComplete` (TR-069 A.3.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TransferComplete {
    /// CommandKey of the Download/Upload/ScheduleDownload.
    pub command_key: String,
    /// Outcome.
    pub fault_struct: FaultStruct,
    /// Raw dateTime text.
    pub start_time: String,
    /// Raw dateTime text.
    pub complete_time: String,
}

/// `AutonomousTransferComplete` (TR-069 A.3.3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AutonomousTransferComplete {
    /// URL on which the transfer was announced (multicast) or empty.
    pub announce_url: String,
    /// URL the file was transferred from/to.
    pub transfer_url: String,
    /// Download (true) or upload (false).
    pub is_download: bool,
    /// File type.
    pub file_type: String,
    /// File size in bytes.
    pub file_size: u32,
    /// Target file name.
    pub target_file_name: String,
    /// Outcome.
    pub fault_struct: FaultStruct,
    /// Raw dateTime text.
    pub start_time: String,
    /// Raw dateTime text.
    pub complete_time: String,
}

/// `DUStateChangeComplete` (TR-069 A.3.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DuStateChangeComplete {
    /// One result per requested operation, in order.
    pub results: Vec<OpResult>,
    /// CommandKey of the ChangeDUState.
    pub command_key: String,
}

/// `OpResultStruct`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct OpResult {
    /// Deployment unit UUID.
    pub uuid: String,
    /// Path of the deployment unit instance.
    pub deployment_unit_ref: String,
    /// Deployment unit version.
    pub version: String,
    /// `Installed`, `Uninstalled` or `Failed`.
    pub current_state: String,
    /// Whether dependencies were resolved.
    pub resolved: bool,
    /// Comma-separated execution unit paths.
    pub execution_unit_ref_list: String,
    /// Raw dateTime text.
    pub start_time: String,
    /// Raw dateTime text.
    pub complete_time: String,
    /// Outcome (`Fault` element).
    pub fault: FaultStruct,
}

/// `AutonomousDUStateChangeComplete` (TR-069 A.3.3.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AutonomousDuStateChangeComplete {
    /// One result per autonomous operation.
    pub results: Vec<AutonOpResult>,
}

/// `AutonOpResultStruct`: an [`OpResult`] plus the operation performed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AutonOpResult {
    /// The common result fields.
    pub result: OpResult,
    /// `Install`, `Update`, `Uninstall` or vendor-specific.
    pub operation_performed: String,
}

/// A SOAP 1.1 `Fault` carrying a CWMP `Fault` in its `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SoapFault {
    /// `"Client"` or `"Server"` (a namespace prefix is stripped when decoding).
    pub faultcode: String,
    /// Always `"CWMP fault"` per TR-069 section 3.5.
    pub faultstring: String,
    /// The CWMP fault structure.
    pub detail: CwmpFault,
}

impl SoapFault {
    /// A well-formed fault with `faultstring` `"CWMP fault"` and `faultcode` chosen from the
    /// code (see [`FaultCode::soap_faultcode`]).
    pub fn new(code: FaultCode, string: impl Into<String>) -> Self {
        SoapFault {
            faultcode: code.soap_faultcode().to_owned(),
            faultstring: "CWMP fault".to_owned(),
            detail: CwmpFault {
                code,
                string: string.into(),
                set_parameter_values_faults: Vec::new(),
            },
        }
    }
}

/// The CWMP `Fault` structure inside a SOAP fault's `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct CwmpFault {
    /// Fault code.
    pub code: FaultCode,
    /// Human-readable text.
    pub string: String,
    /// Per-parameter faults (SetParameterValues only).
    pub set_parameter_values_faults: Vec<SetParameterValuesFault>,
}

/// One `SetParameterValuesFault` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SetParameterValuesFault {
    /// The parameter that failed.
    pub parameter_name: String,
    /// Why.
    pub code: FaultCode,
    /// Human-readable text.
    pub string: String,
}

/// Build an envelope carrying a SOAP fault, as the ACS sends it in answer to a CPE request
/// (e.g. 8000 for an unknown method, 8003 for invalid arguments, 8005 retry request).
///
/// `id` should echo the `cwmp:ID` of the request being answered.
pub fn fault_envelope(id: Option<&str>, code: FaultCode, message: impl Into<String>) -> Envelope {
    Envelope::new(id.map(str::to_owned), Body::Fault(SoapFault::new(code, message)))
}
