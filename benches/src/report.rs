//! Reading `acs-fleet` JSON summaries: the shape check the harness (and CI's smoke run) applies
//! to every summary, phase lookup, the provisioning-state check and the USP target verdict.

use serde_json::Value;

use crate::error::FleetError;

fn bad(what: impl Into<String>) -> FleetError {
    FleetError::Protocol(what.into())
}

/// The summary has the fields the table needs, with sane types: a non-empty `phases` array,
/// each phase with a name, a throughput, `sessions.ok` / `sessions.failed` counters and, when
/// it has latencies, p50/p90/p99/p99.9/max.
pub fn check_summary(v: &Value) -> Result<(), FleetError> {
    let phases = v["phases"].as_array().ok_or_else(|| bad("no phases"))?;
    if phases.is_empty() {
        return Err(bad("empty phases"));
    }
    for p in phases {
        let name = p["phase"].as_str().ok_or_else(|| bad("phase name"))?;
        p["throughput_per_s"].as_f64().ok_or_else(|| bad(format!("{name}: throughput")))?;
        p["sessions"]["ok"].as_u64().ok_or_else(|| bad(format!("{name}: sessions.ok")))?;
        p["sessions"]["failed"].as_u64().ok_or_else(|| bad(format!("{name}: sessions.failed")))?;
        if p["latency_ms"].is_object() {
            for q in ["p50", "p90", "p99", "p999", "max"] {
                p["latency_ms"][q]
                    .as_f64()
                    .ok_or_else(|| bad(format!("{name}: latency_ms.{q}")))?;
            }
        }
    }
    Ok(())
}

/// The phase called `name`.
pub fn phase<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["phases"].as_array()?.iter().find(|p| p["phase"] == name)
}

/// A provisioning phase's `equipment_states` show every device's equipment bound and settled
/// (`verified` or `applied`), none `pending` or `failed`, as many as the phase's successes.
pub fn check_equipment_states(p: &Value) -> Result<(), FleetError> {
    let st = &p["equipment_states"];
    if !st.is_object() {
        return Err(bad("no equipment_states"));
    }
    let n = |k: &str| st[k].as_u64().unwrap_or(0);
    let ok = p["sessions"]["ok"].as_u64().unwrap_or(0);
    if n("pending") > 0 || n("failed") > 0 || n("unknown") > 0 {
        return Err(bad(format!("equipment not provisioned: {st}")));
    }
    if n("seen") != ok || n("bound") != ok || n("verified") + n("applied") != ok {
        return Err(bad(format!("equipment states do not match {ok} provisioned devices: {st}")));
    }
    Ok(())
}

/// The USP target of the issue: Get round trips through the broker at ≥ `min_ratio` × the raw
/// echo's throughput with p99 ≤ `max_p99_ms`. Returns (ratio, p99 ms, met).
pub fn usp_target(
    usp_get: &Value,
    echo_throughput: f64,
    min_ratio: f64,
    max_p99_ms: f64,
) -> Option<(f64, f64, bool)> {
    let t = usp_get["throughput_per_s"].as_f64()?;
    let p99 = usp_get["latency_ms"]["p99"].as_f64()?;
    let ratio = t / echo_throughput.max(1e-9);
    Some((ratio, p99, ratio >= min_ratio && p99 <= max_p99_ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn target_verdict() {
        let p = json!({"throughput_per_s": 600.0, "latency_ms": {"p99": 12.5}});
        assert_eq!(usp_target(&p, 1000.0, 0.5, 20.0), Some((0.6, 12.5, true)));
        assert_eq!(usp_target(&p, 2000.0, 0.5, 20.0), Some((0.3, 12.5, false)));
        assert_eq!(usp_target(&json!({}), 1.0, 0.5, 20.0), None);
    }
}
