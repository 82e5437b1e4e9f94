//! `pincer-node`: a node host for the OpenClaw Gateway Protocol v4.
//!
//! It connects to a gateway as role `node`, declares what this machine can do right now, and
//! answers `node.invoke.request` events with `node.invoke.result` requests. The library is
//! what the desktop app embeds; the `pincer-node` binary is for servers and tests.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod approvals;
pub mod capabilities;
pub mod commands;
pub mod error;

pub use error::{codes, CommandError};
