//! Everything that can go wrong talking to a gateway.

use pincer_protocol::ErrorShape;

/// Close code reported when the socket ended without a close frame (RFC 6455 "abnormal
/// closure"; it is never sent on the wire).
pub const ABNORMAL_CLOSE: u16 = 1006;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL could not be turned into a WebSocket request (bad scheme, bad header, ...).
    #[error("invalid url or request: {0}")]
    InvalidUrl(String),
    /// WebSocket-level failure: TCP connect refused, TLS, HTTP upgrade refused, ...
    /// Boxed because tungstenite's error is large and this enum travels in every `Result`.
    #[error("websocket: {0}")]
    Ws(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for {what}")]
    Timeout { what: String },
    /// The socket opened but no `connect.challenge` arrived within the challenge timeout.
    #[error("no connect.challenge from the gateway")]
    ChallengeMissing,
    /// The gateway answered `connect` with `ok:false`. `close` is the close frame that
    /// followed, if the server closed within the grace period.
    #[error("connect rejected: {error}{}", close_suffix(close))]
    Rejected { error: ErrorShape, close: Option<(u16, String)> },
    /// A request was answered with `ok:false`.
    #[error("server error: {0}")]
    Server(ErrorShape),
    /// The connection is closed (`code` 1006 when it ended without a close frame).
    #[error("connection closed ({code}){}", reason_suffix(reason))]
    Closed { code: u16, reason: String },
    /// The peer sent something that does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
}

fn close_suffix(close: &Option<(u16, String)>) -> String {
    match close {
        Some((code, reason)) => format!(" (closed {code}{})", reason_suffix(reason)),
        None => String::new(),
    }
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for ClientError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        ClientError::Ws(Box::new(e))
    }
}

impl ClientError {
    pub(crate) fn timeout(what: impl Into<String>) -> Self {
        ClientError::Timeout { what: what.into() }
    }

    /// The server's error, for `Rejected` and `Server`.
    pub fn error_shape(&self) -> Option<&ErrorShape> {
        match self {
            ClientError::Rejected { error, .. } | ClientError::Server(error) => Some(error),
            _ => None,
        }
    }

    /// The close code and reason, for `Rejected` (when the server closed) and `Closed`.
    pub fn close(&self) -> Option<(u16, &str)> {
        match self {
            ClientError::Rejected { close: Some((code, reason)), .. } => Some((*code, reason.as_str())),
            ClientError::Closed { code, reason } => Some((*code, reason.as_str())),
            _ => None,
        }
    }

    /// Whether the server marked its error retryable (e.g. `UNAVAILABLE` while starting).
    pub fn is_retryable(&self) -> bool {
        self.error_shape().and_then(|e| e.retryable).unwrap_or(false)
    }
}
