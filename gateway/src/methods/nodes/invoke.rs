//! `node.invoke` (with idempotency), `node.invoke.cancel` and the node's
//! `node.invoke.result`.

use std::time::{Duration, Instant};

use pincer_protocol::error::DetailCode;
use pincer_protocol::nodes::{commands, NodeInvokeParams, NodeInvokeResult};
use pincer_protocol::{scopes, ErrorShape};
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::error::{invalid_params, parse_params, MethodResult};
use crate::idempotency::{Begin, Slot};
use crate::nodes::policy;
use crate::nodes::{InvokeOutcome, NodeRegistry};
use crate::services::node_routing::{check_command, invoke_node, invoke_system_run};
use crate::state::{GatewayState, SharedState};

pub async fn invoke(state: &SharedState, caller: &Caller, params: Value) -> MethodResult {
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
    if policy::ADMIN_INVOKE_COMMANDS.contains(&p.command.as_str()) && !caller.has_scope(scopes::ADMIN) {
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
        invoke_system_run(state, Some(&caller.run_requester()), &p.node_id, params, timeout, key, session_key).await
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

pub fn invoke_result(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let r: NodeInvokeResult = parse_params("node.invoke.result", params)?;
    if caller.device_id() != Some(r.node_id.as_str()) {
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
