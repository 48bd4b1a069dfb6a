//! The few `acsd` REST calls the scenarios need (queue tasks, upload a file), over one
//! keep-alive connection per caller.

use std::time::Duration;

use crate::error::FleetError;
use crate::http::{write_request, Conn, Url};

/// A REST client for `acsd`'s `/api/v1`.
#[derive(Debug)]
pub struct ApiClient {
    base: Url,
    token: String,
    conn: Option<Conn>,
    timeout: Duration,
}

impl ApiClient {
    /// `base` like `http://127.0.0.1:8080/api/v1`.
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<ApiClient, FleetError> {
        let mut base = Url::parse(base)?;
        if base.path.ends_with('/') {
            base.path.pop();
        }
        Ok(ApiClient { base, token: token.to_string(), conn: None, timeout })
    }

    /// Send a request; returns status and body.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), FleetError> {
        let url = Url {
            authority: self.base.authority.clone(),
            path: format!("{}{}", self.base.path, path),
        };
        let auth = format!("Bearer {}", self.token);
        let mut req = Vec::with_capacity(256 + body.len());
        write_request(&mut req, method, &url, &[("Authorization", &auth)], content_type, body);
        for attempt in 0..2 {
            let conn = match self.conn.as_mut() {
                Some(c) if !c.closed => c,
                _ => {
                    let addr = url.resolve().await?;
                    self.conn.insert(Conn::connect(addr, self.timeout).await?)
                }
            };
            match conn.roundtrip(&req, false, self.timeout).await {
                Ok(r) => return Ok((r.status, r.body)),
                Err(e) if attempt == 0 => {
                    self.conn = None;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(FleetError::Http("unreachable retry loop".into()))
    }

    /// Queue a task (GenieACS JSON) for `device_id`; `query` like `?connection_request=true`.
    pub async fn queue_task(
        &mut self,
        device_id: &str,
        task: &serde_json::Value,
        query: &str,
    ) -> Result<(u16, Vec<u8>), FleetError> {
        let id: String =
            percent_encoding::utf8_percent_encode(device_id, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        let body = serde_json::to_vec(task).map_err(|e| FleetError::Argument(e.to_string()))?;
        self.call("POST", &format!("/devices/{id}/tasks{query}"), Some("application/json"), &body)
            .await
    }
}
