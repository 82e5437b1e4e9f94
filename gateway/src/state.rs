//! The gateway's shared state and the settings it runs with.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::approvals::{ApprovalBroker, AskFallback};
use crate::config::GatewayConfig;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::nodes::NodeRegistry;
use crate::rate_limit::{RateLimitPolicy, RateLimiter};
use crate::store::Store;

/// How clients prove they may use the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    Token(String),
    Password(String),
    /// No shared secret (private ingress only); devices still sign.
    None,
}

impl AuthMode {
    pub fn name(&self) -> &'static str {
        match self {
            AuthMode::Token(_) => "token",
            AuthMode::Password(_) => "password",
            AuthMode::None => "none",
        }
    }
}

/// Where the gateway listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    Loopback,
    Lan,
}

/// Command-line choices that win over the config file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub port: Option<u16>,
    pub bind: Option<Bind>,
    pub token: Option<String>,
    pub password: Option<String>,
}

/// Everything needed to start a gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    pub overrides: Overrides,
    /// The JSON-lines log file `logs.tail` reads, if logging to a file.
    pub log_file: Option<PathBuf>,
}

/// The resolved runtime settings (config file + overrides).
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    pub bind: Bind,
    /// The address to listen on (`gateway.bind: custom` picks `gateway.customBindHost`).
    pub host: std::net::IpAddr,
    pub auth: AuthMode,
    pub rate_limit: RateLimitPolicy,
    pub allowed_origins: Vec<String>,
    /// `gateway.trustedProxies` + `gateway.allowRealIpFallback` (applied to new connections).
    pub proxy_trust: crate::client_addr::ProxyTrust,
    /// `gateway.connections.*` (read when the listener starts; a change needs a restart).
    pub connections: crate::listener::ConnectionLimits,
    pub auto_approve_local: bool,
    pub commands_allow: Vec<String>,
    pub commands_deny: Vec<String>,
    pub tick_interval: Duration,
    pub invoke_timeout: Duration,
    pub exec_approval_timeout: Duration,
    pub ask_fallback: AskFallback,
}

impl Settings {
    pub fn resolve(config: &GatewayConfig, overrides: &Overrides) -> Result<Settings, crate::error::GatewayError> {
        let view = config.view();
        let bind = overrides.bind.unwrap_or(if view.bind_lan() { Bind::Lan } else { Bind::Loopback });
        let auth = match (&overrides.token, &overrides.password) {
            (Some(t), _) => AuthMode::Token(t.clone()),
            (None, Some(p)) => AuthMode::Password(p.clone()),
            (None, None) => match view.auth_mode.as_str() {
                "password" => AuthMode::Password(view.auth_password.clone().ok_or(crate::error::GatewayError::MissingSecret {
                    mode: "password",
                    what: "password",
                    env: "PASSWORD",
                })?),
                "none" => AuthMode::None,
                _ => AuthMode::Token(view.auth_token.clone().ok_or(crate::error::GatewayError::MissingSecret {
                    mode: "token",
                    what: "token",
                    env: "TOKEN",
                })?),
            },
        };
        let host = match overrides.bind {
            Some(Bind::Loopback) => std::net::IpAddr::from([127, 0, 0, 1]),
            Some(Bind::Lan) => std::net::IpAddr::from([0, 0, 0, 0]),
            None => view.bind_addr(),
        };
        Ok(Settings {
            port: overrides.port.unwrap_or(view.port),
            bind,
            host,
            auth,
            rate_limit: RateLimitPolicy {
                max_attempts: view.rate_limit.max_attempts,
                window: Duration::from_millis(view.rate_limit.window_ms),
                lockout: Duration::from_millis(view.rate_limit.lockout_ms),
                exempt_loopback: view.rate_limit.exempt_loopback,
            },
            allowed_origins: view.allowed_origins.clone(),
            // Entries were validated when the config was read.
            proxy_trust: crate::client_addr::ProxyTrust::parse(&view.trusted_proxies, view.allow_real_ip_fallback)
                .map_err(|e| crate::config::ConfigError::Invalid { key: "gateway.trustedProxies".into(), message: e.to_string() })?,
            connections: crate::listener::ConnectionLimits {
                max_connections: usize::try_from(view.connections.max).unwrap_or(usize::MAX),
                max_unauthenticated: usize::try_from(view.connections.max_unauthenticated).unwrap_or(usize::MAX),
                header_read_timeout: Duration::from_millis(view.connections.header_read_timeout_ms),
                ..Default::default()
            },
            auto_approve_local: view.auto_approve_local,
            commands_allow: view.commands_allow.clone(),
            commands_deny: view.commands_deny.clone(),
            tick_interval: Duration::from_millis(view.tick_interval_ms.max(1000)),
            invoke_timeout: Duration::from_millis(view.invoke_timeout_ms.max(1)),
            exec_approval_timeout: Duration::from_millis(view.exec_approval_timeout_ms.max(1)),
            ask_fallback: AskFallback::parse(&view.ask_fallback).unwrap_or(AskFallback::Deny),
        })
    }
}

/// Shared by every connection and method handler.
pub struct GatewayState {
    pub options: GatewayOptions,
    pub config: RwLock<GatewayConfig>,
    pub settings: RwLock<Settings>,
    pub store: Store,
    pub hub: Hub,
    pub nodes: NodeRegistry,
    pub approvals: ApprovalBroker,
    pub agents: crate::agent::AgentHost,
    pub idempotency: IdempotencyCache,
    pub rate_limiter: RateLimiter,
    pub started: Instant,
    pub boot_id: String,
    pub instance_id: String,
    /// Cancelled once when the gateway starts to stop; awaited by connections and the run queue.
    pub shutdown: CancellationToken,
}

pub type SharedState = Arc<GatewayState>;

impl GatewayState {
    pub fn settings(&self) -> Settings {
        match self.settings.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn exec_approvals_path(&self) -> PathBuf {
        self.options.state_dir.join("exec-approvals.json")
    }
}
