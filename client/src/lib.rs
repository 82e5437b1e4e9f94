//! Async client for the OpenClaw Gateway Protocol v4.
//!
//! * [`GatewayClient::connect`] does the handshake (challenge → `connect` → `hello-ok`),
//!   signing the v3 device payload when a [`DeviceIdentity`] is given, then runs a reader
//!   task so many requests can be in flight at once ([`GatewayClient::request`]).
//! * Events are kept in a backlog that [`GatewayClient::wait_event`] searches, and fanned
//!   out live through [`GatewayClient::events`].
//! * [`RawSocket`] is a bare socket for tests that break the protocol on purpose.
//!
//! [`stop_signal`] is the SIGTERM/Ctrl-C wait the gateway and node-host binaries share.
//!
//! Used by the operator CLI verbs, the node host, the integration tests and the benchmark.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pincer_client::ClientError> {
//! use std::time::Duration;
//! use pincer_client::{ConnectOptions, GatewayClient};
//!
//! // A token-only operator, like the official CLI (`cli`/`cli`).
//! let opts = ConnectOptions::operator("ws://127.0.0.1:18789", "TOKEN", &["operator.read"]);
//! let (client, hello) = GatewayClient::connect(opts).await?;
//! println!("connected to {} as {:?}", hello.server.version, hello.auth.scopes);
//! let health = client.request("health", serde_json::json!({})).await?;
//! let tick = client.wait_event("tick", Duration::from_secs(40)).await?;
//! # let _ = (health, tick);
//! # Ok(())
//! # }
//! ```

// `ClientError` carries the server's `ErrorShape` by value (~200 bytes) so callers can match
// on it directly; errors are the rare path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod client;
mod error;
mod events;
mod handshake;
pub mod in_process;
mod options;
mod raw;
mod signal;
mod transport;

pub use client::{response_result, GatewayClient};
pub use error::{ClientError, ABNORMAL_CLOSE};
pub use events::{ReceivedEvent, SeqStats, BACKLOG_CAPACITY};
pub use handshake::HandshakeTimings;
pub use options::{
    default_device_family, default_platform, ConnectOptions, DEFAULT_CHALLENGE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_REJECT_CLOSE_GRACE, DEFAULT_REQUEST_TIMEOUT,
};
pub use raw::{Incoming, RawSocket};
pub use signal::stop_signal;
pub use transport::ClientTransport;

// Re-exported so users need no direct dependency for the common types.
pub use pincer_protocol::connect::{ConnectChallenge, HelloOk};
pub use pincer_protocol::device::DeviceIdentity;
pub use pincer_protocol::{ErrorShape, EventFrame, Frame, ResponseFrame};
