//! A scripted node for tests and benchmarks: a real `GatewayClient` connected with role
//! `node` and a device identity (platform `linux`, family `Linux`, client `node-host`/`node`,
//! declared commands) whose test code answers `node.invoke.request` events with
//! `node.invoke.result` requests, exactly like a real node host.
//!
//! Two ways to answer:
//! * by hand: [`FakeNode::next_invoke`] then [`FakeNode::reply`] (full control over timing);
//! * automatically: [`FakeNode::serve`] with a handler returning a [`Reply`] per request.
//!
//! Do not mix both on one node: `serve` takes every `node.invoke.request` from the backlog.

use std::sync::Arc;
use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, DeviceIdentity, EventFrame, GatewayClient, HelloOk};
use pincer_protocol::nodes::NodeInvokeRequest;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::SupportError;

/// What the node answers to one invoke.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `ok:true` with the payload as a `payloadJSON` string (what the OpenClaw node host sends).
    Ok(Value),
    /// `ok:true` with an inline `payload` object.
    OkInline(Value),
    /// `ok:false, error:{code, message}`.
    Error { code: String, message: String },
    /// `ok:true` with this exact `payloadJSON` text (e.g. malformed JSON).
    RawPayloadJson(String),
    /// Send these `node.invoke.result` params verbatim.
    Raw(Value),
    /// Never answer.
    Silent,
    /// Wait, then answer.
    After(Duration, Box<Reply>),
}

impl Reply {
    pub fn error(code: &str, message: &str) -> Reply {
        Reply::Error { code: code.into(), message: message.into() }
    }
}

/// One `node.invoke.request` as the node received it.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub request: NodeInvokeRequest,
    /// The event payload verbatim (for shape assertions).
    pub raw: Value,
}

impl InvokeRequest {
    pub fn id(&self) -> &str {
        &self.request.id
    }

    pub fn command(&self) -> &str {
        &self.request.command
    }

    /// The command params (`paramsJSON` decoded, or v3 `params`); `Null` when absent or bad.
    pub fn params(&self) -> Value {
        self.request.params_value().ok().flatten().unwrap_or(Value::Null)
    }
}

/// How a fake node presents itself.
#[derive(Debug, Clone)]
pub struct FakeNodeSpec {
    pub device: DeviceIdentity,
    pub commands: Vec<String>,
    pub caps: Vec<String>,
    pub display_name: String,
    pub platform: String,
    pub device_family: String,
    /// `(minProtocol, maxProtocol)`; `(3, 3)` makes a legacy v3 node.
    pub protocol: (u32, u32),
}

impl FakeNodeSpec {
    /// A Linux desktop node declaring `commands`, with a fresh device identity.
    pub fn linux(commands: &[&str]) -> FakeNodeSpec {
        FakeNodeSpec {
            device: DeviceIdentity::generate(),
            commands: commands.iter().map(|s| s.to_string()).collect(),
            caps: vec!["system".into()],
            display_name: "fake-node".into(),
            platform: "linux".into(),
            device_family: "Linux".into(),
            protocol: (pincer_protocol::PROTOCOL_VERSION, pincer_protocol::PROTOCOL_VERSION),
        }
    }

    pub fn with_device(mut self, device: DeviceIdentity) -> Self {
        self.device = device;
        self
    }

    pub fn with_name(mut self, name: &str) -> Self {
        self.display_name = name.into();
        self
    }

    pub fn with_commands(mut self, commands: &[&str]) -> Self {
        self.commands = commands.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn node_id(&self) -> String {
        self.device.device_id()
    }

    /// Connect options with only the device identity (add `.with_token` or
    /// `.with_device_token`).
    pub fn connect_options(&self, url: &str) -> ConnectOptions {
        let mut o = ConnectOptions::node(url, self.device.clone())
            .with_caps(&self.caps.iter().map(String::as_str).collect::<Vec<_>>())
            .with_commands(&self.commands.iter().map(String::as_str).collect::<Vec<_>>())
            .with_display_name(self.display_name.clone())
            .with_protocol(self.protocol.0, self.protocol.1)
            .with_request_timeout(Duration::from_secs(15));
        o.platform = self.platform.clone();
        o.device_family = Some(self.device_family.clone());
        o
    }
}

/// A connected fake node.
pub struct FakeNode {
    pub client: GatewayClient,
    pub hello: HelloOk,
    pub spec: FakeNodeSpec,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeNode").field("node_id", &self.node_id()).field("client", &self.client).finish()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        if let Some(task) = self.server.take() {
            task.abort();
        }
    }
}

impl FakeNode {
    /// Connect with the shared gateway token.
    pub async fn connect(url: &str, token: &str, spec: FakeNodeSpec) -> Result<FakeNode, ClientError> {
        FakeNode::connect_with(spec.connect_options(url).with_token(token), spec).await
    }

    /// Connect with explicit options (built from `spec.connect_options`).
    pub async fn connect_with(opts: ConnectOptions, spec: FakeNodeSpec) -> Result<FakeNode, ClientError> {
        let (client, hello) = GatewayClient::connect(opts).await?;
        Ok(FakeNode { client, hello, spec, server: None })
    }

    pub fn node_id(&self) -> String {
        self.spec.node_id()
    }

    /// The device token from `hello-ok`, if one was issued.
    pub fn device_token(&self) -> Option<String> {
        self.hello.auth.device_token.clone()
    }

    /// The next `node.invoke.request` (oldest first).
    pub async fn next_invoke(&self, timeout: Duration) -> Result<InvokeRequest, ClientError> {
        let event = self.client.wait_event("node.invoke.request", timeout).await?;
        parse_invoke(&event)
    }

    /// The next `node.invoke.cancel` payload.
    pub async fn next_cancel(&self, timeout: Duration) -> Result<Value, ClientError> {
        let event = self.client.wait_event("node.invoke.cancel", timeout).await?;
        Ok(event.payload.unwrap_or(Value::Null))
    }

    /// Answer `req` (waits for `node.invoke.result`'s own response; `Silent` sends nothing).
    pub async fn reply(&self, req: &InvokeRequest, reply: Reply) -> Result<Option<Value>, ClientError> {
        send_reply(&self.client, &self.node_id(), req.id(), reply).await
    }

    /// Answer every `node.invoke.request` from now on with `handler` (each answer in its own
    /// task, so slow replies do not hold up others).
    pub fn serve<F>(&mut self, handler: F)
    where
        F: Fn(&InvokeRequest) -> Reply + Send + Sync + 'static,
    {
        if let Some(old) = self.server.take() {
            old.abort();
        }
        let client = self.client.clone();
        let node_id = self.node_id();
        let handler = Arc::new(handler);
        self.server = Some(tokio::spawn(async move {
            loop {
                let event = match client.wait_event("node.invoke.request", Duration::from_secs(3600)).await {
                    Ok(e) => e,
                    Err(ClientError::Timeout { .. }) => continue,
                    Err(_) => return,
                };
                let Ok(req) = parse_invoke(&event) else { continue };
                let reply = handler(&req);
                let client = client.clone();
                let node_id = node_id.clone();
                tokio::spawn(async move {
                    if let Err(e) = send_reply(&client, &node_id, req.id(), reply).await {
                        tracing::debug!(error = %e, "fake node reply failed");
                    }
                });
            }
        }));
    }

    /// Stop answering (the socket stays open).
    pub fn stop_serving(&mut self) {
        if let Some(task) = self.server.take() {
            task.abort();
        }
    }
}

// Same error type as the client's own API; errors are the rare path.
#[allow(clippy::result_large_err)]
fn parse_invoke(event: &EventFrame) -> Result<InvokeRequest, ClientError> {
    let raw = event.payload.clone().unwrap_or(Value::Null);
    let request: NodeInvokeRequest =
        serde_json::from_value(raw.clone()).map_err(|e| ClientError::Protocol(format!("bad node.invoke.request payload: {e}: {raw}")))?;
    Ok(InvokeRequest { request, raw })
}

fn send_reply<'a>(
    client: &'a GatewayClient,
    node_id: &'a str,
    invoke_id: &'a str,
    reply: Reply,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<Value>, ClientError>> + Send + 'a>> {
    Box::pin(async move {
        let params = match reply {
            Reply::Silent => return Ok(None),
            Reply::After(delay, inner) => {
                tokio::time::sleep(delay).await;
                return send_reply(client, node_id, invoke_id, *inner).await;
            }
            Reply::Ok(payload) => json!({"id": invoke_id, "nodeId": node_id, "ok": true, "payloadJSON": payload.to_string()}),
            Reply::OkInline(payload) => json!({"id": invoke_id, "nodeId": node_id, "ok": true, "payload": payload}),
            Reply::RawPayloadJson(text) => json!({"id": invoke_id, "nodeId": node_id, "ok": true, "payloadJSON": text}),
            Reply::Error { code, message } => {
                json!({"id": invoke_id, "nodeId": node_id, "ok": false, "error": {"code": code, "message": message}})
            }
            Reply::Raw(params) => params,
        };
        client.request("node.invoke.result", params).await.map(Some)
    })
}

/// A handler that behaves like a Linux node host for the simple commands: `system.which`
/// answers `/usr/bin/<bin>` for each requested bin, `system.notify` acks, anything else
/// echoes its params back as `{"command", "params"}`.
pub fn standard_reply(req: &InvokeRequest) -> Reply {
    let params = req.params();
    match req.command() {
        "system.which" => {
            let mut bins = serde_json::Map::new();
            for bin in params.get("bins").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = bin.as_str() {
                    bins.insert(name.into(), json!(format!("/usr/bin/{name}")));
                }
            }
            Reply::Ok(json!({"bins": bins}))
        }
        "system.notify" => Reply::Ok(json!({"sent": true})),
        other => Reply::Ok(json!({"command": other, "params": params})),
    }
}

/// Approve the newest pending `node.pair` request of `node_id` with `approver` (needs
/// `operator.pairing` plus whatever the request's `requiredApproveScopes` list).
pub async fn approve_node(approver: &GatewayClient, node_id: &str, timeout: Duration) -> Result<Value, SupportError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let list = approver.request("node.pair.list", json!({})).await?;
        let request_id = list["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|p| p["nodeId"] == node_id)
            .and_then(|p| p["requestId"].as_str())
            .map(str::to_string);
        if let Some(request_id) = request_id {
            return Ok(approver.request("node.pair.approve", json!({"requestId": request_id})).await?);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SupportError::Timeout { what: format!("a node.pair request of {node_id}"), secs: timeout.as_secs_f64() });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connect a node on a gateway that pairs loopback devices silently (the default config)
/// and approve its command surface with `admin` (an operator with pairing + admin), so its
/// commands are invokable.
pub async fn connect_approved(url: &str, token: &str, admin: &GatewayClient, spec: FakeNodeSpec) -> Result<FakeNode, SupportError> {
    let node = FakeNode::connect(url, token, spec).await?;
    if !node.spec.commands.is_empty() {
        approve_node(admin, &node.node_id(), Duration::from_secs(10)).await?;
    }
    Ok(node)
}
