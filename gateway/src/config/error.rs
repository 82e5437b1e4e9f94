//! Why a config could not be loaded, patched or saved, and the non-fatal findings.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

/// Why a config could not be loaded, patched or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("cannot {action} config file {}: {source}", .path.display())]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },

    /// The text is not valid JSON5. `path` is `None` for text that did not come from a file
    /// (`config.patch`'s `raw`). The message never quotes the offending text (it could be a
    /// half-typed secret).
    #[error("{}", parse_display(.path.as_deref(), *.line, *.column, .message))]
    Parse { path: Option<PathBuf>, line: Option<usize>, column: Option<usize>, message: String },

    /// A key Pincer uses has a value of the wrong type or out of range, or references a missing
    /// environment variable. `key` is the dotted config path (`<root>` for the whole document).
    #[error("invalid config: {key}: {message}")]
    Invalid { key: String, message: String },

    /// `config.patch` carried a `baseHash` that is not the current file's hash.
    #[error("config changed since last load; re-run config.get and retry")]
    BaseHashMismatch { current: String },

    /// `config.patch` without `baseHash` while the file exists, touching paths outside
    /// [`HASHLESS_PATCH_PATH_PREFIXES`](super::HASHLESS_PATCH_PATH_PREFIXES) (OpenClaw requires the hash then).
    #[error("{}", base_hash_required_display(.paths))]
    BaseHashRequired { paths: Vec<String> },
}

pub(super) fn parse_display(path: Option<&Path>, line: Option<usize>, column: Option<usize>, message: &str) -> String {
    let what = match path {
        Some(p) => format!("config file {}", p.display()),
        None => "config text".to_string(),
    };
    match (line, column) {
        (Some(l), Some(c)) => format!("invalid JSON5 in {what} at line {l}, column {c}: {message}"),
        (Some(l), None) => format!("invalid JSON5 in {what} at line {l}: {message}"),
        _ => format!("invalid JSON5 in {what}: {message}"),
    }
}

pub(super) fn base_hash_required_display(paths: &[String]) -> String {
    if paths.is_empty() {
        "config base hash required; re-run config.get and retry".to_string()
    } else {
        format!("config base hash required for {}; re-run config.get and retry with baseHash", paths.join(", "))
    }
}

impl ConfigError {
    /// Stable machine-readable code (for logs and `error.details`).
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "CONFIG_IO",
            ConfigError::Parse { .. } => "CONFIG_PARSE",
            ConfigError::Invalid { .. } => "CONFIG_INVALID",
            ConfigError::BaseHashMismatch { .. } => "CONFIG_BASE_HASH_MISMATCH",
            ConfigError::BaseHashRequired { .. } => "CONFIG_BASE_HASH_REQUIRED",
        }
    }

    /// The wire error code OpenClaw answers `config.*` with for this failure: everything is
    /// `INVALID_REQUEST` except I/O trouble (`UNAVAILABLE`).
    pub fn rpc_error_code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "UNAVAILABLE",
            _ => "INVALID_REQUEST",
        }
    }

    /// OpenClaw-shaped `error.details` for validation failures: `{issues:[{path,message}]}`.
    pub fn issues_details(&self) -> Option<Value> {
        match self {
            ConfigError::Invalid { key, message } => Some(json!({ "issues": [{ "path": key, "message": message }] })),
            _ => None,
        }
    }

    pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key: key.into(), message: message.into() }
    }
}

/// A non-fatal finding (`config.get` lists them under `warnings` / `legacyIssues`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}
