//! The node host: connect, stay connected, serve invokes. [`NodeHost::run`] is the whole
//! life of a node: it reconnects with backoff after network errors and gateway restarts,
//! waits out pairing approval, and returns only when told to stop or on a fatal setup error.

use std::future::Future;
use std::sync::Arc;

use pincer_client::{ClientError, ConnectOptions, DeviceIdentity, GatewayClient, HelloOk};
use pincer_protocol::error::DetailCode;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::commands::CommandRegistry;
use crate::config::NodeConfig;
use crate::credentials::{load_or_create_identity, open_secret_store, CredentialError, DeviceTokens};
use crate::events::{NodeEvents, OutgoingEvent};
use crate::session::{serve_connection, SessionEnd};
use crate::status::{pairing_hint, NodeStatus};

/// The role the node's device token is stored under.
const NODE_ROLE: &str = "node";
/// Events the client keeps for the session to pick up after it subscribes (see
/// `session::serve_connection`); anything older is already handled from the live feed.
const EVENT_BACKLOG: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum NodeHostError {
    #[error("state directory {path}: {source}")]
    StateDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("another pincer-node is already running with state directory {path}; stop it or pass a different --state-dir")]
    AlreadyRunning { path: String },
}

/// One node per state dir: two would fight over the identity, tokens and approvals file.
fn lock_state_dir(dir: &std::path::Path) -> Result<std::fs::File, NodeHostError> {
    let path = dir.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| NodeHostError::StateDir { path: path.display().to_string(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(NodeHostError::AlreadyRunning { path: dir.display().to_string() }),
        Err(std::fs::TryLockError::Error(source)) => Err(NodeHostError::StateDir { path: path.display().to_string(), source }),
    }
}

/// A configured node host. Build it, then [`NodeHost::run`] it.
pub struct NodeHost {
    config: NodeConfig,
    registry: Arc<CommandRegistry>,
    identity: DeviceIdentity,
    tokens: DeviceTokens,
    events: NodeEvents,
    outgoing: mpsc::Receiver<OutgoingEvent>,
    status: watch::Sender<NodeStatus>,
    /// Held for the node's lifetime (released on drop).
    _state_lock: std::fs::File,
}

impl NodeHost {
    /// Open the state dir and the node's identity. `registry` is what the node will offer;
    /// `events`/`outgoing` is the channel its commands report `node.event`s through.
    pub fn new(
        config: NodeConfig,
        registry: CommandRegistry,
        events: (NodeEvents, mpsc::Receiver<OutgoingEvent>),
    ) -> Result<NodeHost, NodeHostError> {
        pincer_statefile::ensure_private_state_dir(&config.state_dir)
            .map_err(|source| NodeHostError::StateDir { path: config.state_dir.display().to_string(), source })?;
        let state_lock = lock_state_dir(&config.state_dir)?;
        let store = open_secret_store(&config.state_dir, config.secrets);
        let identity = load_or_create_identity(store.as_ref())?;
        let (status, _) = watch::channel(NodeStatus::Starting);
        Ok(NodeHost {
            config,
            registry: Arc::new(registry),
            identity,
            tokens: DeviceTokens::new(store),
            events: events.0,
            outgoing: events.1,
            status,
            _state_lock: state_lock,
        })
    }

    /// The node id gateways know this node by (the device id).
    pub fn node_id(&self) -> String {
        self.identity.device_id()
    }

    pub fn events(&self) -> NodeEvents {
        self.events.clone()
    }

    /// Follow the node's status (the desktop app shows it; the binary prints it).
    pub fn status(&self) -> watch::Receiver<NodeStatus> {
        self.status.subscribe()
    }

    fn connect_options(&self, protocol: u32, device_token: Option<&str>, use_bootstrap: bool) -> ConnectOptions {
        let commands = self.registry.commands();
        let caps = self.registry.caps();
        let mut opts = ConnectOptions::node(self.config.url.clone(), self.identity.clone())
            .with_display_name(self.config.display_name.clone())
            .with_protocol(protocol, protocol);
        opts.commands = commands;
        opts.caps = caps;
        opts.permissions = Some(self.permissions());
        opts.path_env = std::env::var("PATH").ok();
        opts.tls_fingerprint = self.config.tls_fingerprint.clone();
        // The session consumes the live event feed; the backlog only has to bridge the moment
        // between `hello-ok` and subscribing (4,096 retained invoke frames would be megabytes).
        opts.event_backlog = EVENT_BACKLOG;
        match device_token {
            Some(token) => opts.device_token = Some(token.to_string()),
            None => {
                opts.token = self.config.auth.token.clone();
                opts.password = self.config.auth.password.clone();
                if use_bootstrap {
                    opts.bootstrap_token = self.config.auth.bootstrap_token.clone();
                }
            }
        }
        opts
    }

    /// `connect.permissions`: what the person has allowed, so the gateway can explain
    /// a missing command instead of guessing.
    fn permissions(&self) -> Map<String, Value> {
        let caps = &self.config.capabilities;
        let mut map = Map::new();
        map.insert("screenRecording".into(), Value::Bool(caps.screen));
        map.insert("camera".into(), Value::Bool(caps.camera));
        map.insert("location".into(), Value::Bool(caps.location));
        map.insert("notifications".into(), Value::Bool(self.registry.contains("system.notify")));
        map
    }

    fn set_status(&self, status: NodeStatus) {
        match &status {
            NodeStatus::PairingRequired { approve_hint, .. } => tracing::warn!("{approve_hint}"),
            NodeStatus::Offline { .. } => tracing::warn!("{status}"),
            _ => tracing::info!("{status}"),
        }
        self.status.send_replace(status);
    }

    /// Run until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> Result<(), NodeHostError> {
        tokio::pin!(shutdown);
        let url = self.config.url.clone();
        let node_id = self.node_id();
        let mut backoff = Backoff::new(self.config.backoff.0, self.config.backoff.1);
        let mut protocol = pincer_protocol::PROTOCOL_VERSION;
        // The bootstrap token is single-use: once a device token is stored it is never sent again.
        let mut bootstrap_spent = false;
        loop {
            let device_token = self.tokens.get(&url, NODE_ROLE);
            let opts = self.connect_options(protocol, device_token.as_deref(), !bootstrap_spent);
            self.set_status(NodeStatus::Connecting { url: url.clone() });
            let attempt = tokio::select! {
                r = GatewayClient::connect(opts) => r,
                _ = &mut shutdown => { self.set_status(NodeStatus::Stopped); return Ok(()); }
            };
            let delay = match attempt {
                Ok((client, hello)) => {
                    backoff.reset();
                    if self.remember_device_token(&hello, device_token.as_deref()) {
                        bootstrap_spent = true;
                    }
                    self.set_status(NodeStatus::Connected {
                        node_id: node_id.clone(),
                        protocol: hello.protocol,
                        commands: self.registry.commands(),
                    });
                    let end = serve_connection(
                        &client,
                        &hello,
                        &node_id,
                        self.registry.clone(),
                        &mut self.outgoing,
                        self.config.max_concurrent_invokes,
                        &mut shutdown,
                    )
                    .await;
                    match end {
                        SessionEnd::Shutdown => {
                            self.set_status(NodeStatus::Stopped);
                            return Ok(());
                        }
                        SessionEnd::Closed { code, reason } => {
                            let error = format!(
                                "gateway closed the connection ({code}{})",
                                if reason.is_empty() { String::new() } else { format!(": {reason}") }
                            );
                            self.offline(error, &mut backoff)
                        }
                        SessionEnd::TickTimeout => self.offline("no tick from the gateway for two intervals".into(), &mut backoff),
                    }
                }
                Err(e) => match self.classify(&e, device_token.is_some(), &mut protocol) {
                    Retry::Now => continue,
                    Retry::Pairing(request_id) => {
                        let delay = backoff.next_delay();
                        self.set_status(NodeStatus::PairingRequired {
                            approve_hint: pairing_hint(request_id.as_deref(), &node_id),
                            request_id,
                            node_id: node_id.clone(),
                        });
                        delay
                    }
                    Retry::After(error, at_least) => {
                        let mut delay = backoff.next_delay();
                        if let Some(min) = at_least {
                            delay = delay.max(min);
                        }
                        self.set_status(NodeStatus::Offline { error, retry_in: delay });
                        delay
                    }
                },
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = &mut shutdown => { self.set_status(NodeStatus::Stopped); return Ok(()); }
            }
        }
    }

    fn offline(&self, error: String, backoff: &mut Backoff) -> std::time::Duration {
        let delay = backoff.next_delay();
        self.set_status(NodeStatus::Offline { error, retry_in: delay });
        delay
    }

    /// Keep `hello-ok.auth.deviceToken`; true when the node now holds one. A reconnect that
    /// gets back the token it sent writes nothing (no keyring or fsync per reconnect).
    fn remember_device_token(&self, hello: &HelloOk, sent: Option<&str>) -> bool {
        let Some(token) = hello.auth.device_token.as_deref().filter(|t| !t.is_empty()) else { return false };
        if sent == Some(token) {
            return true;
        }
        match self.tokens.set(&self.config.url, NODE_ROLE, token) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "could not store the device token; the next connect will use the shared credential again");
                false
            }
        }
    }

    /// What to do after a failed connect.
    fn classify(&self, error: &ClientError, used_device_token: bool, protocol: &mut u32) -> Retry {
        let Some(shape) = error.error_shape() else {
            return Retry::After(error.to_string(), None);
        };
        let detail = shape.detail_code();
        match detail {
            Some(DetailCode::AuthDeviceTokenMismatch) if used_device_token => {
                tracing::warn!(
                    "the gateway no longer accepts this node's device token; dropping it and connecting with the shared credential"
                );
                if let Err(e) = self.tokens.forget(&self.config.url, NODE_ROLE) {
                    tracing::error!(error = %e, "could not drop the stale device token");
                    return Retry::After(e.to_string(), None);
                }
                if self.config.auth.is_empty() {
                    return Retry::After(
                        "the device token was revoked and no shared token, password or bootstrap token is configured; pass --token".into(),
                        None,
                    );
                }
                Retry::Now
            }
            Some(DetailCode::ProtocolMismatch) if *protocol > pincer_protocol::MIN_NODE_PROTOCOL => {
                tracing::info!(from = *protocol, to = *protocol - 1, "gateway does not speak this protocol version; falling back");
                *protocol -= 1;
                Retry::Now
            }
            Some(DetailCode::PairingRequired) => Retry::Pairing(request_id(shape)),
            _ if shape.code.as_str() == "NOT_PAIRED" => Retry::Pairing(request_id(shape)),
            _ => {
                let hint = match detail {
                    Some(DetailCode::AuthTokenMismatch | DetailCode::AuthTokenMissing) => {
                        " (check --token / PINCER_GATEWAY_TOKEN against the gateway's gateway.auth.token)"
                    }
                    Some(DetailCode::AuthPasswordMismatch | DetailCode::AuthPasswordMissing) => " (check --password)",
                    Some(DetailCode::AuthBootstrapTokenInvalid) => " (the setup code expired or was used; make a new one on the gateway)",
                    Some(DetailCode::PairingRejected) => " (a person rejected this device on the gateway)",
                    _ => "",
                };
                let at_least = shape.retry_after_ms.map(std::time::Duration::from_millis);
                Retry::After(format!("{}: {}{hint}", shape.code, shape.message), at_least)
            }
        }
    }
}

fn request_id(shape: &pincer_protocol::ErrorShape) -> Option<String> {
    shape.details.as_ref().and_then(|d| d.get("requestId")).and_then(Value::as_str).map(str::to_string)
}

enum Retry {
    Now,
    Pairing(Option<String>),
    After(String, Option<std::time::Duration>),
}
