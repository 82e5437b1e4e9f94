//! Node routing envelopes (`node.invoke`, `node.invoke.request`, `node.invoke.result`,
//! `node.event`) and canonical node command names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// Canonical node command names.
pub mod commands {
    pub const SYSTEM_RUN: &str = "system.run";
    pub const SYSTEM_RUN_PREPARE: &str = "system.run.prepare";
    pub const SYSTEM_WHICH: &str = "system.which";
    pub const SYSTEM_NOTIFY: &str = "system.notify";
    pub const SYSTEM_EXEC_APPROVALS_GET: &str = "system.execApprovals.get";
    pub const SYSTEM_EXEC_APPROVALS_SET: &str = "system.execApprovals.set";
    pub const SCREEN_SNAPSHOT: &str = "screen.snapshot";
    pub const SCREEN_RECORD: &str = "screen.record";
    pub const CAMERA_LIST: &str = "camera.list";
    pub const CAMERA_SNAP: &str = "camera.snap";
    pub const CAMERA_CLIP: &str = "camera.clip";
    pub const LOCATION_GET: &str = "location.get";
}

/// Decode a `paramsJSON` / `payloadJSON` companion string, preferring an inline value.
fn inline_or_json(inline: &Option<Value>, json: &Option<String>) -> Result<Option<Value>, serde_json::Error> {
    match (inline, json) {
        (Some(v), _) if !v.is_null() => Ok(Some(v.clone())),
        (_, Some(s)) if !s.is_empty() => serde_json::from_str(s).map(Some),
        _ => Ok(None),
    }
}

/// Params of the operator method `node.invoke`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeParams {
    pub node_id: String,
    pub command: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    pub idempotency_key: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Payload of the `node.invoke.request` event a gateway sends to a node. v4 gateways send
/// `paramsJSON`; v3 sent `params`. Both are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    #[ts(optional)]
    #[serde(default, rename = "paramsJSON", skip_serializing_if = "Option::is_none")]
    pub params_json: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeInvokeRequest {
    /// The command params, from `params` or the `paramsJSON` string; `None` when absent.
    pub fn params_value(&self) -> Result<Option<Value>, serde_json::Error> {
        inline_or_json(&self.params, &self.params_json)
    }
}

/// `{code, message}` of a failed node command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodeError {
    pub code: String,
    pub message: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params of the node method `node.invoke.result`: `payload` or `payloadJSON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeResult {
    pub id: String,
    pub node_id: String,
    pub ok: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[ts(optional)]
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<NodeError>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeInvokeResult {
    pub fn payload_value(&self) -> Result<Option<Value>, serde_json::Error> {
        inline_or_json(&self.payload, &self.payload_json)
    }
}

/// Params of `node.event` (node → gateway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeEventParams {
    pub event: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[ts(optional)]
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeEventParams {
    pub fn payload_value(&self) -> Result<Option<Value>, serde_json::Error> {
        inline_or_json(&self.payload, &self.payload_json)
    }
}

/// `node.invoke.cancel` event payload (gateway → node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeCancel {
    pub invoke_id: String,
    pub node_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.invoke` result: the node's answer, inline and as `payloadJSON` (OpenClaw sends both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeResponse {
    pub ok: bool,
    pub node_id: String,
    pub command: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[ts(optional)]
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.invoke.cancel` params (operator): `invokeId`, or `id` as older clients send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeCancelParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.invoke.cancel` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodeInvokeCancelResult {
    pub ok: bool,
    pub cancelled: bool,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.invoke.result` result: `ignored` when no invoke was waiting for it (late or unknown id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodeInvokeResultAck {
    pub ok: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<bool>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.event` result. OpenClaw answers `{ok}`; Pincer adds what it did with the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodeEventResult {
    pub ok: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params naming one node: `node.describe`, `node.pair.remove`, `exec.approvals.node.get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeIdParams {
    pub node_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A node's declared surface as a pairing request records it (`node.pair.list` pending[],
/// `node.pair.requested`, `node.pair.request` params and result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodePairRequest {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub node_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Map<String, Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// The operator scopes approving this surface needs (`operator.admin` for `system.run`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_approve_scopes: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An approved node surface (`node.pair.list` paired[], `node.pair.approve` node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PairedNode {
    pub node_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Map<String, Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_reason: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pair.request` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodePairRequestResult {
    /// Always `pending`.
    pub status: String,
    pub request: NodePairRequest,
    /// `false` when an identical request was already pending.
    pub created: bool,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pair.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodePairListResult {
    pub pending: Vec<NodePairRequest>,
    pub paired: Vec<PairedNode>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pair.approve` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodePairApproveResult {
    pub request_id: String,
    pub node: PairedNode,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pair.reject` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodePairRejectResult {
    pub request_id: String,
    pub node_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pair.verify` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodePairVerifyParams {
    pub node_id: String,
    pub token: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{ok}`: `node.pair.verify`, `exec.approval.resolve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OkResult {
    pub ok: bool,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.rename` params and result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeRename {
    pub node_id: String,
    #[serde(default)]
    pub display_name: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One node as `node.list` / `node.describe` show it: approved record, live session, approval state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    pub node_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// The commands callable now: declared and approved.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Map<String, Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_stats: Option<crate::node_commands::HostStats>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_host: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_plugin_tools: Option<Vec<Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_connected_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_reason: Option<String>,
    /// `approved`, `pending-approval`, `pending-reapproval` or `unapproved`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_state: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_declared_commands: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_declared_caps: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// `node.describe` only: when the answer was made.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NodeListResult {
    pub ts: i64,
    pub nodes: Vec<NodeEntry>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params of the node-only `node.runnerInventory.update` (OpenClaw 2026.9 node hosts send it
/// after connecting; Pincer answers without using them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeRunnerInventoryUpdateParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_features: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_host: Option<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Result of the node-only `node.runnerInventory.update` (when the surface is approved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeRunnerInventoryUpdateResult {
    pub node_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.skills.update` params (`skills`) and result (`nodeId`, `skills`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeSkillsUpdate {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub skills: Vec<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.pluginTools.update` params (`tools`) and result (`nodeId`, `tools`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodePluginToolsUpdate {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub tools: Vec<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.hostStats` event payload: the node's last `node.host.stats` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeHostStatsEvent {
    pub node_id: String,
    pub host_stats: crate::node_commands::HostStats,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `node.runnerInventory.changed` event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NodeRunnerInventoryChanged {
    pub node_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_come_from_either_spelling() {
        let v4: NodeInvokeRequest = serde_json::from_value(json!({
            "id": "i", "nodeId": "n", "command": "system.which", "paramsJSON": "{\"bins\":[\"ls\"]}"
        }))
        .unwrap();
        assert_eq!(v4.params_value().unwrap(), Some(json!({"bins": ["ls"]})));
        let v3: NodeInvokeRequest = serde_json::from_value(json!({
            "id": "i", "nodeId": "n", "command": "system.which", "params": {"bins": ["ls"]}
        }))
        .unwrap();
        assert_eq!(v3.params_value().unwrap(), Some(json!({"bins": ["ls"]})));
        let none: NodeInvokeRequest =
            serde_json::from_value(json!({"id": "i", "nodeId": "n", "command": "c", "paramsJSON": null})).unwrap();
        assert_eq!(none.params_value().unwrap(), None);
        let bad: NodeInvokeRequest = serde_json::from_value(json!({"id": "i", "nodeId": "n", "command": "c", "paramsJSON": "{"})).unwrap();
        assert!(bad.params_value().is_err());
    }

    #[test]
    fn results_come_from_either_spelling() {
        let r: NodeInvokeResult =
            serde_json::from_value(json!({"id": "i", "nodeId": "n", "ok": true, "payloadJSON": "{\"a\":1}"})).unwrap();
        assert_eq!(r.payload_value().unwrap(), Some(json!({"a": 1})));
        let r: NodeInvokeResult = serde_json::from_value(json!({"id": "i", "nodeId": "n", "ok": true, "payload": {"a": 2}})).unwrap();
        assert_eq!(r.payload_value().unwrap(), Some(json!({"a": 2})));
    }
}
