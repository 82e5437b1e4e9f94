//! Nodes: connection lifecycle, node pairing (command trust), `node.list/describe/rename`,
//! `node.invoke` routing with the command policy, results and node events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_protocol::connect::{ConnectParams, Role};
use pincer_protocol::error::{DetailCode, ErrorShape};
use pincer_protocol::methods::events;
use pincer_protocol::nodes::{commands, NodeEventParams, NodeInvokeParams, NodeInvokeResult};
use pincer_protocol::{close_code, now_ms, scopes};
use serde_json::{json, Value};

use super::required_str;
use crate::approvals::Requester;
use crate::error::{invalid_params, parse_params, MethodResult};
use crate::handshake::Accepted;
use crate::hub::ConnHandle;
use crate::idempotency::{Begin, Slot};
use crate::nodes::policy::{self, Denial};
use crate::nodes::system_run::{self, Caller};
use crate::nodes::{InvokeOutcome, NodeRegistry, NodeSession};
use crate::state::{GatewayState, SharedState};
use crate::store::NodePairRequestRecord;

fn strings(v: &Option<Vec<String>>) -> Vec<String> {
    v.clone().unwrap_or_default()
}

fn str_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

// ---- lifecycle ----------------------------------------------------------------------

pub fn on_connected(state: &SharedState, conn: &Arc<ConnHandle>, params: &ConnectParams, accepted: &Accepted) {
    if conn.role == Role::Node {
        if let Some(node_id) = &conn.device_id {
            let session = Arc::new(NodeSession {
                node_id: node_id.clone(),
                conn: conn.clone(),
                caps: strings(&params.caps),
                commands: strings(&params.commands),
                permissions: params.permissions.clone().unwrap_or_default(),
                path_env: params.path_env.clone(),
                protocol: accepted.protocol,
                connected_at_ms: conn.connected_at_ms,
                host_stats: Default::default(),
            });
            if let Some(old) = state.nodes.register(session.clone()) {
                if old.conn.conn_id != conn.conn_id {
                    old.conn.close(close_code::POLICY_VIOLATION, "replaced by a newer connection of this node");
                }
            }
            conn.send_event(events::VOICEWAKE_CHANGED, &json!({"triggers": super::system::voicewake_triggers(state)}).to_string(), None);
            if let Err(e) = ensure_surface_request(state, &session) {
                tracing::error!(error = %e, "could not record node pairing request");
            }
        }
    }
    if conn.device_id.is_some() {
        super::system::broadcast_presence(state);
    }
}

pub fn on_disconnected(state: &SharedState, conn: &Arc<ConnHandle>) {
    if conn.role == Role::Node {
        if let Some(node_id) = &conn.device_id {
            if state.nodes.unregister(node_id, &conn.conn_id) {
                if let Ok(Some(mut record)) = state.store.node_pairing(node_id) {
                    record["lastSeenAtMs"] = json!(now_ms());
                    record["lastSeenReason"] = json!("disconnect");
                    let approved = record["approvedAtMs"].as_i64().unwrap_or(0);
                    let _ = state.store.save_node_pairing(node_id, &record, approved);
                }
            }
        }
    }
    if conn.device_id.is_some() {
        super::system::broadcast_presence(state);
    }
}

/// Node pairing requests expire after five minutes.
pub async fn expire_node_requests_loop(state: SharedState) {
    let mut interval = tokio::time::interval(Duration::from_secs(15));
    loop {
        interval.tick().await;
        let now = now_ms();
        let Ok(requests) = state.store.node_requests() else { continue };
        for req in requests {
            let expired = now - req.ts > pincer_protocol::NODE_PAIR_REQUEST_TTL_MS as i64;
            if expired && state.store.delete_node_request(&req.request_id).unwrap_or(false) {
                resolved(&state, &req.request_id, &req.node_id, "expired", now);
            }
        }
    }
}

// ---- node pairing (command trust) ---------------------------------------------------

fn surface_of(session: &NodeSession) -> Value {
    let client = &session.conn.client;
    json!({
        "nodeId": session.node_id,
        "clientId": client.id,
        "clientMode": client.mode,
        "displayName": client.display_name,
        "platform": client.platform,
        "version": client.version,
        "deviceFamily": client.device_family,
        "caps": session.caps,
        "commands": session.commands,
        "permissions": session.permissions,
    })
}

/// The approved surface covers what the node declares now?
fn surface_covered(approved: &Value, session: &NodeSession) -> bool {
    let approved_cmds = str_list(approved, "commands");
    session.commands.iter().all(|c| approved_cmds.contains(c))
}

fn pending_request_for(state: &GatewayState, node_id: &str) -> Option<NodePairRequestRecord> {
    state.store.node_requests().ok()?.into_iter().rev().find(|r| r.node_id == node_id)
}

/// Make sure a node whose declared surface is not approved has a pending request.
fn ensure_surface_request(state: &GatewayState, session: &NodeSession) -> Result<(), crate::store::StoreError> {
    let approved = state.store.node_pairing(&session.node_id)?;
    if approved.as_ref().is_some_and(|a| surface_covered(a, session)) {
        return Ok(());
    }
    let surface = surface_of(session);
    if let Some(existing) = pending_request_for(state, &session.node_id) {
        if str_list(&existing.record, "commands") == session.commands && str_list(&existing.record, "caps") == session.caps {
            return Ok(());
        }
        state.store.delete_node_request(&existing.request_id)?;
    }
    create_node_request(state, surface, Some(session.conn.remote.ip().to_string()), false)?;
    Ok(())
}

fn create_node_request(
    state: &GatewayState,
    surface: Value,
    remote_ip: Option<String>,
    silent: bool,
) -> Result<NodePairRequestRecord, crate::store::StoreError> {
    let now = now_ms();
    let request_id = uuid::Uuid::new_v4().to_string();
    let node_id = surface["nodeId"].as_str().unwrap_or_default().to_string();
    let commands = str_list(&surface, "commands");
    let mut record = json!({"requestId": request_id});
    if let (Some(rec), Some(src)) = (record.as_object_mut(), surface.as_object()) {
        for (k, v) in src {
            if !v.is_null() {
                rec.insert(k.clone(), v.clone());
            }
        }
        if let Some(ip) = remote_ip {
            rec.insert("remoteIp".into(), json!(ip));
        }
        rec.insert("requiredApproveScopes".into(), json!(policy::required_approve_scopes(&commands)));
        if silent {
            rec.insert("silent".into(), json!(true));
        }
        rec.insert("ts".into(), json!(now));
    }
    let req = NodePairRequestRecord { request_id, node_id, ts: now, record: record.clone() };
    state.store.save_node_request(&req)?;
    state.hub.broadcast(events::NODE_PAIR_REQUESTED, &record);
    tracing::info!(node = %req.node_id, request = %req.request_id, "node pairing requested");
    Ok(req)
}

fn resolved(state: &GatewayState, request_id: &str, node_id: &str, decision: &str, ts: i64) {
    let payload = json!({"requestId": request_id, "nodeId": node_id, "decision": decision, "ts": ts});
    state.hub.broadcast(events::NODE_PAIR_RESOLVED, &payload);
    if let Some(node) = state.nodes.get(node_id) {
        node.conn.send_event(events::NODE_PAIR_RESOLVED, &payload.to_string(), None);
    }
}

fn audit(state: &GatewayState, kind: &str, subject: &str, decision: &str, conn: &ConnHandle, details: Value) {
    let actor = conn.client.display_name.clone().unwrap_or_else(|| conn.client.id.clone());
    if let Err(e) = state.store.audit(now_ms(), kind, subject, decision, Some(&actor), &details) {
        tracing::error!(error = %e, "audit write failed");
    }
}

pub fn pair_request(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let node_id = match conn.role {
        Role::Node => conn.device_id.clone().unwrap_or_default(),
        Role::Operator => required_str(&params, "nodeId", "node.pair.request")?.to_string(),
    };
    let mut surface = params.clone();
    surface["nodeId"] = json!(node_id);
    if let Some(existing) = pending_request_for(state, &node_id) {
        if str_list(&existing.record, "commands") == str_list(&surface, "commands") {
            return Ok(json!({"status": "pending", "request": existing.record, "created": false}));
        }
        state.store.delete_node_request(&existing.request_id)?;
    }
    let silent = params.get("silent").and_then(Value::as_bool).unwrap_or(false);
    let req = create_node_request(state, surface, params.get("remoteIp").and_then(Value::as_str).map(str::to_string), silent)?;
    Ok(json!({"status": "pending", "request": req.record, "created": true}))
}

fn live_requests(state: &GatewayState) -> Result<Vec<NodePairRequestRecord>, ErrorShape> {
    let now = now_ms();
    Ok(state.store.node_requests()?.into_iter().filter(|r| now - r.ts <= pincer_protocol::NODE_PAIR_REQUEST_TTL_MS as i64).collect())
}

pub fn pair_list(state: &GatewayState) -> MethodResult {
    let pending: Vec<Value> = live_requests(state)?.into_iter().map(|r| r.record).collect();
    let paired = state.store.node_pairings()?;
    Ok(json!({"pending": pending, "paired": paired}))
}

pub fn pair_approve(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "node.pair.approve")?;
    let Some(req) = live_requests(state)?.into_iter().find(|r| r.request_id == request_id) else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    let commands = str_list(&req.record, "commands");
    let required = policy::required_approve_scopes(&commands);
    if let Some(missing) = required.iter().find(|s| !conn.has_scope(s)) {
        return Err(ErrorShape::missing_scope(missing, &required));
    }
    let now = now_ms();
    let mut record = req.record.clone();
    if let Some(obj) = record.as_object_mut() {
        for k in ["requestId", "requiredApproveScopes", "ts", "silent", "remoteIp"] {
            obj.remove(k);
        }
        let created = state.store.node_pairing(&req.node_id).ok().flatten().and_then(|p| p["createdAtMs"].as_i64()).unwrap_or(now);
        obj.insert("createdAtMs".into(), json!(created));
        obj.insert("approvedAtMs".into(), json!(now));
        obj.insert("lastSeenAtMs".into(), json!(req.ts));
        obj.insert("lastSeenReason".into(), json!("connect"));
    }
    state.store.approve_node_request(request_id, &req.node_id, &record, now)?;
    audit(state, "node.pair", &req.node_id, "approved", conn, json!({"requestId": request_id, "commands": commands}));
    state.hub.broadcast(events::NODE_RUNNER_INVENTORY_CHANGED, &json!({"nodeId": req.node_id}));
    resolved(state, request_id, &req.node_id, "approved", now);
    tracing::info!(node = %req.node_id, request = %request_id, "node pairing approved");
    Ok(json!({"requestId": request_id, "node": record}))
}

pub fn pair_reject(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "node.pair.reject")?;
    let Some(req) = live_requests(state)?.into_iter().find(|r| r.request_id == request_id) else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    state.store.delete_node_request(request_id)?;
    let now = now_ms();
    audit(state, "node.pair", &req.node_id, "rejected", conn, json!({"requestId": request_id}));
    resolved(state, request_id, &req.node_id, "rejected", now);
    Ok(json!({"requestId": request_id, "nodeId": req.node_id}))
}

pub fn pair_remove(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.pair.remove")?;
    if !state.store.remove_node_pairing(node_id)? {
        return Err(ErrorShape::invalid_request("unknown nodeId"));
    }
    let now = now_ms();
    audit(state, "node.pair", node_id, "removed", conn, json!({}));
    resolved(state, "", node_id, "removed", now);
    if let Some(node) = state.nodes.get(node_id) {
        node.conn.close(close_code::POLICY_VIOLATION, "node pairing removed");
    }
    Ok(json!({"nodeId": node_id}))
}

pub fn pair_verify(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.pair.verify")?;
    let token = required_str(&params, "token", "node.pair.verify")?;
    let ok = state.store.verify_device_token(node_id, "node", token, now_ms())?.is_some() && state.store.node_pairing(node_id)?.is_some();
    Ok(json!({"ok": ok}))
}

// ---- listing --------------------------------------------------------------------------

/// A node as `node.list` shows it: paired record, live session and approval state.
fn node_entry(state: &GatewayState, node_id: &str, approved: Option<&Value>, session: Option<&Arc<NodeSession>>) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("nodeId".into(), json!(node_id));
    if let Some(Value::Object(a)) = approved {
        for k in ["displayName", "platform", "version", "clientId", "clientMode", "deviceFamily", "caps", "commands", "permissions"] {
            if let Some(v) = a.get(k) {
                entry.insert(k.into(), v.clone());
            }
        }
    }
    let pending = pending_request_for(state, node_id);
    if let Some(s) = session {
        let c = &s.conn.client;
        entry.insert("displayName".into(), json!(c.display_name.clone().unwrap_or_else(|| node_id.chars().take(12).collect())));
        entry.insert("platform".into(), json!(c.platform));
        entry.insert("version".into(), json!(c.version));
        entry.insert("clientId".into(), json!(c.id));
        entry.insert("clientMode".into(), json!(c.mode));
        if let Some(f) = &c.device_family {
            entry.insert("deviceFamily".into(), json!(f));
        }
        entry.insert("remoteIp".into(), json!(s.conn.remote.ip().to_string()));
        let effective: Vec<&String> = match approved {
            Some(a) => {
                let approved_cmds = str_list(a, "commands");
                s.commands.iter().filter(|c| approved_cmds.contains(c)).collect()
            }
            None => Vec::new(),
        };
        entry.insert("caps".into(), json!(if approved.is_some() { json!(s.caps) } else { json!([]) }));
        entry.insert("commands".into(), json!(effective));
        entry.insert("permissions".into(), json!(s.permissions));
        if let Some(p) = &s.path_env {
            entry.insert("pathEnv".into(), json!(p));
        }
        if let Ok(stats) = s.host_stats.lock() {
            if let Some(stats) = stats.as_ref() {
                entry.insert("hostStats".into(), stats.clone());
            }
        }
        entry.insert("sessionHost".into(), json!(false));
        entry.insert("nodePluginTools".into(), json!([]));
        entry.insert("connectedAtMs".into(), json!(s.connected_at_ms));
        entry.insert("lastConnectedAtMs".into(), json!(s.connected_at_ms));
        entry.insert("lastSeenAtMs".into(), json!(s.connected_at_ms));
        entry.insert("lastSeenReason".into(), json!("connect"));
    } else if let Some(a) = approved {
        for k in ["lastSeenAtMs", "lastSeenReason"] {
            if let Some(v) = a.get(k) {
                entry.insert(k.into(), v.clone());
            }
        }
    }
    let approval_state = match (approved, &pending) {
        (Some(_), Some(_)) => "pending-reapproval",
        (Some(_), None) => "approved",
        (None, Some(_)) => "pending-approval",
        (None, None) => "unapproved",
    };
    entry.insert("approvalState".into(), json!(approval_state));
    if let Some(p) = &pending {
        entry.insert("pendingRequestId".into(), json!(p.request_id));
        if approved.is_some() {
            entry.insert("pendingDeclaredCommands".into(), p.record.get("commands").cloned().unwrap_or(json!([])));
            entry.insert("pendingDeclaredCaps".into(), p.record.get("caps").cloned().unwrap_or(json!([])));
        }
    }
    if let Some(at) = approved.and_then(|a| a.get("approvedAtMs")) {
        entry.insert("approvedAtMs".into(), at.clone());
    }
    entry.insert("paired".into(), json!(approved.is_some()));
    entry.insert("connected".into(), json!(session.is_some()));
    Value::Object(entry)
}

fn all_node_entries(state: &GatewayState) -> Result<Vec<Value>, ErrorShape> {
    let approved = state.store.node_pairings()?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for a in &approved {
        let id = a["nodeId"].as_str().unwrap_or_default().to_string();
        let session = state.nodes.get(&id);
        out.push(node_entry(state, &id, Some(a), session.as_ref()));
        seen.insert(id);
    }
    let mut sessions = state.nodes.all();
    sessions.sort_by_key(|s| s.connected_at_ms);
    for s in sessions {
        if !seen.contains(&s.node_id) {
            out.push(node_entry(state, &s.node_id, None, Some(&s)));
        }
    }
    Ok(out)
}

pub fn list(state: &GatewayState) -> MethodResult {
    Ok(json!({"ts": now_ms(), "nodes": all_node_entries(state)?}))
}

pub fn describe(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.describe").map_err(|_| ErrorShape::invalid_request("nodeId required"))?;
    let approved = state.store.node_pairing(node_id)?;
    let session = state.nodes.get(node_id);
    if approved.is_none() && session.is_none() {
        return Err(ErrorShape::invalid_request("unknown nodeId"));
    }
    let mut entry = node_entry(state, node_id, approved.as_ref(), session.as_ref());
    entry["ts"] = json!(now_ms());
    Ok(entry)
}

pub fn rename(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.rename")?;
    let name = params.get("displayName").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ErrorShape::invalid_request("displayName required"));
    }
    let Some(mut record) = state.store.node_pairing(node_id)? else {
        return Err(ErrorShape::invalid_request("unknown nodeId"));
    };
    record["displayName"] = json!(name);
    let approved = record["approvedAtMs"].as_i64().unwrap_or(0);
    state.store.save_node_pairing(node_id, &record, approved)?;
    Ok(json!({"nodeId": node_id, "displayName": name}))
}

// ---- invoke ---------------------------------------------------------------------------

/// Check that `command` may be invoked on `session` and return the error otherwise.
pub fn check_command(state: &GatewayState, session: &NodeSession, command: &str) -> Result<(), ErrorShape> {
    let settings = state.settings();
    let client = &session.conn.client;
    let class = policy::classify(&client.platform, client.device_family.as_deref().unwrap_or(""));
    let deny = |d: Denial| {
        ErrorShape::invalid_request(d.message(command, class.as_str()))
            .with_detail_code(DetailCode::NodeCommandNotAllowed)
            .with_detail("reason", d.reason())
            .with_detail("command", command)
    };
    policy::allowed_by_policy(command, class, &settings.commands_allow, &settings.commands_deny).map_err(deny)?;
    if command.starts_with("talk.") && !session.caps.iter().any(|c| c == "talk") {
        return Err(deny(Denial::NotAllowlisted));
    }
    if session.commands.is_empty() {
        return Err(deny(Denial::NothingDeclared));
    }
    if !session.commands.iter().any(|c| c == command) {
        return Err(deny(Denial::NotDeclared));
    }
    let approved = state.store.node_pairing(&session.node_id)?;
    let approved_cmds = approved.as_ref().map(|a| str_list(a, "commands")).unwrap_or_default();
    if !approved_cmds.iter().any(|c| c == command) {
        return Err(deny(Denial::SurfacePending));
    }
    Ok(())
}

fn not_connected() -> ErrorShape {
    ErrorShape::unavailable("node not connected")
        .with_detail_code(DetailCode::NodeNotConnected)
        .with_detail("nodeError", json!({"code": "NOT_CONNECTED", "message": "node not connected"}))
        .with_detail("nodeCommandDispatched", false)
}

/// Route a command to a node and wait for its answer (used by `node.invoke` and by the
/// exec-approvals node methods). A `system.run` sent this way has no requester, so it can
/// never carry an approval; callers that can use one go through [`invoke_system_run`].
pub async fn invoke_node(
    state: &GatewayState,
    node_id: &str,
    command: &str,
    params: Option<&Value>,
    timeout: Option<Duration>,
    idempotency_key: Option<&str>,
    session_key: Option<&str>,
) -> Result<InvokeOutcome, ErrorShape> {
    if command == commands::SYSTEM_RUN {
        return invoke_system_run(state, None, node_id, params, timeout, idempotency_key, session_key).await;
    }
    dispatch(state, node_id, command, params, timeout, idempotency_key, session_key).await
}

/// Send a `system.run` through the approval gate ([`system_run::sanitize_for_forwarding`]):
/// the node gets only the fields it understands, and approval facts only from the broker's
/// record of an approval `caller` opened for exactly this plan. Refusals are audited.
pub async fn invoke_system_run(
    state: &GatewayState,
    caller: Option<&Caller>,
    node_id: &str,
    params: Option<&Value>,
    timeout: Option<Duration>,
    idempotency_key: Option<&str>,
    session_key: Option<&str>,
) -> Result<InvokeOutcome, ErrorShape> {
    let run_id = params.and_then(|p| p.get("runId")).and_then(Value::as_str);
    let argv = params.and_then(|p| p.get("command")).cloned().unwrap_or(Value::Null);
    let actor = caller.map(caller_label).unwrap_or_else(|| "gateway".into());
    let forwarded = match system_run::sanitize_for_forwarding(&state.approvals, node_id, params, caller, now_ms()) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(node = %node_id, code = e.code(), actor = %actor, "system.run refused: {e}");
            let details = json!({"nodeId": node_id, "code": e.code(), "message": e.to_string(), "command": argv, "runId": run_id});
            if let Err(err) =
                state.store.audit(now_ms(), "system.run.approval", run_id.unwrap_or(node_id), "refused", Some(&actor), &details)
            {
                tracing::error!(error = %err, "audit write failed");
            }
            return Err(e.to_shape(run_id));
        }
    };
    if let Some((approval_id, decision)) = &forwarded.approval {
        let details = json!({"nodeId": node_id, "decision": decision.as_str(), "command": argv});
        if let Err(err) = state.store.audit(now_ms(), "system.run.approval", approval_id, "used", Some(&actor), &details) {
            tracing::error!(error = %err, "audit write failed");
        }
    }
    dispatch(state, node_id, commands::SYSTEM_RUN, forwarded.params.as_ref(), timeout, idempotency_key, session_key).await
}

fn caller_label(caller: &Caller) -> String {
    match &caller.identity {
        Requester::Agent => "agent".into(),
        Requester::Client { conn_id, device_id: Some(device) } => format!("device {device} (connection {conn_id})"),
        Requester::Client { conn_id, device_id: None } => format!("connection {conn_id}"),
    }
}

/// The caller of an operator request, as the approval records know requesters.
pub fn caller_of(conn: &ConnHandle) -> Caller {
    Caller {
        identity: Requester::Client { conn_id: conn.conn_id.clone(), device_id: conn.device_id.clone() },
        may_approve: conn.has_scope(scopes::APPROVALS) || conn.has_scope(scopes::ADMIN),
    }
}

async fn dispatch(
    state: &GatewayState,
    node_id: &str,
    command: &str,
    params: Option<&Value>,
    timeout: Option<Duration>,
    idempotency_key: Option<&str>,
    session_key: Option<&str>,
) -> Result<InvokeOutcome, ErrorShape> {
    let Some(session) = state.nodes.get(node_id) else {
        if state.store.node_pairing(node_id)?.is_some() || state.store.paired_device(node_id)?.is_some() {
            return Err(not_connected());
        }
        return Err(ErrorShape::invalid_request(format!("unknown nodeId: {node_id}")).with_detail_code(DetailCode::NodeNotConnected));
    };
    let timeout = timeout.unwrap_or_else(|| state.settings().invoke_timeout);
    state.nodes.invoke(session, command, params, timeout, idempotency_key, session_key).await
}

pub async fn invoke(state: &SharedState, conn: &ConnHandle, params: Value) -> MethodResult {
    const METHOD: &str = "node.invoke";
    let fingerprint = params.to_string();
    let p: NodeInvokeParams = parse_params(METHOD, params)?;
    if p.node_id.trim().is_empty() || p.command.trim().is_empty() {
        return Err(ErrorShape::invalid_request("nodeId and command required"));
    }
    if p.idempotency_key.trim().is_empty() {
        return Err(invalid_params(METHOD, "at /idempotencyKey: must NOT have fewer than 1 characters"));
    }
    if policy::INVOKE_BLOCKED.contains(&p.command.as_str()) {
        return Err(ErrorShape::invalid_request("node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*")
            .with_detail("command", p.command.clone()));
    }
    if policy::ADMIN_INVOKE_COMMANDS.contains(&p.command.as_str()) && !conn.has_scope(scopes::ADMIN) {
        return Err(ErrorShape::missing_scope(scopes::ADMIN, &[scopes::ADMIN]));
    }
    let Some(session) = state.nodes.get(&p.node_id) else {
        return invoke_node(state, &p.node_id, &p.command, None, None, None, None).await.map(|_| Value::Null);
    };
    check_command(state, &session, &p.command)?;

    // Side-effecting: a retried request with the same key gets the first answer.
    let cache_key = format!("node.invoke:{}", p.idempotency_key);
    match state.idempotency.begin(&cache_key, &fingerprint, Instant::now()) {
        Begin::Fresh => {}
        Begin::Replay(Slot::Done(result)) => return *result,
        Begin::Replay(Slot::InFlight) => {
            return Err(ErrorShape::unavailable("a node.invoke with this idempotencyKey is still in flight").retryable(Some(500)))
        }
        Begin::Conflict => {
            return Err(ErrorShape::invalid_request("idempotencyKey was already used with different params")
                .with_detail_code(DetailCode::IdempotencyConflict))
        }
    }
    // If this request is cancelled (its task aborted) before finishing, free the key.
    let abandon = AbandonKey { state, key: &cache_key };
    let timeout = match p.timeout_ms {
        Some(0) | None => None,
        Some(ms) => Some(Duration::from_millis(ms)),
    };
    let (params, key, session_key) = (p.params.as_ref(), Some(p.idempotency_key.as_str()), p.session_key.as_deref());
    let outcome = if p.command == commands::SYSTEM_RUN {
        invoke_system_run(state, Some(&caller_of(conn)), &p.node_id, params, timeout, key, session_key).await
    } else {
        invoke_node(state, &p.node_id, &p.command, params, timeout, key, session_key).await
    };
    let result = outcome.and_then(|o| NodeRegistry::outcome_to_result(&p.node_id, &p.command, o));
    state.idempotency.finish(&cache_key, result.clone());
    drop(abandon);
    result
}

/// Drops an idempotency key that is still in flight (no-op once `finish` stored a result).
struct AbandonKey<'a> {
    state: &'a GatewayState,
    key: &'a str,
}

impl Drop for AbandonKey<'_> {
    fn drop(&mut self) {
        self.state.idempotency.abandon(self.key);
    }
}

pub fn invoke_cancel(state: &GatewayState, params: Value) -> MethodResult {
    let id = params
        .get("invokeId")
        .or_else(|| params.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_params("node.invoke.cancel", "must have required property 'invokeId'"))?;
    Ok(json!({"ok": true, "cancelled": state.nodes.cancel(id)}))
}

pub fn invoke_result(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let r: NodeInvokeResult = parse_params("node.invoke.result", params)?;
    if conn.device_id.as_deref() != Some(r.node_id.as_str()) {
        return Err(ErrorShape::invalid_request("nodeId mismatch"));
    }
    let outcome = if r.ok {
        match r.payload_value() {
            Ok(payload) => InvokeOutcome::Ok(payload),
            Err(e) => {
                InvokeOutcome::NodeError { code: "INVALID_RESULT".into(), message: format!("node returned malformed payloadJSON: {e}") }
            }
        }
    } else {
        let (code, message) = r.error.map(|e| (e.code, e.message)).unwrap_or_else(|| (String::new(), "node invoke failed".into()));
        InvokeOutcome::NodeError { code, message }
    };
    if state.nodes.complete(&r.id, &r.node_id, outcome) {
        Ok(json!({"ok": true}))
    } else {
        Ok(json!({"ok": true, "ignored": true}))
    }
}

pub fn node_event(state: &GatewayState, conn: &ConnHandle, params: Value) -> MethodResult {
    let p: NodeEventParams = parse_params("node.event", params)?;
    let payload =
        p.payload_value().map_err(|e| invalid_params("node.event", format!("payloadJSON is not valid JSON ({e})")))?.unwrap_or(Value::Null);
    let node_id = conn.device_id.clone().unwrap_or_default();
    let (handled, reason) = match p.event.as_str() {
        "node.host.stats" => {
            let mut stats = payload.clone();
            if stats.is_object() {
                stats["updatedAtMs"] = json!(now_ms());
            }
            if let Some(session) = state.nodes.get(&node_id) {
                if let Ok(mut slot) = session.host_stats.lock() {
                    *slot = Some(stats.clone());
                }
            }
            state.hub.broadcast(events::NODE_HOST_STATS, &json!({"nodeId": node_id, "hostStats": stats}));
            (true, "updated")
        }
        "exec.started" | "exec.finished" | "exec.denied" => {
            tracing::info!(node = %node_id, event = %p.event, payload = %payload, "node exec event");
            if p.event == "exec.denied" {
                let _ = state.store.audit(now_ms(), "node.exec", &node_id, "denied", Some(&node_id), &payload);
            }
            (true, "recorded")
        }
        "voice.transcript" | "agent.request" => (false, "agent runtime not enabled on this gateway"),
        _ => (false, "unhandled event"),
    };
    Ok(json!({"ok": true, "event": p.event, "handled": handled, "reason": reason}))
}

pub fn runner_inventory_update(state: &GatewayState, conn: &ConnHandle) -> MethodResult {
    let node_id = conn.device_id.clone().unwrap_or_default();
    let approved = state.store.node_pairing(&node_id)?;
    let session = state.nodes.get(&node_id);
    let covered = match (&approved, &session) {
        (Some(a), Some(s)) => surface_covered(a, s),
        (Some(_), None) => true,
        _ => false,
    };
    if covered {
        return Ok(json!({"nodeId": node_id}));
    }
    let request_id = pending_request_for(state, &node_id).map(|r| r.request_id).unwrap_or_default();
    Err(ErrorShape::unavailable(format!(
        "node capability surface is awaiting operator approval; run `pincer-gateway nodes approve {request_id}` (or `openclaw nodes approve {request_id}`), then this node retries automatically"
    )))
}

pub fn surface_update(conn: &ConnHandle, key: &str, params: Value) -> MethodResult {
    let items = params.get(key).cloned().unwrap_or(json!([]));
    if !items.is_array() {
        return Err(invalid_params(&format!("node.{key}.update"), format!("at /{key}: must be array")));
    }
    Ok(json!({"nodeId": conn.device_id, key: items}))
}
