//! The typed view: the keys Pincer uses, validated, with defaults applied, read from the
//! resolved document by a path-addressed reader whose messages name the key.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde_json::Value;

use super::error::ConfigError;
use super::redact::is_sensitive_config_path;
use super::{
    EnvLookup, DEFAULT_EXEC_APPROVAL_TIMEOUT_MS, DEFAULT_INVOKE_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_RATE_LIMIT_LOCKOUT_MS,
    DEFAULT_RATE_LIMIT_MAX_ATTEMPTS, DEFAULT_RATE_LIMIT_WINDOW_MS, DEFAULT_TICK_INTERVAL_MS,
};

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
    pub(super) fn from_resolved(doc: &Value, env: &EnvLookup) -> Result<ConfigView, ConfigError> {
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
pub(super) const MAX_MS: u64 = 1_000_000_000_000;

pub(super) fn derive_auth_mode(password_set: bool) -> &'static str {
    if password_set {
        "password"
    } else {
        "token"
    }
}

pub(super) fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

pub(super) fn expand_tilde(path: &str, env: &EnvLookup) -> PathBuf {
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
pub(super) struct Reader<'a> {
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
pub(super) fn describe(v: &Value, path: &str) -> String {
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

pub(super) fn quote_short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{:?}…", cut)
    } else {
        format!("{s:?}")
    }
}
