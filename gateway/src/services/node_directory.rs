//! The node directory: how a node looks in `node.list` / `node.describe` (its paired record,
//! its live session and where its approval stands).

use std::sync::Arc;

use pincer_protocol::error::ErrorShape;
use pincer_protocol::now_ms;
use serde_json::{json, Value};

use super::node_pairing::{pending_request_for, str_list};
use crate::nodes::NodeSession;
use crate::state::GatewayState;

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

/// Every paired node, then every connected node that is not paired, as `node.list` rows.
pub fn all_node_entries(state: &GatewayState) -> Result<Vec<Value>, ErrorShape> {
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

/// `node.describe`'s answer for one node (paired, connected or both).
pub fn describe(state: &GatewayState, node_id: &str) -> Result<Value, ErrorShape> {
    let approved = state.store.node_pairing(node_id)?;
    let session = state.nodes.get(node_id);
    if approved.is_none() && session.is_none() {
        return Err(ErrorShape::invalid_request("unknown nodeId"));
    }
    let mut entry = node_entry(state, node_id, approved.as_ref(), session.as_ref());
    entry["ts"] = json!(now_ms());
    Ok(entry)
}
