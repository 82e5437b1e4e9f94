//! The error a node command reports in `node.invoke.result {ok:false, error:{code, message}}`.

use pincer_protocol::nodes::NodeError;
use serde_json::Map;

/// Stable node error codes (OpenClaw's spellings where OpenClaw has one).
pub mod codes {
    /// Bad or missing params (`paramsJSON` malformed, a required field absent, NUL bytes).
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// The command cannot run here right now (OpenClaw also uses it for `SYSTEM_RUN_DENIED: …`).
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// The node does not implement the command.
    pub const UNKNOWN_COMMAND: &str = "UNKNOWN_COMMAND";
    /// The caller's `timeoutMs` elapsed before the command finished.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The gateway cancelled the invoke (`node.invoke.cancel`).
    pub const CANCELLED: &str = "CANCELLED";
    pub const CAMERA_DISABLED: &str = "CAMERA_DISABLED";
    pub const CAMERA_UNAVAILABLE: &str = "CAMERA_UNAVAILABLE";
    pub const CAMERA_PERMISSION_REQUIRED: &str = "CAMERA_PERMISSION_REQUIRED";
    pub const SCREEN_DISABLED: &str = "SCREEN_DISABLED";
    pub const SCREEN_UNAVAILABLE: &str = "SCREEN_UNAVAILABLE";
    pub const SCREEN_RECORDING_PERMISSION_REQUIRED: &str = "SCREEN_RECORDING_PERMISSION_REQUIRED";
    pub const LOCATION_DISABLED: &str = "LOCATION_DISABLED";
    pub const LOCATION_PERMISSION_REQUIRED: &str = "LOCATION_PERMISSION_REQUIRED";
    pub const LOCATION_TIMEOUT: &str = "LOCATION_TIMEOUT";
    pub const LOCATION_UNAVAILABLE: &str = "LOCATION_UNAVAILABLE";
    pub const NOTIFY_UNAVAILABLE: &str = "NOTIFY_UNAVAILABLE";
}

/// A failed node command: `{code, message}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError { code: code.to_string(), message: message.into() }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        CommandError::new(codes::INVALID_REQUEST, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        CommandError::new(codes::UNAVAILABLE, message)
    }

    pub fn to_wire(&self) -> NodeError {
        NodeError { code: self.code.clone(), message: self.message.clone(), extra: Map::new() }
    }
}
