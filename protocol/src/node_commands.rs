//! Params and results of the node commands a node host serves (the `command` of
//! `node.invoke`, see [`crate::nodes::commands`]), and the `exec.*` node events of `system.run`.
//!
//! Numeric params are `f64`: callers send `0.5` as well as `50` for a quality, and the node host
//! validates and clamps them itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

// ---- system.run / system.run.prepare ------------------------------------------------------

/// `system.run` / `system.run.prepare` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SystemRunParams {
    /// argv; the first word is looked up on the node's PATH.
    pub command: Vec<String>,
    /// How the command is shown; must describe the same command as argv.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_command: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// Set by the gateway after a person approved the run.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_decision: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system.run` result. `exitCode` is `null` when the process did not exit by itself (not
/// started, killed); `error` is `null` when nothing went wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SystemRunResult {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
    /// Output beyond the cap was dropped (Pincer always says; OpenClaw's node host does not).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Environment overrides the node refused, with why (only when there were any).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_dropped: Option<Vec<EnvOverrideDropped>>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `env` override of `system.run` the node did not pass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EnvOverrideDropped {
    pub key: String,
    pub reason: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The canonical plan of a run (`system.run.prepare`), shown to the approving person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SystemRunPlan {
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    pub command_text: String,
    pub command_preview: String,
    pub agent_id: String,
    pub session_key: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system.run.prepare` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SystemRunPrepareResult {
    pub cmd_text: String,
    pub plan: SystemRunPlan,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Payload of the `exec.started`, `exec.denied` (with `reason`) and `exec.finished` (with the
/// outcome and the first 2,000 characters of stdout) node events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExecEvent {
    pub session_key: Option<String>,
    pub run_id: String,
    /// Always `node`.
    pub host: String,
    pub command: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `exec.finished` only; `null` when the process did not exit by itself.
    #[ts(optional)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<Option<i32>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A field that may be absent (outer `None`) or `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// ---- system.which / system.notify ---------------------------------------------------------

/// `system.which` params: bare program names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SystemWhichParams {
    pub bins: Vec<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system.which` result: name → absolute path; names not found are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SystemWhichResult {
    pub bins: BTreeMap<String, String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system.notify` params (a title or a body is required).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SystemNotifyParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `true` or a sound name.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<Value>,
    /// `passive`, `active` or `timeSensitive`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system.notify` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SystemNotifyResult {
    pub sent: bool,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---- screen.* -----------------------------------------------------------------------------

/// `screen.snapshot` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScreenSnapshotParams {
    /// `png` (default) or `jpeg`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<f64>,
    /// `0..=1` or `1..=100`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_index: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A still image: `screen.snapshot` (`png`/`jpeg`) and `camera.snap` (`jpg`) result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ImageResult {
    pub format: String,
    pub base64: String,
    pub width: u32,
    pub height: u32,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `screen.record` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScreenRecordParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_index: Option<i64>,
    /// Default 10,000, at most 60,000.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Default 5, 1..=30.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// `avi` or `mp4` (answered as MJPEG AVI).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Accepted; audio is not captured.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_audio: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A video clip: `screen.record` (with `screenIndex`) and `camera.clip` (with `deviceId`) result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClipResult {
    /// Always `avi` (MJPEG).
    pub format: String,
    pub base64: String,
    pub duration_ms: u64,
    pub fps: u32,
    pub has_audio: bool,
    pub width: u32,
    pub height: u32,
    /// The size cap cut the clip short.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_index: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---- camera.* -----------------------------------------------------------------------------

/// One camera of `camera.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CameraDevice {
    /// Stable within a run: pass it back as `deviceId`.
    pub id: String,
    pub name: String,
    /// `front`, `back` or `unspecified` (desktop webcams do not know which way they face).
    pub position: String,
    pub device_type: String,
}

/// `camera.list` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct CameraListResult {
    pub devices: Vec<CameraDevice>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `camera.snap` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CameraSnapParams {
    /// `front` or `back`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facing: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    /// Only `jpg`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `camera.clip` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CameraClipParams {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facing: Option<String>,
    /// Default 3,000, at most 60,000.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_audio: Option<bool>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---- location.get -------------------------------------------------------------------------

/// `location.get` params.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LocationGetParams {
    /// Default 10,000, at most 120,000.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
    /// Default 15,000.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<f64>,
    /// `coarse`, `balanced` (default) or `precise`.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_accuracy: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `location.get` result. `timestamp` is RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LocationResult {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_meters: f64,
    pub timestamp: String,
    pub is_precise: bool,
    pub source: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_meters: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mps: Option<f64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---- host stats ---------------------------------------------------------------------------

/// The `node.host.stats` node event payload (and `hostStats` of `node.list` / `node.hostStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HostStats {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u32>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_average: Option<Vec<f64>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_bytes: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_free_bytes: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_total_bytes: Option<u64>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_available_bytes: Option<u64>,
    /// Set by the gateway when it stores the report.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at_ms: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
