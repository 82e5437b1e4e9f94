//! Exec approvals: the broker's methods (`exec.approval.*`) and the approvals files of the
//! gateway host and of nodes (`exec.approvals.*`, compare-and-swap on `hash`).

use std::path::Path;
use std::time::Duration;

use pincer_protocol::approvals::{approvals_hash, ExecApprovalsFile, ExecDecision};
use pincer_protocol::nodes::commands;
use pincer_protocol::{now_ms, ErrorShape};
use serde_json::{json, Value};

use super::required_str;
use crate::approvals::{wait_resolution, WatchState};
use crate::caller::Caller;
use crate::error::{invalid_params, MethodResult};
use crate::nodes::{InvokeOutcome, NodeRegistry};
use crate::services::approval_flow::{self, broadcast_resolved, resolution_json, Ask};
use crate::services::node_routing;
use crate::state::{GatewayState, SharedState};

pub async fn request(state: &SharedState, caller: &Caller, params: Value) -> MethodResult {
    const METHOD: &str = "exec.approval.request";
    let Value::Object(mut request) = params else {
        return Err(invalid_params(METHOD, "at root: must be object"));
    };
    let id = match request.remove("id") {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(_) => return Err(invalid_params(METHOD, "at /id: must be string")),
    };
    let host = request.get("host").and_then(Value::as_str).unwrap_or("gateway").to_string();
    let plan = request.get("systemRunPlan").cloned();
    let command_text = request
        .get("command")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| plan.as_ref().and_then(|p| p.get("commandText")).and_then(Value::as_str).map(str::to_string));
    if command_text.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(ErrorShape::invalid_request("command is required"));
    }
    if host == "node" {
        if request.get("nodeId").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(ErrorShape::invalid_request("nodeId is required for host=node"));
        }
        let Some(plan) = &plan else {
            return Err(ErrorShape::invalid_request("systemRunPlan is required for host=node"));
        };
        show_the_plan(&mut request, plan)?;
    } else {
        request.insert("command".into(), json!(command_text));
    }
    let timeout = match request.remove("timeoutMs") {
        Some(v) => match v.as_u64() {
            Some(ms) if ms >= 1 => Duration::from_millis(ms),
            _ => return Err(invalid_params(METHOD, "at /timeoutMs: must be >= 1")),
        },
        None => state.settings().exec_approval_timeout,
    };
    let two_phase = request.remove("twoPhase").and_then(|v| v.as_bool()).unwrap_or(false);
    let require_route = request.remove("requireDeliveryRoute").and_then(|v| v.as_bool()).unwrap_or(true);
    request.insert("requestedBy".into(), json!(caller.display_name()));
    let ask = Ask { request: Value::Object(request), id, requester: caller.requester(), timeout, require_route };
    let opened = approval_flow::open(state, ask, |_| {})?;
    if two_phase {
        return Ok(json!({"status": "accepted", "id": opened.id, "createdAtMs": opened.created_at_ms, "expiresAtMs": opened.expires_at_ms,
                         "deliveryRoute": if opened.has_route { "approval-client" } else { "none" }}));
    }
    let (id, created_at_ms, expires_at_ms) = (opened.id.clone(), opened.created_at_ms, opened.expires_at_ms);
    let res = opened.decision(state, None).await?;
    Ok(resolution_json(&id, &res, created_at_ms, expires_at_ms))
}

/// For a node-host run the plan is what the approval binds and what will run, so the person
/// is shown the plan: its command text, argv, cwd, agent and session replace whatever the
/// requester wrote beside it (a request saying "ls" over a plan running `rm` would otherwise
/// be approved as "ls").
fn show_the_plan(request: &mut serde_json::Map<String, Value>, plan: &Value) -> Result<(), ErrorShape> {
    let invalid = || ErrorShape::invalid_request("invalid systemRunPlan: needs argv (non-empty array of strings) and commandText");
    let argv =
        plan.get("argv").and_then(Value::as_array).filter(|a| !a.is_empty() && a.iter().all(Value::is_string)).ok_or_else(invalid)?;
    let text = plan
        .get("commandText")
        .or_else(|| plan.get("rawCommand"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(invalid)?;
    request.insert("command".into(), json!(text));
    request.insert("commandArgv".into(), json!(argv));
    for key in ["cwd", "agentId", "sessionKey"] {
        match plan.get(key).filter(|v| !v.is_null()) {
            Some(v) => request.insert(key.into(), v.clone()),
            None => request.remove(key),
        };
    }
    Ok(())
}

pub fn get(state: &GatewayState, params: Value) -> MethodResult {
    let id = required_str(&params, "id", "exec.approval.get")?;
    let summary = state.approvals.get(id)?;
    let request = &summary["request"];
    let mut decisions = vec!["allow-once", "allow-always", "deny"];
    let always_unavailable = request.get("ask").and_then(Value::as_str) == Some("always")
        || request.get("unavailableDecisions").and_then(Value::as_array).is_some_and(|a| a.iter().any(|d| d == "allow-always"));
    if always_unavailable {
        decisions.retain(|d| *d != "allow-always");
    }
    Ok(json!({
        "id": summary["id"],
        "commandText": request.get("command"),
        "commandPreview": request.get("commandPreview"),
        "allowedDecisions": decisions,
        "host": request.get("host"),
        "nodeId": request.get("nodeId"),
        "agentId": request.get("agentId"),
        "cwd": request.get("cwd"),
        "request": request,
        "createdAtMs": summary["createdAtMs"],
        "expiresAtMs": summary["expiresAtMs"],
    }))
}

pub fn resolve(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let id = required_str(&params, "id", "exec.approval.resolve")?;
    let decision = params.get("decision").and_then(Value::as_str).unwrap_or("");
    let decision = ExecDecision::parse(decision).ok_or_else(|| ErrorShape::invalid_request("invalid decision"))?;
    if decision == ExecDecision::AllowAlways {
        if let Ok(summary) = state.approvals.get(id) {
            let req = &summary["request"];
            if req.get("ask").and_then(Value::as_str) == Some("always")
                || req.get("unavailableDecisions").and_then(Value::as_array).is_some_and(|a| a.iter().any(|d| d == "allow-always"))
            {
                return Err(ErrorShape::invalid_request("allow-always is unavailable for this command")
                    .with_detail("reason", "APPROVAL_ALLOW_ALWAYS_UNAVAILABLE"));
            }
        }
    }
    let by = caller.display_name();
    let full_id = state.approvals.get(id).ok().and_then(|s| s["id"].as_str().map(str::to_string)).unwrap_or_else(|| id.to_string());
    let (res, request, fresh) = state.approvals.resolve(&full_id, decision, Some(by), now_ms())?;
    if fresh {
        broadcast_resolved(state, &full_id, &res, &request);
    }
    Ok(json!({"ok": true}))
}

pub async fn wait_decision(state: &GatewayState, params: Value) -> MethodResult {
    let id =
        params.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| ErrorShape::invalid_request("id is required"))?;
    match state.approvals.watch(id)? {
        WatchState::Done { resolution, created_at_ms, expires_at_ms } => Ok(resolution_json(id, &resolution, created_at_ms, expires_at_ms)),
        WatchState::Pending { rx, created_at_ms, expires_at_ms } => {
            let res = wait_resolution(rx).await.ok_or_else(|| ErrorShape::invalid_request("approval expired or not found"))?;
            Ok(resolution_json(id, &res, created_at_ms, expires_at_ms))
        }
    }
}

// ---- approvals files ------------------------------------------------------------------

/// The built-in defaults Pincer applies where the file says nothing (deny by default).
fn resolved_defaults(file: &ExecApprovalsFile) -> Value {
    let d = file.defaults.clone().unwrap_or_default();
    json!({
        "security": d.security.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(json!("allowlist")),
        "ask": d.ask.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(json!("on-miss")),
        "askFallback": d.ask_fallback.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).unwrap_or(json!("deny")),
    })
}

fn snapshot(path: &Path, raw: Option<&[u8]>) -> MethodResult {
    let file: ExecApprovalsFile = match raw {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|e| {
            ErrorShape::unavailable(format!("{} is not a valid exec approvals file: {e}; fix or delete it", path.display()))
        })?,
        None => ExecApprovalsFile { defaults: Some(Default::default()), agents: Some(Default::default()), ..Default::default() },
    };
    let mut file_json = serde_json::to_value(&file).unwrap_or(Value::Null);
    if let Some(socket) = file_json.get_mut("socket").and_then(Value::as_object_mut) {
        socket.remove("token");
    }
    Ok(json!({
        "path": path.display().to_string(),
        "exists": raw.is_some(),
        "hash": approvals_hash(raw),
        "file": file_json,
        "resolvedDefaults": resolved_defaults(&file),
    }))
}

fn file_error(e: pincer_statefile::StateFileError) -> ErrorShape {
    ErrorShape::unavailable(e.to_string())
}

pub fn file_get(state: &GatewayState) -> MethodResult {
    let path = state.exec_approvals_path();
    let current = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ErrorShape::unavailable(format!("cannot read {}: {e}", path.display()))),
    };
    snapshot(&path, current.as_deref())
}

pub fn file_set(state: &GatewayState, params: Value) -> MethodResult {
    const METHOD: &str = "exec.approvals.set";
    let Some(file_value) = params.get("file").cloned() else {
        return Err(ErrorShape::invalid_request("exec approvals file is required"));
    };
    let file: ExecApprovalsFile = serde_json::from_value(file_value).map_err(|e| invalid_params(METHOD, format!("at /file: {e}")))?;
    if file.version != 1 {
        return Err(invalid_params(METHOD, "at /file/version: must be equal to constant 1"));
    }
    let path = state.exec_approvals_path();
    // Held from the read to the rename: a concurrent set (any thread, any process) waits, then
    // sees this one's hash and is refused.
    let locked = pincer_statefile::lock(&path).map_err(file_error)?;
    let current = locked.read().map_err(file_error)?;
    let base_hash = params.get("baseHash").and_then(Value::as_str);
    match (&current, base_hash) {
        (Some(_), None) => {
            return Err(ErrorShape::invalid_request("exec approvals base hash required; re-run exec.approvals.get and retry"))
        }
        (cur, Some(h)) if h != approvals_hash(cur.as_deref()) => {
            return Err(ErrorShape::invalid_request("exec approvals changed since last load; re-run exec.approvals.get and retry"))
        }
        _ => {}
    }
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| ErrorShape::unavailable(e.to_string()))?;
    text.push('\n');
    locked.write(text.as_bytes()).map_err(file_error)?;
    drop(locked);
    let _ =
        state.store.audit(now_ms(), "exec.approvals", "gateway", "updated", None, &json!({"hash": approvals_hash(Some(text.as_bytes()))}));
    snapshot(&path, Some(text.as_bytes()))
}

async fn node_command(state: &GatewayState, node_id: &str, command: &str, params: Value) -> MethodResult {
    if let Some(session) = state.nodes.get(node_id) {
        node_routing::check_command(state, &session, command).map_err(|e| {
            ErrorShape::invalid_request(format!("node command not allowed: {command} ({})", e.message)).with_detail("command", command)
        })?;
    }
    let outcome = node_routing::invoke_node(state, node_id, command, Some(&params), None, None, None).await?;
    match outcome {
        InvokeOutcome::Ok(payload) => Ok(payload.unwrap_or(Value::Null)),
        other => NodeRegistry::outcome_to_result(node_id, command, other),
    }
}

pub async fn node_file_get(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = params
        .get("nodeId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ErrorShape::invalid_request("nodeId required"))?;
    let payload = node_command(state, node_id, commands::SYSTEM_EXEC_APPROVALS_GET, json!({})).await?;
    let valid = payload.get("hash").and_then(Value::as_str).is_some() || payload.get("enabled").is_some();
    if !valid || payload.get("baseHash").is_some() && payload.get("file").is_some() {
        return Err(ErrorShape::invalid_request("node returned invalid exec approvals payload"));
    }
    Ok(payload)
}

pub async fn node_file_set(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = params
        .get("nodeId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ErrorShape::invalid_request("nodeId required"))?
        .to_string();
    let mut forward = params.clone();
    if let Some(obj) = forward.as_object_mut() {
        obj.remove("nodeId");
    }
    if forward.get("file").is_none() && forward.get("native").is_none() {
        return Err(ErrorShape::invalid_request("exec approvals file is required"));
    }
    let result = node_command(state, &node_id, commands::SYSTEM_EXEC_APPROVALS_SET, forward).await?;
    let _ = state.store.audit(now_ms(), "exec.approvals", &node_id, "updated", None, &json!({"hash": result.get("hash")}));
    Ok(result)
}
