//! `config.get`, `config.schema` and `config.patch`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// `config.get` result: the config file as written and as resolved, secrets redacted. `raw` is
/// `null` when the file is missing or its text could not be provably redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSnapshot {
    pub path: String,
    #[serde(default)]
    pub included_paths: Vec<String>,
    #[serde(default)]
    pub include_provenance: Vec<Value>,
    pub exists: bool,
    pub raw: Option<String>,
    pub parsed: Value,
    pub source_config: Value,
    pub resolved: Value,
    pub valid: bool,
    pub runtime_config: Value,
    pub config: Value,
    pub hash: String,
    #[serde(default)]
    pub issues: Vec<Value>,
    #[serde(default)]
    pub warnings: Vec<Value>,
    #[serde(default)]
    pub legacy_issues: Vec<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `config.patch` params: an RFC 7386 merge patch as JSON5 text (`raw`, OpenClaw's form) or as
/// an object (`patch`, Pincer's). `baseHash` is the `hash` of the `config.get` it was made from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConfigPatchParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_hash: Option<String>,
    /// Accepted and ignored: arrays are always replaced whole.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_paths: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `config.patch` result: `{ok, path, hash, config, changedPaths}`, or `{ok, noop: true,
/// changedPaths: [], path, config}` when the patch changed nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConfigPatchResult {
    pub ok: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noop: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_paths: Option<Vec<String>>,
    pub path: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    pub config: Value,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
