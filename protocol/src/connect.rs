//! The handshake: `connect.challenge`, `connect` params and `hello-ok`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

/// Payload of the `connect.challenge` event the server sends first on every socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ConnectChallenge {
    pub nonce: String,
    pub ts: i64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `client.id` values the gateway accepts (a closed set, compared case-insensitively).
pub const CLIENT_IDS: &[&str] = &[
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-browser-copilot",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-linux",
    "openclaw-ios",
    "openclaw-watchos",
    "openclaw-android",
    "node-host",
    "openclaw-worker",
    "test",
    "fingerprint",
    "openclaw-probe",
];

/// `client.mode` values the gateway accepts.
pub const CLIENT_MODES: &[&str] = &["webchat", "cli", "ui", "backend", "node", "worker", "probe", "test"];

/// Client ids that are browser surfaces (Control UI / WebChat): they must come from an
/// allowed `Origin`.
pub const BROWSER_CLIENT_IDS: &[&str] = &["openclaw-control-ui", "webchat", "webchat-ui", "openclaw-browser-copilot"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Operator,
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Node => "node",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "node" => Some(Role::Node),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub id: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub mode: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Credentials a client may present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectAuth {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConnectAuth {
    /// The token that goes into the signature payload: `token`, else `deviceToken`, else
    /// `bootstrapToken`, else empty (password-only).
    pub fn signed_token(&self) -> &str {
        self.token.as_deref().or(self.device_token.as_deref()).or(self.bootstrap_token.as_deref()).unwrap_or("")
    }
}

/// The signed device block of `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAuth {
    pub id: String,
    pub public_key: String,
    pub signature: String,
    pub signed_at: i64,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectParams {
    pub min_protocol: u32,
    pub max_protocol: u32,
    pub client: ClientInfo,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Map<String, Value>>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectAuth>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceAuth>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConnectParams {
    /// The declared role; a missing role means operator.
    pub fn role_str(&self) -> &str {
        self.role.as_deref().unwrap_or("operator")
    }

    pub fn scopes(&self) -> &[String] {
        self.scopes.as_deref().unwrap_or(&[])
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub version: String,
    pub conn_id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct Features {
    pub methods: Vec<String>,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionDefaults {
    pub default_agent_id: String,
    pub main_key: String,
    pub main_session_key: String,
    pub scope: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        SessionDefaults {
            default_agent_id: "main".into(),
            main_key: "main".into(),
            main_session_key: "agent:main:main".into(),
            scope: "per-sender".into(),
            extra: Map::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    // Lenient on input: a node or CLI needs none of these to work, and gateways of other
    // versions (or other implementations) may leave parts out.
    #[serde(default)]
    pub presence: Vec<Value>,
    #[serde(default)]
    pub health: Value,
    #[serde(default)]
    pub state_version: crate::frames::StateVersion,
    #[serde(default)]
    pub uptime_ms: u64,
    #[serde(default)]
    pub session_defaults: SessionDefaults,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HelloAuth {
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at_ms: Option<i64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub max_payload: usize,
    pub max_buffered_bytes: usize,
    pub tick_interval_ms: u64,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_payload: crate::DEFAULT_MAX_PAYLOAD_BYTES,
            max_buffered_bytes: crate::DEFAULT_MAX_BUFFERED_BYTES,
            tick_interval_ms: crate::DEFAULT_TICK_INTERVAL_MS,
            extra: Map::new(),
        }
    }
}

/// The `res.payload` of a successful `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HelloOk {
    /// Always `"hello-ok"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub protocol: u32,
    pub server: ServerInfo,
    pub features: Features,
    pub snapshot: Snapshot,
    pub auth: HelloAuth,
    pub policy: Policy,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Whether a client's protocol range is acceptable for its role: the range must include
/// the current version, except that node clients may still speak exactly the previous one.
pub fn negotiate_protocol(min: u32, max: u32, is_node: bool) -> Option<u32> {
    if min <= crate::PROTOCOL_VERSION && crate::PROTOCOL_VERSION <= max {
        Some(crate::PROTOCOL_VERSION)
    } else if is_node && min <= crate::MIN_NODE_PROTOCOL && crate::MIN_NODE_PROTOCOL <= max {
        Some(crate::MIN_NODE_PROTOCOL)
    } else {
        None
    }
}

/// Normalize a client id for the closed-set check (case-insensitive).
pub fn canonical_client_id(id: &str) -> Option<&'static str> {
    CLIENT_IDS.iter().copied().find(|known| known.eq_ignore_ascii_case(id))
}

pub fn canonical_client_mode(mode: &str) -> Option<&'static str> {
    CLIENT_MODES.iter().copied().find(|known| known.eq_ignore_ascii_case(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_negotiation_follows_the_n_minus_one_rule() {
        assert_eq!(negotiate_protocol(4, 4, false), Some(4));
        assert_eq!(negotiate_protocol(3, 5, false), Some(4));
        assert_eq!(negotiate_protocol(3, 3, false), None);
        assert_eq!(negotiate_protocol(3, 3, true), Some(3));
        assert_eq!(negotiate_protocol(5, 6, true), None);
        assert_eq!(negotiate_protocol(1, 2, true), None);
    }

    #[test]
    fn client_ids_are_a_closed_case_insensitive_set() {
        assert_eq!(canonical_client_id("CLI"), Some("cli"));
        assert_eq!(canonical_client_id("node-host"), Some("node-host"));
        assert_eq!(canonical_client_id("bogus-client"), None);
    }
}
