//! Device pairing records as they appear in `device.pair.*` results and events.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// A pending device pairing request (`device.pair.list` pending[], `device.pair.requested`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DevicePairRequest {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default)]
    pub silent: bool,
    #[serde(default)]
    pub is_repair: bool,
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Metadata of one role token of a paired device (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenInfo {
    pub role: String,
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A paired device (`device.pair.list` paired[], `device.pair.approve` device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_via: Option<String>,
    pub created_at_ms: i64,
    pub approved_at_ms: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_reason: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    #[serde(default)]
    pub tokens: Vec<DeviceTokenInfo>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.pair.resolved` / `node.pair.resolved` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PairResolved {
    pub request_id: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// `approved`, `rejected` or `expired`.
    pub decision: String,
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params naming one pairing request: `device.pair.approve`, `device.pair.reject`,
/// `node.pair.approve`, `node.pair.reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PairRequestIdParams {
    pub request_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Params naming one device: `device.pair.remove`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceIdParams {
    pub device_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.pair.list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DevicePairListResult {
    pub pending: Vec<DevicePairRequest>,
    pub paired: Vec<PairedDevice>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.pair.approve` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DevicePairApproveResult {
    pub request_id: String,
    pub device: PairedDevice,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.pair.reject` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DevicePairRejectResult {
    pub request_id: String,
    pub device_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.pair.rename` params and result (`label` trimmed, at most 64 characters; empty clears).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRename {
    pub device_id: String,
    #[serde(default)]
    pub label: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.token.rotate` params. Without `scopes` the device's approved scopes are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenRotateParams {
    pub device_id: String,
    /// `operator` or `node`.
    pub role: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.token.rotate` result. `token` is present only when the device rotated its own token
/// (`tokenDelivery: "in-band"`); otherwise it is `withheld-cross-device`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenRotateResult {
    pub device_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub rotated_at_ms: i64,
    pub token_delivery: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.token.revoke` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenRevokeParams {
    pub device_id: String,
    pub role: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `device.token.revoke` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceTokenRevokeResult {
    pub device_id: String,
    pub role: String,
    pub revoked_at_ms: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
