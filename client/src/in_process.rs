//! Gateways in this process, addressed by URL: `memory://<name>`.
//!
//! A gateway embedded in the same process (the desktop app's, or a test's) registers a
//! connector under a name; [`crate::GatewayClient::connect`] and [`crate::RawSocket::open`]
//! then reach it at `memory://<name>` over its in-memory transport, with the same frames and
//! handshake as over a WebSocket. Code that takes a gateway URL (the node host, the CLI verbs)
//! needs no other change to talk to an in-process gateway.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::error::ClientError;
use crate::transport::WsStream;

/// The URL scheme of in-process gateways.
pub const SCHEME: &str = "memory://";

type Connector = Arc<dyn Fn() -> WsStream + Send + Sync>;

static CONNECTORS: LazyLock<Mutex<HashMap<String, Connector>>> = LazyLock::new(Default::default);

/// Keeps a name registered; dropping it removes the name.
#[derive(Debug)]
#[must_use = "the name is unregistered when this is dropped"]
pub struct Registration {
    name: String,
}

impl Registration {
    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("{SCHEME}{}", self.name)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut connectors) = CONNECTORS.lock() {
            connectors.remove(&self.name);
        }
    }
}

/// Register `connect` (which opens one new connection each call) under `name`, replacing
/// an earlier registration of the name.
pub fn register<F, T>(name: &str, connect: F) -> Registration
where
    F: Fn() -> T + Send + Sync + 'static,
    T: crate::ClientTransport + 'static,
{
    let connector: Connector = Arc::new(move || Box::new(connect()) as WsStream);
    if let Ok(mut connectors) = CONNECTORS.lock() {
        connectors.insert(name.to_string(), connector);
    }
    Registration { name: name.to_string() }
}

/// Open a connection to the in-process gateway `url` names, or `None` when `url` is not a
/// `memory://` URL.
pub(crate) fn open(url: &str) -> Option<Result<WsStream, ClientError>> {
    let name = url.strip_prefix(SCHEME)?.trim_end_matches('/');
    let connector = CONNECTORS.lock().ok().and_then(|c| c.get(name).cloned());
    Some(
        connector
            .map(|connect| connect())
            .ok_or_else(|| ClientError::InvalidUrl(format!("{url}: no gateway by that name in this process"))),
    )
}
