//! Transport: one port serving HTTP probes and the WebSocket protocol; the tick loop;
//! graceful shutdown (broadcast `shutdown`, close every socket with 1012).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Extension, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pincer_protocol::methods::events;
use pincer_protocol::{close_code, now_ms};
use serde_json::json;
use tokio::net::TcpListener;

use crate::approvals::ApprovalBroker;
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::handshake::Peer;
use crate::hub::Hub;
use crate::idempotency::IdempotencyCache;
use crate::listener::{Admission, ConnectionSlot};
use crate::nodes::NodeRegistry;
use crate::rate_limit::RateLimiter;
use crate::state::{GatewayOptions, GatewayState, Settings, SharedState};
use crate::store::Store;

/// A gateway bound to its port, ready to serve.
pub struct Gateway {
    state: SharedState,
    listener: TcpListener,
    admission: Arc<Admission>,
}

fn ensure_dir(path: &Path) -> Result<(), GatewayError> {
    pincer_statefile::ensure_private_state_dir(path).map_err(|source| GatewayError::StateDir { path: path.display().to_string(), source })
}

impl Gateway {
    /// Open state, read config and bind the port. Nothing is served until [`Gateway::serve`].
    pub async fn bind(options: GatewayOptions) -> Result<Gateway, GatewayError> {
        ensure_dir(&options.state_dir)?;
        let config = GatewayConfig::load(&options.config_path)?;
        let settings = Settings::resolve(&config, &options.overrides)?;
        let store = Store::open(&options.state_dir.join("pincer.sqlite"))?;
        // Before the first socket: the connection cap is kept below this limit.
        let open_files = crate::listener::raise_open_files_limit();
        let admission = Admission::new(settings.connections.within_open_files(open_files));
        let addr = SocketAddr::new(settings.host, settings.port).to_string();
        let listener = TcpListener::bind(&addr).await.map_err(|source| GatewayError::Bind { addr: addr.clone(), source })?;
        let state = Arc::new(GatewayState {
            options,
            config: RwLock::new(config),
            settings: RwLock::new(settings),
            store,
            hub: Hub::default(),
            nodes: NodeRegistry::default(),
            approvals: ApprovalBroker::default(),
            agents: crate::agent::AgentHost::default(),
            idempotency: IdempotencyCache::default(),
            rate_limiter: RateLimiter::default(),
            started: Instant::now(),
            boot_id: uuid::Uuid::new_v4().to_string(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            shutdown: Default::default(),
        });
        Ok(Gateway { state, listener, admission })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Serve until `stop` resolves, then shut down gracefully.
    pub async fn serve(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), GatewayError> {
        let state = self.state.clone();
        let app = Router::new()
            .route("/", get(root))
            .route("/healthz", get(healthz))
            .route("/health", get(healthz))
            .route("/readyz", get(readyz))
            .route("/ready", get(readyz))
            .route("/startupz", get(startupz))
            .route("/startup", get(startupz))
            .fallback(not_found)
            .with_state(state.clone());

        let ticker = tokio::spawn(tick_loop(state.clone()));
        if let Err(e) = crate::agent::host::recover(&state) {
            tracing::error!(error = %e, "could not recover agent runs left by the previous process");
        }
        let expiry = tokio::spawn(crate::services::node_pairing::expire_node_requests_loop(state.clone()));

        let shutdown_state = state.clone();
        let graceful = async move {
            stop.await;
            shutdown_gracefully(&shutdown_state).await;
        };
        let limits = self.admission.limits();
        tracing::info!(
            addr = ?self.listener.local_addr().ok(),
            max_connections = limits.max_connections,
            max_unauthenticated = limits.max_unauthenticated,
            "gateway listening"
        );
        crate::listener::serve(self.listener, app, self.admission, graceful).await;
        ticker.abort();
        expiry.abort();
        Ok(())
    }
}

/// Broadcast `shutdown`, close every socket with 1012, and give writers a moment to flush.
async fn shutdown_gracefully(state: &GatewayState) {
    tracing::info!("gateway stopping");
    // Executing runs end as aborted (recorded, with their partial answer) rather than being cut
    // off; queued ones stay queued for the next start (the shutdown signal releases them).
    state.shutdown.cancel();
    state.agents.cancel_started();
    let deadline = Instant::now() + Duration::from_secs(2);
    while state.agents.started_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.hub.broadcast(events::SHUTDOWN, &json!({"reason": "gateway stopping"}));
    for conn in state.hub.all() {
        conn.close(close_code::SERVICE_RESTART, "service restart");
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while state.hub.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn tick_loop(state: SharedState) {
    let period = state.settings().tick_interval;
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        state.hub.broadcast(events::TICK, &json!({"ts": now_ms()}));
    }
}

async fn root(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    State(state): State<SharedState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Extension(slot): Extension<ConnectionSlot>,
    headers: HeaderMap,
) -> Response {
    match ws {
        Ok(ws) => {
            let peer = peer_from(addr, &headers, &state.settings().proxy_trust);
            // Protocol frames are small: small buffers instead of tungstenite's 128 KiB each
            // way keep a thousand idle connections from costing a hundred megabytes. The read
            // buffer is also zeroed before every read attempt, including the one each wake-up
            // makes (a broadcast wakes every connection), so its size is CPU on the fan-out
            // path. Larger messages still work; they are read in more chunks.
            ws.max_message_size(pincer_protocol::DEFAULT_MAX_PAYLOAD_BYTES)
                .max_frame_size(pincer_protocol::DEFAULT_MAX_PAYLOAD_BYTES)
                .read_buffer_size(8 * 1024)
                .write_buffer_size(16 * 1024)
                .on_upgrade(move |socket| crate::conn::run(state, crate::transport::WsTransport::new(socket), peer, Some(slot)))
        }
        Err(_) => (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            "Pincer gateway (OpenClaw Gateway Protocol v4). Connect a WebSocket client to this address.\n",
        )
            .into_response(),
    }
}

fn peer_from(addr: SocketAddr, headers: &HeaderMap, proxy_trust: &crate::client_addr::ProxyTrust) -> Peer {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let client = crate::client_addr::resolve(addr.ip(), headers, proxy_trust);
    Peer { addr, client_ip: client.ip, origin: header("origin"), host: header("host"), forwarded: client.via_proxy }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"ok": true, "status": "live"}))
}

async fn readyz(State(state): State<SharedState>) -> Json<serde_json::Value> {
    Json(json!({"ready": true, "failing": [], "uptimeMs": state.uptime_ms()}))
}

async fn startupz() -> Json<serde_json::Value> {
    Json(json!({"ok": true, "status": "started"}))
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::NOT_FOUND, Json(json!({"ok": false, "error": "not found"})))
}
