//! The gateway's configuration file: OpenClaw's `openclaw.json` (JSON5), read, validated,
//! redacted for `config.get`, patched for `config.patch`, described for `config.schema`.
//!
//! # Model
//!
//! [`GatewayConfig`] keeps the whole document as a `serde_json::Value` object, in three forms:
//!
//! * `raw`: the file text exactly as read (hashed for the `baseHash` guard),
//! * the *authored* document: `raw` parsed as JSON5, `${ENV}` references left as written.
//!   This is what `config.patch` edits and what [`GatewayConfig::save_atomic`] writes, so a
//!   `${OPENCLAW_GATEWAY_TOKEN}` reference survives a patch instead of being replaced by the
//!   secret (OpenClaw behaves the same way),
//! * the *resolved* document: the authored one with `${ENV}` references substituted. All typed
//!   values ([`ConfigView`]) are read from it.
//!
//! Key names follow OpenClaw's (`gateway.port`, `gateway.auth.token`, ...). Pincer reads only the
//! keys listed in [`KNOWN_KEYS`]; every other key is kept verbatim (it survives patches and
//! saves and shows in `config.get`) but is otherwise ignored.
//!
//! **Unknown keys are allowed, unlike OpenClaw** (whose schema is strict and whose gateway
//! exits with code 78 on an unknown key). Pincer is meant to run from an existing OpenClaw
//! config, which is full of keys Pincer does not implement (`agents`, `channels`, `models`,
//! `tools`, `discovery`, `update`, ...) and gains new ones with each OpenClaw release; refusing
//! them would make every real-world config unusable. Only the keys Pincer *uses* are
//! type-checked, and a wrong value there is a hard error ([`ConfigError::Invalid`]).
//!
//! # Pincer-specific keys
//!
//! OpenClaw (checked against `openclaw@2026.9.6`'s own `config.schema`) has no config key
//! for these; they are Pincer's and **OpenClaw's strict validator rejects them** (under
//! `gateway`, `gateway.nodes` and `approvals.exec`, which are closed objects in OpenClaw), so a
//! config that sets them is no longer loadable by OpenClaw itself:
//!
//! * `gateway.tickIntervalMs` (30 000): interval of the `tick` event (OpenClaw hard-codes it),
//! * `gateway.nodes.invokeTimeoutMs` (30 000): default wait for `node.invoke`,
//! * `approvals.exec.timeoutMs` (1 800 000): pending exec approvals expire after this
//!   (OpenClaw: the constant `DEFAULT_EXEC_APPROVAL_TIMEOUT_MS`),
//! * `approvals.exec.askFallback` (`"deny"`): decision applied when an approval expires
//!   (OpenClaw keeps `askFallback` in the per-host `exec-approvals.json`, not in the config).
//! * `gateway.connections.max` (8192), `gateway.connections.maxUnauthenticated` (256),
//!   `gateway.connections.headerReadTimeoutMs` (10 000): connection admission (OpenClaw caps
//!   pre-auth connections per IP through the environment variable
//!   `OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP` instead).
//!
//! # `${ENV}` substitution
//!
//! As in OpenClaw: inside any string value, `${NAME}` (NAME = `[A-Z_][A-Z0-9_]*`) is replaced by
//! the environment variable; `$${NAME}` writes a literal `${NAME}`; an unset *or empty* variable
//! is "missing". A missing variable referenced from a key Pincer uses is an error
//! ([`ConfigError::Invalid`] naming the key and the variable). Elsewhere it is only a warning and
//! the text stays as written (OpenClaw 2026.9 also only warns:
//! `Missing env var "X" - feature using this value will be unavailable`), so a config written
//! for OpenClaw with provider API keys in the environment still loads.
//!
//! # Redaction
//!
//! `config.get` never returns secrets: values at sensitive paths (OpenClaw's rules, see
//! [`is_sensitive_config_path`]) are replaced by [`REDACTED_SENTINEL`] in every copy of the
//! document, and in `raw`. If the raw text cannot be provably redacted it is returned as
//! `null` (OpenClaw does the same). A patch that carries the sentinel back keeps the stored
//! value.
//!
//! # Robustness
//!
//! The `json5` parser recurses once per nesting level without a limit, so deeply nested input
//! (`[[[[...`) would overflow the stack and abort the whole gateway. Text is therefore checked
//! against [`MAX_NESTING_DEPTH`] before it is parsed (this matters for `config.patch`, whose
//! `raw` comes over the network).
//!
//! # Layout
//!
//! `document` (the loaded [`GatewayConfig`], patch, save), `parse` (JSON5 text), `env`
//! (`${ENV}`), `view` (the typed [`ConfigView`]), `patch` (merge patch, diff), `redact`,
//! `schema` (`config.schema`), `error`. Defaults and the list of keys Pincer reads are here.

mod document;
mod env;
mod error;
mod parse;
mod patch;
mod redact;
mod schema;
#[cfg(test)]
mod tests;
mod view;

pub use document::{sha256_hex, GatewayConfig};
pub use error::{ConfigError, ConfigIssue};
pub use parse::parse_patch_param;
pub use patch::merge_patch;
pub use redact::{is_sensitive_config_path, redact_config_value};
pub use schema::config_schema;
pub use view::{ConfigView, ConnectionsView, RateLimitView};

use std::sync::Arc;

/// `gateway.port` default (OpenClaw's).
pub const DEFAULT_PORT: u16 = 18789;
/// `gateway.auth.rateLimit.maxAttempts` default (OpenClaw's).
pub const DEFAULT_RATE_LIMIT_MAX_ATTEMPTS: u32 = 10;
/// `gateway.auth.rateLimit.windowMs` default (OpenClaw's).
pub const DEFAULT_RATE_LIMIT_WINDOW_MS: u64 = 60_000;
/// `gateway.auth.rateLimit.lockoutMs` default (OpenClaw's).
pub const DEFAULT_RATE_LIMIT_LOCKOUT_MS: u64 = 300_000;
/// `gateway.tickIntervalMs` default (Pincer-specific key).
pub const DEFAULT_TICK_INTERVAL_MS: u64 = 30_000;
/// `gateway.nodes.invokeTimeoutMs` default (Pincer-specific key; OpenClaw's node.invoke wait).
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 30_000;
/// `approvals.exec.timeoutMs` default (Pincer-specific key; OpenClaw's
/// `DEFAULT_EXEC_APPROVAL_TIMEOUT_MS`).
pub const DEFAULT_EXEC_APPROVAL_TIMEOUT_MS: u64 = 1_800_000;

/// OpenClaw's redaction marker (`src/config/redact-sentinel.ts`). Never valid config data.
pub const REDACTED_SENTINEL: &str = "__OPENCLAW_REDACTED__";

/// Deepest `{`/`[` nesting accepted in JSON5 text (see the module docs, "Robustness").
pub const MAX_NESTING_DEPTH: usize = 64;

/// Config paths whose changes may be written by `config.patch` without a `baseHash` (last
/// writer wins; OpenClaw's `HASHLESS_PATCH_LWW_PATH_PREFIXES`, used by the Control UI for its
/// preferences).
pub const HASHLESS_PATCH_PATH_PREFIXES: &[&str] = &["ui.prefs"];

/// Every key Pincer reads (leaf paths). Everything else is kept and ignored.
pub const KNOWN_KEYS: &[&str] = &[
    "gateway.port",
    "gateway.bind",
    "gateway.customBindHost",
    "gateway.auth.mode",
    "gateway.auth.token",
    "gateway.auth.password",
    "gateway.auth.rateLimit.maxAttempts",
    "gateway.auth.rateLimit.windowMs",
    "gateway.auth.rateLimit.lockoutMs",
    "gateway.auth.rateLimit.exemptLoopback",
    "gateway.controlUi.allowedOrigins",
    "gateway.trustedProxies",
    "gateway.allowRealIpFallback",
    "gateway.connections.max",
    "gateway.connections.maxUnauthenticated",
    "gateway.connections.headerReadTimeoutMs",
    "gateway.nodes.pairing.autoApproveLocal",
    "gateway.nodes.commands.allow",
    "gateway.nodes.commands.deny",
    "gateway.nodes.allowCommands",
    "gateway.nodes.denyCommands",
    "gateway.nodes.invokeTimeoutMs",
    "gateway.tickIntervalMs",
    "approvals.exec.timeoutMs",
    "approvals.exec.askFallback",
    "logging.level",
    "logging.file",
    // The run queue (read by `agent::queue_settings`).
    "messages.queue.mode",
    "messages.queue.cap",
    "messages.queue.drop",
    "messages.queue.debounceMs",
    "messages.queue.debounceMsByChannel.webchat",
    "agents.defaults.maxConcurrent",
];

/// How environment variables are looked up (`${NAME}` substitution, `{source:"env"}` secrets).
/// Injectable so tests need not touch the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> EnvLookup {
    Arc::new(|name: &str| std::env::var(name).ok())
}
