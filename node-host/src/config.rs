//! How a node host is set up: which gateway, which credentials, what it may offer.

use std::path::PathBuf;
use std::time::Duration;

use pincer_protocol::device::b64url_decode;
use serde::Deserialize;

use crate::capabilities::CapabilitySettings;
use crate::credentials::SecretBackend;

/// The credential the node starts with, before it holds a device token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedAuth {
    pub token: Option<String>,
    pub password: Option<String>,
    /// A single-use bootstrap token (setup code / QR): exchanged for a device token.
    pub bootstrap_token: Option<String>,
}

impl SharedAuth {
    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.password.is_none() && self.bootstrap_token.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `ws://host:port` or `wss://host:port`.
    pub url: String,
    pub auth: SharedAuth,
    /// SHA-256 of the gateway's TLS certificate (hex, colons allowed) to pin for `wss://`.
    pub tls_fingerprint: Option<String>,
    pub display_name: String,
    pub state_dir: PathBuf,
    pub secrets: SecretBackend,
    pub capabilities: CapabilitySettings,
    /// First reconnect delay and its cap (1 s → 30 s).
    pub backoff: (Duration, Duration),
    /// Most invokes served at once; more are answered "node busy, retry".
    pub max_concurrent_invokes: usize,
}

impl NodeConfig {
    pub fn new(url: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            url: url.into(),
            auth: SharedAuth::default(),
            tls_fingerprint: None,
            display_name: default_display_name(),
            state_dir: state_dir.into(),
            secrets: SecretBackend::Auto,
            capabilities: CapabilitySettings::default(),
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            max_concurrent_invokes: 16,
        }
    }
}

/// `$HOSTNAME`, else the machine's host name, else "Pincer node".
pub fn default_display_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| gethostname::gethostname().into_string().ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "Pincer node".into())
}

/// A decoded setup code: base64url of `{url, urls?, bootstrapToken}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupCode {
    pub url: String,
    #[serde(default)]
    pub urls: Vec<String>,
    pub bootstrap_token: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetupCodeError {
    #[error("the setup code is not base64url text")]
    NotBase64,
    #[error("the setup code does not hold {{url, bootstrapToken}}: {0}")]
    BadJson(String),
}

impl SetupCode {
    pub fn parse(code: &str) -> Result<SetupCode, SetupCodeError> {
        let trimmed = code.trim().trim_end_matches('=');
        let bytes = b64url_decode(trimmed).ok_or(SetupCodeError::NotBase64)?;
        serde_json::from_slice(&bytes).map_err(|e| SetupCodeError::BadJson(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pincer_protocol::device::b64url_encode;

    #[test]
    fn setup_codes_decode() {
        let code = b64url_encode(br#"{"url":"ws://10.0.0.2:18789","bootstrapToken":"bt-1"}"#);
        let parsed = SetupCode::parse(&code).unwrap();
        assert_eq!(parsed.url, "ws://10.0.0.2:18789");
        assert_eq!(parsed.bootstrap_token, "bt-1");
        assert_eq!(SetupCode::parse("***"), Err(SetupCodeError::NotBase64));
        assert!(matches!(SetupCode::parse(&b64url_encode(b"{}")), Err(SetupCodeError::BadJson(_))));
    }
}
