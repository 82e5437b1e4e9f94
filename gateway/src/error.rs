//! Gateway errors: startup failures as a `thiserror` enum, and the mapping of internal
//! failures onto the wire's OpenClaw error shape.

use pincer_protocol::error::{DetailCode, ErrorCode, ErrorShape};

use crate::config::ConfigError;
use crate::store::StoreError;

/// Why the gateway could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot create state directory {path}: {source}")]
    StateDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source} (is another gateway already running on this port?)")]
    Bind { addr: String, source: std::io::Error },
    #[error("gateway auth mode is {mode} but no {what} is configured: pass --{what}, set PINCER_GATEWAY_{env}, or set gateway.auth.{what} in the config")]
    MissingSecret { mode: &'static str, what: &'static str, env: &'static str },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// The result type of every method handler.
pub type MethodResult = Result<serde_json::Value, ErrorShape>;

impl From<StoreError> for ErrorShape {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "state store failure");
        ErrorShape::unavailable(format!("gateway state store failure: {e}")).retryable(Some(1000))
    }
}

impl From<ConfigError> for ErrorShape {
    fn from(e: ConfigError) -> Self {
        let mut shape = if e.rpc_error_code() == "UNAVAILABLE" {
            ErrorShape::unavailable(e.to_string())
        } else {
            ErrorShape::invalid_request(e.to_string())
        };
        if let Some(details) = e.issues_details() {
            shape.details = Some(details);
        }
        match &e {
            ConfigError::BaseHashMismatch { current } => {
                shape.with_detail_code(DetailCode::BaseHashMismatch).with_detail("currentHash", current.clone())
            }
            other => shape.with_detail("configError", other.code()),
        }
    }
}

/// `INVALID_REQUEST "invalid <method> params: <why>"`.
pub fn invalid_params(method: &str, why: impl std::fmt::Display) -> ErrorShape {
    ErrorShape::invalid_request(format!("invalid {method} params: {why}")).with_detail_code(DetailCode::InvalidParams)
}

/// Parse typed params, mapping serde errors to an invalid-params error (a missing field is
/// worded like OpenClaw's schema validator: `must have required property '<k>'`).
pub fn parse_params<T: serde::de::DeserializeOwned>(method: &str, params: serde_json::Value) -> Result<T, ErrorShape> {
    serde_json::from_value(params).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')) {
            Some(field) => invalid_params(method, format!("must have required property '{field}'")),
            None => invalid_params(method, text),
        }
    })
}

pub fn not_found(code: ErrorCode, message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(code, message)
}
