//! The `usp-get` round trip: a `getParameterValues` task for one agent through `acsd`'s REST
//! API with `connection_request=true&timeout=…`, i.e. REST → task store → USP Get over the
//! agent's MTP → GetResp → task done → HTTP 200. Success is a 200 whose task is `done` and
//! carries the requested values, the serial number being the agent's own.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api::ApiClient;
use crate::error::FleetError;
use crate::load::RoundTrip;

/// The parameters every round trip reads.
pub const GET_PARAMS: [&str; 3] = [
    "Device.DeviceInfo.SerialNumber",
    "Device.DeviceInfo.SoftwareVersion",
    "Device.DeviceInfo.ModelName",
];

/// The task JSON of one round trip.
pub fn get_task() -> Value {
    json!({"name": "getParameterValues", "parameterNames": GET_PARAMS})
}

/// Check the REST answer of one round trip: `200`, task `done`, every requested parameter
/// present, the serial number being `serial`. Errors are short and categorical (they become
/// the summary's error kinds).
pub fn check_reply(status: u16, body: &[u8], serial: &str) -> Result<(), FleetError> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if status != 200 => return Err(FleetError::Protocol(format!("task api {status}"))),
        Err(_) => return Err(FleetError::Protocol("task reply is not JSON".into())),
    };
    match status {
        200 => {}
        202 if v["connectionRequestError"].is_string() => {
            return Err(FleetError::Protocol("agent offline (202)".into()))
        }
        202 => return Err(FleetError::Protocol("task not done in time (202)".into())),
        s => return Err(FleetError::Protocol(format!("task api {s}"))),
    }
    match v["status"].as_str() {
        Some("done") => {}
        Some("fault") => {
            let code = v["fault"]["code"].as_str().unwrap_or("?");
            return Err(FleetError::Protocol(format!("task fault {code}")));
        }
        other => return Err(FleetError::Protocol(format!("task status {other:?}"))),
    }
    let params = v["result"]["parameters"].as_array().cloned().unwrap_or_default();
    let value = |name: &str| {
        params.iter().find(|p| p[0] == name).and_then(|p| p[1].as_str().map(str::to_owned))
    };
    if GET_PARAMS.iter().any(|p| value(p).is_none()) {
        return Err(FleetError::Protocol("missing values in the result".into()));
    }
    if value(GET_PARAMS[0]).as_deref() != Some(serial) {
        return Err(FleetError::Protocol("result from the wrong agent".into()));
    }
    Ok(())
}

/// Get round trips spread over agents (endpoint id, serial).
#[derive(Debug)]
pub struct UspGet {
    /// API base (`http://127.0.0.1:8080/api/v1`).
    pub api_url: String,
    /// Bearer token.
    pub token: String,
    /// (endpoint id, serial) of the target agents.
    pub targets: Vec<(String, String)>,
    /// Visiting order (a permutation of the targets).
    pub order: Vec<usize>,
    /// The task wait `acsd` is asked for (`timeout=` in ms).
    pub task_timeout: Duration,
    /// `?connection_request=true&timeout=…`.
    query: String,
    task: Value,
}

impl UspGet {
    /// Round trips over `targets`, in a random order.
    pub fn new(
        api_url: &str,
        token: &str,
        targets: Vec<(String, String)>,
        task_timeout: Duration,
    ) -> UspGet {
        let order = crate::load::shuffled(targets.len());
        UspGet {
            api_url: api_url.to_string(),
            token: token.to_string(),
            targets,
            order,
            task_timeout,
            query: format!("?connection_request=true&timeout={}", task_timeout.as_millis()),
            task: get_task(),
        }
    }
}

impl RoundTrip for UspGet {
    type Conn = ApiClient;

    fn conn(&self) -> Result<ApiClient, FleetError> {
        ApiClient::new(&self.api_url, &self.token, self.timeout())
    }

    async fn run(
        self: Arc<Self>,
        mut api: ApiClient,
        n: u64,
    ) -> (ApiClient, Result<(), FleetError>) {
        if self.targets.is_empty() {
            return (api, Err(FleetError::Argument("no agents to query".into())));
        }
        let i = self.order[(n % self.order.len() as u64) as usize];
        let (id, serial) = &self.targets[i];
        let r = match api.queue_task(id, &self.task, &self.query).await {
            Ok((status, body)) => check_reply(status, &body, serial),
            Err(e) => Err(e),
        };
        (api, r)
    }

    fn timeout(&self) -> Duration {
        self.task_timeout + Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reply(status: &str, params: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"id": 1, "status": status, "result": {"parameters": params}}))
            .unwrap()
    }

    #[test]
    fn replies_are_classified() {
        let good = json!([
            ["Device.DeviceInfo.SerialNumber", "S1"],
            ["Device.DeviceInfo.SoftwareVersion", "1.0.0"],
            ["Device.DeviceInfo.ModelName", "FleetAgent"]
        ]);
        check_reply(200, &reply("done", good.clone()), "S1").unwrap();
        let err = |r: Result<(), FleetError>| r.unwrap_err().to_string();
        assert!(err(check_reply(200, &reply("done", good.clone()), "S2")).contains("wrong agent"));
        assert!(err(check_reply(202, &reply("queued", json!([])), "S1")).contains("not done"));
        let offline = br#"{"status":"queued","connectionRequestError":"offline"}"#;
        assert!(err(check_reply(202, offline, "S1")).contains("offline"));
        let fault = br#"{"status":"fault","fault":{"code":"7026","message":"x"}}"#;
        assert!(err(check_reply(200, fault, "S1")).contains("task fault 7026"));
        let partial = json!([["Device.DeviceInfo.SerialNumber", "S1"]]);
        assert!(err(check_reply(200, &reply("done", partial), "S1")).contains("missing"));
        assert!(err(check_reply(404, b"not found", "S1")).contains("task api 404"));
        assert!(err(check_reply(200, b"<html>", "S1")).contains("not JSON"));
    }

    #[test]
    fn task_names_the_get_params() {
        let t = get_task();
        assert_eq!(t["name"], "getParameterValues");
        assert_eq!(t["parameterNames"].as_array().unwrap().len(), GET_PARAMS.len());
    }
}
