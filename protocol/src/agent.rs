//! `agent`, `agent.wait`, `agents.list`, `models.list` and the `agent` event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::chat::{ChatAttachment, QueuePlacement};

/// `agent` params. `idempotencyKey` becomes the run id; `timeout` is in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentParams {
    pub message: String,
    pub idempotency_key: String,
    /// Default: the main session.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_system_prompt: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<ChatAttachment>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The first answer of `agent` (its final result follows as a second `res` with the same id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentAccepted {
    pub run_id: String,
    pub session_key: String,
    pub agent_id: String,
    /// Always `accepted`.
    pub status: String,
    pub accepted_at: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueuePlacement>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_active_run: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The final answer of `agent`: `status` `ok` or `error`, the reply in `result.payloads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentFinal {
    pub run_id: String,
    pub status: String,
    pub summary: String,
    pub result: AgentRunResult,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `result` of [`AgentFinal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AgentRunResult {
    /// `{text, mediaUrl}` items of the reply.
    pub payloads: Vec<Value>,
    /// Duration, usage, model and stop reason of the run.
    pub meta: Value,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `agent.wait` params. `timeoutMs` defaults to 30 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentWaitParams {
    pub run_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `agent.wait` result: `status` `ok`, `error` or `timeout` (then no times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentWaitResult {
    pub run_id: String,
    pub status: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A thinking level as offered to a picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ThinkingLevelOption {
    pub id: String,
    pub label: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `model` of an agent: `primary` and `fallbacks` as `provider/model`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct AgentModel {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One agent of `agents.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummary {
    pub id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_git: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AgentModel>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_levels: Option<Vec<ThinkingLevelOption>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_options: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_default: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `agents.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentsListResult {
    pub default_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_required: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub agents: Vec<AgentSummary>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One model of `models.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub id: String,
    pub name: String,
    pub provider: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Input kinds: `text`, `image`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<String>>,
    /// `default`, `fallback`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A key is configured, or the provider is local and needs none.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `models.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelsListResult {
    pub models: Vec<ModelSummary>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `agent` event payload: one item of a run's `stream` (`lifecycle`, `assistant`, `thinking`,
/// `tool`); `data` depends on the stream (`phase` for lifecycle and tool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvent {
    pub run_id: String,
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
    pub is_heartbeat: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
