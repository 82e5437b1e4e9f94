//! `hello-ok`, `health`, `status`, presence, `logs.tail` and voice-wake triggers.

use std::io::{Read, Seek, SeekFrom};

use pincer_protocol::connect::{Features, HelloOk, Policy, ServerInfo, SessionDefaults, Snapshot};
use pincer_protocol::methods::events;
use pincer_protocol::{now_ms, ErrorShape};
use serde_json::{json, Value};

use crate::error::{invalid_params, MethodResult};
use crate::handshake::Accepted;
use crate::hub::ConnHandle;
use crate::router;
use crate::state::{GatewayState, SharedState};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn server_version() -> String {
    format!("pincer-{VERSION}")
}

/// The `hello-ok` payload for an accepted connection.
pub fn hello_ok(state: &GatewayState, conn: &ConnHandle, accepted: &Accepted) -> Value {
    let settings = state.settings();
    let mut server_extra = serde_json::Map::new();
    server_extra.insert("bootId".into(), json!(state.boot_id));
    server_extra.insert("buildId".into(), json!(format!("pincer-{VERSION}")));
    let mut snapshot_extra = serde_json::Map::new();
    snapshot_extra.insert("stateDir".into(), json!(state.options.state_dir.display().to_string()));
    snapshot_extra.insert("configPath".into(), json!(state.options.config_path.display().to_string()));
    snapshot_extra.insert("authMode".into(), json!(settings.auth.name()));
    let hello = HelloOk {
        kind: "hello-ok".into(),
        protocol: pincer_protocol::PROTOCOL_VERSION,
        server: ServerInfo { version: server_version(), conn_id: conn.conn_id.clone(), extra: server_extra },
        features: Features {
            methods: router::METHODS.iter().map(|(m, _)| m.to_string()).collect(),
            events: router::EVENTS.iter().map(|e| e.to_string()).collect(),
            capabilities: Vec::new(),
            extra: Default::default(),
        },
        snapshot: Snapshot {
            presence: presence_entries(state),
            health: health_payload(state),
            state_version: state.hub.state_version(),
            uptime_ms: state.uptime_ms(),
            session_defaults: SessionDefaults::default(),
            extra: snapshot_extra,
        },
        auth: crate::conn::hello_auth(accepted),
        policy: Policy { tick_interval_ms: settings.tick_interval.as_millis() as u64, ..Policy::default() },
        extra: Default::default(),
    };
    serde_json::to_value(hello).unwrap_or(Value::Null)
}

/// The health snapshot, in the shape the OpenClaw CLI reads.
pub fn health_payload(state: &GatewayState) -> Value {
    let nodes = state.nodes.all().len();
    let sessions = json!({"path": state.options.state_dir.join("pincer.sqlite").display().to_string(), "count": 0, "recent": []});
    json!({
        "ok": true,
        "ts": now_ms(),
        "durationMs": 0,
        "uptimeMs": state.uptime_ms(),
        "version": server_version(),
        "plugins": {"loaded": [], "errors": [], "unavailable": []},
        "configReload": {"hotReloadStatus": "disabled"},
        "channels": {},
        "channelOrder": [],
        "channelLabels": {},
        "heartbeatSeconds": 0,
        "defaultAgentId": "main",
        "agents": [{
            "agentId": "main",
            "isDefault": true,
            "heartbeat": {"enabled": false, "every": "disabled", "everyMs": null, "prompt": "", "target": "none", "ackMaxChars": 0},
            "sessions": sessions,
        }],
        "sessions": sessions,
        "nodes": {"connected": nodes},
        "connections": state.hub.count(),
    })
}

pub fn health(state: &GatewayState) -> MethodResult {
    Ok(health_payload(state))
}

pub fn status(state: &GatewayState, conn: &ConnHandle) -> MethodResult {
    let settings = state.settings();
    let admin = conn.has_scope(pincer_protocol::scopes::ADMIN);
    let paired_devices = state.store.paired_devices().map(|d| d.len()).unwrap_or(0);
    let pending_devices = state.store.device_requests().map(|d| d.len()).unwrap_or(0);
    let paired_nodes = state.store.node_pairings().map(|d| d.len()).unwrap_or(0);
    let pending_nodes = state.store.node_requests().map(|d| d.len()).unwrap_or(0);
    let zero_tasks = json!({"total": 0, "active": 0, "terminal": 0, "failures": 0,
        "byStatus": {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "timed_out": 0, "cancelled": 0, "lost": 0},
        "byRuntime": {"subagent": 0, "acp": 0, "cli": 0, "cron": 0}});
    Ok(json!({
        "runtimeVersion": server_version(),
        "pid": std::process::id(),
        "uptimeMs": state.uptime_ms(),
        "gateway": {
            "port": settings.port,
            "bind": match settings.bind { crate::state::Bind::Loopback => "loopback", crate::state::Bind::Lan => "lan" },
            "authMode": settings.auth.name(),
            "stateDir": if admin { json!(state.options.state_dir.display().to_string()) } else { json!("[redacted]") },
        },
        "connections": state.hub.count(),
        "nodes": {"connected": state.nodes.all().len(), "paired": paired_nodes, "pending": pending_nodes},
        "devices": {"paired": paired_devices, "pending": pending_devices},
        "approvals": {"pending": state.approvals.list().len()},
        "heartbeat": {"defaultAgentId": "main", "agents": [{"agentId": "main", "enabled": false, "every": "disabled", "everyMs": null, "waitingForRoute": false}]},
        "channelSummary": [],
        "queuedSystemEvents": [],
        "degradedSecretOwners": [],
        "degradedPlugins": [],
        "tasks": zero_tasks,
        "taskAudit": {"total": 0, "warnings": 0, "errors": 0, "byCode": {}},
        "sessions": {"paths": [], "count": 0, "defaults": {"model": null, "contextTokens": null}, "recent": [],
                     "byAgent": [{"agentId": "main", "path": "[redacted]", "count": 0, "recent": []}]},
        "processMemory": {"rssBytes": current_rss_bytes()},
    }))
}

/// Resident memory of this process, from /proc where available.
fn current_rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// One presence row for the gateway itself plus one per node and per device-bearing
/// operator (one-shot CLI connections are not presence).
pub fn presence_entries(state: &GatewayState) -> Vec<Value> {
    let host = hostname();
    let mut out = vec![json!({
        "host": host,
        "version": server_version(),
        "platform": std::env::consts::OS,
        "mode": "gateway",
        "reason": "self",
        "instanceId": state.instance_id,
        "text": format!("Gateway: {host} · app {} · mode gateway · reason self", server_version()),
        "ts": now_ms(),
    })];
    let mut conns = state.hub.all();
    conns.sort_by_key(|c| c.connected_at_ms);
    for conn in conns {
        let Some(device_id) = &conn.device_id else { continue };
        let name = conn.client.display_name.clone().unwrap_or_else(|| conn.client.id.clone());
        out.push(json!({
            "host": name,
            "clientId": conn.client.id,
            "version": conn.client.version,
            "platform": conn.client.platform,
            "deviceFamily": conn.client.device_family,
            "mode": conn.client.mode,
            "deviceId": device_id,
            "roles": [conn.role.as_str()],
            "scopes": conn.scopes,
            "instanceId": conn.client.instance_id.clone().unwrap_or_else(|| device_id.clone()),
            "reason": "connect",
            "ts": conn.connected_at_ms,
            "text": format!("{}: {name} · mode {}", if conn.role == pincer_protocol::connect::Role::Node { "Node" } else { "Client" }, conn.client.mode),
        }));
    }
    out
}

/// How long a presence change waits for others to join it in one broadcast.
///
/// Every device connect and disconnect changes presence, and a presence event carries the whole
/// list to every operator: one broadcast per change costs O(devices × operators) per connect, so
/// a burst of 300 devices in front of 200 readers meant 300 full lists to each of 500 sockets.
/// Coalesced, a burst costs one broadcast per window, and the connect path does no fan-out.
pub const PRESENCE_COALESCE: std::time::Duration = std::time::Duration::from_millis(200);

/// Announce that presence changed: one `presence` event with the then-current list goes to every
/// operator [`PRESENCE_COALESCE`] after the first change of a burst.
pub fn broadcast_presence(state: &SharedState) {
    if !state.hub.schedule_presence_broadcast() {
        return; // one is already on its way and will carry this change too
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        state.hub.presence_broadcast_started();
        broadcast_presence_now(state);
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        tokio::time::sleep(PRESENCE_COALESCE).await;
        // Cleared before the list is read, so a change from here on schedules another broadcast.
        state.hub.presence_broadcast_started();
        broadcast_presence_now(&state);
    });
}

/// Broadcast the current presence list now, with the next presence version.
pub fn broadcast_presence_now(state: &GatewayState) {
    let version = state.hub.bump_presence();
    let payload = json!({"presence": presence_entries(state)});
    state.hub.broadcast_filtered(events::PRESENCE, &payload, Some(version), |_| true);
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

// ---- logs.tail ----------------------------------------------------------------------

pub fn logs_tail(state: &GatewayState, params: Value) -> MethodResult {
    const METHOD: &str = "logs.tail";
    let int = |key: &str, min: u64, max: u64, default: u64| -> Result<u64, ErrorShape> {
        match params.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min && n <= max => Ok(n),
                Some(n) if n < min => Err(invalid_params(METHOD, format!("at /{key}: must be >= {min}"))),
                Some(_) => Err(invalid_params(METHOD, format!("at /{key}: must be <= {max}"))),
                None => Err(invalid_params(METHOD, format!("at /{key}: must be integer"))),
            },
        }
    };
    let cursor = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| invalid_params(METHOD, "at /cursor: must be integer"))?),
    };
    let limit = int("limit", 1, 5000, 500)? as usize;
    let max_bytes = int("maxBytes", 1, 1_000_000, 250_000)?;
    let Some(path) = state.options.log_file.clone() else {
        return Ok(json!({"file": "(stderr)", "cursor": 0, "size": 0, "lines": [], "truncated": false, "reset": false}));
    };
    let file_name = path.display().to_string();
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) => {
            return Ok(
                json!({"file": file_name, "cursor": 0, "size": 0, "lines": [], "truncated": false, "reset": cursor.is_some_and(|c| c > 0)}),
            )
        }
    };
    let size = file.metadata().map(|m| m.len()).map_err(|e| ErrorShape::unavailable(format!("log read failed: {e}")))?;
    let (mut start, mut reset, mut truncated) = match cursor {
        Some(c) if c <= size => (c, false, false),
        Some(_) => (size.saturating_sub(max_bytes), true, size > max_bytes),
        None => (size.saturating_sub(max_bytes), false, size > max_bytes),
    };
    let mut skipped = 0;
    if size - start > max_bytes {
        skipped = size - max_bytes - start;
        start = size - max_bytes;
        reset = true;
        truncated = true;
    }
    file.seek(SeekFrom::Start(start)).map_err(|e| ErrorShape::unavailable(format!("log read failed: {e}")))?;
    let mut buf = Vec::with_capacity((size - start) as usize);
    file.take(size - start).read_to_end(&mut buf).map_err(|e| ErrorShape::unavailable(format!("log read failed: {e}")))?;
    let mut text = String::from_utf8_lossy(&buf).to_string();
    let at_line_start = start == 0 || cursor == Some(start);
    if !at_line_start {
        // Drop the partial first line.
        text = match text.find('\n') {
            Some(i) => text[i + 1..].to_string(),
            None => String::new(),
        };
    }
    // Only complete lines; the cursor resumes right after the last newline.
    let complete_len = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let consumed_before = buf.len() - text.len();
    let new_cursor = start + (consumed_before + complete_len) as u64;
    let mut lines: Vec<&str> = text[..complete_len].lines().collect();
    if lines.len() > limit {
        lines.drain(..lines.len() - limit);
        truncated = true;
    }
    let mut out = json!({"file": file_name, "cursor": new_cursor, "size": size, "lines": lines, "truncated": truncated, "reset": reset});
    if skipped > 0 {
        out["skippedBytes"] = json!(skipped);
    }
    Ok(out)
}

// ---- voice wake -----------------------------------------------------------------------

pub const DEFAULT_TRIGGERS: &[&str] = &["openclaw", "claude", "computer"];
const VOICEWAKE_KEY: &str = "voicewake.triggers";

pub fn voicewake_triggers(state: &GatewayState) -> Vec<String> {
    state
        .store
        .setting(VOICEWAKE_KEY)
        .ok()
        .flatten()
        .and_then(|v| v.get("triggers").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_else(|| DEFAULT_TRIGGERS.iter().map(|s| s.to_string()).collect())
}

pub fn voicewake_get(state: &GatewayState) -> MethodResult {
    Ok(json!({"triggers": voicewake_triggers(state)}))
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

pub fn voicewake_set(state: &SharedState, params: Value) -> MethodResult {
    let Some(raw) = params.get("triggers").and_then(Value::as_array) else {
        return Err(ErrorShape::invalid_request("voicewake.set requires triggers: string[]"));
    };
    let triggers = normalize_triggers(raw);
    let now = now_ms();
    state.store.set_setting(VOICEWAKE_KEY, &json!({"triggers": triggers, "updatedAtMs": now}), now)?;
    state.hub.broadcast(events::VOICEWAKE_CHANGED, &json!({"triggers": triggers}));
    Ok(json!({"triggers": triggers}))
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
