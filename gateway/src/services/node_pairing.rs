//! Node pairing (command trust): the pending requests a node's declared surface opens, their
//! resolution events and their expiry. The `node.pair.*` handlers and the node lifecycle use it.

use std::time::Duration;

use pincer_protocol::methods::events;
use pincer_protocol::now_ms;
use serde_json::{json, Value};

use crate::nodes::policy;
use crate::nodes::NodeSession;
use crate::state::{GatewayState, SharedState};
use crate::store::{NodePairRequestRecord, StoreError};

/// The strings of the array at `key` (missing or odd entries are skipped).
pub fn str_list(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

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
pub fn surface_covered(approved: &Value, session: &NodeSession) -> bool {
    let approved_cmds = str_list(approved, "commands");
    session.commands.iter().all(|c| approved_cmds.contains(c))
}

pub fn pending_request_for(state: &GatewayState, node_id: &str) -> Option<NodePairRequestRecord> {
    state.store.node_requests().ok()?.into_iter().rev().find(|r| r.node_id == node_id)
}

/// Make sure a node whose declared surface is not approved has a pending request.
pub fn ensure_surface_request(state: &GatewayState, session: &NodeSession) -> Result<(), StoreError> {
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

pub fn create_node_request(
    state: &GatewayState,
    surface: Value,
    remote_ip: Option<String>,
    silent: bool,
) -> Result<NodePairRequestRecord, StoreError> {
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

pub fn resolved(state: &GatewayState, request_id: &str, node_id: &str, decision: &str, ts: i64) {
    let payload = json!({"requestId": request_id, "nodeId": node_id, "decision": decision, "ts": ts});
    state.hub.broadcast(events::NODE_PAIR_RESOLVED, &payload);
    if let Some(node) = state.nodes.get(node_id) {
        node.conn.send_event(events::NODE_PAIR_RESOLVED, &payload.to_string(), None);
    }
}

pub fn live_requests(state: &GatewayState) -> Result<Vec<NodePairRequestRecord>, pincer_protocol::ErrorShape> {
    let now = now_ms();
    Ok(state.store.node_requests()?.into_iter().filter(|r| now - r.ts <= pincer_protocol::NODE_PAIR_REQUEST_TTL_MS as i64).collect())
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
