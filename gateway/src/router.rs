//! Method dispatch: the role and scope each method needs, then its handler.

use std::sync::Arc;

use pincer_protocol::connect::Role;
use pincer_protocol::error::ErrorShape;
use pincer_protocol::frames::{RequestFrame, ResponseFrame};
use pincer_protocol::methods as m;
use pincer_protocol::scopes::{ADMIN, APPROVALS, PAIRING, READ, WRITE};

use crate::hub::ConnHandle;
use crate::methods;
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

/// Every method Pincer implements, with its access rule. `hello-ok.features.methods` is
/// derived from this table, so discovery never advertises something unimplemented.
pub const METHODS: &[(&str, Access)] = &[
    (m::HEALTH, Access::Anyone),
    (m::STATUS, Access::Operator(READ)),
    (m::SYSTEM_PRESENCE, Access::Operator(READ)),
    (m::LOGS_TAIL, Access::Operator(READ)),
    (m::VOICEWAKE_GET, Access::OperatorOrNode(READ)),
    (m::VOICEWAKE_SET, Access::Operator(WRITE)),
    (m::CONFIG_GET, Access::Operator(ADMIN)),
    (m::CONFIG_SCHEMA, Access::Operator(READ)),
    (m::CONFIG_PATCH, Access::Operator(ADMIN)),
    (m::DEVICE_PAIR_LIST, Access::Operator(PAIRING)),
    (m::DEVICE_PAIR_APPROVE, Access::Operator(PAIRING)),
    (m::DEVICE_PAIR_REJECT, Access::Operator(PAIRING)),
    (m::DEVICE_PAIR_REMOVE, Access::Operator(PAIRING)),
    (m::DEVICE_PAIR_RENAME, Access::Operator(PAIRING)),
    (m::DEVICE_TOKEN_ROTATE, Access::Operator(PAIRING)),
    (m::DEVICE_TOKEN_REVOKE, Access::Operator(PAIRING)),
    (m::NODE_PAIR_REQUEST, Access::OperatorOrNode(PAIRING)),
    (m::NODE_PAIR_LIST, Access::Operator(PAIRING)),
    (m::NODE_PAIR_APPROVE, Access::Operator(PAIRING)),
    (m::NODE_PAIR_REJECT, Access::Operator(PAIRING)),
    (m::NODE_PAIR_REMOVE, Access::Operator(PAIRING)),
    (m::NODE_PAIR_VERIFY, Access::Operator(PAIRING)),
    (m::NODE_LIST, Access::Operator(READ)),
    (m::NODE_DESCRIBE, Access::Operator(READ)),
    (m::NODE_RENAME, Access::Operator(PAIRING)),
    (m::NODE_INVOKE, Access::Operator(WRITE)),
    (m::NODE_INVOKE_CANCEL, Access::Operator(WRITE)),
    (m::NODE_INVOKE_RESULT, Access::Node),
    (m::NODE_EVENT, Access::Node),
    (m::NODE_RUNNER_INVENTORY_UPDATE, Access::Node),
    (m::NODE_SKILLS_UPDATE, Access::Node),
    (m::NODE_PLUGIN_TOOLS_UPDATE, Access::Node),
    (m::EXEC_APPROVAL_REQUEST, Access::Operator(APPROVALS)),
    (m::EXEC_APPROVAL_GET, Access::Operator(APPROVALS)),
    (m::EXEC_APPROVAL_LIST, Access::Operator(APPROVALS)),
    (m::EXEC_APPROVAL_RESOLVE, Access::Operator(APPROVALS)),
    (m::EXEC_APPROVAL_WAIT_DECISION, Access::Operator(APPROVALS)),
    (m::EXEC_APPROVALS_GET, Access::Operator(ADMIN)),
    (m::EXEC_APPROVALS_SET, Access::Operator(ADMIN)),
    (m::EXEC_APPROVALS_NODE_GET, Access::Operator(ADMIN)),
    (m::EXEC_APPROVALS_NODE_SET, Access::Operator(ADMIN)),
    (m::CHAT_SEND, Access::Operator(WRITE)),
    (m::CHAT_HISTORY, Access::Operator(READ)),
    (m::CHAT_ABORT, Access::Operator(WRITE)),
    (m::CHAT_INJECT, Access::Operator(ADMIN)),
    (m::AGENT, Access::Operator(WRITE)),
    (m::AGENT_WAIT, Access::Operator(WRITE)),
    (m::SESSIONS_LIST, Access::Operator(READ)),
    (m::SESSIONS_PREVIEW, Access::Operator(READ)),
    (m::SESSIONS_RESOLVE, Access::Operator(READ)),
    (m::SESSIONS_PATCH, Access::Operator(WRITE)),
    (m::SESSIONS_RESET, Access::Operator(ADMIN)),
    (m::SESSIONS_DELETE, Access::Operator(ADMIN)),
    (m::SESSIONS_COMPACT, Access::Operator(ADMIN)),
    (m::SESSIONS_SUBSCRIBE, Access::Operator(READ)),
    (m::SESSIONS_MESSAGES_SUBSCRIBE, Access::Operator(READ)),
    (m::SESSIONS_MESSAGES_UNSUBSCRIBE, Access::Operator(READ)),
    (m::MODELS_LIST, Access::Operator(READ)),
    (m::AGENTS_LIST, Access::Operator(READ)),
    (m::SESSIONS_DESCRIBE, Access::Operator(READ)),
    (m::COMMANDS_LIST, Access::Operator(READ)),
    (m::QUESTION_LIST, Access::Operator(WRITE)),
    (m::PLUGIN_APPROVAL_LIST, Access::Operator(APPROVALS)),
];

/// Events Pincer emits.
pub const EVENTS: &[&str] = &[
    m::events::CONNECT_CHALLENGE,
    m::events::TICK,
    m::events::SHUTDOWN,
    m::events::PRESENCE,
    m::events::HEALTH,
    m::events::VOICEWAKE_CHANGED,
    m::events::DEVICE_PAIR_REQUESTED,
    m::events::DEVICE_PAIR_RESOLVED,
    m::events::NODE_PAIR_REQUESTED,
    m::events::NODE_PAIR_RESOLVED,
    m::events::NODE_INVOKE_REQUEST,
    m::events::NODE_INVOKE_CANCEL,
    m::events::NODE_HOST_STATS,
    m::events::NODE_RUNNER_INVENTORY_CHANGED,
    m::events::EXEC_APPROVAL_REQUESTED,
    m::events::EXEC_APPROVAL_RESOLVED,
    m::events::CHAT,
    m::events::AGENT,
    m::events::SESSIONS_CHANGED,
    m::events::SESSION_MESSAGE,
    m::events::SESSION_TOOL,
    m::events::SESSION_OPERATION,
];

fn access_of(method: &str) -> Option<Access> {
    METHODS.iter().find(|(name, _)| *name == method).map(|(_, a)| *a)
}

/// Check the caller may call `method`. Unknown methods need admin (so probing which
/// methods exist needs admin too), as in OpenClaw.
fn authorize(conn: &ConnHandle, method: &str) -> Result<(), ErrorShape> {
    let unauthorized_role = || ErrorShape::invalid_request(format!("unauthorized role: {}", conn.role.as_str()));
    let need = |scope: &'static str| {
        if conn.has_scope(scope) {
            Ok(())
        } else {
            Err(ErrorShape::missing_scope(scope, &[scope]))
        }
    };
    match (access_of(method), conn.role) {
        (Some(Access::Anyone), _) => Ok(()),
        (Some(Access::Node), Role::Node) => Ok(()),
        (Some(Access::Node), Role::Operator) => Err(unauthorized_role()),
        (Some(Access::OperatorOrNode(_)), Role::Node) => Ok(()),
        (Some(Access::Operator(_)), Role::Node) | (None, Role::Node) => Err(unauthorized_role()),
        (Some(Access::Operator(scope) | Access::OperatorOrNode(scope)), Role::Operator) => need(scope),
        (None, Role::Operator) => {
            need(ADMIN)?;
            Err(ErrorShape::invalid_request(format!("unknown method: {method}")))
        }
    }
}

pub async fn dispatch(state: &SharedState, conn: &Arc<ConnHandle>, req: RequestFrame) -> ResponseFrame {
    let params = req.params_or_empty();
    let result = match authorize(conn, &req.method) {
        Ok(()) => methods::call(state, conn, &req.method, params).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(payload) => ResponseFrame::ok(req.id, payload),
        Err(error) => ResponseFrame::err(req.id, error),
    }
}
