//! Method and event names, so no crate spells them twice.

pub const CONNECT: &str = "connect";
pub const HEALTH: &str = "health";
pub const STATUS: &str = "status";
pub const SYSTEM_PRESENCE: &str = "system-presence";
pub const LOGS_TAIL: &str = "logs.tail";
pub const VOICEWAKE_GET: &str = "voicewake.get";
pub const VOICEWAKE_SET: &str = "voicewake.set";
pub const CONFIG_GET: &str = "config.get";
pub const CONFIG_PATCH: &str = "config.patch";
pub const CONFIG_SCHEMA: &str = "config.schema";

pub const DEVICE_PAIR_LIST: &str = "device.pair.list";
pub const DEVICE_PAIR_APPROVE: &str = "device.pair.approve";
pub const DEVICE_PAIR_REJECT: &str = "device.pair.reject";
pub const DEVICE_PAIR_REMOVE: &str = "device.pair.remove";
pub const DEVICE_PAIR_RENAME: &str = "device.pair.rename";
pub const DEVICE_TOKEN_ROTATE: &str = "device.token.rotate";
pub const DEVICE_TOKEN_REVOKE: &str = "device.token.revoke";

pub const NODE_PAIR_REQUEST: &str = "node.pair.request";
pub const NODE_PAIR_LIST: &str = "node.pair.list";
pub const NODE_PAIR_APPROVE: &str = "node.pair.approve";
pub const NODE_PAIR_REJECT: &str = "node.pair.reject";
pub const NODE_PAIR_REMOVE: &str = "node.pair.remove";
pub const NODE_PAIR_VERIFY: &str = "node.pair.verify";
pub const NODE_LIST: &str = "node.list";
pub const NODE_DESCRIBE: &str = "node.describe";
pub const NODE_RENAME: &str = "node.rename";
pub const NODE_INVOKE: &str = "node.invoke";
pub const NODE_INVOKE_RESULT: &str = "node.invoke.result";
pub const NODE_INVOKE_CANCEL: &str = "node.invoke.cancel";
pub const NODE_EVENT: &str = "node.event";
/// Sent by OpenClaw 2026.9 node hosts after connecting; answered so they settle.
pub const NODE_RUNNER_INVENTORY_UPDATE: &str = "node.runnerInventory.update";
pub const NODE_SKILLS_UPDATE: &str = "node.skills.update";
pub const NODE_PLUGIN_TOOLS_UPDATE: &str = "node.pluginTools.update";

pub const EXEC_APPROVAL_REQUEST: &str = "exec.approval.request";
pub const EXEC_APPROVAL_GET: &str = "exec.approval.get";
pub const EXEC_APPROVAL_LIST: &str = "exec.approval.list";
pub const EXEC_APPROVAL_RESOLVE: &str = "exec.approval.resolve";
pub const EXEC_APPROVAL_WAIT_DECISION: &str = "exec.approval.waitDecision";
pub const EXEC_APPROVALS_GET: &str = "exec.approvals.get";
pub const EXEC_APPROVALS_SET: &str = "exec.approvals.set";
pub const EXEC_APPROVALS_NODE_GET: &str = "exec.approvals.node.get";
pub const EXEC_APPROVALS_NODE_SET: &str = "exec.approvals.node.set";

/// Event names.
pub const CHAT_SEND: &str = "chat.send";
pub const CHAT_HISTORY: &str = "chat.history";
pub const CHAT_ABORT: &str = "chat.abort";
pub const CHAT_INJECT: &str = "chat.inject";
pub const AGENT: &str = "agent";
pub const AGENT_WAIT: &str = "agent.wait";
pub const SESSIONS_LIST: &str = "sessions.list";
pub const SESSIONS_PREVIEW: &str = "sessions.preview";
pub const SESSIONS_RESOLVE: &str = "sessions.resolve";
pub const SESSIONS_PATCH: &str = "sessions.patch";
pub const SESSIONS_RESET: &str = "sessions.reset";
pub const SESSIONS_DELETE: &str = "sessions.delete";
pub const SESSIONS_COMPACT: &str = "sessions.compact";
pub const SESSIONS_SUBSCRIBE: &str = "sessions.subscribe";
pub const SESSIONS_MESSAGES_SUBSCRIBE: &str = "sessions.messages.subscribe";
pub const SESSIONS_MESSAGES_UNSUBSCRIBE: &str = "sessions.messages.unsubscribe";
pub const MODELS_LIST: &str = "models.list";
pub const AGENTS_LIST: &str = "agents.list";
pub const SESSIONS_DESCRIBE: &str = "sessions.describe";
pub const COMMANDS_LIST: &str = "commands.list";
pub const QUESTION_LIST: &str = "question.list";
pub const PLUGIN_APPROVAL_LIST: &str = "plugin.approval.list";

pub mod events {
    pub const CONNECT_CHALLENGE: &str = "connect.challenge";
    pub const TICK: &str = "tick";
    pub const SHUTDOWN: &str = "shutdown";
    pub const PRESENCE: &str = "presence";
    pub const HEALTH: &str = "health";
    pub const HEARTBEAT: &str = "heartbeat";
    pub const VOICEWAKE_CHANGED: &str = "voicewake.changed";
    pub const DEVICE_PAIR_REQUESTED: &str = "device.pair.requested";
    pub const DEVICE_PAIR_RESOLVED: &str = "device.pair.resolved";
    pub const NODE_PAIR_REQUESTED: &str = "node.pair.requested";
    pub const NODE_PAIR_RESOLVED: &str = "node.pair.resolved";
    pub const NODE_INVOKE_REQUEST: &str = "node.invoke.request";
    pub const NODE_INVOKE_CANCEL: &str = "node.invoke.cancel";
    pub const NODE_HOST_STATS: &str = "node.hostStats";
    pub const NODE_RUNNER_INVENTORY_CHANGED: &str = "node.runnerInventory.changed";
    pub const EXEC_APPROVAL_REQUESTED: &str = "exec.approval.requested";
    pub const EXEC_APPROVAL_RESOLVED: &str = "exec.approval.resolved";
    pub const CHAT: &str = "chat";
    pub const AGENT: &str = "agent";
    pub const SESSIONS_CHANGED: &str = "sessions.changed";
    /// A message was added to a session's transcript (to `sessions.subscribe` /
    /// `sessions.messages.subscribe` subscribers).
    pub const SESSION_MESSAGE: &str = "session.message";
    /// A tool phase of a run, mirrored to `sessions.subscribe` subscribers.
    pub const SESSION_TOOL: &str = "session.tool";
    /// A long operation on a session (compaction) started or ended.
    pub const SESSION_OPERATION: &str = "session.operation";
}
