//! The error shape of `res` frames and every error / details code of the protocol.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use ts_rs::TS;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A code this implementation does not know (kept verbatim).
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }

            pub const ALL: &'static [$name] = &[$($name::$variant),*];
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

string_enum! {
    /// Top-level `error.code` of a failed response.
    ErrorCode {
        NotLinked = "NOT_LINKED",
        NotPaired = "NOT_PAIRED",
        AgentTimeout = "AGENT_TIMEOUT",
        AgentResultNotFound = "AGENT_RESULT_NOT_FOUND",
        InvalidRequest = "INVALID_REQUEST",
        Forbidden = "FORBIDDEN",
        ApprovalNotFound = "APPROVAL_NOT_FOUND",
        Unavailable = "UNAVAILABLE",
    }
}

string_enum! {
    /// Structured `error.details.code`: connect errors and request-level details.
    DetailCode {
        MissingScope = "MISSING_SCOPE",
        CachedAgentResult = "CACHED_AGENT_RESULT",
        McpAppViewExpired = "MCP_APP_VIEW_EXPIRED",
        AuthRequired = "AUTH_REQUIRED",
        AuthUnauthorized = "AUTH_UNAUTHORIZED",
        AuthTokenMissing = "AUTH_TOKEN_MISSING",
        AuthTokenMismatch = "AUTH_TOKEN_MISMATCH",
        AuthTokenNotConfigured = "AUTH_TOKEN_NOT_CONFIGURED",
        AuthPasswordMissing = "AUTH_PASSWORD_MISSING",
        AuthPasswordMismatch = "AUTH_PASSWORD_MISMATCH",
        AuthPasswordNotConfigured = "AUTH_PASSWORD_NOT_CONFIGURED",
        AuthBootstrapTokenInvalid = "AUTH_BOOTSTRAP_TOKEN_INVALID",
        AuthDeviceTokenMismatch = "AUTH_DEVICE_TOKEN_MISMATCH",
        AuthScopeMismatch = "AUTH_SCOPE_MISMATCH",
        AuthRateLimited = "AUTH_RATE_LIMITED",
        AuthTailscaleIdentityMissing = "AUTH_TAILSCALE_IDENTITY_MISSING",
        AuthTailscaleIdentityMismatch = "AUTH_TAILSCALE_IDENTITY_MISMATCH",
        AuthIdentityHeaderRequired = "AUTH_IDENTITY_HEADER_REQUIRED",
        AuthVerifiedUserRequired = "AUTH_VERIFIED_USER_REQUIRED",
        OperatorAccessDenied = "OPERATOR_ACCESS_DENIED",
        ControlUiBuildMismatch = "CONTROL_UI_BUILD_MISMATCH",
        ControlUiOriginNotAllowed = "CONTROL_UI_ORIGIN_NOT_ALLOWED",
        ProtocolMismatch = "PROTOCOL_MISMATCH",
        ControlUiDeviceIdentityRequired = "CONTROL_UI_DEVICE_IDENTITY_REQUIRED",
        DeviceIdentityRequired = "DEVICE_IDENTITY_REQUIRED",
        DeviceAuthInvalid = "DEVICE_AUTH_INVALID",
        DeviceAuthDeviceIdMismatch = "DEVICE_AUTH_DEVICE_ID_MISMATCH",
        DeviceAuthSignatureExpired = "DEVICE_AUTH_SIGNATURE_EXPIRED",
        DeviceAuthNonceRequired = "DEVICE_AUTH_NONCE_REQUIRED",
        DeviceAuthNonceMismatch = "DEVICE_AUTH_NONCE_MISMATCH",
        DeviceAuthSignatureInvalid = "DEVICE_AUTH_SIGNATURE_INVALID",
        DeviceAuthPublicKeyInvalid = "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        PairingRequired = "PAIRING_REQUIRED",
        PairingRejected = "PAIRING_REJECTED",
        PairingExpired = "PAIRING_EXPIRED",
        PairingChanged = "PAIRING_CHANGED",
        ClientVersionMismatch = "CLIENT_VERSION_MISMATCH",
        // Request-level details Pincer adds where OpenClaw has only a message.
        UnknownMethod = "UNKNOWN_METHOD",
        InvalidParams = "INVALID_PARAMS",
        InvalidFrame = "INVALID_FRAME",
        PayloadTooLarge = "PAYLOAD_TOO_LARGE",
        BaseHashMismatch = "BASE_HASH_MISMATCH",
        NodeNotConnected = "NOT_CONNECTED",
        NodeCommandNotAllowed = "NODE_COMMAND_NOT_ALLOWED",
        NodeInvokeTimeout = "TIMEOUT",
        NodeDisconnected = "NODE_DISCONNECTED",
        IdempotencyConflict = "IDEMPOTENCY_CONFLICT",
    }
}

/// `recommendedNextStep` hints of connect errors.
pub mod next_step {
    pub const RETRY_WITH_DEVICE_TOKEN: &str = "retry_with_device_token";
    pub const UPDATE_AUTH_CONFIGURATION: &str = "update_auth_configuration";
    pub const UPDATE_AUTH_CREDENTIALS: &str = "update_auth_credentials";
    pub const WAIT_THEN_RETRY: &str = "wait_then_retry";
    pub const REVIEW_AUTH_CONFIGURATION: &str = "review_auth_configuration";
}

/// `{code, message, details?, retryable?, retryAfterMs?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ErrorShape {
    #[ts(type = "string")]
    pub code: ErrorCode,
    pub message: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[ts(optional)]
    #[serde(default, rename = "retryAfterMs", skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorShape {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorShape { code, message: message.into(), details: None, retryable: None, retry_after_ms: None, extra: Map::new() }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        ErrorShape::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ErrorShape::new(ErrorCode::Unavailable, message)
    }

    /// Attach `details.code` (keeping any other details already set).
    pub fn with_detail_code(mut self, code: DetailCode) -> Self {
        let mut details = match self.details.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        details.insert("code".into(), Value::String(code.as_str().to_string()));
        self.details = Some(Value::Object(details));
        self
    }

    /// Add one field to `details`.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        let mut details = match self.details.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        details.insert(key.to_string(), value.into());
        self.details = Some(Value::Object(details));
        self
    }

    pub fn retryable(mut self, retry_after_ms: Option<u64>) -> Self {
        self.retryable = Some(true);
        self.retry_after_ms = retry_after_ms;
        self
    }

    /// `details.code`, if any.
    pub fn detail_code(&self) -> Option<DetailCode> {
        self.details.as_ref()?.get("code")?.as_str().map(DetailCode::from)
    }

    /// The `FORBIDDEN "missing scope: <scope>"` error of a request the caller may not make.
    pub fn missing_scope(scope: &str, required: &[&str]) -> Self {
        ErrorShape::new(ErrorCode::Forbidden, format!("missing scope: {scope}"))
            .with_detail_code(DetailCode::MissingScope)
            .with_detail("missingScope", scope)
            .with_detail("requiredScopes", required.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
    }
}

impl std::fmt::Display for ErrorShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorShape {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_survive_a_round_trip() {
        let e: ErrorShape = serde_json::from_str(r#"{"code":"SOMETHING_NEW","message":"m","x":1}"#).unwrap();
        assert_eq!(e.code, ErrorCode::Other("SOMETHING_NEW".into()));
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"code":"SOMETHING_NEW","message":"m","x":1}"#);
    }

    #[test]
    fn missing_scope_has_openclaw_shape() {
        let e = ErrorShape::missing_scope("operator.write", &["operator.write"]);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "FORBIDDEN");
        assert_eq!(v["message"], "missing scope: operator.write");
        assert_eq!(v["details"]["code"], "MISSING_SCOPE");
        assert_eq!(v["details"]["missingScope"], "operator.write");
        assert_eq!(v["details"]["requiredScopes"][0], "operator.write");
    }

    #[test]
    fn every_known_code_parses_back_to_itself() {
        for c in ErrorCode::ALL {
            assert_eq!(&ErrorCode::from(c.as_str()), c);
        }
        for c in DetailCode::ALL {
            assert_eq!(&DetailCode::from(c.as_str()), c);
        }
    }
}
