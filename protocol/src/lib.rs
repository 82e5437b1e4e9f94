#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
//! Wire types of the OpenClaw Gateway Protocol v4, as spoken by Pincer.
//!
//! This crate has no I/O: it only describes frames, handshake payloads, errors, method
//! params/results (one module per method family), node command params/results, event payloads
//! and device identity. Every other Pincer crate depends on it. The UI gets the same shapes as
//! TypeScript, generated from these types ([`typescript`]).
//!
//! Parsing is tolerant: unknown fields are kept (in `extra` maps) so a frame that is
//! parsed and re-serialized loses nothing, and unknown optional fields never fail a parse.

pub mod agent;
pub mod approvals;
pub mod chat;
pub mod config;
pub mod connect;
pub mod device;
pub mod devices;
pub mod error;
pub mod frames;
pub mod methods;
pub mod node_commands;
pub mod nodes;
pub mod scopes;
pub mod sessions;
pub mod system;
pub mod typescript;

pub use error::{ErrorCode, ErrorShape};
pub use frames::{EventFrame, Frame, RequestFrame, ResponseFrame};

/// The protocol version this implementation speaks.
pub const PROTOCOL_VERSION: u32 = 4;
/// Oldest protocol a `node` role client may still use (the N-1 window).
pub const MIN_NODE_PROTOCOL: u32 = 3;
/// Frames before a successful `connect` are capped at 64 KiB.
pub const PREAUTH_MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Default `policy.maxPayload` after `hello-ok` (25 MiB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 26_214_400;
/// Default `policy.maxBufferedBytes` (50 MiB).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 52_428_800;
/// Tick interval the real 2026.9.6 gateway advertises and uses.
pub const DEFAULT_TICK_INTERVAL_MS: u64 = 30_000;
/// Default port of a gateway (WS + HTTP on one port).
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;
/// Accepted clock skew of a device signature.
pub const DEVICE_SIGNATURE_SKEW_MS: i64 = 120_000;
/// Default wait of `node.invoke` when the caller gives no `timeoutMs`.
pub const DEFAULT_NODE_INVOKE_TIMEOUT_MS: u64 = 30_000;
/// Default lifetime of a pending exec approval (30 min).
pub const DEFAULT_EXEC_APPROVAL_TIMEOUT_MS: u64 = 1_800_000;
/// Node pairing requests expire after 5 minutes.
pub const NODE_PAIR_REQUEST_TTL_MS: u64 = 300_000;

/// WebSocket close codes used by the protocol.
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error, also used for a protocol version mismatch.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Policy violation: auth, pairing, device, invalid handshake.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Message too big.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Service restart (sent on gateway shutdown).
    pub const SERVICE_RESTART: u16 = 1012;
    /// Client-side tick watchdog: no traffic for two tick intervals.
    pub const TICK_TIMEOUT: u16 = 4000;
}

/// Milliseconds since the Unix epoch, the protocol's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
