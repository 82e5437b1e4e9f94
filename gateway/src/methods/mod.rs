//! Method handlers, one module per family.

pub mod agent;
pub mod approvals;
pub mod chat;
pub mod config;
pub mod devices;
pub mod nodes;
pub mod sessions;
pub mod system;

use std::sync::Arc;

use pincer_protocol::methods as m;
use serde_json::Value;

use crate::error::MethodResult;
use crate::hub::ConnHandle;
use crate::state::SharedState;

pub async fn call(state: &SharedState, conn: &Arc<ConnHandle>, method: &str, params: Value) -> MethodResult {
    match method {
        m::HEALTH => system::health(state),
        m::STATUS => system::status(state, conn),
        m::SYSTEM_PRESENCE => Ok(Value::Array(system::presence_entries(state))),
        m::LOGS_TAIL => system::logs_tail(state, params),
        m::VOICEWAKE_GET => system::voicewake_get(state),
        m::VOICEWAKE_SET => system::voicewake_set(state, params),
        m::CONFIG_GET => config::get(state),
        m::CONFIG_SCHEMA => config::schema(),
        m::CONFIG_PATCH => config::patch(state, params),
        m::DEVICE_PAIR_LIST => devices::list(state),
        m::DEVICE_PAIR_APPROVE => devices::approve(state, conn, params),
        m::DEVICE_PAIR_REJECT => devices::reject(state, conn, params),
        m::DEVICE_PAIR_REMOVE => devices::remove(state, conn, params),
        m::DEVICE_PAIR_RENAME => devices::rename(state, params),
        m::DEVICE_TOKEN_ROTATE => devices::rotate(state, conn, params),
        m::DEVICE_TOKEN_REVOKE => devices::revoke(state, conn, params),
        m::NODE_PAIR_REQUEST => nodes::pair_request(state, conn, params),
        m::NODE_PAIR_LIST => nodes::pair_list(state),
        m::NODE_PAIR_APPROVE => nodes::pair_approve(state, conn, params),
        m::NODE_PAIR_REJECT => nodes::pair_reject(state, conn, params),
        m::NODE_PAIR_REMOVE => nodes::pair_remove(state, conn, params),
        m::NODE_PAIR_VERIFY => nodes::pair_verify(state, params),
        m::NODE_LIST => nodes::list(state),
        m::NODE_DESCRIBE => nodes::describe(state, params),
        m::NODE_RENAME => nodes::rename(state, params),
        m::NODE_INVOKE => nodes::invoke(state, conn, params).await,
        m::NODE_INVOKE_CANCEL => nodes::invoke_cancel(state, params),
        m::NODE_INVOKE_RESULT => nodes::invoke_result(state, conn, params),
        m::NODE_EVENT => nodes::node_event(state, conn, params),
        m::NODE_RUNNER_INVENTORY_UPDATE => nodes::runner_inventory_update(state, conn),
        m::NODE_SKILLS_UPDATE => nodes::surface_update(conn, "skills", params),
        m::NODE_PLUGIN_TOOLS_UPDATE => nodes::surface_update(conn, "tools", params),
        m::EXEC_APPROVAL_REQUEST => approvals::request(state, conn, params).await,
        m::EXEC_APPROVAL_GET => approvals::get(state, params),
        m::EXEC_APPROVAL_LIST => Ok(Value::Array(state.approvals.list())),
        m::EXEC_APPROVAL_RESOLVE => approvals::resolve(state, conn, params),
        m::EXEC_APPROVAL_WAIT_DECISION => approvals::wait_decision(state, params).await,
        m::EXEC_APPROVALS_GET => approvals::file_get(state),
        m::EXEC_APPROVALS_SET => approvals::file_set(state, params),
        m::EXEC_APPROVALS_NODE_GET => approvals::node_file_get(state, params).await,
        m::EXEC_APPROVALS_NODE_SET => approvals::node_file_set(state, params).await,
        m::CHAT_SEND => chat::send(state, params),
        m::CHAT_HISTORY => chat::history(state, params),
        m::CHAT_ABORT => chat::abort(state, params),
        m::CHAT_INJECT => chat::inject(state, params),
        m::AGENT => agent::start(state, params).await,
        m::AGENT_WAIT => agent::wait(state, params).await,
        m::SESSIONS_LIST => sessions::list(state, params),
        m::SESSIONS_PREVIEW => sessions::preview(state, params),
        m::SESSIONS_RESOLVE => sessions::resolve(state, params),
        m::SESSIONS_PATCH => sessions::patch(state, params),
        m::SESSIONS_RESET => sessions::reset(state, params),
        m::SESSIONS_DELETE => sessions::delete(state, params),
        m::SESSIONS_COMPACT => sessions::compact(state, params).await,
        m::SESSIONS_SUBSCRIBE => sessions::subscribe(state, conn, params),
        m::SESSIONS_MESSAGES_SUBSCRIBE => sessions::messages_subscribe(conn, params, true),
        m::SESSIONS_MESSAGES_UNSUBSCRIBE => sessions::messages_subscribe(conn, params, false),
        m::MODELS_LIST => agent::models_list(state),
        m::AGENTS_LIST => agent::agents_list(state),
        m::SESSIONS_DESCRIBE => sessions::describe(state, params),
        // Pincer has no chat slash commands, agent questions or plugins (yet): the truthful
        // answers are empty, and OpenClaw's clients (`openclaw tui`) start cleanly with them.
        m::COMMANDS_LIST => Ok(serde_json::json!({"commands": []})),
        m::QUESTION_LIST => Ok(serde_json::json!({"questions": []})),
        m::PLUGIN_APPROVAL_LIST => Ok(Value::Array(Vec::new())),
        other => Err(pincer_protocol::ErrorShape::invalid_request(format!("unknown method: {other}"))),
    }
}

/// A required non-empty string param.
pub fn required_str<'a>(params: &'a Value, key: &str, method: &str) -> Result<&'a str, pincer_protocol::ErrorShape> {
    match params.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(crate::error::invalid_params(method, format!("must have required property '{key}'"))),
    }
}
