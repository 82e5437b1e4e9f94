//! What a node reports: `node.event`, `node.runner.inventory.update` and the skills /
//! plugin-tools surface updates.

use pincer_protocol::methods::events;
use pincer_protocol::nodes::NodeEventParams;
use pincer_protocol::{now_ms, ErrorShape};
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::error::{invalid_params, parse_params, MethodResult};
use crate::services::node_pairing::{pending_request_for, surface_covered};
use crate::state::GatewayState;

pub fn node_event(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let p: NodeEventParams = parse_params("node.event", params)?;
    let payload =
        p.payload_value().map_err(|e| invalid_params("node.event", format!("payloadJSON is not valid JSON ({e})")))?.unwrap_or(Value::Null);
    let node_id = caller.device_id().unwrap_or_default().to_string();
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

pub fn runner_inventory_update(state: &GatewayState, caller: &Caller) -> MethodResult {
    let node_id = caller.device_id().unwrap_or_default().to_string();
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

pub fn surface_update(caller: &Caller, key: &str, params: Value) -> MethodResult {
    let items = params.get(key).cloned().unwrap_or(json!([]));
    if !items.is_array() {
        return Err(invalid_params(&format!("node.{key}.update"), format!("at /{key}: must be array")));
    }
    Ok(json!({"nodeId": caller.device_id(), key: items}))
}
