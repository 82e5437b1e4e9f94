//! `sessions.*` methods and the `sessions.changed`, `session.message`, `session.tool` and
//! `session.operation` events.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::agent::ThinkingLevelOption;

/// Params naming one session: `key` (or `sessionKey`). `sessions.reset`, `sessions.delete`,
/// `sessions.compact`, `sessions.describe`, `sessions.messages.(un)subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionKeyParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// `sessions.messages.subscribe` only; not supported by Pincer (must not be true).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_approvals: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.list` params (also `sessions.subscribe`, which lists when given any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionsListParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One session row: `sessions.list`, `sessions.patch`/`reset` `entry`, `sessions.describe`
/// (with the describe-only fields) and the `session` of session events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntry {
    pub key: String,
    /// `direct` or `group`.
    pub kind: String,
    pub session_id: String,
    pub updated_at: i64,
    pub created_at: i64,
    pub message_count: u64,
    pub input_tokens: Value,
    pub output_tokens: Value,
    pub total_tokens: Value,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose_level: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_count: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_preview: Option<String>,
    // `sessions.describe` only:
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_main: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_levels: Option<Vec<ThinkingLevelOption>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_options: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_default: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `defaults` of `sessions.list`: the configured primary model (empty without one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionDefaultsRow {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsListResult {
    pub ts: i64,
    pub count: u64,
    pub defaults: SessionDefaultsRow,
    pub sessions: Vec<SessionEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.preview` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsPreviewParams {
    pub keys: Vec<String>,
    /// 1..=50 items per session, default 6.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of a session preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionPreviewItem {
    pub role: String,
    pub text: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One session of `sessions.preview`: `status` `ok`, `empty` or `missing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionPreview {
    pub key: String,
    pub status: String,
    pub items: Vec<SessionPreviewItem>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.preview` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsPreviewResult {
    pub ts: i64,
    pub previews: Vec<SessionPreview>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.resolve` params: by `sessionId`, by `label`, or by `key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionsResolveParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// Answer `{ok: false, key}` instead of an error for an unknown key.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_missing: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.resolve` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionsResolveResult {
    pub ok: bool,
    pub key: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.patch` params: each field set to a non-empty string, `null` to clear, absent to keep.
/// `Some(Value::Null)` is the clear, so these are JSON values, not strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPatchParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Value>,
    /// `provider/model`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose_level: Option<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.patch` / `sessions.reset` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionUpdated {
    pub ok: bool,
    pub key: String,
    pub entry: SessionEntry,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.delete` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsDeleteResult {
    pub ok: bool,
    pub key: String,
    pub deleted: bool,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.compact` result: `compacted` with the `result` counts, or not with the `reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsCompactResult {
    pub ok: bool,
    pub key: String,
    pub compacted: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CompactionCounts>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CompactionCounts {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_before: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_after: Option<u64>,
    pub messages_before: u64,
    pub messages_after: u64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.describe` result (`session: null` for an unknown key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsDescribeResult {
    pub session: Option<SessionEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.subscribe` result (`list` when list params were given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsSubscribeResult {
    pub subscribed: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<SessionsListResult>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.messages.subscribe` / `unsubscribe` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionsMessagesSubscribeResult {
    pub subscribed: bool,
    pub key: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions.changed` event payload. `reason`: `patch`, `reset`, `delete`, `compact`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionsChangedEvent {
    pub session_key: String,
    pub agent_id: String,
    pub session_id: String,
    pub reason: String,
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `session.message` event payload: a message added to a transcript, with the session's row
/// as `session` (and its fields repeated at the top level, kept in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionMessageEvent {
    pub session_key: String,
    pub agent_id: String,
    pub message: Value,
    pub message_id: String,
    pub message_seq: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `session.operation` event payload: a long operation (`compact`) started or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionOperationEvent {
    pub operation_id: String,
    pub operation: String,
    pub session_key: String,
    pub agent_id: String,
    pub ts: i64,
    /// `start` or `end`.
    pub phase: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `session.tool` event payload: a run's `agent` tool event (see [`crate::agent::AgentEvent`])
/// with the session's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionToolEvent {
    pub run_id: String,
    /// Always `tool`.
    pub stream: String,
    pub data: Value,
    pub session_key: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub seq: u64,
    pub ts: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
