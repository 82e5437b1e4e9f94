use std::path::PathBuf;

use crate::error::{codes, CommandError};

#[derive(Debug, thiserror::Error)]
pub enum ApprovalsError {
    #[error("exec approvals baseHash required; re-run system.execApprovals.get and retry")]
    BaseHashRequired,
    #[error("exec approvals changed since last load (baseHash mismatch); re-run system.execApprovals.get and retry")]
    HashMismatch,
    /// A file offered by `set` that we refuse to write.
    #[error("invalid exec approvals file: {0}")]
    InvalidFile(#[from] InvalidApprovalsFile),
    /// The file on disk cannot be parsed. The hash lets a remote editor overwrite it.
    #[error("{} is not a valid exec approvals file ({reason}); fix or delete it, or overwrite it with system.execApprovals.set using baseHash {hash}", path.display())]
    Corrupt { path: PathBuf, reason: Box<InvalidApprovalsFile>, hash: String },
    #[error("exec approvals: {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why an exec approvals file (offered by `set`, or about to be written) is refused.
#[derive(Debug, thiserror::Error)]
pub enum InvalidApprovalsFile {
    #[error("file must be a JSON object")]
    NotAnObject,
    /// A field has the wrong type or an unknown enum value (serde's message names it), or the
    /// file cannot be serialized back.
    #[error("{0}")]
    Shape(#[source] serde_json::Error),
    #[error("version must be 1 (got {0})")]
    Version(u32),
    #[error("{at}.allowlist[{index}].pattern {pattern:?}: {reason}")]
    Pattern { at: String, index: usize, pattern: String, reason: String },
}

impl ApprovalsError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ApprovalsError::Io { op, path: path.into(), source }
    }

    /// The node error code for `node.invoke.result`.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalsError::BaseHashRequired | ApprovalsError::HashMismatch | ApprovalsError::InvalidFile(_) => codes::INVALID_REQUEST,
            ApprovalsError::Corrupt { .. } | ApprovalsError::Io { .. } => codes::UNAVAILABLE,
        }
    }

    pub fn to_command_error(&self) -> CommandError {
        CommandError::new(self.code(), self.to_string())
    }
}

impl From<ApprovalsError> for CommandError {
    fn from(e: ApprovalsError) -> Self {
        e.to_command_error()
    }
}
