//! The strict encoder.
//!
//! Output shape: no XML declaration (some CPE parsers reject one), fixed prefixes
//! `soap-env`, `soap-enc`, `xsd`, `xsi` and `cwmp` all declared on the Envelope, the method
//! element in the `cwmp` namespace and its children unqualified (the schemas use
//! `elementFormDefault="unqualified"`), `xsi:type` on every parameter `Value`, and a
//! `soap-enc:arrayType` with the exact entry count on every array. The Header is written
//! only when at least one header field is set. Booleans are written `1`/`0`.
//!
//! Text is escaped (`&`, `<`, `>`, and `"` in attributes); line breaks and tabs in text are
//! written as character references so the tolerant decoder's whitespace trimming never
//! changes a value we sent, and characters XML 1.0 cannot carry are replaced with U+FFFD.

use crate::codes::CwmpVersion;
use crate::types::*;

const ENVELOPE_OPEN: &str = concat!(
    "<soap-env:Envelope",
    " xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\"",
    " xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\"",
    " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"",
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
    " xmlns:cwmp=\""
);

/// Encode an envelope in the given CWMP namespace version.
pub fn encode(envelope: &Envelope, version: CwmpVersion) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate(&envelope.body));
    encode_into(envelope, version, &mut out);
    out
}

/// Encode an envelope, appending to `out` (reuse a buffer across messages).
pub fn encode_into(envelope: &Envelope, version: CwmpVersion, out: &mut Vec<u8>) {
    let mut w = Writer { out };
    w.raw(ENVELOPE_OPEN);
    w.raw(version.namespace());
    w.raw("\">");
    w.header(&envelope.header);
    w.raw("<soap-env:Body>");
    w.body(&envelope.body);
    w.raw("</soap-env:Body></soap-env:Envelope>");
}

fn estimate(body: &Body) -> usize {
    let entries = match body {
        Body::Inform(i) => i.parameter_list.len() + i.events.len(),
        Body::SetParameterValues { parameter_list, .. }
        | Body::GetParameterValuesResponse { parameter_list } => parameter_list.len(),
        Body::GetParameterValues { parameter_names }
        | Body::GetParameterAttributes { parameter_names } => parameter_names.len(),
        Body::GetParameterNamesResponse { parameter_list } => parameter_list.len(),
        _ => 0,
    };
    640 + entries * 160
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn open(&mut self, name: &str) {
        self.out.push(b'<');
        self.raw(name);
        self.out.push(b'>');
    }

    fn close(&mut self, name: &str) {
        self.raw("</");
        self.raw(name);
        self.out.push(b'>');
    }

    fn text(&mut self, s: &str) {
        escape(self.out, s, false);
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.open(name);
        self.text(value);
        self.close(name);
    }

    fn leaf_u32(&mut self, name: &str, v: u32) {
        self.open(name);
        push_u64(self.out, u64::from(v));
        self.close(name);
    }

    fn leaf_i32(&mut self, name: &str, v: i32) {
        self.open(name);
        if v < 0 {
            self.out.push(b'-');
        }
        push_u64(self.out, u64::from(v.unsigned_abs()));
        self.close(name);
    }

    fn leaf_bool(&mut self, name: &str, v: bool) {
        self.leaf(name, if v { "1" } else { "0" });
    }

    fn opt_leaf(&mut self, name: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.leaf(name, v);
        }
    }

    /// `<name soap-enc:arrayType="item_type[n]">`
    fn array_open(&mut self, name: &str, item_type: &str, n: usize) {
        self.out.push(b'<');
        self.raw(name);
        self.raw(" soap-enc:arrayType=\"");
        self.raw(item_type);
        self.out.push(b'[');
        push_u64(self.out, n as u64);
        self.raw("]\">");
    }

    fn method_open(&mut self, name: &str) {
        self.raw("<cwmp:");
        self.raw(name);
        self.out.push(b'>');
    }

    fn method_close(&mut self, name: &str) {
        self.raw("</cwmp:");
        self.raw(name);
        self.out.push(b'>');
    }

    fn method_empty(&mut self, name: &str) {
        self.raw("<cwmp:");
        self.raw(name);
        self.raw("/>");
    }

    fn header_leaf(&mut self, name: &str, must_understand: Option<&str>, value: &str) {
        self.raw("<cwmp:");
        self.raw(name);
        if let Some(mu) = must_understand {
            self.raw(" soap-env:mustUnderstand=\"");
            self.raw(mu);
            self.out.push(b'"');
        }
        self.out.push(b'>');
        self.text(value);
        self.raw("</cwmp:");
        self.raw(name);
        self.out.push(b'>');
    }

    fn header(&mut self, h: &Header) {
        if *h == Header::default() {
            return;
        }
        self.raw("<soap-env:Header>");
        if let Some(id) = &h.id {
            self.header_leaf("ID", Some("1"), id);
        }
        if let Some(v) = h.hold_requests {
            self.header_leaf("HoldRequests", Some("1"), if v { "1" } else { "0" });
        }
        if let Some(v) = h.no_more_requests {
            self.header_leaf("NoMoreRequests", None, if v { "1" } else { "0" });
        }
        if let Some(v) = h.session_timeout {
            let mut buf = Vec::new();
            push_u64(&mut buf, u64::from(v));
            let s = String::from_utf8_lossy(&buf).into_owned();
            self.header_leaf("SessionTimeout", Some("0"), &s);
        }
        if let Some(v) = &h.supported_cwmp_versions {
            self.header_leaf("SupportedCWMPVersions", Some("0"), v);
        }
        if let Some(v) = &h.use_cwmp_version {
            self.header_leaf("UseCWMPVersion", Some("1"), v);
        }
        self.raw("</soap-env:Header>");
    }

    fn parameter_values(&mut self, list: &[ParameterValue]) {
        self.array_open("ParameterList", "cwmp:ParameterValueStruct", list.len());
        for p in list {
            self.raw("<ParameterValueStruct><Name>");
            self.text(&p.name);
            self.raw("</Name><Value xsi:type=\"");
            escape(self.out, p.value_type.as_xsd(), true);
            self.raw("\">");
            self.text(&p.value);
            self.raw("</Value></ParameterValueStruct>");
        }
        self.close("ParameterList");
    }

    fn strings(&mut self, name: &str, list: &[String]) {
        self.array_open(name, "xsd:string", list.len());
        for s in list {
            self.leaf("string", s);
        }
        self.close(name);
    }

    fn fault_struct(&mut self, name: &str, f: &FaultStruct) {
        self.open(name);
        self.leaf_u32("FaultCode", f.fault_code.code());
        self.leaf("FaultString", &f.fault_string);
        self.close(name);
    }

    fn op_result(&mut self, r: &OpResult) {
        self.leaf("UUID", &r.uuid);
        self.leaf("DeploymentUnitRef", &r.deployment_unit_ref);
        self.leaf("Version", &r.version);
        self.leaf("CurrentState", &r.current_state);
        self.leaf_bool("Resolved", r.resolved);
        self.leaf("ExecutionUnitRefList", &r.execution_unit_ref_list);
        self.leaf("StartTime", &r.start_time);
        self.leaf("CompleteTime", &r.complete_time);
        self.fault_struct("Fault", &r.fault);
    }

    fn body(&mut self, body: &Body) {
        let name = body.method_name();
        match body {
            Body::Fault(f) => {
                self.raw("<soap-env:Fault>");
                self.leaf("faultcode", &f.faultcode);
                self.leaf("faultstring", &f.faultstring);
                self.raw("<detail><cwmp:Fault>");
                self.leaf_u32("FaultCode", f.detail.code.code());
                self.leaf("FaultString", &f.detail.string);
                for s in &f.detail.set_parameter_values_faults {
                    self.open("SetParameterValuesFault");
                    self.leaf("ParameterName", &s.parameter_name);
                    self.leaf_u32("FaultCode", s.code.code());
                    self.leaf("FaultString", &s.string);
                    self.close("SetParameterValuesFault");
                }
                self.raw("</cwmp:Fault></detail></soap-env:Fault>");
                return;
            }
            Body::TransferCompleteResponse
            | Body::AutonomousTransferCompleteResponse
            | Body::DuStateChangeCompleteResponse
            | Body::AutonomousDuStateChangeCompleteResponse
            | Body::RequestDownloadResponse
            | Body::GetRpcMethods
            | Body::SetParameterAttributesResponse
            | Body::RebootResponse
            | Body::FactoryReset
            | Body::FactoryResetResponse
            | Body::GetQueuedTransfers
            | Body::GetAllQueuedTransfers
            | Body::ScheduleInformResponse
            | Body::ScheduleDownloadResponse
            | Body::CancelTransferResponse
            | Body::ChangeDuStateResponse => {
                self.method_empty(name);
                return;
            }
            _ => {}
        }
        self.method_open(name);
        match body {
            Body::Inform(i) => {
                self.open("DeviceId");
                self.leaf("Manufacturer", &i.device_id.manufacturer);
                self.leaf("OUI", &i.device_id.oui);
                self.leaf("ProductClass", &i.device_id.product_class);
                self.leaf("SerialNumber", &i.device_id.serial_number);
                self.close("DeviceId");
                self.array_open("Event", "cwmp:EventStruct", i.events.len());
                for e in &i.events {
                    self.open("EventStruct");
                    self.leaf("EventCode", &e.event_code.as_wire());
                    self.leaf("CommandKey", &e.command_key);
                    self.close("EventStruct");
                }
                self.close("Event");
                self.leaf_u32("MaxEnvelopes", i.max_envelopes);
                self.leaf("CurrentTime", &i.current_time);
                self.leaf_u32("RetryCount", i.retry_count);
                self.parameter_values(&i.parameter_list);
            }
            Body::InformResponse { max_envelopes } => {
                self.leaf_u32("MaxEnvelopes", *max_envelopes);
            }
            Body::TransferComplete(t) => {
                self.leaf("CommandKey", &t.command_key);
                self.fault_struct("FaultStruct", &t.fault_struct);
                self.leaf("StartTime", &t.start_time);
                self.leaf("CompleteTime", &t.complete_time);
            }
            Body::AutonomousTransferComplete(t) => {
                self.leaf("AnnounceURL", &t.announce_url);
                self.leaf("TransferURL", &t.transfer_url);
                self.leaf_bool("IsDownload", t.is_download);
                self.leaf("FileType", &t.file_type);
                self.leaf_u32("FileSize", t.file_size);
                self.leaf("TargetFileName", &t.target_file_name);
                self.fault_struct("FaultStruct", &t.fault_struct);
                self.leaf("StartTime", &t.start_time);
                self.leaf("CompleteTime", &t.complete_time);
            }
            Body::DuStateChangeComplete(d) => {
                for r in &d.results {
                    self.open("Results");
                    self.op_result(r);
                    self.close("Results");
                }
                self.leaf("CommandKey", &d.command_key);
            }
            Body::AutonomousDuStateChangeComplete(d) => {
                for r in &d.results {
                    self.open("Results");
                    self.op_result(&r.result);
                    self.leaf("OperationPerformed", &r.operation_performed);
                    self.close("Results");
                }
            }
            Body::RequestDownload { file_type, file_type_arg } => {
                self.leaf("FileType", file_type);
                self.array_open("FileTypeArg", "cwmp:ArgStruct", file_type_arg.len());
                for (n, v) in file_type_arg {
                    self.open("ArgStruct");
                    self.leaf("Name", n);
                    self.leaf("Value", v);
                    self.close("ArgStruct");
                }
                self.close("FileTypeArg");
            }
            Body::Kicked { command, referer, arg, next } => {
                self.leaf("Command", command);
                self.leaf("Referer", referer);
                self.leaf("Arg", arg);
                self.leaf("Next", next);
            }
            Body::KickedResponse { next_url } => self.leaf("NextURL", next_url),
            Body::GetRpcMethodsResponse { method_list } => self.strings("MethodList", method_list),
            Body::SetParameterValues { parameter_list, parameter_key } => {
                self.parameter_values(parameter_list);
                self.leaf("ParameterKey", parameter_key);
            }
            Body::SetParameterValuesResponse { status } | Body::DeleteObjectResponse { status } => {
                self.leaf_u32("Status", *status)
            }
            Body::GetParameterValues { parameter_names }
            | Body::GetParameterAttributes { parameter_names } => {
                self.strings("ParameterNames", parameter_names)
            }
            Body::GetParameterValuesResponse { parameter_list } => {
                self.parameter_values(parameter_list)
            }
            Body::GetParameterNames { parameter_path, next_level } => {
                self.leaf("ParameterPath", parameter_path);
                self.leaf_bool("NextLevel", *next_level);
            }
            Body::GetParameterNamesResponse { parameter_list } => {
                self.array_open("ParameterList", "cwmp:ParameterInfoStruct", parameter_list.len());
                for p in parameter_list {
                    self.open("ParameterInfoStruct");
                    self.leaf("Name", &p.name);
                    self.leaf_bool("Writable", p.writable);
                    self.close("ParameterInfoStruct");
                }
                self.close("ParameterList");
            }
            Body::SetParameterAttributes { parameter_list } => {
                self.array_open(
                    "ParameterList",
                    "cwmp:SetParameterAttributesStruct",
                    parameter_list.len(),
                );
                for p in parameter_list {
                    self.open("SetParameterAttributesStruct");
                    self.leaf("Name", &p.name);
                    self.leaf_bool("NotificationChange", p.notification_change);
                    self.leaf_i32("Notification", p.notification);
                    self.leaf_bool("AccessListChange", p.access_list_change);
                    self.strings("AccessList", &p.access_list);
                    self.close("SetParameterAttributesStruct");
                }
                self.close("ParameterList");
            }
            Body::GetParameterAttributesResponse { parameter_list } => {
                self.array_open(
                    "ParameterList",
                    "cwmp:ParameterAttributeStruct",
                    parameter_list.len(),
                );
                for p in parameter_list {
                    self.open("ParameterAttributeStruct");
                    self.leaf("Name", &p.name);
                    self.leaf_i32("Notification", p.notification);
                    self.strings("AccessList", &p.access_list);
                    self.close("ParameterAttributeStruct");
                }
                self.close("ParameterList");
            }
            Body::AddObject { object_name, parameter_key }
            | Body::DeleteObject { object_name, parameter_key } => {
                self.leaf("ObjectName", object_name);
                self.leaf("ParameterKey", parameter_key);
            }
            Body::AddObjectResponse { instance_number, status } => {
                self.leaf_u32("InstanceNumber", *instance_number);
                self.leaf_u32("Status", *status);
            }
            Body::Reboot { command_key } | Body::CancelTransfer { command_key } => {
                self.leaf("CommandKey", command_key)
            }
            Body::Download(d) => {
                self.leaf("CommandKey", &d.command_key);
                self.leaf("FileType", &d.file_type);
                self.leaf("URL", &d.url);
                self.leaf("Username", &d.username);
                self.leaf("Password", &d.password);
                self.leaf_u32("FileSize", d.file_size);
                self.leaf("TargetFileName", &d.target_file_name);
                self.leaf_u32("DelaySeconds", d.delay_seconds);
                self.leaf("SuccessURL", &d.success_url);
                self.leaf("FailureURL", &d.failure_url);
            }
            Body::DownloadResponse { status, start_time, complete_time }
            | Body::UploadResponse { status, start_time, complete_time } => {
                self.leaf_u32("Status", *status);
                self.leaf("StartTime", start_time);
                self.leaf("CompleteTime", complete_time);
            }
            Body::Upload(u) => {
                self.leaf("CommandKey", &u.command_key);
                self.leaf("FileType", &u.file_type);
                self.leaf("URL", &u.url);
                self.leaf("Username", &u.username);
                self.leaf("Password", &u.password);
                self.leaf_u32("DelaySeconds", u.delay_seconds);
            }
            Body::GetQueuedTransfersResponse { transfer_list } => {
                self.array_open("TransferList", "cwmp:QueuedTransferStruct", transfer_list.len());
                for t in transfer_list {
                    self.open("QueuedTransferStruct");
                    self.leaf("CommandKey", &t.command_key);
                    self.leaf_i32("State", t.state);
                    self.close("QueuedTransferStruct");
                }
                self.close("TransferList");
            }
            Body::GetAllQueuedTransfersResponse { transfer_list } => {
                self.array_open(
                    "TransferList",
                    "cwmp:AllQueuedTransferStruct",
                    transfer_list.len(),
                );
                for t in transfer_list {
                    self.open("AllQueuedTransferStruct");
                    self.leaf("CommandKey", &t.command_key);
                    self.leaf_i32("State", t.state);
                    self.leaf_bool("IsDownload", t.is_download);
                    self.leaf("FileType", &t.file_type);
                    self.leaf_u32("FileSize", t.file_size);
                    self.leaf("TargetFileName", &t.target_file_name);
                    self.close("AllQueuedTransferStruct");
                }
                self.close("TransferList");
            }
            Body::ScheduleInform { delay_seconds, command_key } => {
                self.leaf_u32("DelaySeconds", *delay_seconds);
                self.leaf("CommandKey", command_key);
            }
            Body::ScheduleDownload(d) => {
                self.leaf("CommandKey", &d.command_key);
                self.leaf("FileType", &d.file_type);
                self.leaf("URL", &d.url);
                self.leaf("Username", &d.username);
                self.leaf("Password", &d.password);
                self.leaf_u32("FileSize", d.file_size);
                self.leaf("TargetFileName", &d.target_file_name);
                self.array_open(
                    "TimeWindowList",
                    "cwmp:TimeWindowStruct",
                    d.time_window_list.len(),
                );
                for t in &d.time_window_list {
                    self.open("TimeWindowStruct");
                    self.leaf_u32("WindowStart", t.window_start);
                    self.leaf_u32("WindowEnd", t.window_end);
                    self.leaf("WindowMode", &t.window_mode);
                    self.leaf("UserMessage", &t.user_message);
                    self.leaf_i32("MaxRetries", t.max_retries);
                    self.close("TimeWindowStruct");
                }
                self.close("TimeWindowList");
            }
            Body::ChangeDuState(c) => {
                for op in &c.operations {
                    match op {
                        DuOperation::Install(i) => {
                            self.raw("<Operations xsi:type=\"cwmp:InstallOpStruct\">");
                            self.leaf("URL", &i.url);
                            self.opt_leaf("UUID", &i.uuid);
                            self.opt_leaf("Username", &i.username);
                            self.opt_leaf("Password", &i.password);
                            self.opt_leaf("ExecutionEnvRef", &i.execution_env_ref);
                        }
                        DuOperation::Update(u) => {
                            self.raw("<Operations xsi:type=\"cwmp:UpdateOpStruct\">");
                            self.opt_leaf("UUID", &u.uuid);
                            self.opt_leaf("Version", &u.version);
                            self.opt_leaf("URL", &u.url);
                            self.opt_leaf("Username", &u.username);
                            self.opt_leaf("Password", &u.password);
                        }
                        DuOperation::Uninstall(u) => {
                            self.raw("<Operations xsi:type=\"cwmp:UninstallOpStruct\">");
                            self.leaf("UUID", &u.uuid);
                            self.opt_leaf("Version", &u.version);
                            self.opt_leaf("ExecutionEnvRef", &u.execution_env_ref);
                        }
                    }
                    self.close("Operations");
                }
                self.leaf("CommandKey", &c.command_key);
            }
            // Handled above (empty or fault bodies).
            Body::Fault(_)
            | Body::TransferCompleteResponse
            | Body::AutonomousTransferCompleteResponse
            | Body::DuStateChangeCompleteResponse
            | Body::AutonomousDuStateChangeCompleteResponse
            | Body::RequestDownloadResponse
            | Body::GetRpcMethods
            | Body::SetParameterAttributesResponse
            | Body::RebootResponse
            | Body::FactoryReset
            | Body::FactoryResetResponse
            | Body::GetQueuedTransfers
            | Body::GetAllQueuedTransfers
            | Body::ScheduleInformResponse
            | Body::ScheduleDownloadResponse
            | Body::CancelTransferResponse
            | Body::ChangeDuStateResponse => {}
        }
        self.method_close(name);
    }
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Bytes that need attention in text: markup characters, all C0 controls, and the first
/// byte of U+FFFE/U+FFFF (0xEF).
const fn special_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[0xEF] = true;
    t
}

static SPECIAL: [bool; 256] = special_table();

/// Append `s` escaped for element text (or an attribute value when `attr`).
fn escape(out: &mut Vec<u8>, s: &str, attr: bool) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !SPECIAL[b as usize] {
            i += 1;
            continue;
        }
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' if attr => b"&quot;",
            b'"' => {
                i += 1;
                continue;
            }
            b'\n' => b"&#10;",
            b'\r' => b"&#13;",
            b'\t' => b"&#9;",
            0xEF => {
                // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters.
                if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
                {
                    out.extend_from_slice(&bytes[start..i]);
                    out.extend_from_slice("\u{FFFD}".as_bytes());
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            _ => "\u{FFFD}".as_bytes(),
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = Vec::new();
        escape(&mut out, s, false);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("a<b>&\"c\""), "a&lt;b&gt;&amp;\"c\"");
        assert_eq!(esc("x\ny\tz\r"), "x&#10;y&#9;z&#13;");
        assert_eq!(esc("\u{1}\u{FFFF}é"), "\u{FFFD}\u{FFFD}é");
        assert_eq!(esc("\u{E000}"), "\u{E000}");
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, u64::from(u32::MAX));
        assert_eq!(out, b"0 4294967295");
    }
}
