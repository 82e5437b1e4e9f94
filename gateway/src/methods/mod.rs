//! Method handlers, one module per family, and the method table: every method the gateway
//! serves is one [`Method`] entry (name, who may call it, how it runs, its handler).
//! Authorization, `hello-ok.features.methods`, detachment and dispatch all read [`TABLE`]
//! (through [`crate::router`]), so adding a method is one entry here plus its handler.
//!
//! Handlers are thin: parse params, check, call a service ([`crate::services`]), shape the
//! result. Nothing outside the dispatch floor (`router`) imports from here.

pub mod agent;
pub mod approvals;
pub mod chat;
pub mod config;
pub mod devices;
pub mod nodes;
pub mod sessions;
pub mod system;

use futures_util::future::BoxFuture;
use pincer_protocol::methods as m;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};
use serde_json::Value;

use crate::caller::Caller;
use crate::error::MethodResult;
use crate::state::SharedState;

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any connected client (health).
    Anyone,
    /// Operators holding the scope.
    Operator(&'static str),
    /// Node role connections only.
    Node,
    /// Operators holding the scope, or a node.
    OperatorOrNode(&'static str),
}

/// How a connection runs a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answered in the connection's own task (saves two task hops per request).
    Inline,
    /// May wait on other parties (a node, a person): runs in its own task so the connection
    /// keeps serving, and a `cancel` frame stops it.
    Detached,
    /// Detached, and answers twice: the ack, then the run's final result on the same id
    /// (`agent`; see [`crate::services::agent_runs`]).
    AckThenFinal,
}

impl Mode {
    pub fn is_detached(self) -> bool {
        self != Mode::Inline
    }
}

/// A handler: synchronous ones return their answer, the others a future.
#[derive(Clone, Copy)]
pub enum Handler {
    Immediate(fn(&SharedState, &Caller, Value) -> MethodResult),
    Async(for<'a> fn(&'a SharedState, &'a Caller, Value) -> BoxFuture<'a, MethodResult>),
}

/// One method the gateway serves.
#[derive(Clone, Copy)]
pub struct Method {
    pub name: &'static str,
    pub access: Access,
    pub mode: Mode,
    pub handler: Handler,
}

const fn method(name: &'static str, access: Access, mode: Mode, handler: Handler) -> Method {
    Method { name, access, mode, handler }
}

use Access::{Anyone, Node, Operator, OperatorOrNode};
use Handler::{Async, Immediate};
use Mode::{AckThenFinal, Detached, Inline};

/// Every method Pincer implements. `hello-ok.features.methods` lists exactly these, in this
/// order, so discovery never advertises something unimplemented.
#[rustfmt::skip]
pub static TABLE: &[Method] = &[
    method(m::HEALTH, Anyone, Inline, Immediate(|s, _, _| system::health(s))),
    method(m::STATUS, Operator(READ), Inline, Immediate(|s, c, _| system::status(s, c))),
    method(m::SYSTEM_PRESENCE, Operator(READ), Inline, Immediate(|s, _, _| system::presence(s))),
    method(m::LOGS_TAIL, Operator(READ), Inline, Immediate(|s, _, p| system::logs_tail(s, p))),
    method(m::VOICEWAKE_GET, OperatorOrNode(READ), Inline, Immediate(|s, _, _| system::voicewake_get(s))),
    method(m::VOICEWAKE_SET, Operator(WRITE), Inline, Immediate(|s, _, p| system::voicewake_set(s, p))),
    method(m::CONFIG_GET, Operator(ADMIN), Inline, Immediate(|s, _, _| config::get(s))),
    method(m::CONFIG_SCHEMA, Operator(READ), Inline, Immediate(|_, _, _| config::schema())),
    method(m::CONFIG_PATCH, Operator(ADMIN), Inline, Immediate(|s, _, p| config::patch(s, p))),
    method(m::DEVICE_PAIR_LIST, Operator(PAIRING), Inline, Immediate(|s, _, _| devices::list(s))),
    method(m::DEVICE_PAIR_APPROVE, Operator(PAIRING), Inline, Immediate(|s, c, p| devices::approve(s, c, p))),
    method(m::DEVICE_PAIR_REJECT, Operator(PAIRING), Inline, Immediate(|s, c, p| devices::reject(s, c, p))),
    method(m::DEVICE_PAIR_REMOVE, Operator(PAIRING), Inline, Immediate(|s, c, p| devices::remove(s, c, p))),
    method(m::DEVICE_PAIR_RENAME, Operator(PAIRING), Inline, Immediate(|s, _, p| devices::rename(s, p))),
    method(m::DEVICE_TOKEN_ROTATE, Operator(PAIRING), Inline, Immediate(|s, c, p| devices::rotate(s, c, p))),
    method(m::DEVICE_TOKEN_REVOKE, Operator(PAIRING), Inline, Immediate(|s, c, p| devices::revoke(s, c, p))),
    method(m::NODE_PAIR_REQUEST, OperatorOrNode(PAIRING), Inline, Immediate(|s, c, p| nodes::pairing::pair_request(s, c, p))),
    method(m::NODE_PAIR_LIST, Operator(PAIRING), Inline, Immediate(|s, _, _| nodes::pairing::pair_list(s))),
    method(m::NODE_PAIR_APPROVE, Operator(PAIRING), Inline, Immediate(|s, c, p| nodes::pairing::pair_approve(s, c, p))),
    method(m::NODE_PAIR_REJECT, Operator(PAIRING), Inline, Immediate(|s, c, p| nodes::pairing::pair_reject(s, c, p))),
    method(m::NODE_PAIR_REMOVE, Operator(PAIRING), Inline, Immediate(|s, c, p| nodes::pairing::pair_remove(s, c, p))),
    method(m::NODE_PAIR_VERIFY, Operator(PAIRING), Inline, Immediate(|s, _, p| nodes::pairing::pair_verify(s, p))),
    method(m::NODE_LIST, Operator(READ), Inline, Immediate(|s, _, _| nodes::directory::list(s))),
    method(m::NODE_DESCRIBE, Operator(READ), Inline, Immediate(|s, _, p| nodes::directory::describe(s, p))),
    method(m::NODE_RENAME, Operator(PAIRING), Inline, Immediate(|s, _, p| nodes::directory::rename(s, p))),
    method(m::NODE_INVOKE, Operator(WRITE), Detached, Async(|s, c, p| Box::pin(nodes::invoke::invoke(s, c, p)))),
    method(m::NODE_INVOKE_CANCEL, Operator(WRITE), Inline, Immediate(|s, _, p| nodes::invoke::invoke_cancel(s, p))),
    method(m::NODE_INVOKE_RESULT, Node, Inline, Immediate(|s, c, p| nodes::invoke::invoke_result(s, c, p))),
    method(m::NODE_EVENT, Node, Inline, Immediate(|s, c, p| nodes::events::node_event(s, c, p))),
    method(m::NODE_RUNNER_INVENTORY_UPDATE, Node, Inline, Immediate(|s, c, _| nodes::events::runner_inventory_update(s, c))),
    method(m::NODE_SKILLS_UPDATE, Node, Inline, Immediate(|_, c, p| nodes::events::surface_update(c, "skills", p))),
    method(m::NODE_PLUGIN_TOOLS_UPDATE, Node, Inline, Immediate(|_, c, p| nodes::events::surface_update(c, "tools", p))),
    method(m::EXEC_APPROVAL_REQUEST, Operator(APPROVALS), Detached, Async(|s, c, p| Box::pin(approvals::request(s, c, p)))),
    method(m::EXEC_APPROVAL_GET, Operator(APPROVALS), Inline, Immediate(|s, _, p| approvals::get(s, p))),
    method(m::EXEC_APPROVAL_LIST, Operator(APPROVALS), Inline, Immediate(|s, _, _| Ok(Value::Array(s.approvals.list())))),
    method(m::EXEC_APPROVAL_RESOLVE, Operator(APPROVALS), Inline, Immediate(|s, c, p| approvals::resolve(s, c, p))),
    method(m::EXEC_APPROVAL_WAIT_DECISION, Operator(APPROVALS), Detached, Async(|s, _, p| Box::pin(approvals::wait_decision(s, p)))),
    method(m::EXEC_APPROVALS_GET, Operator(ADMIN), Inline, Immediate(|s, _, _| approvals::file_get(s))),
    method(m::EXEC_APPROVALS_SET, Operator(ADMIN), Inline, Immediate(|s, _, p| approvals::file_set(s, p))),
    method(m::EXEC_APPROVALS_NODE_GET, Operator(ADMIN), Detached, Async(|s, _, p| Box::pin(approvals::node_file_get(s, p)))),
    method(m::EXEC_APPROVALS_NODE_SET, Operator(ADMIN), Detached, Async(|s, _, p| Box::pin(approvals::node_file_set(s, p)))),
    method(m::CHAT_SEND, Operator(WRITE), Inline, Immediate(|s, _, p| chat::send(s, p))),
    method(m::CHAT_HISTORY, Operator(READ), Inline, Immediate(|s, _, p| chat::history(s, p))),
    method(m::CHAT_ABORT, Operator(WRITE), Inline, Immediate(|s, _, p| chat::abort(s, p))),
    method(m::CHAT_INJECT, Operator(ADMIN), Inline, Immediate(|s, _, p| chat::inject(s, p))),
    method(m::AGENT, Operator(WRITE), AckThenFinal, Async(|s, _, p| Box::pin(agent::start(s, p)))),
    method(m::AGENT_WAIT, Operator(WRITE), Inline, Async(|s, _, p| Box::pin(agent::wait(s, p)))),
    method(m::SESSIONS_LIST, Operator(READ), Inline, Immediate(|s, _, p| sessions::list(s, p))),
    method(m::SESSIONS_PREVIEW, Operator(READ), Inline, Immediate(|s, _, p| sessions::preview(s, p))),
    method(m::SESSIONS_RESOLVE, Operator(READ), Inline, Immediate(|s, _, p| sessions::resolve(s, p))),
    method(m::SESSIONS_PATCH, Operator(WRITE), Inline, Immediate(|s, _, p| sessions::patch(s, p))),
    method(m::SESSIONS_RESET, Operator(ADMIN), Inline, Immediate(|s, _, p| sessions::reset(s, p))),
    method(m::SESSIONS_DELETE, Operator(ADMIN), Inline, Immediate(|s, _, p| sessions::delete(s, p))),
    method(m::SESSIONS_COMPACT, Operator(ADMIN), Inline, Async(|s, _, p| Box::pin(sessions::compact(s, p)))),
    method(m::SESSIONS_SUBSCRIBE, Operator(READ), Inline, Immediate(sessions::subscribe)),
    method(m::SESSIONS_MESSAGES_SUBSCRIBE, Operator(READ), Inline, Immediate(|_, c, p| sessions::messages_subscribe(c, p, true))),
    method(m::SESSIONS_MESSAGES_UNSUBSCRIBE, Operator(READ), Inline, Immediate(|_, c, p| sessions::messages_subscribe(c, p, false))),
    method(m::MODELS_LIST, Operator(READ), Inline, Immediate(|s, _, _| agent::models_list(s))),
    method(m::AGENTS_LIST, Operator(READ), Inline, Immediate(|s, _, _| agent::agents_list(s))),
    method(m::SESSIONS_DESCRIBE, Operator(READ), Inline, Immediate(|s, _, p| sessions::describe(s, p))),
    // Pincer has no chat slash commands, agent questions or plugins (yet): the truthful
    // answers are empty, and OpenClaw's clients (`openclaw tui`) start cleanly with them.
    method(m::COMMANDS_LIST, Operator(READ), Inline, Immediate(|_, _, _| Ok(serde_json::json!({"commands": []})))),
    method(m::QUESTION_LIST, Operator(WRITE), Inline, Immediate(|_, _, _| Ok(serde_json::json!({"questions": []})))),
    method(m::PLUGIN_APPROVAL_LIST, Operator(APPROVALS), Inline, Immediate(|_, _, _| Ok(Value::Array(Vec::new())))),
];

/// A required non-empty string param.
pub fn required_str<'a>(params: &'a Value, key: &str, method: &str) -> Result<&'a str, pincer_protocol::ErrorShape> {
    match params.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(crate::error::invalid_params(method, format!("must have required property '{key}'"))),
    }
}
