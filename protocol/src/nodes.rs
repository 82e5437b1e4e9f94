//! Node routing envelopes (`node.invoke`, `node.invoke.request`, `node.invoke.result`,
//! `node.event`) and canonical node command names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeParams {
    pub node_id: String,
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Payload of the `node.invoke.request` event a gateway sends to a node. v4 gateways send
/// `paramsJSON`; v3 sent `params`. Both are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeRequest {
    pub id: String,
    pub node_id: String,
    pub command: String,
    #[serde(default, rename = "paramsJSON", skip_serializing_if = "Option::is_none")]
    pub params_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeError {
    pub code: String,
    pub message: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params of the node method `node.invoke.result`: `payload` or `payloadJSON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeResult {
    pub id: String,
    pub node_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<NodeError>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeInvokeResult {
    pub fn payload_value(&self) -> Result<Option<Value>, serde_json::Error> {
        inline_or_json(&self.payload, &self.payload_json)
    }
}

/// Params of `node.event` (node → gateway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEventParams {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default, rename = "payloadJSON", skip_serializing_if = "Option::is_none")]
    pub payload_json: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeEventParams {
    pub fn payload_value(&self) -> Result<Option<Value>, serde_json::Error> {
        inline_or_json(&self.payload, &self.payload_json)
    }
}

/// `node.invoke.cancel` event payload (gateway → node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInvokeCancel {
    pub invoke_id: String,
    pub node_id: String,
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
