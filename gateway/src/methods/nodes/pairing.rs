//! `node.pair.*`: command trust for nodes (what a node may be asked to run).

use pincer_protocol::connect::Role;
use pincer_protocol::methods::events;
use pincer_protocol::{close_code, now_ms, ErrorShape};
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::error::MethodResult;
use crate::methods::required_str;
use crate::nodes::policy;
use crate::services::node_pairing::{create_node_request, live_requests, pending_request_for, resolved, str_list};
use crate::state::GatewayState;

fn audit(state: &GatewayState, kind: &str, subject: &str, decision: &str, caller: &Caller, details: Value) {
    let actor = caller.display_name();
    if let Err(e) = state.store.audit(now_ms(), kind, subject, decision, Some(&actor), &details) {
        tracing::error!(error = %e, "audit write failed");
    }
}
pub fn pair_request(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let node_id = match caller.role() {
        Role::Node => caller.device_id().unwrap_or_default().to_string(),
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

pub fn pair_list(state: &GatewayState) -> MethodResult {
    let pending: Vec<Value> = live_requests(state)?.into_iter().map(|r| r.record).collect();
    let paired = state.store.node_pairings()?;
    Ok(json!({"pending": pending, "paired": paired}))
}

pub fn pair_approve(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "node.pair.approve")?;
    let Some(req) = live_requests(state)?.into_iter().find(|r| r.request_id == request_id) else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    let commands = str_list(&req.record, "commands");
    let required = policy::required_approve_scopes(&commands);
    if let Some(missing) = required.iter().find(|s| !caller.has_scope(s)) {
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
    audit(state, "node.pair", &req.node_id, "approved", caller, json!({"requestId": request_id, "commands": commands}));
    state.hub.broadcast(events::NODE_RUNNER_INVENTORY_CHANGED, &json!({"nodeId": req.node_id}));
    resolved(state, request_id, &req.node_id, "approved", now);
    tracing::info!(node = %req.node_id, request = %request_id, "node pairing approved");
    Ok(json!({"requestId": request_id, "node": record}))
}

pub fn pair_reject(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "node.pair.reject")?;
    let Some(req) = live_requests(state)?.into_iter().find(|r| r.request_id == request_id) else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    state.store.delete_node_request(request_id)?;
    let now = now_ms();
    audit(state, "node.pair", &req.node_id, "rejected", caller, json!({"requestId": request_id}));
    resolved(state, request_id, &req.node_id, "rejected", now);
    Ok(json!({"requestId": request_id, "nodeId": req.node_id}))
}

pub fn pair_remove(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.pair.remove")?;
    if !state.store.remove_node_pairing(node_id)? {
        return Err(ErrorShape::invalid_request("unknown nodeId"));
    }
    let now = now_ms();
    audit(state, "node.pair", node_id, "removed", caller, json!({}));
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
