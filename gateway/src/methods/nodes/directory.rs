//! `node.list`, `node.describe`, `node.rename`.

use pincer_protocol::{now_ms, ErrorShape};
use serde_json::{json, Value};

use crate::error::MethodResult;
use crate::methods::required_str;
use crate::services::node_directory;
use crate::state::GatewayState;

pub fn list(state: &GatewayState) -> MethodResult {
    Ok(json!({"ts": now_ms(), "nodes": node_directory::all_node_entries(state)?}))
}

pub fn describe(state: &GatewayState, params: Value) -> MethodResult {
    let node_id = required_str(&params, "nodeId", "node.describe").map_err(|_| ErrorShape::invalid_request("nodeId required"))?;
    node_directory::describe(state, node_id)
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
