//! Connected nodes and in-flight invokes.
//!
//! An invoke is an event sent to the node plus a waiter keyed by invoke id. It ends in one
//! of four ways: the node's `node.invoke.result`, the caller's timeout, the node
//! disconnecting, or the caller going away (cancel) — in which case the node is told with
//! a `node.invoke.cancel` event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_protocol::error::ErrorShape;
use pincer_protocol::methods::events;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::hub::ConnHandle;

/// A connected node session.
pub struct NodeSession {
    pub node_id: String,
    pub conn: Arc<ConnHandle>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub permissions: serde_json::Map<String, Value>,
    pub path_env: Option<String>,
    pub protocol: u32,
    pub connected_at_ms: i64,
    pub host_stats: Mutex<Option<Value>>,
}

/// How a node answered an invoke.
#[derive(Debug)]
pub enum InvokeOutcome {
    Ok(Option<Value>),
    NodeError { code: String, message: String },
}

struct PendingInvoke {
    node_id: String,
    command: String,
    tx: oneshot::Sender<Result<InvokeOutcome, ErrorShape>>,
}

#[derive(Default)]
pub struct NodeRegistry {
    nodes: Mutex<HashMap<String, Arc<NodeSession>>>,
    pending: Mutex<HashMap<String, PendingInvoke>>,
}

fn node_failure(code: &str, message: String, dispatched: bool) -> ErrorShape {
    ErrorShape::unavailable(format!("{code}: {message}"))
        .with_detail("nodeError", json!({"code": code, "message": message}))
        .with_detail("nodeCommandDispatched", dispatched)
}

/// Removes the waiter if the invoke future is dropped early (caller cancelled) and tells
/// the node to stop.
struct PendingGuard<'a> {
    registry: &'a NodeRegistry,
    invoke_id: String,
    node: Arc<NodeSession>,
    done: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let removed = self.registry.pending.lock().ok().and_then(|mut p| p.remove(&self.invoke_id));
        if removed.is_some() && !self.done {
            self.node.conn.send_targeted(events::NODE_INVOKE_CANCEL, &json!({"invokeId": self.invoke_id, "nodeId": self.node.node_id}));
        }
    }
}

impl NodeRegistry {
    /// Register a node; a previous session of the same node is replaced (and returned so
    /// the caller can close it).
    pub fn register(&self, session: Arc<NodeSession>) -> Option<Arc<NodeSession>> {
        self.nodes.lock().ok()?.insert(session.node_id.clone(), session)
    }

    /// Unregister the node if `conn_id` is still its current session; fails its invokes.
    pub fn unregister(&self, node_id: &str, conn_id: &str) -> bool {
        let removed = match self.nodes.lock() {
            Ok(mut nodes) => {
                if nodes.get(node_id).is_some_and(|s| s.conn.conn_id == conn_id) {
                    nodes.remove(node_id);
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if removed {
            self.fail_pending_for(node_id);
        }
        removed
    }

    fn fail_pending_for(&self, node_id: &str) {
        let failed: Vec<PendingInvoke> = match self.pending.lock() {
            Ok(mut pending) => {
                let ids: Vec<String> = pending.iter().filter(|(_, p)| p.node_id == node_id).map(|(id, _)| id.clone()).collect();
                ids.into_iter().filter_map(|id| pending.remove(&id)).collect()
            }
            Err(_) => Vec::new(),
        };
        for p in failed {
            let message = format!("node disconnected ({})", p.command);
            let _ = p.tx.send(Err(node_failure("DISCONNECTED", message, true)));
        }
    }

    pub fn get(&self, node_id: &str) -> Option<Arc<NodeSession>> {
        self.nodes.lock().ok()?.get(node_id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<NodeSession>> {
        self.nodes.lock().map(|n| n.values().cloned().collect()).unwrap_or_default()
    }

    pub fn pending_count(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Send `command` to the node and wait for its result.
    pub async fn invoke(
        &self,
        node: Arc<NodeSession>,
        command: &str,
        params: Option<&Value>,
        timeout: Duration,
        idempotency_key: Option<&str>,
        session_key: Option<&str>,
    ) -> Result<InvokeOutcome, ErrorShape> {
        let invoke_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(invoke_id.clone(), PendingInvoke { node_id: node.node_id.clone(), command: command.to_string(), tx });
        }
        let mut guard = PendingGuard { registry: self, invoke_id: invoke_id.clone(), node: node.clone(), done: false };

        let mut payload = json!({
            "id": invoke_id,
            "nodeId": node.node_id,
            "command": command,
            "timeoutMs": timeout.as_millis() as u64,
        });
        if node.protocol >= 4 {
            let params_json = params.map(|p| serde_json::to_string(p).unwrap_or_else(|_| "null".into()));
            payload["paramsJSON"] = params_json.map(Value::String).unwrap_or(Value::Null);
        } else {
            payload["params"] = params.cloned().unwrap_or(Value::Null);
        }
        if let Some(key) = idempotency_key {
            payload["idempotencyKey"] = json!(key);
        }
        if let Some(key) = session_key {
            payload["sessionKey"] = json!(key);
        }
        if !node.conn.send_targeted(events::NODE_INVOKE_REQUEST, &payload) {
            guard.done = true;
            return Err(node_failure("UNAVAILABLE", "failed to send invoke to node".into(), false));
        }

        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => {
                guard.done = true;
                result
            }
            Ok(Err(_)) => {
                guard.done = true;
                Err(node_failure("DISCONNECTED", format!("node disconnected ({command})"), true))
            }
            // Dropping the guard removes the waiter and sends node.invoke.cancel.
            Err(_) => Err(node_failure("TIMEOUT", "node invoke timed out".into(), true)),
        }
    }

    /// Deliver a node's result. Unknown or late ids, or a result from another node, are
    /// reported as not delivered (OpenClaw answers those with `ignored: true`).
    pub fn complete(&self, invoke_id: &str, node_id: &str, outcome: InvokeOutcome) -> bool {
        let entry = match self.pending.lock() {
            Ok(mut pending) => match pending.get(invoke_id) {
                Some(p) if p.node_id == node_id => pending.remove(invoke_id),
                _ => None,
            },
            Err(_) => None,
        };
        match entry {
            Some(p) => p.tx.send(Ok(outcome)).is_ok(),
            None => false,
        }
    }

    /// Cancel one pending invoke on behalf of an operator.
    pub fn cancel(&self, invoke_id: &str) -> bool {
        let entry = self.pending.lock().ok().and_then(|mut p| p.remove(invoke_id));
        match entry {
            Some(p) => {
                if let Some(node) = self.get(&p.node_id) {
                    node.conn.send_targeted(events::NODE_INVOKE_CANCEL, &json!({"invokeId": invoke_id, "nodeId": p.node_id}));
                }
                let _ = p.tx.send(Err(node_failure("CANCELLED", "node invoke cancelled".into(), true)));
                true
            }
            None => false,
        }
    }

    /// Convert an outcome into `node.invoke`'s result payload or error.
    pub fn outcome_to_result(node_id: &str, command: &str, outcome: InvokeOutcome) -> Result<Value, ErrorShape> {
        match outcome {
            InvokeOutcome::Ok(payload) => {
                let payload_json = payload.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
                Ok(json!({
                    "ok": true,
                    "nodeId": node_id,
                    "command": command,
                    "payload": payload.unwrap_or(Value::Null),
                    "payloadJSON": payload_json,
                }))
            }
            InvokeOutcome::NodeError { code, message } => {
                let text = if code.is_empty() { message.clone() } else { format!("{code}: {message}") };
                Err(ErrorShape::unavailable(text)
                    .with_detail("nodeError", json!({"code": code, "message": message}))
                    .with_detail("nodeCommandDispatched", true))
            }
        }
    }
}
