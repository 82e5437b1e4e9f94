//! `pincer-node`: a node host for the OpenClaw Gateway Protocol v4.
//!
//! It connects to a gateway as role `node`, declares what this machine can do right now, and
//! answers `node.invoke.request` events with `node.invoke.result` requests. The library is
//! what the desktop app embeds; the `pincer-node` binary is for servers and tests.
//!
//! * [`NodeHost`] — the connection loop: challenge, signed `connect` (protocol 4, falling
//!   back to 3), device tokens, pairing waits, reconnect with backoff, tick watchdog.
//! * [`CommandRegistry`] / [`standard_commands`] — what the node offers.
//! * [`approvals::ExecGate`] — the node's own exec-approval gate for `system.run`.
//! * [`capabilities`] — screen, camera and location back-ends.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod approvals;
pub mod backoff;
pub mod capabilities;
pub mod commands;
pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod node;
mod registry;
pub mod session;
pub mod settings;
pub mod status;

pub use commands::{CommandRegistry, InvokeContext};
pub use config::{NodeConfig, SetupCode, SharedAuth};
pub use error::{codes, CommandError};
pub use events::NodeEvents;
pub use node::{NodeHost, NodeHostError};
pub use registry::{standard_commands, Services};
pub use status::NodeStatus;
