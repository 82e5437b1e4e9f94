//! Voice-wake triggers: the words every node and operator wakes on, stored once for the
//! gateway and announced when they change.

use pincer_protocol::methods::events;
use pincer_protocol::now_ms;
use serde_json::{json, Value};

use crate::state::GatewayState;
use crate::store::StoreError;

pub const DEFAULT_TRIGGERS: &[&str] = &["openclaw", "claude", "computer"];
const VOICEWAKE_KEY: &str = "voicewake.triggers";

/// The stored triggers, or the defaults.
pub fn triggers(state: &GatewayState) -> Vec<String> {
    state
        .store
        .setting(VOICEWAKE_KEY)
        .ok()
        .flatten()
        .and_then(|v| v.get("triggers").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_else(|| DEFAULT_TRIGGERS.iter().map(|s| s.to_string()).collect())
}

/// Normalize like OpenClaw: trimmed non-empty strings, at most 32, each at most 64
/// characters; nothing left means the defaults.
pub fn normalize_triggers(raw: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = raw
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(64).collect())
        .take(32)
        .collect();
    if out.is_empty() {
        out = DEFAULT_TRIGGERS.iter().map(|s| s.to_string()).collect();
    }
    out
}

/// Store `triggers` and tell every client (`voicewake.changed`).
pub fn save(state: &GatewayState, triggers: &[String]) -> Result<(), StoreError> {
    let now = now_ms();
    state.store.set_setting(VOICEWAKE_KEY, &json!({"triggers": triggers, "updatedAtMs": now}), now)?;
    state.hub.broadcast(events::VOICEWAKE_CHANGED, &json!({"triggers": triggers}));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_normalized() {
        let long = "x".repeat(100);
        let raw = vec![json!("  hey pincer "), json!(""), json!(3), json!(long)];
        let t = normalize_triggers(&raw);
        assert_eq!(t[0], "hey pincer");
        assert_eq!(t[1].len(), 64);
        assert_eq!(t.len(), 2);
        assert_eq!(normalize_triggers(&[]), DEFAULT_TRIGGERS);
        let many: Vec<Value> = (0..40).map(|i| json!(format!("w{i}"))).collect();
        assert_eq!(normalize_triggers(&many).len(), 32);
    }
}
