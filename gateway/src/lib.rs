//! Pincer's gateway: an OpenClaw Gateway Protocol v4 server (WebSocket + HTTP on one
//! port) with device and node pairing, node command routing, an exec-approval broker,
//! config, and a SQLite state store.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
// Method handlers return the wire's error shape (`ErrorShape`, ~200 bytes with its details map)
// directly; errors are the rare path and boxing every one would only add noise.
#![allow(clippy::result_large_err)]

pub mod agent;
pub mod approvals;
pub mod caller;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod conn;
pub mod error;
pub mod handshake;
pub mod hub;
pub mod idempotency;
pub mod in_memory;
pub mod listener;
pub mod logging;
pub mod methods;
pub mod nodes;
pub mod origin;
pub mod outbound;
pub mod rate_limit;
pub mod read_budget;
pub mod router;
pub mod server;
pub mod services;
pub mod state;
pub mod store;
pub mod transport;

pub use error::GatewayError;
pub use server::Gateway;
pub use state::{Bind, GatewayOptions, Overrides};
