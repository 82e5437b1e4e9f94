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

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a config could not be loaded, patched or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("cannot {action} config file {}: {source}", .path.display())]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },

    /// The text is not valid JSON5. `path` is `None` for text that did not come from a file
    /// (`config.patch`'s `raw`). The message never quotes the offending text (it could be a
    /// half-typed secret).
    #[error("{}", parse_display(.path.as_deref(), *.line, *.column, .message))]
    Parse { path: Option<PathBuf>, line: Option<usize>, column: Option<usize>, message: String },

    /// A key Pincer uses has a value of the wrong type or out of range, or references a missing
    /// environment variable. `key` is the dotted config path (`<root>` for the whole document).
    #[error("invalid config: {key}: {message}")]
    Invalid { key: String, message: String },

    /// `config.patch` carried a `baseHash` that is not the current file's hash.
    #[error("config changed since last load; re-run config.get and retry")]
    BaseHashMismatch { current: String },

    /// `config.patch` without `baseHash` while the file exists, touching paths outside
    /// [`HASHLESS_PATCH_PATH_PREFIXES`] (OpenClaw requires the hash then).
    #[error("{}", base_hash_required_display(.paths))]
    BaseHashRequired { paths: Vec<String> },
}

fn parse_display(path: Option<&Path>, line: Option<usize>, column: Option<usize>, message: &str) -> String {
    let what = match path {
        Some(p) => format!("config file {}", p.display()),
        None => "config text".to_string(),
    };
    match (line, column) {
        (Some(l), Some(c)) => format!("invalid JSON5 in {what} at line {l}, column {c}: {message}"),
        (Some(l), None) => format!("invalid JSON5 in {what} at line {l}: {message}"),
        _ => format!("invalid JSON5 in {what}: {message}"),
    }
}

fn base_hash_required_display(paths: &[String]) -> String {
    if paths.is_empty() {
        "config base hash required; re-run config.get and retry".to_string()
    } else {
        format!("config base hash required for {}; re-run config.get and retry with baseHash", paths.join(", "))
    }
}

impl ConfigError {
    /// Stable machine-readable code (for logs and `error.details`).
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "CONFIG_IO",
            ConfigError::Parse { .. } => "CONFIG_PARSE",
            ConfigError::Invalid { .. } => "CONFIG_INVALID",
            ConfigError::BaseHashMismatch { .. } => "CONFIG_BASE_HASH_MISMATCH",
            ConfigError::BaseHashRequired { .. } => "CONFIG_BASE_HASH_REQUIRED",
        }
    }

    /// The wire error code OpenClaw answers `config.*` with for this failure: everything is
    /// `INVALID_REQUEST` except I/O trouble (`UNAVAILABLE`).
    pub fn rpc_error_code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "UNAVAILABLE",
            _ => "INVALID_REQUEST",
        }
    }

    /// OpenClaw-shaped `error.details` for validation failures: `{issues:[{path,message}]}`.
    pub fn issues_details(&self) -> Option<Value> {
        match self {
            ConfigError::Invalid { key, message } => Some(json!({ "issues": [{ "path": key, "message": message }] })),
            _ => None,
        }
    }

    fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key: key.into(), message: message.into() }
    }
}

/// A non-fatal finding (`config.get` lists them under `warnings` / `legacyIssues`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// The typed view
// ---------------------------------------------------------------------------------------------

/// `gateway.auth.rateLimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitView {
    pub max_attempts: u32,
    pub window_ms: u64,
    pub lockout_ms: u64,
    pub exempt_loopback: bool,
}

impl Default for RateLimitView {
    fn default() -> Self {
        RateLimitView {
            max_attempts: DEFAULT_RATE_LIMIT_MAX_ATTEMPTS,
            window_ms: DEFAULT_RATE_LIMIT_WINDOW_MS,
            lockout_ms: DEFAULT_RATE_LIMIT_LOCKOUT_MS,
            exempt_loopback: true,
        }
    }
}

/// `gateway.connections` (Pincer-specific): how many sockets the listener admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionsView {
    pub max: u64,
    pub max_unauthenticated: u64,
    pub header_read_timeout_ms: u64,
}

impl Default for ConnectionsView {
    fn default() -> Self {
        ConnectionsView {
            max: crate::listener::DEFAULT_MAX_CONNECTIONS as u64,
            max_unauthenticated: crate::listener::DEFAULT_MAX_UNAUTHENTICATED as u64,
            header_read_timeout_ms: crate::listener::DEFAULT_HEADER_READ_TIMEOUT_MS,
        }
    }
}

/// The keys Pincer uses, validated and with defaults applied. Plain data, cheap to clone.
/// Its `Debug` output hides `auth_token` and `auth_password`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigView {
    /// `gateway.port` (18789).
    pub port: u16,
    /// `gateway.bind`, normalized: `"loopback"` (also for `"auto"`), `"lan"` or `"custom"`.
    pub bind: String,
    /// `gateway.customBindHost`, present exactly when `bind == "custom"`.
    pub custom_bind_host: Option<IpAddr>,
    /// `gateway.auth.mode`: `"token"`, `"password"` or `"none"`. When unset: `"password"` if a
    /// password is configured, else `"token"` (OpenClaw's rule).
    pub auth_mode: String,
    /// Whether `gateway.auth.mode` was set explicitly (false: derived as above).
    pub auth_mode_explicit: bool,
    /// `gateway.auth.token` (string, `${ENV}` or `{source:"env", id}`), `None` if unset/empty.
    pub auth_token: Option<String>,
    /// `gateway.auth.password`, same forms as the token.
    pub auth_password: Option<String>,
    /// `gateway.auth.rateLimit`.
    pub rate_limit: RateLimitView,
    /// `gateway.controlUi.allowedOrigins` (empty).
    pub allowed_origins: Vec<String>,
    /// `gateway.trustedProxies` (empty): proxy addresses/CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// `gateway.allowRealIpFallback` (false): use a trusted proxy's `X-Real-IP` when it sends
    /// no usable `X-Forwarded-For`.
    pub allow_real_ip_fallback: bool,
    /// `gateway.connections.*` (Pincer-specific).
    pub connections: ConnectionsView,
    /// `gateway.nodes.pairing.autoApproveLocal` (true).
    pub auto_approve_local: bool,
    /// `gateway.nodes.commands.allow` ∪ `gateway.nodes.allowCommands` (older spelling),
    /// deduplicated, in that order.
    pub commands_allow: Vec<String>,
    /// `gateway.nodes.commands.deny` ∪ `gateway.nodes.denyCommands` (older spelling).
    pub commands_deny: Vec<String>,
    /// `gateway.tickIntervalMs` (30 000; Pincer-specific).
    pub tick_interval_ms: u64,
    /// `gateway.nodes.invokeTimeoutMs` (30 000; Pincer-specific).
    pub invoke_timeout_ms: u64,
    /// `approvals.exec.timeoutMs` (1 800 000; Pincer-specific).
    pub exec_approval_timeout_ms: u64,
    /// `approvals.exec.askFallback`: `"deny"` (default), `"allowlist"` or `"full"` (Pincer-specific).
    pub ask_fallback: String,
    /// `logging.level`: OpenClaw's `silent|fatal|error|warn|info|debug|trace` ("info").
    pub log_level: String,
    /// `logging.file`, `~` expanded.
    pub log_file: Option<PathBuf>,
}

impl Default for ConfigView {
    fn default() -> Self {
        ConfigView {
            port: DEFAULT_PORT,
            bind: "loopback".to_string(),
            custom_bind_host: None,
            auth_mode: "token".to_string(),
            auth_mode_explicit: false,
            auth_token: None,
            auth_password: None,
            rate_limit: RateLimitView::default(),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            allow_real_ip_fallback: false,
            connections: ConnectionsView::default(),
            auto_approve_local: true,
            commands_allow: Vec::new(),
            commands_deny: Vec::new(),
            tick_interval_ms: DEFAULT_TICK_INTERVAL_MS,
            invoke_timeout_ms: DEFAULT_INVOKE_TIMEOUT_MS,
            exec_approval_timeout_ms: DEFAULT_EXEC_APPROVAL_TIMEOUT_MS,
            ask_fallback: "deny".to_string(),
            log_level: "info".to_string(),
            log_file: None,
        }
    }
}

impl fmt::Debug for ConfigView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConfigView")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("custom_bind_host", &self.custom_bind_host)
            .field("auth_mode", &self.auth_mode)
            .field("auth_mode_explicit", &self.auth_mode_explicit)
            .field("auth_token", &hide(&self.auth_token))
            .field("auth_password", &hide(&self.auth_password))
            .field("rate_limit", &self.rate_limit)
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("allow_real_ip_fallback", &self.allow_real_ip_fallback)
            .field("connections", &self.connections)
            .field("auto_approve_local", &self.auto_approve_local)
            .field("commands_allow", &self.commands_allow)
            .field("commands_deny", &self.commands_deny)
            .field("tick_interval_ms", &self.tick_interval_ms)
            .field("invoke_timeout_ms", &self.invoke_timeout_ms)
            .field("exec_approval_timeout_ms", &self.exec_approval_timeout_ms)
            .field("ask_fallback", &self.ask_fallback)
            .field("log_level", &self.log_level)
            .field("log_file", &self.log_file)
            .finish()
    }
}

impl ConfigView {
    /// `gateway.bind` is `"lan"` (all interfaces).
    pub fn bind_lan(&self) -> bool {
        self.bind == "lan"
    }

    /// The address to listen on: 127.0.0.1 (loopback; OpenClaw also listens on ::1), 0.0.0.0
    /// (lan) or the custom host.
    pub fn bind_addr(&self) -> IpAddr {
        match (self.bind.as_str(), self.custom_bind_host) {
            ("lan", _) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ("custom", Some(ip)) => ip,
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// `logging.level` as a `tracing` filter directive (`silent` → `off`, `fatal` → `error`).
    pub fn tracing_filter(&self) -> &'static str {
        match self.log_level.as_str() {
            "silent" => "off",
            "fatal" | "error" => "error",
            "warn" => "warn",
            "debug" => "debug",
            "trace" => "trace",
            _ => "info",
        }
    }

    /// Build from a resolved (env-substituted) document; the single place that validates types.
    fn from_resolved(doc: &Value, env: &EnvLookup) -> Result<ConfigView, ConfigError> {
        let r = Reader { root: doc };
        let d = ConfigView::default();

        let port = r.integer("gateway.port", 1, 65_535)?.map_or(d.port, |v| v as u16);

        let bind_raw = r.one_of("gateway.bind", &["loopback", "lan", "auto", "custom", "tailnet"])?;
        let custom_host = r.string("gateway.customBindHost")?;
        let (bind, custom_bind_host) = match bind_raw.as_deref() {
            None | Some("loopback") | Some("auto") => ("loopback", None),
            Some("lan") => ("lan", None),
            Some("custom") => {
                let host = custom_host.as_deref().map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| {
                    ConfigError::invalid(
                        "gateway.customBindHost",
                        "gateway.bind is \"custom\", which needs gateway.customBindHost set to an IP address of this machine (e.g. \"192.168.1.10\")",
                    )
                })?;
                let ip: IpAddr = host.parse().map_err(|_| {
                    ConfigError::invalid(
                        "gateway.customBindHost",
                        format!("expected an IP address (e.g. \"192.168.1.10\"), got {}", quote_short(host)),
                    )
                })?;
                ("custom", Some(ip))
            }
            Some(_) => {
                return Err(ConfigError::invalid(
                    "gateway.bind",
                    "\"tailnet\" is not supported by Pincer; use \"loopback\", \"lan\" or \"custom\" (with gateway.customBindHost set to the Tailscale address)",
                ))
            }
        };

        let mode = r.one_of("gateway.auth.mode", &["token", "password", "none", "trusted-proxy"])?;
        if mode.as_deref() == Some("trusted-proxy") {
            return Err(ConfigError::invalid(
                "gateway.auth.mode",
                "\"trusted-proxy\" is not supported by Pincer; use \"token\", \"password\" or \"none\"",
            ));
        }
        let auth_token = r.secret("gateway.auth.token", env)?;
        let auth_password = r.secret("gateway.auth.password", env)?;
        let auth_mode_explicit = mode.is_some();
        let auth_mode = mode.unwrap_or_else(|| derive_auth_mode(auth_password.is_some()).to_string());

        let rate_limit = RateLimitView {
            max_attempts: r
                .integer("gateway.auth.rateLimit.maxAttempts", 1, u64::from(u32::MAX))?
                .map_or(d.rate_limit.max_attempts, |v| v as u32),
            window_ms: r.integer("gateway.auth.rateLimit.windowMs", 1, MAX_MS)?.unwrap_or(d.rate_limit.window_ms),
            lockout_ms: r.integer("gateway.auth.rateLimit.lockoutMs", 0, MAX_MS)?.unwrap_or(d.rate_limit.lockout_ms),
            exempt_loopback: r.boolean("gateway.auth.rateLimit.exemptLoopback")?.unwrap_or(d.rate_limit.exempt_loopback),
        };

        let allowed_origins = r.string_list("gateway.controlUi.allowedOrigins")?;
        let trusted_proxies = r.string_list("gateway.trustedProxies")?;
        for entry in &trusted_proxies {
            crate::client_addr::parse_proxy_entry(entry).map_err(|e| ConfigError::invalid("gateway.trustedProxies", e.to_string()))?;
        }
        let allow_real_ip_fallback = r.boolean("gateway.allowRealIpFallback")?.unwrap_or(false);
        let connections = ConnectionsView {
            max: r.integer("gateway.connections.max", 1, 1_000_000)?.unwrap_or(d.connections.max),
            max_unauthenticated: r
                .integer("gateway.connections.maxUnauthenticated", 1, 1_000_000)?
                .unwrap_or(d.connections.max_unauthenticated),
            header_read_timeout_ms: r
                .integer("gateway.connections.headerReadTimeoutMs", 100, MAX_MS)?
                .unwrap_or(d.connections.header_read_timeout_ms),
        };
        let auto_approve_local = r.boolean("gateway.nodes.pairing.autoApproveLocal")?.unwrap_or(d.auto_approve_local);

        let mut commands_allow = r.string_list("gateway.nodes.commands.allow")?;
        commands_allow.extend(r.string_list("gateway.nodes.allowCommands")?);
        let mut commands_deny = r.string_list("gateway.nodes.commands.deny")?;
        commands_deny.extend(r.string_list("gateway.nodes.denyCommands")?);

        let tick_interval_ms = r.integer("gateway.tickIntervalMs", 100, MAX_MS)?.unwrap_or(d.tick_interval_ms);
        let invoke_timeout_ms = r.integer("gateway.nodes.invokeTimeoutMs", 1, MAX_MS)?.unwrap_or(d.invoke_timeout_ms);
        let exec_approval_timeout_ms = r.integer("approvals.exec.timeoutMs", 1, MAX_MS)?.unwrap_or(d.exec_approval_timeout_ms);
        let ask_fallback = r.one_of("approvals.exec.askFallback", &["deny", "allowlist", "full"])?.unwrap_or(d.ask_fallback);

        let log_level = r.one_of("logging.level", &["silent", "fatal", "error", "warn", "info", "debug", "trace"])?.unwrap_or(d.log_level);
        let log_file = r.string("logging.file")?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(|s| expand_tilde(&s, env));

        Ok(ConfigView {
            port,
            bind: bind.to_string(),
            custom_bind_host,
            auth_mode,
            auth_mode_explicit,
            auth_token,
            auth_password,
            rate_limit,
            allowed_origins,
            trusted_proxies,
            allow_real_ip_fallback,
            connections,
            auto_approve_local,
            commands_allow: dedup(commands_allow),
            commands_deny: dedup(commands_deny),
            tick_interval_ms,
            invoke_timeout_ms,
            exec_approval_timeout_ms,
            ask_fallback,
            log_level,
            log_file,
        })
    }
}

/// Upper bound for millisecond settings (about 31 years; keeps `Duration` math far from overflow).
const MAX_MS: u64 = 1_000_000_000_000;

fn derive_auth_mode(password_set: bool) -> &'static str {
    if password_set {
        "password"
    } else {
        "token"
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn expand_tilde(path: &str, env: &EnvLookup) -> PathBuf {
    let home = || env("HOME").filter(|h| !h.is_empty());
    if path == "~" {
        if let Some(h) = home() {
            return PathBuf::from(h);
        }
    } else if let Some(rest) = path.strip_prefix("~/") {
        if let Some(h) = home() {
            return PathBuf::from(h).join(rest);
        }
    }
    PathBuf::from(path)
}

/// Typed, path-addressed reads from a resolved document. `null` counts as unset.
struct Reader<'a> {
    root: &'a Value,
}

impl<'a> Reader<'a> {
    fn get(&self, path: &str) -> Result<Option<&'a Value>, ConfigError> {
        let mut node = self.root;
        let mut walked = String::new();
        for seg in path.split('.') {
            match node {
                Value::Object(map) => match map.get(seg) {
                    None | Some(Value::Null) => return Ok(None),
                    Some(v) => node = v,
                },
                other => {
                    let key = if walked.is_empty() { "<root>".to_string() } else { walked.clone() };
                    return Err(ConfigError::invalid(key, format!("expected an object, got {}", describe(other, path))));
                }
            }
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(seg);
        }
        Ok(Some(node))
    }

    /// An integer in `min..=max`. Numeric strings (`"18789"`, e.g. from `${PORT}`) are accepted.
    fn integer(&self, path: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(None);
        };
        let range = || format!("expected an integer from {min} to {max}, got {}", describe(v, path));
        let n = match v {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Some(u)
                } else if let Some(f) = n.as_f64() {
                    // 3e4 / 30000.0 are integers written as floats.
                    (f.fract() == 0.0 && f >= 0.0 && f <= u64::MAX as f64).then_some(f as u64)
                } else {
                    None
                }
            }
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n >= min && n <= max => Ok(Some(n)),
            _ => Err(ConfigError::invalid(path, range())),
        }
    }

    /// `true`/`false` (also the strings `"true"`/`"false"`, e.g. from `${FLAG}`).
    fn boolean(&self, path: &str) -> Result<Option<bool>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(None);
        };
        match v {
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if s.trim() == "true" => Ok(Some(true)),
            Value::String(s) if s.trim() == "false" => Ok(Some(false)),
            other => Err(ConfigError::invalid(path, format!("expected true or false, got {}", describe(other, path)))),
        }
    }

    fn string(&self, path: &str) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(None);
        };
        match v {
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(ConfigError::invalid(path, format!("expected a string, got {}", describe(other, path)))),
        }
    }

    fn one_of(&self, path: &str, allowed: &[&str]) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(None);
        };
        if let Value::String(s) = v {
            if allowed.contains(&s.as_str()) {
                return Ok(Some(s.clone()));
            }
        }
        let list = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
        Err(ConfigError::invalid(path, format!("expected one of {list}, got {}", describe(v, path))))
    }

    fn string_list(&self, path: &str) -> Result<Vec<String>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = v else {
            return Err(ConfigError::invalid(
                path,
                format!("expected an array of strings (e.g. [\"a\", \"b\"]), got {}", describe(v, path)),
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(ConfigError::invalid(format!("{path}[{i}]"), format!("expected a string, got {}", describe(other, path)))),
            })
            .collect()
    }

    /// A secret input: a string (after `${ENV}` substitution), or an OpenClaw SecretRef
    /// `{source:"env", provider?, id:"VAR"}`. Other SecretRef sources (file, exec, store) need
    /// OpenClaw's secrets runtime and are rejected. Blank → `None`.
    fn secret(&self, path: &str, env: &EnvLookup) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.get(path)? else {
            return Ok(None);
        };
        match v {
            Value::String(s) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
            Value::Object(obj) => {
                let source = obj.get("source").and_then(Value::as_str);
                let id = obj.get("id").and_then(Value::as_str);
                match (source, id) {
                    (Some("env"), Some(id)) => match env(id).filter(|val| !val.is_empty()) {
                        Some(val) => Ok(Some(val)),
                        None => Err(ConfigError::invalid(
                            path,
                            format!("environment variable {id} (SecretRef {{source: \"env\"}}) is not set or empty"),
                        )),
                    },
                    (Some(other), Some(_)) => Err(ConfigError::invalid(
                        path,
                        format!(
                            "SecretRef source \"{other}\" is not supported by Pincer; use a string, \"${{ENV_VAR}}\" or {{source: \"env\", id: \"ENV_VAR\"}}"
                        ),
                    )),
                    _ => Err(ConfigError::invalid(
                        path,
                        "expected a string or a SecretRef object {source: \"env\", id: \"ENV_VAR\"}",
                    )),
                }
            }
            other => Err(ConfigError::invalid(path, format!("expected a string, got {}", describe(other, path)))),
        }
    }
}

/// "a string (\"abc\")" etc. for error messages; values at sensitive paths are not echoed.
fn describe(v: &Value, path: &str) -> String {
    let sensitive = is_sensitive_config_path(path);
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) if !sensitive => format!("the number {n}"),
        Value::Number(_) => "a number".to_string(),
        Value::String(s) if !sensitive => format!("the string {}", quote_short(s)),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn quote_short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{:?}…", cut)
    } else {
        format!("{s:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// GatewayConfig
// ---------------------------------------------------------------------------------------------

/// The loaded config document. See the module docs.
#[derive(Clone)]
pub struct GatewayConfig {
    path: PathBuf,
    exists: bool,
    raw: String,
    hash: String,
    /// As written (JSON5 parsed, `${ENV}` kept). Always an object.
    authored: Value,
    /// `${ENV}` substituted. Always an object.
    resolved: Value,
    view: ConfigView,
    warnings: Vec<ConfigIssue>,
    legacy: Vec<ConfigIssue>,
    env: EnvLookup,
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("path", &self.path)
            .field("exists", &self.exists)
            .field("hash", &self.hash)
            .field("view", &self.view)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Load `path` (JSON5), substituting `${ENV}` from the process environment. A missing file
    /// is an empty config (`exists() == false`, all defaults).
    pub fn load(path: impl AsRef<Path>) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::load_with_env(path, process_env())
    }

    /// [`GatewayConfig::load`] with an explicit environment. Later patches use the same one.
    pub fn load_with_env(path: impl AsRef<Path>, env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => GatewayConfig::from_bytes(path.to_path_buf(), &bytes, env),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                GatewayConfig::build(path.to_path_buf(), false, String::new(), sha256_hex(b""), Value::Object(Map::new()), env)
            }
            Err(e) => Err(ConfigError::Io { path: path.to_path_buf(), action: "read", source: e }),
        }
    }

    /// A config from text, as if `raw` had been read from `path` (which is not touched).
    pub fn from_raw(path: impl Into<PathBuf>, raw: &str, env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_bytes(path.into(), raw.as_bytes(), env)
    }

    fn from_bytes(path: PathBuf, bytes: &[u8], env: EnvLookup) -> Result<GatewayConfig, ConfigError> {
        let hash = sha256_hex(bytes);
        let raw = String::from_utf8(bytes.to_vec()).map_err(|e| ConfigError::Parse {
            path: Some(path.clone()),
            line: None,
            column: None,
            message: format!("the file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8", e.utf8_error().valid_up_to()),
        })?;
        let authored = parse_json5_object(&raw, Some(&path), true)?;
        GatewayConfig::build(path, true, raw, hash, authored, env)
    }

    /// Resolve `${ENV}`, validate, compute the view. Every constructor ends here.
    fn build(
        path: PathBuf,
        exists: bool,
        raw: String,
        hash: String,
        authored: Value,
        env: EnvLookup,
    ) -> Result<GatewayConfig, ConfigError> {
        if !authored.is_object() {
            return Err(ConfigError::invalid("<root>", "the config must be a JSON5 object ({ ... }) at the top level"));
        }
        let mut missing = Vec::new();
        let resolved = substitute_env(&authored, "", &env, &mut missing);

        let mut warnings = Vec::new();
        for m in missing {
            if is_known_path(&m.path) {
                return Err(ConfigError::invalid(
                    m.path.clone(),
                    format!(
                        "environment variable {} is not set or empty (referenced as ${{{}}}); set it, or write $${{{}}} for a literal",
                        m.var, m.var, m.var
                    ),
                ));
            }
            warnings.push(ConfigIssue {
                path: m.path,
                message: format!("Missing env var \"{}\" - feature using this value will be unavailable", m.var),
            });
        }

        let view = ConfigView::from_resolved(&resolved, &env)?;
        // The run queue's keys are checked here so a wrong value is refused like any other.
        crate::agent::queue_settings::QueueSettings::from_document(&resolved).map_err(|e| ConfigError::invalid(e.key, e.message))?;

        if contains_key(&authored, "$include") {
            warnings.push(ConfigIssue {
                path: "$include".to_string(),
                message: "$include is not supported by Pincer; settings in included files are ignored".to_string(),
            });
        }
        let mut legacy = Vec::new();
        for (old, new) in
            [("gateway.nodes.allowCommands", "gateway.nodes.commands.allow"), ("gateway.nodes.denyCommands", "gateway.nodes.commands.deny")]
        {
            if value_at(&authored, old).is_some() {
                legacy.push(ConfigIssue {
                    path: old.to_string(),
                    message: format!("{old} is the older spelling of {new}; both are read (union), prefer {new}"),
                });
            }
        }

        Ok(GatewayConfig { path, exists, raw, hash, authored, resolved, view, warnings, legacy, env })
    }

    /// Where the config lives (whether or not it exists).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file existed when loaded (true after a patch: the patched document is meant
    /// to be written with [`GatewayConfig::save_atomic`]).
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// The file text (`""` when missing; the pretty JSON to be written after a patch).
    /// Contains secrets: never send it anywhere, use [`GatewayConfig::redacted_snapshot`].
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// SHA-256 (lower-case hex) of the raw file bytes; of `""` when the file is missing. This is
    /// `config.get`'s `hash` and `config.patch`'s `baseHash`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The document as written (`${ENV}` references kept). Contains secrets.
    pub fn document(&self) -> &Value {
        &self.authored
    }

    /// The document with `${ENV}` substituted. Contains secrets.
    pub fn resolved(&self) -> &Value {
        &self.resolved
    }

    /// The typed values Pincer uses.
    pub fn view(&self) -> ConfigView {
        self.view.clone()
    }

    /// Non-fatal findings (missing env vars in keys Pincer ignores, `$include`).
    pub fn warnings(&self) -> &[ConfigIssue] {
        &self.warnings
    }

    /// Older key spellings in use.
    pub fn legacy_issues(&self) -> &[ConfigIssue] {
        &self.legacy
    }

    /// The resolved document with secrets replaced by [`REDACTED_SENTINEL`] (the `config`
    /// field of `config.get` / `config.patch` results).
    pub fn redacted_config(&self) -> Value {
        redact_config_value(&self.resolved)
    }

    /// The `config.get` result, shaped like OpenClaw 2026.9's:
    /// `{path, includedPaths, includeProvenance, exists, raw, parsed, sourceConfig, resolved,
    /// valid, runtimeConfig, config, hash, issues, warnings, legacyIssues}`. Secrets are
    /// redacted everywhere; `raw` is `null` when the file is missing or when its text could not
    /// be provably redacted. `configRevisionHash`/`appliedConfigHash` are deliberately absent
    /// (the Control UI then uses `hash`, and an `appliedConfigHash` that never matches would
    /// make it show "needs apply").
    pub fn redacted_snapshot(&self) -> Value {
        let resolved = self.redacted_config();
        let parsed = redact_config_value(&self.authored);
        let raw = if self.exists { redact_raw(&self.raw, &self.authored).map(Value::String) } else { None };
        json!({
            "path": self.path.to_string_lossy(),
            "includedPaths": [],
            "includeProvenance": [],
            "exists": self.exists,
            "raw": raw.unwrap_or(Value::Null),
            "parsed": parsed,
            "sourceConfig": resolved.clone(),
            "resolved": resolved.clone(),
            "valid": true,
            "runtimeConfig": resolved.clone(),
            "config": resolved,
            "hash": self.hash,
            "issues": [],
            "warnings": self.warnings,
            "legacyIssues": self.legacy,
        })
    }

    /// Apply an RFC 7386 JSON merge patch (`null` deletes) to the authored document and
    /// validate the result. `base_hash`, when given, must equal [`GatewayConfig::hash`]
    /// (trimmed) or the patch is refused with [`ConfigError::BaseHashMismatch`].
    ///
    /// A string equal to [`REDACTED_SENTINEL`] in the patch means "keep the stored value" (a
    /// client echoing a redacted `config.get`); with no stored value it is an error.
    ///
    /// The result is not written: call [`GatewayConfig::save_atomic`] on it. Its `raw()` is the
    /// pretty JSON that will be written and `hash()` that text's hash. A patch that changes
    /// nothing returns a copy of `self` (same hash: nothing to write).
    pub fn apply_patch(&self, patch: &Value, base_hash: Option<&str>) -> Result<GatewayConfig, ConfigError> {
        if let Some(h) = base_hash {
            if h.trim() != self.hash {
                return Err(ConfigError::BaseHashMismatch { current: self.hash.clone() });
            }
        }
        let merged = self.merged_document(patch)?;
        self.with_document(merged)
    }

    /// `config.patch` from its OpenClaw params `{raw, baseHash?, replacePaths?, sessionKey?,
    /// note?, restartDelayMs?, deliveryContext?}` (Pincer also accepts `patch` as an object
    /// instead of `raw`). Like OpenClaw: when the file exists a `baseHash` is required unless
    /// every changed path is under [`HASHLESS_PATCH_PATH_PREFIXES`]. `replacePaths` is
    /// accepted and ignored (arrays are always replaced whole, per RFC 7386).
    pub fn apply_patch_params(&self, params: &Value) -> Result<GatewayConfig, ConfigError> {
        let patch = parse_patch_param(params)?;
        let base_hash = params.get("baseHash").and_then(Value::as_str).map(str::trim).filter(|h| !h.is_empty());
        if base_hash.is_some() || !self.exists {
            return self.apply_patch(&patch, base_hash);
        }
        let merged = self.merged_document(&patch)?;
        let guarded: Vec<String> =
            diff_leaf_paths(Some(&self.authored), Some(&merged), "").into_iter().filter(|p| !is_hashless_path(p)).collect();
        if !guarded.is_empty() {
            return Err(ConfigError::BaseHashRequired { paths: guarded });
        }
        self.with_document(merged)
    }

    fn merged_document(&self, patch: &Value) -> Result<Value, ConfigError> {
        if !patch.is_object() {
            return Err(ConfigError::invalid("<root>", "config.patch raw must be an object"));
        }
        let restored = restore_sentinels(patch, Some(&self.authored), "")?;
        let mut merged = self.authored.clone();
        merge_patch(&mut merged, &restored);
        Ok(merged)
    }

    fn with_document(&self, doc: Value) -> Result<GatewayConfig, ConfigError> {
        if doc == self.authored {
            return Ok(self.clone());
        }
        let raw = to_pretty_json(&doc)?;
        let hash = sha256_hex(raw.as_bytes());
        GatewayConfig::build(self.path.clone(), true, raw, hash, doc, self.env.clone())
    }

    /// Leaf paths whose resolved value differs between `previous` and `self`
    /// (`["logging.level", "gateway.controlUi.allowedOrigins"]`); `config.patch`'s `changedPaths`.
    pub fn changed_paths(&self, previous: &GatewayConfig) -> Vec<String> {
        diff_leaf_paths(Some(&previous.resolved), Some(&self.resolved), "")
    }

    /// The `config.patch` result for `self` (the patched config) after `previous`, shaped like
    /// OpenClaw's: `{ok, path, hash, config, changedPaths}`, or `{ok, noop:true, changedPaths:[],
    /// path, config}` when nothing changed. (OpenClaw adds `restart` and `sentinel`, which
    /// belong to the caller.)
    pub fn patch_response(&self, previous: &GatewayConfig) -> Value {
        let path = self.path.to_string_lossy();
        if self.hash == previous.hash && self.authored == previous.authored {
            return json!({ "ok": true, "noop": true, "changedPaths": [], "path": path, "config": self.redacted_config() });
        }
        json!({
            "ok": true,
            "path": path,
            "hash": self.hash,
            "config": self.redacted_config(),
            "changedPaths": self.changed_paths(previous),
        })
    }

    /// Write `raw()` to `path()` atomically (see `pincer_statefile`: a unique 0600 temp file in
    /// the same directory, fsync, rename over the target, fsync the directory), under the
    /// file's lock. Creates the directory (0700) if needed. Comments of a hand-written JSON5
    /// file are lost once a patch has been applied (as with `openclaw config set`).
    pub fn save_atomic(&self) -> Result<(), ConfigError> {
        let file = pincer_statefile::lock(&self.path).map_err(|e| self.io_error(e))?;
        self.save_locked(&file)
    }

    /// [`GatewayConfig::save_atomic`] for a caller that already holds the file's lock (taken
    /// before it read the config it compared `baseHash` against: `config.patch`).
    pub fn save_locked(&self, file: &pincer_statefile::Locked) -> Result<(), ConfigError> {
        file.write(self.raw.as_bytes()).map_err(|e| self.io_error(e))
    }

    fn io_error(&self, e: pincer_statefile::StateFileError) -> ConfigError {
        let action = match &e {
            pincer_statefile::StateFileError::Io { action, .. } => action,
            pincer_statefile::StateFileError::AlreadyHeld { .. } => "lock",
        };
        ConfigError::Io { path: self.path.clone(), action, source: e.into_source() }
    }
}

fn to_pretty_json(doc: &Value) -> Result<String, ConfigError> {
    let mut s = serde_json::to_string_pretty(doc).map_err(|e| ConfigError::invalid("<root>", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// SHA-256, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parse JSON5 text that must hold an object. `allow_empty`: blank text is `{}`.
fn parse_json5_object(text: &str, path: Option<&Path>, allow_empty: bool) -> Result<Value, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parse_err = |line, column, message: String| ConfigError::Parse { path: path.map(Path::to_path_buf), line, column, message };
    if text.trim().is_empty() {
        if allow_empty {
            return Ok(Value::Object(Map::new()));
        }
        return Err(parse_err(None, None, "the text is empty; expected a JSON5 object such as { gateway: { port: 18789 } }".into()));
    }
    if let Some((line, column)) = nesting_too_deep(text, MAX_NESTING_DEPTH) {
        return Err(parse_err(Some(line), Some(column), format!("objects/arrays are nested more than {MAX_NESTING_DEPTH} levels deep")));
    }
    let value: Value = json5::from_str(text).map_err(|e| {
        let json5::Error::Message { msg, location } = e;
        let (line, column) = location.map_or((None, None), |l| (Some(l.line), Some(l.column)));
        parse_err(line, column, friendly_json5_message(&msg))
    })?;
    if !value.is_object() {
        return Err(ConfigError::invalid("<root>", "the config must be a JSON5 object ({ ... }) at the top level"));
    }
    Ok(value)
}

/// Turn pest's multi-line report (which quotes the source line, possibly a secret) into one
/// line that says what was expected and how to fix it.
fn friendly_json5_message(msg: &str) -> String {
    let expected = msg.lines().find_map(|l| l.trim_start().strip_prefix("= ").map(str::trim));
    let hint = "check for a missing ',' between entries, a missing ':' after a key, or an unclosed quote or bracket (JSON5 allows // and /* */ comments, trailing commas, unquoted keys and 'single-quoted' strings)";
    match expected {
        Some(e) if e.contains("char_literal") => {
            format!("unterminated string (a closing quote is missing, or the string runs over a line break); {hint}")
        }
        Some(e) => format!("{e}; {hint}"),
        None => {
            let first = msg.lines().next().unwrap_or("syntax error").trim();
            format!("{first}; {hint}")
        }
    }
}

/// Position (1-based line, column) where `{`/`[` nesting first exceeds `max`, ignoring strings
/// and comments.
fn nesting_too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Code,
        Str(char),
        Escape(char),
        Line,
        Block,
        BlockStar,
    }
    let (mut state, mut depth, mut line, mut col) = (S::Code, 0usize, 1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
        state = match state {
            S::Code => match c {
                '"' | '\'' => S::Str(c),
                '/' if chars.peek() == Some(&'/') => S::Line,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    col += 1;
                    S::Block
                }
                '{' | '[' => {
                    depth += 1;
                    if depth > max {
                        return Some((line, col));
                    }
                    S::Code
                }
                '}' | ']' => {
                    depth = depth.saturating_sub(1);
                    S::Code
                }
                _ => S::Code,
            },
            S::Str(q) if c == '\\' => S::Escape(q),
            S::Str(q) if c == q => S::Code,
            S::Str(q) => S::Str(q),
            S::Escape(q) => S::Str(q),
            // JSON5 ends a `//` comment at any line terminator, not only LF: a comment the
            // scanner thought still open would hide real brackets from the depth count.
            S::Line if is_json5_line_terminator(c) => S::Code,
            S::Line => S::Line,
            S::Block | S::BlockStar if c == '*' => S::BlockStar,
            S::BlockStar if c == '/' => S::Code,
            S::Block | S::BlockStar => S::Block,
        };
    }
    None
}

/// JSON5's LineTerminator (ECMAScript 5.1, 7.3): LF, CR, LINE SEPARATOR, PARAGRAPH SEPARATOR.
fn is_json5_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// The patch carried by `config.patch` params: `raw` (a JSON5 string holding an object, as
/// OpenClaw sends it) or, as a Pincer extension, `patch` (an object).
pub fn parse_patch_param(params: &Value) -> Result<Value, ConfigError> {
    match (params.get("raw"), params.get("patch")) {
        (Some(Value::String(raw)), _) => {
            if raw.trim().is_empty() {
                return Err(ConfigError::invalid("raw", "invalid config.patch params: raw must be a non-empty JSON5 string"));
            }
            match parse_json5_object(raw, None, false) {
                Err(ConfigError::Invalid { .. }) => Err(ConfigError::invalid("raw", "config.patch raw must be an object")),
                other => other,
            }
        }
        (Some(_), _) => Err(ConfigError::invalid("raw", "invalid config.patch params: raw (string) required")),
        (None, Some(p @ Value::Object(_))) => Ok(p.clone()),
        (None, Some(_)) => Err(ConfigError::invalid("patch", "invalid config.patch params: patch must be an object")),
        (None, None) => Err(ConfigError::invalid("raw", "invalid config.patch params: raw (string) required")),
    }
}

// ---------------------------------------------------------------------------------------------
// Merge patch, diff
// ---------------------------------------------------------------------------------------------

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else
/// (arrays included) replaces. Key order is kept; new keys go last.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.shift_remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Replace every [`REDACTED_SENTINEL`] string in `patch` by the value stored at the same path.
fn restore_sentinels(patch: &Value, original: Option<&Value>, path: &str) -> Result<Value, ConfigError> {
    match patch {
        Value::String(s) if s == REDACTED_SENTINEL => match original {
            Some(v) if !v.is_null() => Ok(v.clone()),
            _ => {
                let key = if path.is_empty() { "<root>" } else { path };
                Err(ConfigError::invalid(
                    key,
                    format!("the redaction marker \"{REDACTED_SENTINEL}\" is not valid config data here (there is no stored value to keep); send the real value"),
                ))
            }
        },
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let child = original.and_then(|o| o.get(k));
                out.insert(k.clone(), restore_sentinels(v, child, &join_path(path, k))?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let orig = original.and_then(Value::as_array);
            items
                .iter()
                .enumerate()
                .map(|(i, v)| restore_sentinels(v, orig.and_then(|a| a.get(i)), &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

fn diff_leaf_paths(prev: Option<&Value>, next: Option<&Value>, prefix: &str) -> Vec<String> {
    let here = || vec![if prefix.is_empty() { "<root>".to_string() } else { prefix.to_string() }];
    match (prev, next) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            if keys.is_empty() {
                return Vec::new();
            }
            keys.into_iter().flat_map(|k| diff_leaf_paths(a.get(k), b.get(k), &join_path(prefix, k))).collect()
        }
        (Some(Value::Object(a)), None) | (None, Some(Value::Object(a))) => {
            if a.is_empty() {
                return here();
            }
            let mut out = Vec::new();
            for (k, v) in a {
                out.extend(diff_leaf_paths(Some(v), None, &join_path(prefix, k)));
            }
            out
        }
        (a, b) if a == b => Vec::new(),
        _ => here(),
    }
}

fn is_hashless_path(path: &str) -> bool {
    HASHLESS_PATCH_PATH_PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}.")))
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn value_at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, seg| node.get(seg)).filter(|v| !v.is_null())
}

fn contains_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|c| contains_key(c, key)),
        Value::Array(a) => a.iter().any(|c| contains_key(c, key)),
        _ => false,
    }
}

/// `gateway.controlUi.allowedOrigins[0]` → is under a key Pincer reads.
fn is_known_path(path: &str) -> bool {
    let mut normalized = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => normalized.push(c),
            _ => {}
        }
    }
    KNOWN_KEYS.iter().any(|k| normalized == *k || normalized.starts_with(&format!("{k}.")))
}

// ---------------------------------------------------------------------------------------------
// ${ENV} substitution
// ---------------------------------------------------------------------------------------------

struct MissingEnv {
    path: String,
    var: String,
}

fn substitute_env(v: &Value, path: &str, env: &EnvLookup, missing: &mut Vec<MissingEnv>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute_str(s, path, env, missing)),
        Value::Array(items) => {
            Value::Array(items.iter().enumerate().map(|(i, item)| substitute_env(item, &format!("{path}[{i}]"), env, missing)).collect())
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, item)| (k.clone(), substitute_env(item, &join_path(path, k), env, missing))).collect())
        }
        other => other.clone(),
    }
}

enum EnvToken<'a> {
    Escaped(&'a str, usize),
    Substitution(&'a str, usize),
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// OpenClaw's `parseEnvTokenAt`: `$${NAME}` (escaped) or `${NAME}` at byte `i` (a `$`).
/// Returns the name and the byte index of the closing `}`.
fn env_token_at(s: &str, i: usize) -> Option<EnvToken<'_>> {
    let rest = &s[i..];
    let named = |start: usize| {
        let end = start + s[start..].find('}')?;
        let name = &s[start..end];
        is_env_name(name).then_some((name, end))
    };
    if rest.starts_with("$${") {
        if let Some((name, end)) = named(i + 3) {
            return Some(EnvToken::Escaped(name, end));
        }
    }
    if rest.starts_with("${") {
        if let Some((name, end)) = named(i + 2) {
            return Some(EnvToken::Substitution(name, end));
        }
    }
    None
}

fn substitute_str(s: &str, path: &str, env: &EnvLookup, missing: &mut Vec<MissingEnv>) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let Some(off) = s[i..].find('$') else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + off]);
        i += off;
        match env_token_at(s, i) {
            Some(EnvToken::Escaped(name, end)) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
                i = end + 1;
            }
            Some(EnvToken::Substitution(name, end)) => {
                match env(name).filter(|v| !v.is_empty()) {
                    Some(value) => out.push_str(&value),
                    None => {
                        missing.push(MissingEnv { path: path.to_string(), var: name.to_string() });
                        out.push_str(&s[i..=end]);
                    }
                }
                i = end + 1;
            }
            None => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// A whole-string `${NAME}` reference (valid name). Such a value is a pointer to a secret, not
/// a secret (OpenClaw does not redact it either). Unlike OpenClaw, `${not valid}` — which is
/// never substituted and so *is* the literal secret — does not count.
fn is_env_placeholder(s: &str) -> bool {
    let t = s.trim();
    t.strip_prefix("${").and_then(|r| r.strip_suffix('}')).is_some_and(is_env_name)
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

const SENSITIVE_WHITELIST_SUFFIXES: &[&str] = &[
    "maxtokens",
    "maxoutputtokens",
    "maxinputtokens",
    "maxcompletiontokens",
    "contexttokens",
    "totaltokens",
    "tokencount",
    "tokenlimit",
    "tokenbudget",
    "passwordfile",
];

/// OpenClaw's `isSensitiveConfigPath` (`src/config/sensitive-paths.ts`), on the whole dotted
/// path, case-insensitive: ends with `token`, or contains `password`, `secret`, `api[.]key`,
/// `encrypt[.]key`, `private[.]key` (`[.]` = any one character or none), or ends with
/// `serviceaccount`/`serviceaccountref`, or is under `*localservice.env.*`; except paths ending
/// in `maxTokens`, `contextTokens`, `passwordFile` and similar counters. A trailing `[]`
/// (array element) is ignored.
pub fn is_sensitive_config_path(path: &str) -> bool {
    let lower = path.strip_suffix("[]").unwrap_or(path).to_ascii_lowercase();
    if lower.contains("localservice.env.") {
        return true;
    }
    if SENSITIVE_WHITELIST_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return false;
    }
    lower.ends_with("token")
        || lower.contains("password")
        || lower.contains("secret")
        || contains_with_gap(&lower, "api", "key")
        || contains_with_gap(&lower, "encrypt", "key")
        || contains_with_gap(&lower, "private", "key")
        || lower.ends_with("serviceaccount")
        || lower.ends_with("serviceaccountref")
}

/// `a.?b` as a regex: `a`, at most one character, then `b`.
fn contains_with_gap(s: &str, a: &str, b: &str) -> bool {
    s.match_indices(a).any(|(i, _)| {
        let rest = &s[i + a.len()..];
        rest.starts_with(b) || rest.char_indices().nth(1).is_some_and(|(j, _)| rest[j..].starts_with(b))
    })
}

fn is_whole_object_sensitive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with("serviceaccount") || lower.ends_with("serviceaccountref")
}

/// Keys whose values are URLs that may embed credentials (`https://user:pass@host`,
/// `?token=...`). OpenClaw checks `*.baseUrl`, `*.httpUrl`, `*.cdpUrl`, `*.request.proxy.url`
/// and `mcp.servers.*.url`; Pincer checks every key ending in `url` (a superset).
fn is_url_key(path: &str) -> bool {
    path.rsplit('.').next().is_some_and(|k| k.to_ascii_lowercase().ends_with("url"))
}

const SENSITIVE_QUERY_NAMES: &[&str] = &[
    "token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "access_token",
    "auth_token",
    "password",
    "pass",
    "passwd",
    "auth",
    "jwt",
    "session",
    "id_token",
    "code",
    "client_secret",
    "app_secret",
    "hook_token",
    "refresh_token",
    "signature",
    "x_amz_signature",
    "x_amz_security_token",
    "private_key",
    "credential",
    "authorization",
    "sig",
    "x_api_key",
    "x_access_token",
    "x_auth_token",
];

fn url_has_credentials(s: &str) -> bool {
    // userinfo: scheme://user[:pass]@host
    if let Some(idx) = s.find("://") {
        let authority = s[idx + 3..].split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return true;
        }
    }
    // sensitive query / fragment parameters
    s.split(['?', '#', '&']).skip(1).any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase().replace('-', "_");
        name.contains('%') || SENSITIVE_QUERY_NAMES.contains(&name.as_str()) || name.ends_with("_token")
    })
}

fn is_concrete_secret(s: &str) -> bool {
    !s.trim().is_empty() && !is_env_placeholder(s)
}

/// `v` with every secret replaced by [`REDACTED_SENTINEL`] (OpenClaw's path heuristics; see
/// [`is_sensitive_config_path`]). Whole-string `${ENV}` references are not secrets and stay.
/// A SecretRef object (`{source, id}`) at a sensitive path keeps `source`/`provider`, only
/// `id` is redacted.
pub fn redact_config_value(v: &Value) -> Value {
    redact_collect(v, "", &mut Vec::new())
}

fn redact_collect(v: &Value, path: &str, found: &mut Vec<String>) -> Value {
    match v {
        Value::Array(items) => {
            let apath = format!("{path}[]");
            let sensitive = is_sensitive_config_path(&apath);
            Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) if sensitive && is_concrete_secret(s) => {
                            found.push(s.clone());
                            Value::String(REDACTED_SENTINEL.to_string())
                        }
                        other => redact_collect(other, &apath, found),
                    })
                    .collect(),
            )
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, child) in map {
                let cpath = join_path(path, k);
                let sensitive = is_sensitive_config_path(&cpath);
                let redacted = match child {
                    Value::String(s) if sensitive && is_concrete_secret(s) => {
                        found.push(s.clone());
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::String(s) if is_url_key(&cpath) && url_has_credentials(s) => {
                        found.push(s.clone());
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::Object(_) if sensitive && is_whole_object_sensitive(&cpath) => {
                        collect_strings(child, found);
                        Value::String(REDACTED_SENTINEL.to_string())
                    }
                    Value::Object(obj)
                        if sensitive && obj.get("source").is_some_and(Value::is_string) && obj.get("id").is_some_and(Value::is_string) =>
                    {
                        redact_secret_ref(obj, &cpath, found)
                    }
                    other => redact_collect(other, &cpath, found),
                };
                out.insert(k.clone(), redacted);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A SecretRef at a sensitive path: `source` and `provider` say where the secret lives and
/// stay; `id` is redacted; any other member is redacted like any value under `path` (a
/// SecretRef is no reason to let `{source, id, value: "hunter2"}` through).
fn redact_secret_ref(obj: &Map<String, Value>, path: &str, found: &mut Vec<String>) -> Value {
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        let redacted = match (k.as_str(), v) {
            ("source" | "provider", Value::String(_)) => v.clone(),
            ("id", Value::String(id)) if is_concrete_secret(id) => {
                found.push(id.clone());
                Value::String(REDACTED_SENTINEL.to_string())
            }
            ("id", _) => v.clone(),
            // The generic rules, applied to this one member.
            _ => {
                let single = Value::Object(Map::from_iter([(k.clone(), v.clone())]));
                redact_collect(&single, path, found).get(k).cloned().unwrap_or(Value::Null)
            }
        };
        out.insert(k.clone(), redacted);
    }
    Value::Object(out)
}

fn collect_strings(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::String(s) if is_concrete_secret(s) => found.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|c| collect_strings(c, found)),
        Value::Object(m) => m.values().for_each(|c| collect_strings(c, found)),
        _ => {}
    }
}

/// The raw text with every secret occurrence replaced by the sentinel, or `None` when that
/// cannot be shown to be complete: the redacted text must parse to exactly the structurally
/// redacted document (catches secrets written with escapes, secrets that are substrings of
/// other text, ...), and no secret may remain anywhere in it (comments included).
fn redact_raw(raw: &str, authored: &Value) -> Option<String> {
    let mut secrets = Vec::new();
    let expected = redact_collect(authored, "", &mut secrets);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut text = raw.to_string();
    for s in &secrets {
        text = text.replace(s.as_str(), REDACTED_SENTINEL);
    }
    if secrets.iter().any(|s| text.contains(s.as_str())) {
        return None;
    }
    match parse_json5_object(&text, None, true) {
        Ok(reparsed) if reparsed == expected => Some(text),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

struct KeyDoc {
    path: &'static str,
    label: &'static str,
    help: &'static str,
    schema: Value,
    pincer_specific: bool,
    sensitive: bool,
    deprecated: bool,
}

fn secret_input_schema() -> Value {
    json!({
        "anyOf": [
            { "type": "string" },
            {
                "type": "object",
                "properties": {
                    "source": { "type": "string", "const": "env" },
                    "provider": { "type": "string" },
                    "id": { "type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,127}$" }
                },
                "required": ["source", "id"],
                "additionalProperties": true
            }
        ]
    })
}

fn key_docs() -> Vec<KeyDoc> {
    let k = |path, label, help, schema| KeyDoc { path, label, help, schema, pincer_specific: false, sensitive: false, deprecated: false };
    let strings = || json!({ "type": "array", "items": { "type": "string" }, "default": [] });
    vec![
        k("gateway.port", "Gateway Port", "TCP port of the gateway listener (WebSocket, HTTP and Control UI on one port).",
            json!({ "type": "integer", "minimum": 1, "maximum": 65535, "default": DEFAULT_PORT })),
        k("gateway.bind", "Gateway Bind Mode",
            "Network bind profile: \"loopback\" (127.0.0.1 only), \"lan\" (all interfaces, 0.0.0.0), \"auto\" (Pincer: same as loopback) or \"custom\" (gateway.customBindHost). OpenClaw's \"tailnet\" is not supported.",
            json!({ "type": "string", "enum": ["loopback", "lan", "auto", "custom"], "default": "loopback" })),
        k("gateway.customBindHost", "Gateway Custom Bind Host", "IP address to listen on when gateway.bind is \"custom\".",
            json!({ "type": "string" })),
        k("gateway.auth.mode", "Gateway Auth Mode",
            "\"token\", \"password\" or \"none\" (no shared secret; private ingress only). When unset: \"password\" if gateway.auth.password is set, else \"token\". OpenClaw's \"trusted-proxy\" is not supported.",
            json!({ "type": "string", "enum": ["token", "password", "none"] })),
        KeyDoc { sensitive: true, ..k("gateway.auth.token", "Gateway Token",
            "Shared secret for gateway.auth.mode=token. A string, \"${ENV_VAR}\", or {source: \"env\", id: \"ENV_VAR\"}.",
            secret_input_schema()) },
        KeyDoc { sensitive: true, ..k("gateway.auth.password", "Gateway Password",
            "Shared secret for gateway.auth.mode=password. Same forms as the token.",
            secret_input_schema()) },
        k("gateway.auth.rateLimit.maxAttempts", "Auth Rate Limit Max Attempts", "Failed auth attempts allowed per client address within windowMs.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_RATE_LIMIT_MAX_ATTEMPTS })),
        k("gateway.auth.rateLimit.windowMs", "Auth Rate Limit Window (ms)", "Window in which failed attempts are counted.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_RATE_LIMIT_WINDOW_MS })),
        k("gateway.auth.rateLimit.lockoutMs", "Auth Rate Limit Lockout (ms)", "How long a client address is locked out after too many failures.",
            json!({ "type": "integer", "minimum": 0, "default": DEFAULT_RATE_LIMIT_LOCKOUT_MS })),
        k("gateway.auth.rateLimit.exemptLoopback", "Auth Rate Limit Exempt Loopback", "Do not rate-limit loopback clients.",
            json!({ "type": "boolean", "default": true })),
        k("gateway.controlUi.allowedOrigins", "Control UI Allowed Origins",
            "Browser origins allowed to open Control UI/WebChat WebSocket connections (full origins, e.g. https://control.example.com).",
            strings()),
        k("gateway.trustedProxies", "Trusted Proxy IPs",
            "Addresses or CIDR ranges of reverse proxies in front of the gateway. Only their X-Forwarded-For is believed (right-most hop that is not itself a trusted proxy); it names the client for the failed-auth rate limit. A connection with forwarding headers is never treated as local.",
            strings()),
        k("gateway.allowRealIpFallback", "Allow X-Real-IP Fallback",
            "Use a trusted proxy's X-Real-IP when its X-Forwarded-For names no client. Leave off unless your proxy needs it.",
            json!({ "type": "boolean", "default": false })),
        KeyDoc { pincer_specific: true, ..k("gateway.connections.max", "Max Connections",
            "Pincer-specific: sockets open at once (HTTP and WebSocket, authenticated or not); one more is closed on accept. Kept below the process's open-files limit. Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 1, "default": crate::listener::DEFAULT_MAX_CONNECTIONS })) },
        KeyDoc { pincer_specific: true, ..k("gateway.connections.maxUnauthenticated", "Max Unauthenticated Connections",
            "Pincer-specific: sockets that have not completed connect (HTTP probes included); when full, the oldest is closed to admit a new one. Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 1, "default": crate::listener::DEFAULT_MAX_UNAUTHENTICATED })) },
        KeyDoc { pincer_specific: true, ..k("gateway.connections.headerReadTimeoutMs", "Header Read Timeout (ms)",
            "Pincer-specific: a connection whose HTTP request headers are not complete within this time is closed (slowloris). Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 100, "default": crate::listener::DEFAULT_HEADER_READ_TIMEOUT_MS })) },
        k("gateway.nodes.pairing.autoApproveLocal", "Node Pairing Auto-Approve Local",
            "Silently approve pairing (and role/scope upgrades) of direct loopback clients.",
            json!({ "type": "boolean", "default": true })),
        k("gateway.nodes.commands.allow", "Node Command Allowlist (Extra Commands)",
            "Extra node.invoke commands to allow beyond the platform defaults (exact names).", strings()),
        k("gateway.nodes.commands.deny", "Node Command Denylist",
            "node.invoke commands to block even when declared and allowed (exact names; deny wins).", strings()),
        KeyDoc { deprecated: true, ..k("gateway.nodes.allowCommands", "Node Command Allowlist (older spelling)",
            "Older spelling of gateway.nodes.commands.allow; both are read (union).", strings()) },
        KeyDoc { deprecated: true, ..k("gateway.nodes.denyCommands", "Node Command Denylist (older spelling)",
            "Older spelling of gateway.nodes.commands.deny; both are read (union).", strings()) },
        KeyDoc { pincer_specific: true, ..k("gateway.nodes.invokeTimeoutMs", "Node Invoke Timeout (ms)",
            "Pincer-specific: default time node.invoke waits for the node's result. Not an OpenClaw key (OpenClaw's strict validator rejects it).",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_INVOKE_TIMEOUT_MS })) },
        KeyDoc { pincer_specific: true, ..k("gateway.tickIntervalMs", "Tick Interval (ms)",
            "Pincer-specific: interval of the `tick` keepalive event (hello-ok policy.tickIntervalMs). Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 100, "default": DEFAULT_TICK_INTERVAL_MS })) },
        KeyDoc { pincer_specific: true, ..k("approvals.exec.timeoutMs", "Exec Approval Timeout (ms)",
            "Pincer-specific: pending exec approvals expire after this long and askFallback applies. OpenClaw hard-codes 30 minutes.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_EXEC_APPROVAL_TIMEOUT_MS })) },
        KeyDoc { pincer_specific: true, ..k("approvals.exec.askFallback", "Exec Approval Ask Fallback",
            "Pincer-specific: decision applied when an exec approval expires unanswered: \"deny\", \"allowlist\" (allow only allowlisted commands) or \"full\" (allow). OpenClaw keeps askFallback in exec-approvals.json.",
            json!({ "type": "string", "enum": ["deny", "allowlist", "full"], "default": "deny" })) },
        k("logging.level", "Log Level", "Log level threshold: \"silent\", \"fatal\", \"error\", \"warn\", \"info\", \"debug\" or \"trace\".",
            json!({ "type": "string", "enum": ["silent", "fatal", "error", "warn", "info", "debug", "trace"], "default": "info" })),
        k("logging.file", "Log File Path", "Optional JSON-lines log file (~ is expanded).", json!({ "type": "string" })),
        k("messages.queue.mode", "Queue Mode",
            "What a message does while its session is busy: \"steer\" (OpenClaw injects it into the active run; Pincer waits for the run to end, as OpenClaw does when a run cannot take steering), \"followup\" (its own turn after the active run), \"collect\" (everything waiting merged into one turn), \"interrupt\" (abort the active run, drop what waited, run the newest).",
            json!({ "type": "string", "enum": ["steer", "followup", "collect", "interrupt"], "default": "steer" })),
        k("messages.queue.cap", "Queue Cap", "Messages that may wait per session before messages.queue.drop applies (values below 1 are ignored).",
            json!({ "type": "integer", "minimum": 1, "default": crate::agent::queue_settings::DEFAULT_CAP })),
        k("messages.queue.drop", "Queue Drop Policy",
            "When the queue is full: \"old\" drops the oldest waiting message, \"new\" refuses the newest, \"summarize\" drops the oldest and gives the agent a one-line summary of each in a followup turn.",
            json!({ "type": "string", "enum": ["old", "new", "summarize"], "default": "summarize" })),
        KeyDoc { pincer_specific: true, ..k("messages.queue.debounceMs", "Queue Debounce (ms)",
            "Older channel-wide spelling of messages.queue.debounceMsByChannel.webchat (OpenClaw 2026.9.6's validator rejects it): quiet time after the last queued message before the queue drains.",
            json!({ "type": "integer", "minimum": 0, "default": crate::agent::queue_settings::DEFAULT_DEBOUNCE_MS })) },
        k("messages.queue.debounceMsByChannel.webchat", "Queue Debounce for WebChat (ms)",
            "Quiet time after the last queued message before the queue drains (chat.send and agent are OpenClaw's webchat surface).",
            json!({ "type": "integer", "minimum": 0, "default": crate::agent::queue_settings::DEFAULT_DEBOUNCE_MS })),
        k("agents.defaults.maxConcurrent", "Max Concurrent Runs",
            "Agent runs executing at once across sessions (each session still runs one at a time). Default max(8, CPUs x 4). Read when the first run starts; restart to change it.",
            json!({ "type": "integer", "minimum": 1 })),
    ]
}

const GROUP_DOCS: &[(&str, &str, &str)] = &[
    ("gateway", "Gateway", "Gateway listener, auth, Control UI and node settings."),
    ("gateway.auth", "Gateway Auth", "Authentication policy for gateway HTTP/WebSocket access."),
    ("gateway.auth.rateLimit", "Gateway Auth Rate Limit", "Failed-auth throttling per client address."),
    ("gateway.controlUi", "Control UI", "Control UI / WebChat settings."),
    ("gateway.connections", "Gateway Connections", "Pincer-specific: connection admission (caps and header timeout)."),
    ("gateway.nodes", "Gateway Nodes", "Node pairing and node command policy."),
    ("gateway.nodes.pairing", "Gateway Node Pairing", "Node/device pairing policy."),
    ("gateway.nodes.commands", "Gateway Node Commands", "Node command allow/deny lists."),
    ("approvals", "Approvals", "Approval settings."),
    ("approvals.exec", "Exec Approvals", "Exec approval settings (OpenClaw's forwarding keys are accepted and ignored)."),
    ("logging", "Logging", "Log level and file."),
    ("messages", "Messages", "Message handling (Pincer reads the run queue)."),
    ("messages.queue", "Queue", "What messages do while their session is busy."),
    ("messages.queue.debounceMsByChannel", "Queue Debounce by Channel", "Per-channel debounce (Pincer reads webchat)."),
    ("agents", "Agents", "Agent settings (the model and workspace keys are described in docs/agent.md)."),
    ("agents.defaults", "Agent Defaults", "Defaults for every agent."),
];

/// The `config.schema` result, shaped like OpenClaw's `{schema, uiHints, version,
/// generatedAt}`: `schema` is a JSON Schema (draft 2020-12) of the keys Pincer reads, open
/// (`additionalProperties: true`) at every level; `uiHints` maps dotted paths to
/// `{label, help, sensitive?, advanced?, tags?}` (Pincer-only keys are tagged
/// `"pincer-specific"`, older spellings `"deprecated"`).
pub fn config_schema() -> Value {
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "PincerConfig",
        "description": "Pincer gateway configuration (OpenClaw openclaw.json key names, JSON5). Keys Pincer does not use are kept and ignored.",
        "type": "object",
        "additionalProperties": true,
        "properties": {}
    });
    let mut hints = Map::new();
    for (path, label, help) in GROUP_DOCS {
        hints.insert((*path).to_string(), json!({ "label": label, "help": help, "advanced": true }));
    }
    for doc in key_docs() {
        let mut node = &mut root;
        let segments: Vec<&str> = doc.path.split('.').collect();
        let mut walked = String::new();
        for (i, seg) in segments.iter().enumerate() {
            walked = join_path(&walked, seg);
            let last = i + 1 == segments.len();
            let props = node.as_object_mut().and_then(|o| o.get_mut("properties")).and_then(Value::as_object_mut);
            let Some(props) = props else { break };
            let entry = props.entry((*seg).to_string()).or_insert_with(|| {
                let (title, desc) = GROUP_DOCS.iter().find(|(p, _, _)| *p == walked).map_or(("", ""), |(_, l, h)| (*l, *h));
                json!({ "type": "object", "title": title, "description": desc, "additionalProperties": true, "properties": {} })
            });
            if last {
                let mut leaf = doc.schema.clone();
                if let Some(obj) = leaf.as_object_mut() {
                    obj.insert("title".into(), json!(doc.label));
                    obj.insert("description".into(), json!(doc.help));
                    if doc.deprecated {
                        obj.insert("deprecated".into(), json!(true));
                    }
                }
                *entry = leaf;
            }
            node = entry;
        }
        let mut hint = json!({ "label": doc.label, "help": doc.help });
        if let Some(h) = hint.as_object_mut() {
            if doc.sensitive {
                h.insert("sensitive".into(), json!(true));
            }
            let mut tags = Vec::new();
            if doc.pincer_specific {
                tags.push("pincer-specific");
            }
            if doc.deprecated {
                tags.push("deprecated");
                h.insert("advanced".into(), json!(true));
            }
            if !tags.is_empty() {
                h.insert("tags".into(), json!(tags));
            }
        }
        hints.insert(doc.path.to_string(), hint);
    }
    json!({
        "schema": root,
        "uiHints": hints,
        "version": env!("CARGO_PKG_VERSION"),
        "generatedAt": rfc3339_now(),
    })
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> EnvLookup {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Arc::new(move |name: &str| map.get(name).cloned())
    }

    fn no_env() -> EnvLookup {
        env_of(&[])
    }

    fn cfg(raw: &str) -> GatewayConfig {
        GatewayConfig::from_raw("/tmp/pincer-test/openclaw.json", raw, no_env()).unwrap()
    }

    fn cfg_err(raw: &str) -> ConfigError {
        GatewayConfig::from_raw("/tmp/pincer-test/openclaw.json", raw, no_env()).unwrap_err()
    }

    fn invalid_key(e: &ConfigError) -> &str {
        match e {
            ConfigError::Invalid { key, .. } => key,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const FULL: &str = r#"
    // A Pincer/OpenClaw config with comments, unquoted keys and trailing commas.
    {
      gateway: {
        mode: "local",            // OpenClaw key Pincer ignores
        port: 19001,
        bind: "lan",
        auth: {
          mode: "password",
          password: 'hunter2-long-password',
          rateLimit: { maxAttempts: 3, windowMs: 1000, lockoutMs: 0, exemptLoopback: false, },
        },
        controlUi: { allowedOrigins: ["https://a.example", "https://b.example",], },
        nodes: {
          pairing: { autoApproveLocal: false },
          commands: { allow: ["camera.snap"], deny: ["system.run"] },
          invokeTimeoutMs: 5000,
        },
        tickIntervalMs: 15000,
      },
      /* block comment */
      approvals: { exec: { enabled: false, timeoutMs: 120000, askFallback: "allowlist" } },
      logging: { level: "debug", file: "/var/log/pincer.log" },
      agents: { defaults: { heartbeat: { every: "0m" } } },
    }
    "#;

    #[test]
    fn json5_with_comments_and_trailing_commas_reads_every_key() {
        let c = cfg(FULL);
        let v = c.view();
        assert_eq!(v.port, 19001);
        assert_eq!(v.bind, "lan");
        assert!(v.bind_lan());
        assert_eq!(v.bind_addr(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(v.auth_mode, "password");
        assert!(v.auth_mode_explicit);
        assert_eq!(v.auth_password.as_deref(), Some("hunter2-long-password"));
        assert_eq!(v.auth_token, None);
        assert_eq!(v.rate_limit, RateLimitView { max_attempts: 3, window_ms: 1000, lockout_ms: 0, exempt_loopback: false });
        assert_eq!(v.allowed_origins, vec!["https://a.example", "https://b.example"]);
        assert!(!v.auto_approve_local);
        assert_eq!(v.commands_allow, vec!["camera.snap"]);
        assert_eq!(v.commands_deny, vec!["system.run"]);
        assert_eq!(v.invoke_timeout_ms, 5000);
        assert_eq!(v.tick_interval_ms, 15000);
        assert_eq!(v.exec_approval_timeout_ms, 120_000);
        assert_eq!(v.ask_fallback, "allowlist");
        assert_eq!(v.log_level, "debug");
        assert_eq!(v.tracing_filter(), "debug");
        assert_eq!(v.log_file, Some(PathBuf::from("/var/log/pincer.log")));
        // Unknown keys are kept.
        assert_eq!(c.document()["agents"]["defaults"]["heartbeat"]["every"], "0m");
        assert_eq!(c.document()["gateway"]["mode"], "local");
        assert!(c.exists());
        assert_eq!(c.hash(), sha256_hex(FULL.as_bytes()));
    }

    #[test]
    fn missing_file_is_empty_config_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("openclaw.json");
        let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
        assert!(!c.exists());
        assert_eq!(c.raw(), "");
        assert_eq!(c.hash(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(c.document(), &json!({}));
        assert_eq!(c.view(), ConfigView::default());
        let v = c.view();
        assert_eq!(v.port, 18789);
        assert_eq!(v.bind, "loopback");
        assert_eq!(v.bind_addr(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(v.auth_mode, "token");
        assert!(!v.auth_mode_explicit);
        assert_eq!(v.rate_limit, RateLimitView { max_attempts: 10, window_ms: 60_000, lockout_ms: 300_000, exempt_loopback: true });
        assert!(v.allowed_origins.is_empty());
        assert!(v.auto_approve_local);
        assert_eq!(v.tick_interval_ms, 30_000);
        assert_eq!(v.invoke_timeout_ms, 30_000);
        assert_eq!(v.exec_approval_timeout_ms, 1_800_000);
        assert_eq!(v.ask_fallback, "deny");
        assert_eq!(v.log_level, "info");
        assert_eq!(v.log_file, None);
        let snap = c.redacted_snapshot();
        assert_eq!(snap["exists"], false);
        assert_eq!(snap["raw"], Value::Null);
        assert_eq!(snap["config"], json!({}));
        assert_eq!(snap["hash"], c.hash());
    }

    #[test]
    fn empty_file_and_bom_are_accepted() {
        assert_eq!(cfg("").view(), ConfigView::default());
        assert_eq!(cfg("  \n// only a comment? no: comments alone are not an object\n{}").view(), ConfigView::default());
        assert_eq!(cfg("\u{feff}{ gateway: { port: 1234 } }").view().port, 1234);
    }

    #[test]
    fn auth_mode_is_derived_when_unset() {
        assert_eq!(cfg("{gateway:{auth:{token:'t0k3n-abcdef'}}}").view().auth_mode, "token");
        assert_eq!(cfg("{gateway:{auth:{password:'pw-abcdef'}}}").view().auth_mode, "password");
        assert_eq!(cfg("{gateway:{auth:{token:'a-token', password:'pw-abcdef'}}}").view().auth_mode, "password");
        assert_eq!(cfg("{gateway:{auth:{mode:'none'}}}").view().auth_mode, "none");
        assert_eq!(cfg("{gateway:{auth:{token:'   '}}}").view().auth_token, None);
    }

    #[test]
    fn bind_modes() {
        assert_eq!(cfg("{gateway:{bind:'auto'}}").view().bind, "loopback");
        let v = cfg("{gateway:{bind:'custom', customBindHost:'192.168.1.10'}}").view();
        assert_eq!(v.bind, "custom");
        assert!(!v.bind_lan());
        assert_eq!(v.bind_addr(), "192.168.1.10".parse::<IpAddr>().unwrap());
        assert_eq!(invalid_key(&cfg_err("{gateway:{bind:'custom'}}")), "gateway.customBindHost");
        assert_eq!(invalid_key(&cfg_err("{gateway:{bind:'custom', customBindHost:'my-host'}}")), "gateway.customBindHost");
        let e = cfg_err("{gateway:{bind:'tailnet'}}");
        assert_eq!(invalid_key(&e), "gateway.bind");
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn old_and_new_command_list_spellings_are_unioned() {
        let c = cfg(r#"{ gateway: { nodes: {
                commands: { allow: ["camera.snap", "screen.record"], deny: ["system.run"] },
                allowCommands: ["screen.record", "sms.send"],
                denyCommands: ["system.which"],
            } } }"#);
        let v = c.view();
        assert_eq!(v.commands_allow, vec!["camera.snap", "screen.record", "sms.send"]);
        assert_eq!(v.commands_deny, vec!["system.run", "system.which"]);
        let legacy: Vec<&str> = c.legacy_issues().iter().map(|i| i.path.as_str()).collect();
        assert_eq!(legacy, vec!["gateway.nodes.allowCommands", "gateway.nodes.denyCommands"]);
        assert_eq!(c.redacted_snapshot()["legacyIssues"].as_array().map(Vec::len), Some(2));

        // Old spelling alone.
        let v = cfg("{gateway:{nodes:{allowCommands:['a.b'], denyCommands:['c.d']}}}").view();
        assert_eq!(v.commands_allow, vec!["a.b"]);
        assert_eq!(v.commands_deny, vec!["c.d"]);
        // New spelling alone: no legacy issue.
        assert!(cfg("{gateway:{nodes:{commands:{allow:['a.b']}}}}").legacy_issues().is_empty());
    }

    #[test]
    fn env_substitution_whole_embedded_and_escaped() {
        let env = env_of(&[("GW_TOKEN", "tok-from-env-123"), ("GW_PORT", "19999"), ("HOST", "a.example"), ("HOME", "/home/u")]);
        let raw = r#"{
            gateway: {
                port: "${GW_PORT}",
                auth: { token: "${GW_TOKEN}" },
                controlUi: { allowedOrigins: ["https://${HOST}:8443", "literal-$${HOST}", "$notavar", "${lower}"] },
            },
            logging: { file: "~/logs/pincer.log" },
        }"#;
        let c = GatewayConfig::from_raw("/x/openclaw.json", raw, env).unwrap();
        let v = c.view();
        assert_eq!(v.port, 19999);
        assert_eq!(v.auth_token.as_deref(), Some("tok-from-env-123"));
        assert_eq!(v.allowed_origins, vec!["https://a.example:8443", "literal-${HOST}", "$notavar", "${lower}"]);
        assert_eq!(v.log_file, Some(PathBuf::from("/home/u/logs/pincer.log")));
        // The authored document keeps the references (what patches edit and saves write).
        assert_eq!(c.document()["gateway"]["auth"]["token"], "${GW_TOKEN}");
        assert_eq!(c.resolved()["gateway"]["auth"]["token"], "tok-from-env-123");
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn env_secret_ref_object() {
        let env = env_of(&[("MY_GW_PASSWORD", "pw-from-ref-456")]);
        let raw = r#"{ gateway: { auth: { password: { source: "env", provider: "default", id: "MY_GW_PASSWORD" } } } }"#;
        let c = GatewayConfig::from_raw("/x/openclaw.json", raw, env).unwrap();
        assert_eq!(c.view().auth_password.as_deref(), Some("pw-from-ref-456"));
        assert_eq!(c.view().auth_mode, "password");

        let e = GatewayConfig::from_raw("/x/c.json", raw, no_env()).unwrap_err();
        assert_eq!(invalid_key(&e), "gateway.auth.password");
        assert!(e.to_string().contains("MY_GW_PASSWORD"), "{e}");

        let e = cfg_err(r#"{ gateway: { auth: { token: { source: "file", provider: "p", id: "/run/secret" } } } }"#);
        assert_eq!(invalid_key(&e), "gateway.auth.token");
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    #[test]
    fn missing_env_var_in_known_key_is_an_error_naming_key_and_variable() {
        let e = cfg_err(r#"{ gateway: { auth: { token: "${PINCER_TEST_MISSING_TOKEN}" } } }"#);
        assert_eq!(e.code(), "CONFIG_INVALID");
        assert_eq!(invalid_key(&e), "gateway.auth.token");
        let msg = e.to_string();
        assert!(msg.contains("PINCER_TEST_MISSING_TOKEN") && msg.contains("gateway.auth.token"), "{msg}");

        let e = cfg_err(r#"{ gateway: { controlUi: { allowedOrigins: ["https://${NO_SUCH_HOST}"] } } }"#);
        assert_eq!(invalid_key(&e), "gateway.controlUi.allowedOrigins[0]");
        assert!(e.to_string().contains("NO_SUCH_HOST"));

        // An empty variable counts as missing (OpenClaw's rule).
        let e = GatewayConfig::from_raw("/x/c.json", "{gateway:{port:'${P}'}}", env_of(&[("P", "")])).unwrap_err();
        assert_eq!(invalid_key(&e), "gateway.port");
    }

    #[test]
    fn missing_env_var_in_unknown_key_is_a_warning() {
        let c = cfg(r#"{ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY_FOR_TEST}" } } } }"#);
        assert_eq!(
            c.warnings(),
            &[ConfigIssue {
                path: "models.providers.openai.apiKey".into(),
                message: "Missing env var \"OPENAI_API_KEY_FOR_TEST\" - feature using this value will be unavailable".into(),
            }]
        );
        assert_eq!(c.resolved()["models"]["providers"]["openai"]["apiKey"], "${OPENAI_API_KEY_FOR_TEST}");
        assert_eq!(c.redacted_snapshot()["warnings"][0]["path"], "models.providers.openai.apiKey");
    }

    #[test]
    fn proxy_trust_and_connection_limits() {
        let v = cfg("{}").view();
        assert!(v.trusted_proxies.is_empty() && !v.allow_real_ip_fallback);
        assert_eq!(v.connections, ConnectionsView { max: 8192, max_unauthenticated: 256, header_read_timeout_ms: 10_000 });
        let v = cfg(r#"{gateway:{trustedProxies:["127.0.0.1","10.0.0.0/8"], allowRealIpFallback:true,
            connections:{max:100, maxUnauthenticated:10, headerReadTimeoutMs:500}}}"#)
        .view();
        assert_eq!(v.trusted_proxies, vec!["127.0.0.1", "10.0.0.0/8"]);
        assert!(v.allow_real_ip_fallback);
        assert_eq!(v.connections, ConnectionsView { max: 100, max_unauthenticated: 10, header_read_timeout_ms: 500 });
        for (raw, key) in [
            (r#"{gateway:{trustedProxies:["proxy.local"]}}"#, "gateway.trustedProxies"),
            (r#"{gateway:{trustedProxies:"127.0.0.1"}}"#, "gateway.trustedProxies"),
            (r#"{gateway:{connections:{max:0}}}"#, "gateway.connections.max"),
            (r#"{gateway:{connections:{maxUnauthenticated:-1}}}"#, "gateway.connections.maxUnauthenticated"),
            (r#"{gateway:{connections:{headerReadTimeoutMs:10}}}"#, "gateway.connections.headerReadTimeoutMs"),
        ] {
            assert_eq!(invalid_key(&cfg_err(raw)), key, "{raw}");
        }
    }

    #[test]
    fn wrong_types_for_known_keys_are_invalid() {
        let cases: &[(&str, &str)] = &[
            (r#"{gateway:{port:"abc"}}"#, "gateway.port"),
            (r#"{gateway:{port:0}}"#, "gateway.port"),
            (r#"{gateway:{port:70000}}"#, "gateway.port"),
            (r#"{gateway:{port:18789.5}}"#, "gateway.port"),
            (r#"{gateway:{port:true}}"#, "gateway.port"),
            (r#"{gateway:{bind:"moon"}}"#, "gateway.bind"),
            (r#"{gateway:{bind:1}}"#, "gateway.bind"),
            (r#"{gateway:5}"#, "gateway"),
            (r#"{gateway:{auth:"token"}}"#, "gateway.auth"),
            (r#"{gateway:{auth:{mode:"magic"}}}"#, "gateway.auth.mode"),
            (r#"{gateway:{auth:{mode:"trusted-proxy"}}}"#, "gateway.auth.mode"),
            (r#"{gateway:{auth:{token:12345}}}"#, "gateway.auth.token"),
            (r#"{gateway:{auth:{rateLimit:{maxAttempts:0}}}}"#, "gateway.auth.rateLimit.maxAttempts"),
            (r#"{gateway:{auth:{rateLimit:{windowMs:-5}}}}"#, "gateway.auth.rateLimit.windowMs"),
            (r#"{gateway:{auth:{rateLimit:{exemptLoopback:"yes"}}}}"#, "gateway.auth.rateLimit.exemptLoopback"),
            (r#"{gateway:{controlUi:{allowedOrigins:"https://a"}}}"#, "gateway.controlUi.allowedOrigins"),
            (r#"{gateway:{controlUi:{allowedOrigins:["ok", 1]}}}"#, "gateway.controlUi.allowedOrigins[1]"),
            (r#"{gateway:{nodes:{pairing:{autoApproveLocal:1}}}}"#, "gateway.nodes.pairing.autoApproveLocal"),
            (r#"{gateway:{nodes:{commands:{deny:"system.run"}}}}"#, "gateway.nodes.commands.deny"),
            (r#"{gateway:{nodes:{allowCommands:{}}}}"#, "gateway.nodes.allowCommands"),
            (r#"{gateway:{nodes:{invokeTimeoutMs:0}}}"#, "gateway.nodes.invokeTimeoutMs"),
            (r#"{gateway:{tickIntervalMs:"fast"}}"#, "gateway.tickIntervalMs"),
            (r#"{gateway:{tickIntervalMs:10}}"#, "gateway.tickIntervalMs"),
            (r#"{approvals:{exec:{timeoutMs:"soon"}}}"#, "approvals.exec.timeoutMs"),
            (r#"{approvals:{exec:{askFallback:"maybe"}}}"#, "approvals.exec.askFallback"),
            (r#"{approvals:[]}"#, "approvals"),
            (r#"{logging:{level:"loud"}}"#, "logging.level"),
            (r#"{logging:{file:42}}"#, "logging.file"),
        ];
        for (raw, key) in cases {
            let e = cfg_err(raw);
            assert_eq!(invalid_key(&e), *key, "for {raw}: {e}");
            assert_eq!(e.code(), "CONFIG_INVALID");
            assert_eq!(e.rpc_error_code(), "INVALID_REQUEST");
            assert_eq!(e.issues_details().unwrap()["issues"][0]["path"], *key);
        }
        let e = cfg_err(r#"{gateway:{port:"abc"}}"#);
        assert!(e.to_string().contains("\"abc\""), "{e}");
        let e = cfg_err(r#"{gateway:{bind:"moon"}}"#);
        assert!(e.to_string().contains("\"loopback\"") && e.to_string().contains("\"moon\""), "{e}");
        // A top-level non-object.
        assert_eq!(invalid_key(&cfg_err("[1, 2]")), "<root>");
    }

    #[test]
    fn lenient_forms_env_substitution_produces() {
        let v = cfg(r#"{gateway:{port:" 19000 ", tickIntervalMs: 2e4, nodes:{pairing:{autoApproveLocal:"false"}}}}"#).view();
        assert_eq!(v.port, 19000);
        assert_eq!(v.tick_interval_ms, 20_000);
        assert!(!v.auto_approve_local);
        // null means unset.
        assert_eq!(cfg("{gateway:{port:null, auth:null}}").view(), ConfigView::default());
        assert_eq!(cfg("{logging:{level:'silent'}}").view().tracing_filter(), "off");
    }

    #[test]
    fn invalid_json5_reports_position_without_quoting_the_text() {
        let raw = "{\n  gateway: {\n    auth: { token: \"s3cr3t-v4lue-xyz }\n  }\n}\n";
        let e = cfg_err(raw);
        match &e {
            ConfigError::Parse { path, line, column, message } => {
                assert_eq!(path.as_deref(), Some(Path::new("/tmp/pincer-test/openclaw.json")));
                assert!(line.is_some() && column.is_some());
                assert!(message.contains("unterminated string"), "{message}");
            }
            other => panic!("expected Parse, got {other:?}"),
        }
        let shown = e.to_string();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("/tmp/pincer-test/openclaw.json") && shown.contains("line"), "{shown}");
        assert_eq!(e.code(), "CONFIG_PARSE");

        let e = cfg_err("{ gateway: { port 18789 } }");
        let ConfigError::Parse { line: Some(1), column: Some(_), message, .. } = &e else { panic!("{e:?}") };
        assert!(message.contains("expected") && message.contains("missing ','"), "{message}");

        let e = cfg_err("{ a: 1,, }");
        assert!(matches!(e, ConfigError::Parse { line: Some(1), .. }), "{e:?}");
    }

    #[test]
    fn non_utf8_file_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openclaw.json");
        std::fs::write(&path, b"{ a: \"\xff\" }").unwrap();
        let e = GatewayConfig::load_with_env(&path, no_env()).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
        assert!(e.to_string().contains("UTF-8"));
    }

    #[test]
    fn unreadable_path_is_io() {
        let dir = tempfile::tempdir().unwrap();
        let e = GatewayConfig::load_with_env(dir.path(), no_env()).unwrap_err(); // a directory
        assert_eq!(e.code(), "CONFIG_IO");
        assert_eq!(e.rpc_error_code(), "UNAVAILABLE");
    }

    #[test]
    fn deep_nesting_is_rejected_before_parsing() {
        let deep = format!("{{a:{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = cfg_err(&deep);
        let ConfigError::Parse { message, .. } = &e else { panic!("{e:?}") };
        assert!(message.contains("nested more than 64"), "{message}");
        // Same through config.patch.
        let e = parse_patch_param(&json!({ "raw": deep })).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { path: None, .. }));
        // Brackets inside strings and comments do not count.
        let ok =
            format!("{{ a: \"{}\", b: '{}', // {}\n /* {} */ c: 1 }}", "[".repeat(100), "{".repeat(100), "[".repeat(100), "{".repeat(100));
        assert_eq!(cfg(&ok).document()["c"], 1);
        assert_eq!(nesting_too_deep("[[[", 2), Some((1, 3)));
        assert_eq!(nesting_too_deep("[\"\\\"[[[\"]", 1), None);
    }

    #[test]
    fn brackets_after_a_comment_ended_by_cr_or_unicode_line_breaks_count() {
        // JSON5 ends `//` comments at CR, U+2028 and U+2029 too; the depth check used to wait
        // for LF, so a patch hid any nesting behind `// x\r`: 1,000 levels were enough to
        // overflow a 2 MiB thread stack in the parser and abort the process.
        for (line_end, depth) in [("\r", 100), ("\u{2028}", 100), ("\u{2029}", 100), ("\r", 1_000)] {
            let deep = format!("{{a: // x{line_end}{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let e = parse_patch_param(&json!({ "raw": deep })).unwrap_err();
            let ConfigError::Parse { message, .. } = &e else { panic!("{line_end:?}: {e:?}") };
            assert!(message.contains("nested more than 64"), "{line_end:?}: {message}");
            assert_eq!(nesting_too_deep(&format!("// x{line_end}[[["), 2), Some((1, 8)));
        }
        // Still one comment up to the terminator: brackets before it do not count.
        assert_eq!(cfg("{ // [[[[\r a: 1 }").document()["a"], 1);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // Test vectors from RFC 7386, appendix A.
        let vectors = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (target, patch, expected) in vectors {
            let mut t = target.clone();
            merge_patch(&mut t, &patch);
            assert_eq!(t, expected, "{target} + {patch}");
        }
        // Deleting keeps the order of the remaining keys.
        let mut t = json!({"a":1,"b":2,"c":3});
        merge_patch(&mut t, &json!({"a":null}));
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"b":2,"c":3}"#);
    }

    #[test]
    fn apply_patch_merges_deletes_and_validates() {
        let c = cfg(FULL);
        let next = c
            .apply_patch(
                &json!({
                    "gateway": { "port": 19002, "tickIntervalMs": null, "nodes": { "commands": { "deny": [] } } },
                    "logging": { "file": null },
                    "newTopLevel": { "kept": true },
                }),
                Some(c.hash()),
            )
            .unwrap();
        let v = next.view();
        assert_eq!(v.port, 19002);
        assert_eq!(v.tick_interval_ms, DEFAULT_TICK_INTERVAL_MS);
        assert!(v.commands_deny.is_empty());
        assert_eq!(v.log_file, None);
        assert_eq!(v.auth_password.as_deref(), Some("hunter2-long-password"));
        assert_eq!(next.document()["newTopLevel"]["kept"], true);
        assert_eq!(next.document()["agents"]["defaults"]["heartbeat"]["every"], "0m");
        assert!(next.document()["gateway"].get("tickIntervalMs").is_none());
        assert!(next.exists());
        assert_ne!(next.hash(), c.hash());
        assert_eq!(next.hash(), sha256_hex(next.raw().as_bytes()));
        // raw is the pretty JSON to be written.
        assert_eq!(serde_json::from_str::<Value>(next.raw()).unwrap(), *next.document());
        assert!(next.raw().ends_with("}\n"));

        let mut changed = next.changed_paths(&c);
        changed.sort();
        assert_eq!(
            changed,
            vec!["gateway.nodes.commands.deny", "gateway.port", "gateway.tickIntervalMs", "logging.file", "newTopLevel.kept"]
        );
        let resp = next.patch_response(&c);
        assert_eq!(resp["ok"], true);
        assert_eq!(resp["hash"], next.hash());
        assert_eq!(resp["path"], "/tmp/pincer-test/openclaw.json");
        assert!(resp.get("noop").is_none());
        assert_eq!(resp["config"]["gateway"]["auth"]["password"], REDACTED_SENTINEL);

        // Invalid result is refused, and the original is untouched.
        let e = c.apply_patch(&json!({ "gateway": { "port": "abc" } }), Some(c.hash())).unwrap_err();
        assert_eq!(invalid_key(&e), "gateway.port");
        let e = c.apply_patch(&json!({ "gateway": { "bind": "moon" } }), None).unwrap_err();
        assert_eq!(invalid_key(&e), "gateway.bind");
        assert_eq!(c.view().port, 19001);
        // A non-object patch.
        assert_eq!(invalid_key(&c.apply_patch(&json!([1]), None).unwrap_err()), "<root>");
    }

    #[test]
    fn noop_patch_keeps_hash_and_reports_noop() {
        let c = cfg(FULL);
        let same = c.apply_patch(&json!({ "gateway": { "port": 19001 } }), Some(c.hash())).unwrap();
        assert_eq!(same.hash(), c.hash());
        assert_eq!(same.raw(), c.raw()); // comments preserved: nothing to write
        let resp = same.patch_response(&c);
        assert_eq!(resp["noop"], true);
        assert_eq!(resp["changedPaths"], json!([]));
    }

    #[test]
    fn base_hash_mismatch() {
        let c = cfg(FULL);
        let e = c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some("0000")).unwrap_err();
        match &e {
            ConfigError::BaseHashMismatch { current } => assert_eq!(current, c.hash()),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.code(), "CONFIG_BASE_HASH_MISMATCH");
        assert_eq!(e.to_string(), "config changed since last load; re-run config.get and retry");
        // Surrounding whitespace is tolerated (OpenClaw trims).
        let padded = format!("  {}\n", c.hash());
        assert!(c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some(&padded)).is_ok());
        // No hash: no check.
        assert!(c.apply_patch(&json!({ "logging": { "level": "warn" } }), None).is_ok());
    }

    #[test]
    fn patch_params_like_openclaw() {
        let c = cfg(FULL);
        // raw JSON5 + baseHash
        let next = c
            .apply_patch_params(&json!({
                "raw": "{ logging: { level: 'warn', }, // comment\n }",
                "baseHash": c.hash(),
                "note": "from the UI",
                "restartDelayMs": 0,
                "replacePaths": ["gateway.nodes.commands.deny"],
            }))
            .unwrap();
        assert_eq!(next.view().log_level, "warn");
        // baseHash required when the file exists ...
        let e = c.apply_patch_params(&json!({ "raw": "{logging:{level:'warn'}}" })).unwrap_err();
        match &e {
            ConfigError::BaseHashRequired { paths } => {
                assert_eq!(paths, &vec!["logging.level".to_string()])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.to_string(), "config base hash required for logging.level; re-run config.get and retry with baseHash");
        assert_eq!(e.code(), "CONFIG_BASE_HASH_REQUIRED");
        // ... except for ui.prefs (last writer wins)
        let next = c.apply_patch_params(&json!({ "raw": "{ui:{prefs:{theme:'dark'}}}" })).unwrap();
        assert_eq!(next.document()["ui"]["prefs"]["theme"], "dark");
        // ... and when there is no file yet.
        let empty = GatewayConfig::load_with_env("/nonexistent-pincer-dir/openclaw.json", no_env()).unwrap();
        let next = empty.apply_patch_params(&json!({ "raw": "{gateway:{port:19005}}" })).unwrap();
        assert_eq!(next.view().port, 19005);
        assert!(next.exists());
        // wrong baseHash
        assert!(matches!(c.apply_patch_params(&json!({ "raw": "{}", "baseHash": "nope" })), Err(ConfigError::BaseHashMismatch { .. })));
        // bad raw
        let e = c.apply_patch_params(&json!({ "raw": "{logging:{level:", "baseHash": c.hash() })).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { path: None, line: Some(1), .. }), "{e:?}");
        assert!(e.to_string().starts_with("invalid JSON5 in config text at line 1"), "{e}");
    }

    #[test]
    fn parse_patch_param_forms() {
        assert_eq!(parse_patch_param(&json!({ "raw": "{a:1,}" })).unwrap(), json!({"a":1}));
        assert_eq!(parse_patch_param(&json!({ "patch": {"a":null} })).unwrap(), json!({"a":null}));
        assert_eq!(parse_patch_param(&json!({ "raw": "{a:1}", "patch": {"b":2} })).unwrap(), json!({"a":1}));
        for bad in [json!({}), json!({ "raw": 5 }), json!({ "raw": "" }), json!({ "raw": "[1]" }), json!({ "patch": [1] })] {
            let e = parse_patch_param(&bad).unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { .. }), "{bad}: {e:?}");
        }
        assert_eq!(
            parse_patch_param(&json!({ "raw": "[1]" })).unwrap_err().to_string(),
            "invalid config: raw: config.patch raw must be an object"
        );
        assert_eq!(
            parse_patch_param(&json!({})).unwrap_err().to_string(),
            "invalid config: raw: invalid config.patch params: raw (string) required"
        );
    }

    const SECRETS: &str = r#"
    // gateway token is tok-SECRET-aaaa1111 (also mentioned in this comment)
    {
      gateway: {
        auth: { mode: "token", token: "tok-SECRET-aaaa1111", password: "pw-SECRET-bbbb2222" },
        remote: { url: "wss://user:pw-SECRET-url3333@gw.example/ws", token: "rem-SECRET-cccc4444" },
      },
      models: {
        providers: {
          openai: { apiKey: "sk-SECRET-dddd5555", baseUrl: "https://api.example/v1?api_key=q-SECRET-eeee6666", maxTokens: 4096 },
          other: { api_key: "ak-SECRET-ffff7777", headers: { "x-client-secret": "hs-SECRET-gggg8888" } },
        },
      },
      channels: { slack: { botToken: "xoxb-SECRET-hhhh9999", signingSecret: "ss-SECRET-iiii0000", appName: "visible-app-name" } },
      tools: { web: { ApiKeys: ["ka-SECRET-jjjj1212", "kb-SECRET-kkkk1313"] } },
      env: { vars: { FOO: "not-a-secret-value" } },
      approvals: { exec: { timeoutMs: 60000 } },
    }
    "#;

    const SECRET_VALUES: &[&str] = &[
        "tok-SECRET-aaaa1111",
        "pw-SECRET-bbbb2222",
        "pw-SECRET-url3333",
        "rem-SECRET-cccc4444",
        "sk-SECRET-dddd5555",
        "q-SECRET-eeee6666",
        "ak-SECRET-ffff7777",
        "hs-SECRET-gggg8888",
        "xoxb-SECRET-hhhh9999",
        "ss-SECRET-iiii0000",
        "ka-SECRET-jjjj1212",
        "kb-SECRET-kkkk1313",
    ];

    #[test]
    fn redacted_snapshot_never_contains_a_secret() {
        let c = cfg(SECRETS);
        let snap = c.redacted_snapshot();
        let text = serde_json::to_string(&snap).unwrap();
        for s in SECRET_VALUES {
            assert!(!text.contains(s), "{s} leaked: {text}");
        }
        assert!(!text.contains("SECRET"), "{text}");
        // Shape (OpenClaw 2026.9 config.get).
        let keys: Vec<&str> = snap.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "path",
                "includedPaths",
                "includeProvenance",
                "exists",
                "raw",
                "parsed",
                "sourceConfig",
                "resolved",
                "valid",
                "runtimeConfig",
                "config",
                "hash",
                "issues",
                "warnings",
                "legacyIssues"
            ]
        );
        assert_eq!(snap["valid"], true);
        assert_eq!(snap["exists"], true);
        assert_eq!(snap["hash"], c.hash());
        let conf = &snap["config"];
        assert_eq!(conf["gateway"]["auth"]["token"], REDACTED_SENTINEL);
        assert_eq!(conf["gateway"]["auth"]["password"], REDACTED_SENTINEL);
        assert_eq!(conf["gateway"]["auth"]["mode"], "token");
        assert_eq!(conf["gateway"]["remote"]["url"], REDACTED_SENTINEL);
        assert_eq!(conf["models"]["providers"]["openai"]["apiKey"], REDACTED_SENTINEL);
        assert_eq!(conf["models"]["providers"]["openai"]["maxTokens"], 4096);
        assert_eq!(conf["models"]["providers"]["other"]["api_key"], REDACTED_SENTINEL);
        assert_eq!(conf["channels"]["slack"]["appName"], "visible-app-name");
        assert_eq!(conf["tools"]["web"]["ApiKeys"], json!([REDACTED_SENTINEL, REDACTED_SENTINEL]));
        assert_eq!(conf["env"]["vars"]["FOO"], "not-a-secret-value");
        assert_eq!(snap["parsed"], snap["config"]);
        // raw is redacted text (comments kept, the comment's copy of the token too).
        let raw = snap["raw"].as_str().expect("raw should be redactable");
        assert!(raw.contains("// gateway token is __OPENCLAW_REDACTED__"), "{raw}");
        assert!(raw.contains("visible-app-name"));
        // The real config still has them.
        assert_eq!(c.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
        // Debug output of the config and the view does not leak either.
        let dbg = format!("{c:?} {:?}", c.view());
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }

    #[test]
    fn env_placeholders_are_not_secrets_but_their_values_are() {
        let env = env_of(&[("GW_TOKEN", "tok-from-env-SECRET-9")]);
        let c = GatewayConfig::from_raw("/x/c.json", r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#, env).unwrap();
        let snap = c.redacted_snapshot();
        assert_eq!(snap["parsed"]["gateway"]["auth"]["token"], "${GW_TOKEN}");
        assert_eq!(snap["config"]["gateway"]["auth"]["token"], REDACTED_SENTINEL);
        assert_eq!(snap["raw"], r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#);
        assert!(!serde_json::to_string(&snap).unwrap().contains("SECRET"));
        // `${lower}` is never substituted, so it *is* the secret.
        let c = cfg(r#"{gateway:{auth:{token:"${not_an_env_ref}"}}}"#);
        let text = serde_json::to_string(&c.redacted_snapshot()).unwrap();
        assert!(!text.contains("not_an_env_ref"), "{text}");
    }

    #[test]
    fn secret_ref_members_other_than_source_and_provider_are_redacted() {
        // Found by the config_patch fuzz target: only `id` of a SecretRef was redacted, so any
        // other member under a sensitive path (`password.value`, `password.note`) went out clear.
        let c = cfg(
            r#"{ secrets: { password: { source: "env", provider: "default", id: "PW", value: "hunter2", nested: { x: "s3cret" } } } }"#,
        );
        let redacted = c.redacted_config();
        assert_eq!(
            redacted["secrets"]["password"],
            json!({"source": "env", "provider": "default", "id": REDACTED_SENTINEL, "value": REDACTED_SENTINEL, "nested": {"x": REDACTED_SENTINEL}})
        );
        let snapshot = serde_json::to_string(&c.redacted_snapshot()).unwrap();
        assert!(!snapshot.contains("hunter2") && !snapshot.contains("s3cret"), "{snapshot}");
    }

    #[test]
    fn raw_is_null_when_it_cannot_be_provably_redacted() {
        // The token is written with a JSON5 escape: its decoded value does not occur in the text.
        let c = cfg(r#"{ gateway: { auth: { token: "tok-\u0053ECRET-zzzz" } } }"#);
        assert_eq!(c.view().auth_token.as_deref(), Some("tok-SECRET-zzzz"));
        let snap = c.redacted_snapshot();
        assert_eq!(snap["raw"], Value::Null);
        let text = serde_json::to_string(&snap).unwrap();
        assert!(!text.contains("SECRET") && !text.contains("u0053ECRET"), "{text}");
        // A whole-object secret (serviceAccount) cannot be redacted textually.
        let c = cfg(r#"{ google: { serviceAccount: { client_email: "se-SECRET-llll1414@x", kind: "svc" } } }"#);
        let snap = c.redacted_snapshot();
        assert_eq!(snap["raw"], Value::Null);
        assert_eq!(snap["config"]["google"]["serviceAccount"], REDACTED_SENTINEL);
        assert!(!serde_json::to_string(&snap).unwrap().contains("SECRET"));
        let next = c.apply_patch(&snap["parsed"], Some(c.hash())).unwrap();
        assert_eq!(next.document()["google"]["serviceAccount"]["client_email"], "se-SECRET-llll1414@x");
        // A secret that is also ordinary text elsewhere: replacing it would change other values.
        let c = cfg(r#"{ gateway: { auth: { token: "local" }, mode: "local" } }"#);
        let snap = c.redacted_snapshot();
        assert_eq!(snap["raw"], Value::Null);
        assert_eq!(snap["config"]["gateway"]["mode"], "local");
        assert_eq!(snap["config"]["gateway"]["auth"]["token"], REDACTED_SENTINEL);
    }

    #[test]
    fn redaction_marker_in_a_patch_keeps_the_secret() {
        let c = cfg(SECRETS);
        // The UI sends back what config.get gave it, with one real change.
        let mut edited = c.redacted_snapshot()["parsed"].clone();
        edited["approvals"]["exec"]["timeoutMs"] = json!(90_000);
        let next = c.apply_patch(&edited, Some(c.hash())).unwrap();
        assert_eq!(next.view().exec_approval_timeout_ms, 90_000);
        assert_eq!(next.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
        assert_eq!(next.view().auth_password.as_deref(), Some("pw-SECRET-bbbb2222"));
        assert_eq!(next.document()["models"]["providers"]["openai"]["apiKey"], "sk-SECRET-dddd5555");
        assert_eq!(next.document()["tools"]["web"]["ApiKeys"], json!(["ka-SECRET-jjjj1212", "kb-SECRET-kkkk1313"]));
        assert_eq!(next.document()["gateway"]["remote"]["url"], "wss://user:pw-SECRET-url3333@gw.example/ws");
        assert!(!next.raw().contains(REDACTED_SENTINEL));
        assert_eq!(next.changed_paths(&c), vec!["approvals.exec.timeoutMs"]);

        // Through raw params too.
        let next = c
            .apply_patch_params(&json!({
                "raw": format!("{{gateway:{{auth:{{token:'{REDACTED_SENTINEL}', password:'new-password-1'}}}}}}"),
                "baseHash": c.hash(),
            }))
            .unwrap();
        assert_eq!(next.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
        assert_eq!(next.view().auth_password.as_deref(), Some("new-password-1"));

        // A marker where nothing is stored is an error, not a literal write.
        let e = c.apply_patch(&json!({ "gateway": { "auth": { "rateLimit": { "newKey": REDACTED_SENTINEL } } } }), None).unwrap_err();
        assert_eq!(invalid_key(&e), "gateway.auth.rateLimit.newKey");

        // An env reference round-trips as the reference, not the value.
        let env = env_of(&[("GW_TOKEN", "tok-env-value-77")]);
        let c = GatewayConfig::from_raw("/x/c.json", r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#, env).unwrap();
        let next = c.apply_patch(&json!({"gateway":{"auth":{"token": REDACTED_SENTINEL}, "port": 19010}}), None).unwrap();
        assert_eq!(next.document()["gateway"]["auth"]["token"], "${GW_TOKEN}");
        assert!(!next.raw().contains("tok-env-value-77"));
    }

    #[test]
    fn sensitive_path_rules() {
        for p in [
            "gateway.auth.token",
            "gateway.auth.password",
            "gateway.remote.token",
            "channels.slack.botToken",
            "channels.slack.signingSecret",
            "models.providers.x.apiKey",
            "models.providers.x.api_key",
            "x.API-KEY",
            "secrets.providers.vault.address",
            "a.privateKey",
            "a.encryptionKey".replace("ion", "").as_str(),
            "gcp.serviceAccountRef",
            "plugins.x.localService.env.ANYTHING",
            "tools.web.apiKeys[]",
        ] {
            assert!(is_sensitive_config_path(p), "{p}");
        }
        for p in [
            "gateway.port",
            "gateway.auth.mode",
            "agents.defaults.maxTokens",
            "models.x.contextTokens",
            "gateway.auth.passwordFile",
            "channels.slack.appName",
            "gateway.auth.tokens",
            "apiBase.url",
            "keyboard.layout",
        ] {
            assert!(!is_sensitive_config_path(p), "{p}");
        }
        assert!(url_has_credentials("https://u:p@host/x"));
        assert!(url_has_credentials("https://host/x?access_token=abc"));
        assert!(url_has_credentials("https://host/x?a=1&X-Api-Key=abc"));
        assert!(!url_has_credentials("https://host:8443/x?a=1"));
        assert!(!url_has_credentials("ws://127.0.0.1:18789"));
    }

    #[cfg(unix)]
    #[test]
    fn save_atomic_round_trip_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("openclaw.json");
        let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
        assert!(!c.exists());
        let next = c
            .apply_patch(
                &json!({ "gateway": { "port": 19020, "auth": { "token": "tok-save-1234" } }, "custom": { "x": [1, 2] } }),
                Some(c.hash()),
            )
            .unwrap();
        next.save_atomic().unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);

        let reloaded = GatewayConfig::load_with_env(&path, no_env()).unwrap();
        assert!(reloaded.exists());
        assert_eq!(reloaded.hash(), next.hash());
        assert_eq!(reloaded.raw(), next.raw());
        assert_eq!(reloaded.document(), next.document());
        assert_eq!(reloaded.view().port, 19020);
        assert_eq!(reloaded.view().auth_token.as_deref(), Some("tok-save-1234"));
        assert_eq!(reloaded.document()["custom"]["x"], json!([1, 2]));
        // Pretty JSON, two-space indent, like `openclaw config set`.
        assert!(reloaded.raw().starts_with("{\n  \"gateway\": {\n    \"port\": 19020,"), "{}", reloaded.raw());

        // Overwrite an existing (hand-written, 0644) file: the mode becomes 0600 and no temp
        // files are left behind.
        std::fs::write(&path, "// hand written\n{ gateway: { port: 19021 }, keep: 'me' }\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
        let next = c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some(c.hash())).unwrap();
        next.save_atomic().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let mut entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        entries.sort();
        assert_eq!(entries, vec![std::ffi::OsString::from(".openclaw.json.lock"), std::ffi::OsString::from("openclaw.json")]);
        let reloaded = GatewayConfig::load_with_env(&path, no_env()).unwrap();
        assert_eq!(reloaded.view().port, 19021);
        assert_eq!(reloaded.view().log_level, "warn");
        assert_eq!(reloaded.document()["keep"], "me");
        // The old hash no longer applies.
        assert!(matches!(reloaded.apply_patch(&json!({}), Some(c.hash())), Err(ConfigError::BaseHashMismatch { .. })));
    }

    #[test]
    fn save_atomic_reports_io_errors() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        // The parent "directory" is a file.
        assert_eq!(GatewayConfig::load_with_env(blocker.join("openclaw.json"), no_env()).unwrap_err().code(), "CONFIG_IO");
        let c = GatewayConfig::from_raw(blocker.join("openclaw.json"), "{}", no_env()).unwrap();
        let next = c.apply_patch(&json!({"a": 1}), None).unwrap();
        let e = next.save_atomic().unwrap_err();
        assert_eq!(e.code(), "CONFIG_IO");
    }

    #[test]
    fn schema_shape() {
        let s = config_schema();
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["schema", "uiHints", "version", "generatedAt"]);
        let schema = &s["schema"];
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["additionalProperties"], true);
        let gw = &schema["properties"]["gateway"];
        assert_eq!(gw["additionalProperties"], true);
        assert_eq!(gw["properties"]["port"]["default"], 18789);
        assert_eq!(gw["properties"]["port"]["type"], "integer");
        assert_eq!(gw["properties"]["auth"]["properties"]["rateLimit"]["properties"]["lockoutMs"]["default"], 300_000);
        assert_eq!(gw["properties"]["nodes"]["properties"]["allowCommands"]["deprecated"], true);
        assert_eq!(schema["properties"]["approvals"]["properties"]["exec"]["properties"]["askFallback"]["default"], "deny");
        assert_eq!(schema["properties"]["logging"]["properties"]["level"]["default"], "info");
        // Every known key is described, every object level is open.
        for key in KNOWN_KEYS {
            let mut node = schema;
            for seg in key.split('.') {
                assert_eq!(node["additionalProperties"], true, "{key}");
                node = &node["properties"][seg];
            }
            assert!(node["description"].as_str().is_some_and(|d| !d.is_empty()), "{key}");
            assert!(s["uiHints"][*key]["label"].is_string(), "{key}");
        }
        assert_eq!(s["uiHints"]["gateway.auth.token"]["sensitive"], true);
        assert_eq!(s["uiHints"]["gateway.tickIntervalMs"]["tags"], json!(["pincer-specific"]));
        assert!(s["uiHints"]["gateway.port"].get("sensitive").is_none());
        let at = s["generatedAt"].as_str().unwrap();
        assert_eq!(at.len(), 24, "{at}");
        assert!(at.starts_with("20") && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
    }

    #[test]
    fn error_codes_are_stable() {
        let io = ConfigError::Io { path: "/x".into(), action: "read", source: std::io::Error::other("boom") };
        assert_eq!(io.code(), "CONFIG_IO");
        assert!(io.to_string().contains("cannot read config file /x"));
        let p = ConfigError::Parse { path: None, line: None, column: None, message: "m".into() };
        assert_eq!(p.code(), "CONFIG_PARSE");
        assert_eq!(p.to_string(), "invalid JSON5 in config text: m");
        assert_eq!(ConfigError::invalid("a.b", "c").to_string(), "invalid config: a.b: c");
        assert_eq!(ConfigError::BaseHashRequired { paths: vec![] }.to_string(), "config base hash required; re-run config.get and retry");
    }

    #[test]
    fn include_directive_warns() {
        let c = cfg("{ $include: './more.json5', gateway: { port: 19030 } }");
        assert_eq!(c.view().port, 19030);
        assert_eq!(c.warnings()[0].path, "$include");
    }

    #[test]
    fn process_env_load_works() {
        // Only reads the environment (never sets it): PATH is always present.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openclaw.json");
        std::fs::write(&path, r#"{ custom: "${PATH}", gateway: { port: 19040 } }"#).unwrap();
        let c = GatewayConfig::load(&path).unwrap();
        assert_eq!(c.view().port, 19040);
        assert_eq!(c.resolved()["custom"].as_str(), std::env::var("PATH").ok().as_deref());
    }
}
