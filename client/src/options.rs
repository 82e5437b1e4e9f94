//! What to connect to and how to present ourselves: `ConnectOptions` and the `connect`
//! params built from it and the server's challenge.

use std::time::Duration;

use pincer_protocol::connect::{ClientInfo, ConnectAuth, ConnectChallenge, ConnectParams};
use pincer_protocol::device::{DeviceIdentity, SignedFields};
use serde_json::{Map, Value};

/// Defaults of the upstream Rust client (`openclaw-gateway-client`): connect 10 s,
/// challenge 15 s, request 30 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CHALLENGE_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the close frame that follows a rejected `connect`. The real gateway
/// closes immediately; the grace only bounds the wait when a server does not.
pub const DEFAULT_REJECT_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Largest message we accept from the server (upstream Rust client: 64 MiB; the server's
/// own `policy.maxPayload` is 25 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// How to reach a gateway and what to say in `connect`.
///
/// Plain struct with public fields and `Default`; the `with_*` methods are sugar for
/// chaining. Strings (not enums) for role, client id and mode so tests can send values the
/// server must reject.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `ws://host:port` or `wss://host:port` (a path is allowed).
    pub url: String,
    /// Shared gateway token (`auth.token`).
    pub token: Option<String>,
    pub password: Option<String>,
    /// A device token issued in an earlier `hello-ok` (`auth.deviceToken`).
    pub device_token: Option<String>,
    pub bootstrap_token: Option<String>,
    /// When set, `connect` carries a `device` block signed over the v3 payload.
    pub device: Option<DeviceIdentity>,
    pub client_id: String,
    pub client_mode: String,
    pub version: String,
    pub platform: String,
    pub device_family: Option<String>,
    pub display_name: Option<String>,
    pub instance_id: Option<String>,
    pub model_identifier: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub permissions: Option<Map<String, Value>>,
    pub path_env: Option<String>,
    pub locale: Option<String>,
    pub user_agent: Option<String>,
    pub min_protocol: u32,
    pub max_protocol: u32,
    /// Extra HTTP headers on the upgrade request (e.g. `Origin` for browser client ids).
    pub headers: Vec<(String, String)>,
    /// Extra top-level fields merged into `connect.params` (tests: unknown/extra fields).
    pub extra_params: Map<String, Value>,
    /// TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Socket open → `connect.challenge`.
    pub challenge_timeout: Duration,
    /// Default per-request timeout, also used for the `connect` request itself.
    pub request_timeout: Duration,
    pub reject_close_grace: Duration,
    pub max_message_bytes: usize,
    /// For `wss://`: accept exactly the server certificate whose SHA-256 (hex, colons and
    /// case ignored) is this, instead of checking it against the OS trust store. This is how a
    /// node pins a gateway with a self-signed certificate.
    pub tls_fingerprint: Option<String>,
    /// Events kept for `wait_event`/`next_event`/`drain_events` before the oldest are dropped.
    /// A long-lived client that consumes [`GatewayClient::events`](crate::GatewayClient::events)
    /// only needs the few that arrive before it subscribes; a small backlog keeps it from holding
    /// thousands of frames it will never look at.
    pub event_backlog: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            url: format!("ws://127.0.0.1:{}", pincer_protocol::DEFAULT_GATEWAY_PORT),
            token: None,
            password: None,
            device_token: None,
            bootstrap_token: None,
            device: None,
            client_id: "cli".into(),
            client_mode: "cli".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            platform: default_platform().into(),
            device_family: Some(default_device_family().into()),
            display_name: None,
            // The official CLI sends a fresh instance id per process; one per options value
            // is the closest equivalent.
            instance_id: Some(uuid::Uuid::new_v4().to_string()),
            model_identifier: None,
            role: "operator".into(),
            scopes: Vec::new(),
            caps: Vec::new(),
            commands: Vec::new(),
            permissions: None,
            path_env: None,
            locale: None,
            user_agent: None,
            min_protocol: pincer_protocol::PROTOCOL_VERSION,
            max_protocol: pincer_protocol::PROTOCOL_VERSION,
            headers: Vec::new(),
            extra_params: Map::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            challenge_timeout: DEFAULT_CHALLENGE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            reject_close_grace: DEFAULT_REJECT_CLOSE_GRACE,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            tls_fingerprint: None,
            event_backlog: crate::BACKLOG_CAPACITY,
        }
    }
}

/// The protocol's platform name for this OS (`std::env::consts::OS` spells macOS `macos`
/// already; everything unknown passes through).
pub fn default_platform() -> &'static str {
    match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "macos",
        "windows" => "windows",
        other => other,
    }
}

/// The `deviceFamily` that matches [`default_platform`] for the gateway's node command
/// policy (`linux`/`Linux`, `macos`/`Mac`, `windows`/`Windows`).
pub fn default_device_family() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac",
        "windows" => "Windows",
        other => other,
    }
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions { url: url.into(), ..Default::default() }
    }

    /// A token-only operator, the way the official CLI connects (`cli`/`cli`).
    pub fn operator(url: impl Into<String>, token: impl Into<String>, scopes: &[&str]) -> Self {
        ConnectOptions::new(url).with_token(token).with_scopes(scopes)
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    pub fn with_device_token(mut self, token: impl Into<String>) -> Self {
        self.device_token = Some(token.into());
        self
    }

    pub fn with_bootstrap_token(mut self, token: impl Into<String>) -> Self {
        self.bootstrap_token = Some(token.into());
        self
    }

    pub fn with_device(mut self, device: DeviceIdentity) -> Self {
        self.device = Some(device);
        self
    }

    pub fn with_client(mut self, id: impl Into<String>, mode: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_mode = mode.into();
        self
    }

    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = role.into();
        self
    }

    pub fn with_scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_caps(mut self, caps: &[&str]) -> Self {
        self.caps = caps.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_commands(mut self, commands: &[&str]) -> Self {
        self.commands = commands.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_protocol(mut self, min: u32, max: u32) -> Self {
        self.min_protocol = min;
        self.max_protocol = max;
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Node defaults: `node-host`/`node`, role `node`, no scopes.
    pub fn node(url: impl Into<String>, device: DeviceIdentity) -> Self {
        ConnectOptions::new(url).with_client("node-host", "node").with_role("node").with_device(device)
    }

    /// The `auth` block: every credential that is set is sent (the caller decides which);
    /// `None` when there are none, as for a client that relies on trusted headers.
    pub fn auth(&self) -> Option<ConnectAuth> {
        let auth = ConnectAuth {
            token: self.token.clone(),
            bootstrap_token: self.bootstrap_token.clone(),
            device_token: self.device_token.clone(),
            password: self.password.clone(),
            extra: Map::new(),
        };
        let empty = auth.token.is_none() && auth.bootstrap_token.is_none() && auth.device_token.is_none() && auth.password.is_none();
        (!empty).then_some(auth)
    }

    /// The `connect` params for this challenge, with the device block signed over the v3
    /// payload (signedAt = challenge `ts`, nonce = challenge nonce, token = the credential
    /// actually sent: token → deviceToken → bootstrapToken → "").
    pub fn connect_params(&self, challenge: &ConnectChallenge) -> ConnectParams {
        let auth = self.auth();
        let device = self.device.as_ref().map(|identity| {
            let device_id = identity.device_id();
            let fields = SignedFields {
                device_id: &device_id,
                client_id: &self.client_id,
                client_mode: &self.client_mode,
                role: &self.role,
                scopes: &self.scopes,
                signed_at_ms: challenge.ts,
                token: auth.as_ref().map(ConnectAuth::signed_token).unwrap_or(""),
                nonce: &challenge.nonce,
                platform: &self.platform,
                device_family: self.device_family.as_deref().unwrap_or(""),
            };
            identity.connect_device_block(&fields)
        });
        ConnectParams {
            min_protocol: self.min_protocol,
            max_protocol: self.max_protocol,
            client: ClientInfo {
                id: self.client_id.clone(),
                version: self.version.clone(),
                platform: self.platform.clone(),
                mode: self.client_mode.clone(),
                display_name: self.display_name.clone(),
                device_family: self.device_family.clone(),
                model_identifier: self.model_identifier.clone(),
                instance_id: self.instance_id.clone(),
                extra: Map::new(),
            },
            role: Some(self.role.clone()),
            scopes: Some(self.scopes.clone()),
            caps: Some(self.caps.clone()),
            // Nodes declare commands; operators have none, and the CLI omits the field.
            commands: (!self.commands.is_empty()).then(|| self.commands.clone()),
            permissions: self.permissions.clone(),
            path_env: self.path_env.clone(),
            auth,
            device,
            locale: self.locale.clone(),
            user_agent: self.user_agent.clone(),
            extra: self.extra_params.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use pincer_protocol::device::{verify_connect_signature, PayloadVersion};

    fn challenge() -> ConnectChallenge {
        ConnectChallenge { nonce: "nonce-xyz".into(), ts: 1_737_264_000_000, extra: Map::new() }
    }

    fn verify(params: &ConnectParams, token: &str) -> Result<PayloadVersion, pincer_protocol::device::DeviceError> {
        let device = params.device.as_ref().unwrap();
        let fields = SignedFields {
            device_id: &device.id,
            client_id: &params.client.id,
            client_mode: &params.client.mode,
            role: params.role_str(),
            scopes: params.scopes(),
            signed_at_ms: device.signed_at,
            token,
            nonce: device.nonce.as_deref().unwrap_or(""),
            platform: &params.client.platform,
            device_family: params.client.device_family.as_deref().unwrap_or(""),
        };
        verify_connect_signature(&device.public_key, &device.signature, &fields)
    }

    #[test]
    fn signature_uses_the_challenge_ts_and_nonce() {
        let opts = ConnectOptions::node("ws://x", DeviceIdentity::generate()).with_token("shared");
        let params = opts.connect_params(&challenge());
        let device = params.device.as_ref().unwrap();
        assert_eq!(device.signed_at, 1_737_264_000_000);
        assert_eq!(device.nonce.as_deref(), Some("nonce-xyz"));
        assert_eq!(verify(&params, "shared"), Ok(PayloadVersion::V3));
        assert_eq!(verify(&params, "other"), Err(pincer_protocol::device::DeviceError::SignatureInvalid));
    }

    #[test]
    fn signed_token_follows_the_credential_precedence() {
        let base = ConnectOptions::node("ws://x", DeviceIdentity::generate());
        let cases = [
            (base.clone().with_device_token("dev").with_bootstrap_token("boot").with_token("tok"), "tok"),
            (base.clone().with_device_token("dev").with_bootstrap_token("boot"), "dev"),
            (base.clone().with_bootstrap_token("boot"), "boot"),
            (base.clone().with_password("pw"), ""),
        ];
        for (opts, expected) in cases {
            let params = opts.connect_params(&challenge());
            assert_eq!(verify(&params, expected), Ok(PayloadVersion::V3), "expected token {expected:?}");
        }
    }

    #[test]
    fn token_only_operator_looks_like_the_official_cli() {
        let opts = ConnectOptions::operator("ws://x", "T", &["operator.read"]);
        let v = serde_json::to_value(opts.connect_params(&challenge())).unwrap();
        assert_eq!(v["minProtocol"], 4);
        assert_eq!(v["maxProtocol"], 4);
        assert_eq!(v["client"]["id"], "cli");
        assert_eq!(v["client"]["mode"], "cli");
        assert_eq!(v["role"], "operator");
        assert_eq!(v["scopes"], serde_json::json!(["operator.read"]));
        assert_eq!(v["auth"], serde_json::json!({"token": "T"}));
        assert!(v.get("device").is_none());
        assert!(v.get("commands").is_none());
    }
}
