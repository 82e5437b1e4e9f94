//! `health`, `status`, `system-presence`, `logs.tail`, `voicewake.*` and the connection-level
//! events (`tick`, `shutdown`, `presence`, `health`, `voicewake.changed`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// The `health` result and `health` event payload (also `hello-ok.snapshot.health`). Pincer fills
/// the fields the OpenClaw CLI reads; the rest of OpenClaw's report passes through `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HealthSnapshot {
    pub ok: bool,
    pub ts: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_ms: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `status` result: what runs where. Sub-reports OpenClaw's clients read are kept as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub runtime_version: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_ms: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<StatusGateway>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.gateway`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatusGateway {
    pub port: u16,
    /// `loopback` or `lan`.
    pub bind: String,
    pub auth_mode: String,
    /// The state directory, or `[redacted]` without `operator.admin`.
    pub state_dir: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `system-presence` row / `presence` event entry: the gateway itself (`mode: "gateway"`,
/// `reason: "self"`) or a connected device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEntry {
    pub host: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `presence` event payload: the whole list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PresenceEvent {
    pub presence: Vec<PresenceEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tick` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TickEvent {
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `shutdown` event payload, sent before the close with 1012.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    pub reason: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_expected_ms: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `logs.tail` params; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LogsTailParams {
    /// Byte offset to resume from (the previous result's `cursor`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// 1..=5000 lines, default 500.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// 1..=1,000,000 bytes, default 250,000.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `logs.tail` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LogsTailResult {
    pub file: String,
    pub cursor: u64,
    pub size: u64,
    pub lines: Vec<String>,
    pub truncated: bool,
    pub reset: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_bytes: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `voicewake.set` params, `voicewake.get` / `voicewake.set` result and `voicewake.changed` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VoicewakeTriggers {
    pub triggers: Vec<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `commands.list` result (Pincer has no slash commands yet: always empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct CommandsListResult {
    pub commands: Vec<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `question.list` result (no agent questions yet: always empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct QuestionListResult {
    pub questions: Vec<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
