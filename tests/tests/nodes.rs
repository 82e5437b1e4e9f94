//! Node routing over real sockets: `node.invoke` through a fake node (results, node
//! errors, timeouts, disconnects, late and foreign results), the command policy,
//! idempotency, concurrency, operator-side cancel, `node.event`, and presence.
//!
//! The suite (`suites/nodes.rs`) runs over a WebSocket and over the in-memory transport.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod websocket {
    const TRANSPORT: pincer_tests::Transport = pincer_tests::Transport::WebSocket;
    include!("suites/nodes.rs");
}

mod in_memory {
    const TRANSPORT: pincer_tests::Transport = pincer_tests::Transport::InMemory;
    include!("suites/nodes.rs");
}
