//! `health`, `status`, `system-presence`, `logs.tail` and the voice-wake triggers (the
//! payloads themselves come from the presence and voice-wake services).

use std::io::{Read, Seek, SeekFrom};

use pincer_protocol::ErrorShape;
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::error::{invalid_params, MethodResult};
use crate::services::presence::{health_payload, presence_entries, server_version};
use crate::services::voicewake;
use crate::state::GatewayState;

pub fn health(state: &GatewayState) -> MethodResult {
    Ok(health_payload(state))
}

pub fn presence(state: &GatewayState) -> MethodResult {
    Ok(Value::Array(presence_entries(state)))
}

pub fn status(state: &GatewayState, caller: &Caller) -> MethodResult {
    let settings = state.settings();
    let admin = caller.has_scope(pincer_protocol::scopes::ADMIN);
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

pub fn voicewake_get(state: &GatewayState) -> MethodResult {
    Ok(json!({"triggers": voicewake::triggers(state)}))
}

pub fn voicewake_set(state: &GatewayState, params: Value) -> MethodResult {
    let Some(raw) = params.get("triggers").and_then(Value::as_array) else {
        return Err(ErrorShape::invalid_request("voicewake.set requires triggers: string[]"));
    };
    let triggers = voicewake::normalize_triggers(raw);
    voicewake::save(state, &triggers)?;
    Ok(json!({"triggers": triggers}))
}
