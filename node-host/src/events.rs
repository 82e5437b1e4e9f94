//! Node → gateway events (`node.event`), queued so command handlers never wait on the socket.

use serde_json::Value;
use tokio::sync::mpsc;

/// One `node.event` to send: `{event, payloadJSON}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEvent {
    pub event: String,
    pub payload: Value,
}

/// A cheap handle commands use to report events. Events raised while the node is offline
/// are dropped (they describe a moment; replaying them later would mislead).
#[derive(Debug, Clone)]
pub struct NodeEvents {
    tx: mpsc::Sender<OutgoingEvent>,
}

/// How many events may wait for the socket before new ones are dropped.
const QUEUE: usize = 256;

impl NodeEvents {
    pub fn channel() -> (NodeEvents, mpsc::Receiver<OutgoingEvent>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (NodeEvents { tx }, rx)
    }

    /// A sink that discards everything (tests, and commands run outside a connection).
    pub fn discard() -> NodeEvents {
        NodeEvents::channel().0
    }

    pub fn send(&self, event: &str, payload: Value) {
        if self.tx.try_send(OutgoingEvent { event: event.to_string(), payload }).is_err() {
            tracing::debug!(event, "node event dropped (offline or queue full)");
        }
    }
}
