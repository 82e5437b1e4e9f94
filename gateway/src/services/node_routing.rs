//! Node routing: which commands may reach a node, and sending one there (through the
//! `system.run` approval gate when it is a run). `node.invoke`, the exec-approvals node
//! methods and the agent's node tools all go through here.

use std::time::Duration;

use pincer_protocol::error::{DetailCode, ErrorShape};
use pincer_protocol::nodes::commands;
use pincer_protocol::now_ms;
use serde_json::{json, Value};

use super::node_pairing::str_list;
use crate::approvals::Requester;
use crate::nodes::policy::{self, Denial};
use crate::nodes::system_run::{self, RunRequester};
use crate::nodes::{InvokeOutcome, NodeSession};
use crate::state::GatewayState;

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
    caller: Option<&RunRequester>,
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

fn caller_label(caller: &RunRequester) -> String {
    match &caller.identity {
        Requester::Agent => "agent".into(),
        Requester::Client { conn_id, device_id: Some(device) } => format!("device {device} (connection {conn_id})"),
        Requester::Client { conn_id, device_id: None } => format!("connection {conn_id}"),
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
