//! The node lifecycle: what happens when a connection is accepted and when it ends.

use std::sync::Arc;

use pincer_protocol::close_code;
use pincer_protocol::connect::{ConnectParams, Role};
use pincer_protocol::methods::events;
use pincer_protocol::now_ms;
use serde_json::json;

use super::node_pairing;
use crate::handshake::Accepted;
use crate::hub::ConnHandle;
use crate::nodes::NodeSession;
use crate::state::SharedState;

fn strings(v: &Option<Vec<String>>) -> Vec<String> {
    v.clone().unwrap_or_default()
}

/// A client finished its handshake: a node joins the registry (replacing an older
/// connection of the same node), learns the wake words and, if its declared surface is not
/// approved, gets a pairing request; presence changes for any device.
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
            conn.send_event(events::VOICEWAKE_CHANGED, &json!({"triggers": super::voicewake::triggers(state)}).to_string(), None);
            if let Err(e) = node_pairing::ensure_surface_request(state, &session) {
                tracing::error!(error = %e, "could not record node pairing request");
            }
        }
    }
    if conn.device_id.is_some() {
        super::presence::broadcast_presence(state);
    }
}

/// A connection ended: a node leaves the registry and its pairing record notes when it was
/// last seen; presence changes for any device.
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
        super::presence::broadcast_presence(state);
    }
}
