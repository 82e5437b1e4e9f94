//! What the node is doing, for the binary's console and the desktop app's UI.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    Starting,
    Connecting {
        url: String,
    },
    Connected {
        node_id: String,
        protocol: u32,
        commands: Vec<String>,
    },
    /// The gateway wants a person to approve this device first.
    PairingRequired {
        request_id: Option<String>,
        node_id: String,
        approve_hint: String,
    },
    /// Not connected; the next attempt is in `retry_in`.
    Offline {
        error: String,
        retry_in: Duration,
    },
    Stopped,
}

impl std::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeStatus::Starting => write!(f, "starting"),
            NodeStatus::Connecting { url } => write!(f, "connecting to {url}"),
            NodeStatus::Connected { node_id, protocol, commands } => {
                write!(f, "connected as node {node_id} (protocol {protocol}), serving {}", commands.join(", "))
            }
            NodeStatus::PairingRequired { approve_hint, .. } => write!(f, "{approve_hint}"),
            NodeStatus::Offline { error, retry_in } => {
                write!(f, "offline: {error}; retrying in {:.1} s", retry_in.as_secs_f64())
            }
            NodeStatus::Stopped => write!(f, "stopped"),
        }
    }
}

/// The message a person needs when the gateway asks for pairing approval.
pub fn pairing_hint(request_id: Option<&str>, node_id: &str) -> String {
    match request_id {
        Some(id) => format!(
            "pairing required: this node (device {node_id}) waits for approval of request {id}. On the gateway host run \
             `openclaw devices approve {id}` (or `pincer-gateway devices approve {id}`), then approve its commands with \
             `openclaw nodes approve <request>` (`openclaw nodes pending` lists it). The node retries by itself."
        ),
        None => format!(
            "pairing required: this node (device {node_id}) is not approved yet. On the gateway host run \
             `openclaw devices list` and approve the pending request for this device. The node retries by itself."
        ),
    }
}
