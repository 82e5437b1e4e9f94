//! Node commands: what a `node.invoke.request` can ask this machine to do.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// What a command handler knows about the invoke it serves.
#[derive(Debug, Clone)]
pub struct InvokeContext {
    /// Fires on `node.invoke.cancel`, on the caller's timeout and on disconnect.
    pub cancel: CancellationToken,
    /// The caller's `timeoutMs`, when it gave one.
    pub timeout: Option<Duration>,
    pub session_key: Option<String>,
}

impl InvokeContext {
    pub fn detached() -> Self {
        InvokeContext { cancel: CancellationToken::new(), timeout: None, session_key: None }
    }
}
