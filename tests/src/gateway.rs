//! An in-process `pincer-gateway` on a free loopback port with its own state dir, for tests
//! that drive it with `pincer-client` over real sockets or over the in-memory transport.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pincer_client::in_process::Registration;
use pincer_client::{ConnectOptions, GatewayClient};
use pincer_gateway::state::SharedState;
use pincer_gateway::{Gateway, GatewayOptions, Overrides};
use pincer_protocol::connect::HelloOk;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::state::TempState;
use crate::SupportError;

pub const TEST_TOKEN: &str = "test-token-0123456789";

/// A running in-process gateway. Dropping it stops the server.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub token: String,
    pub state: SharedState,
    pub state_dir: TempState,
    /// Set when clients reach this gateway over the in-memory transport.
    in_memory: Option<Registration>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), pincer_gateway::GatewayError>>>,
}

/// What [`TestGateway::url`] leads clients over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket to the gateway's loopback port.
    #[default]
    WebSocket,
    /// The in-memory transport (`memory://` URL): the same frames, in-process.
    InMemory,
}

/// How to start a [`TestGateway`].
#[derive(Debug, Clone, Default)]
pub struct TestGatewayOptions {
    /// JSON5 config file contents (OpenClaw key names); `None` = no config file.
    pub config: Option<Value>,
    /// Use password auth with this password instead of the test token.
    pub password: Option<String>,
    /// Reuse an existing state directory (to test restarts); otherwise a fresh one.
    pub state_dir: Option<PathBuf>,
    /// How clients reach it through [`TestGateway::url`].
    pub transport: Transport,
}

impl TestGateway {
    pub async fn start() -> Result<TestGateway, SupportError> {
        TestGateway::start_with(TestGatewayOptions::default()).await
    }

    pub async fn start_with(opts: TestGatewayOptions) -> Result<TestGateway, SupportError> {
        let state_dir = TempState::new("gw")?;
        let dir = opts.state_dir.clone().unwrap_or_else(|| state_dir.path().to_path_buf());
        let config_path = dir.join("pincer.json");
        std::fs::create_dir_all(&dir)?;
        if let Some(config) = &opts.config {
            std::fs::write(&config_path, serde_json::to_string_pretty(config).unwrap_or_default())?;
        }
        let (token, password) = match &opts.password {
            Some(p) => (None, Some(p.clone())),
            None => (Some(TEST_TOKEN.to_string()), None),
        };
        let options = GatewayOptions {
            state_dir: dir.clone(),
            config_path,
            overrides: Overrides { port: Some(0), bind: None, token: token.clone(), password },
            log_file: None,
        };
        let gateway = Gateway::bind(options).await.map_err(|e| SupportError::Other(e.to_string()))?;
        let addr = gateway.local_addr().ok_or_else(|| SupportError::Other("no local address".into()))?;
        let state = gateway.state();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.serve(async move {
            let _ = rx.await;
        }));
        let in_memory = match opts.transport {
            Transport::WebSocket => None,
            Transport::InMemory => Some(pincer_gateway::in_memory::register(&state, &format!("test-gw-{}", uuid::Uuid::new_v4()))),
        };
        Ok(TestGateway { addr, token: token.unwrap_or_default(), state, state_dir, in_memory, stop: Some(tx), task: Some(task) })
    }

    /// Where clients connect: `ws://` on the loopback port, or the gateway's `memory://` name.
    pub fn url(&self) -> String {
        match &self.in_memory {
            Some(registration) => registration.url(),
            None => self.ws_url(),
        }
    }

    /// The WebSocket URL, whatever [`TestGateway::url`] leads to.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connect options for a token-only operator (`cli`/`cli`) with the given scopes.
    pub fn operator_opts(&self, scopes: &[&str]) -> ConnectOptions {
        let mut o = ConnectOptions::operator(self.url(), self.token.clone(), scopes);
        o.request_timeout = Duration::from_secs(15);
        o
    }

    /// Connect a token-only operator.
    pub async fn operator(&self, scopes: &[&str]) -> Result<(GatewayClient, HelloOk), SupportError> {
        Ok(GatewayClient::connect(self.operator_opts(scopes)).await?)
    }

    /// An admin operator with every scope.
    pub async fn admin(&self) -> Result<GatewayClient, SupportError> {
        use pincer_protocol::scopes::*;
        Ok(self.operator(&[ADMIN, READ, WRITE, APPROVALS, PAIRING]).await?.0)
    }

    /// Stop the server gracefully and wait for it.
    pub async fn stop(mut self) -> Result<(), SupportError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(SupportError::Other(e.to_string())),
                Ok(Err(e)) => return Err(SupportError::Other(e.to_string())),
                Err(_) => return Err(SupportError::Other("gateway did not stop within 10 s".into())),
            }
        }
        Ok(())
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
