//! A scripted gateway: a bare WebSocket server whose test code plays the gateway's side of
//! each frame, for node-host tests that need what a real gateway never does (garbage frames,
//! a protocol mismatch, silence, vanishing mid-invoke).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::SupportError;

fn other(msg: impl Into<String>) -> SupportError {
    SupportError::Other(msg.into())
}

pub struct FakeGateway {
    listener: TcpListener,
}

impl FakeGateway {
    pub async fn bind() -> Result<FakeGateway, SupportError> {
        Ok(FakeGateway { listener: TcpListener::bind("127.0.0.1:0").await? })
    }

    pub fn url(&self) -> Result<String, SupportError> {
        let addr: SocketAddr = self.listener.local_addr()?;
        Ok(format!("ws://{addr}"))
    }

    /// The next client connection, upgraded.
    pub async fn accept(&self, timeout: Duration) -> Result<FakeConn, SupportError> {
        let (tcp, _) = tokio::time::timeout(timeout, self.listener.accept()).await.map_err(|_| other("no client connected"))??;
        let ws = tokio_tungstenite::accept_async(tcp).await.map_err(|e| other(format!("upgrade: {e}")))?;
        Ok(FakeConn { ws })
    }

    /// Accept, challenge, read `connect`, answer `hello-ok`: a connection ready for invokes.
    /// Returns the connection and the client's `connect` params.
    pub async fn accept_node(&self, tick_interval_ms: u64, timeout: Duration) -> Result<(FakeConn, Value), SupportError> {
        let mut conn = self.accept(timeout).await?;
        conn.send_challenge().await?;
        let connect = conn.recv_request("connect", timeout).await?;
        conn.reply_hello(&connect, tick_interval_ms).await?;
        Ok((conn, connect["params"].clone()))
    }
}

pub struct FakeConn {
    ws: WebSocketStream<TcpStream>,
}

impl FakeConn {
    pub async fn send_json(&mut self, frame: Value) -> Result<(), SupportError> {
        self.send_text(&frame.to_string()).await
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), SupportError> {
        self.ws.send(Message::text(text.to_string())).await.map_err(|e| other(format!("send: {e}")))
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), SupportError> {
        self.ws.send(Message::binary(bytes)).await.map_err(|e| other(format!("send: {e}")))
    }

    pub async fn send_event(&mut self, event: &str, payload: Value) -> Result<(), SupportError> {
        self.send_json(json!({"type": "event", "event": event, "payload": payload})).await
    }

    pub async fn send_challenge(&mut self) -> Result<(), SupportError> {
        self.send_event("connect.challenge", json!({"nonce": uuid::Uuid::new_v4().to_string(), "ts": pincer_protocol::now_ms()})).await
    }

    /// A minimal but complete `hello-ok` for a node.
    pub async fn reply_hello(&mut self, connect: &Value, tick_interval_ms: u64) -> Result<(), SupportError> {
        let protocol = connect["params"]["maxProtocol"].as_u64().unwrap_or(4);
        let payload = json!({
            "type": "hello-ok", "protocol": protocol,
            "server": {"version": "fake", "connId": uuid::Uuid::new_v4().to_string()},
            "features": {"methods": ["node.invoke.result", "node.event"], "events": ["node.invoke.request", "tick"]},
            "snapshot": {"presence": [], "health": {}, "stateVersion": {"presence": 0, "health": 0}, "uptimeMs": 1},
            "auth": {"role": "node", "scopes": [], "deviceToken": "fake-device-token"},
            "policy": {"maxPayload": 26214400, "maxBufferedBytes": 52428800, "tickIntervalMs": tick_interval_ms},
        });
        self.send_json(json!({"type": "res", "id": connect["id"], "ok": true, "payload": payload})).await
    }

    pub async fn reply_error(&mut self, request: &Value, error: Value) -> Result<(), SupportError> {
        self.send_json(json!({"type": "res", "id": request["id"], "ok": false, "error": error})).await
    }

    pub async fn reply_ok(&mut self, request: &Value, payload: Value) -> Result<(), SupportError> {
        self.send_json(json!({"type": "res", "id": request["id"], "ok": true, "payload": payload})).await
    }

    /// The next text frame as JSON (pings are answered by tungstenite itself).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Value, SupportError> {
        let next = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        return serde_json::from_str(t.as_str()).map_err(|e| other(format!("client sent bad JSON: {e}")))
                    }
                    Some(Ok(Message::Close(c))) => return Err(other(format!("client closed: {c:?}"))),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(other(format!("recv: {e}"))),
                    None => return Err(other("connection ended")),
                }
            }
        };
        tokio::time::timeout(timeout, next).await.map_err(|_| other("nothing received in time"))?
    }

    /// The next request for `method`, answering other requests (node.event, …) with `{ok:true}`.
    pub async fn recv_request(&mut self, method: &str, timeout: Duration) -> Result<Value, SupportError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = self.recv(left).await?;
            if frame["type"] == "req" && frame["method"] == method {
                return Ok(frame);
            }
            if frame["type"] == "req" {
                self.reply_ok(&frame, json!({"ok": true})).await?;
            }
        }
    }

    /// Wait for the client's close frame; its code.
    pub async fn wait_close(&mut self, timeout: Duration) -> Result<u16, SupportError> {
        let next = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(c))) => return Ok(c.map(|f| u16::from(f.code)).unwrap_or(1005)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(other(format!("recv: {e}"))),
                    None => return Ok(1006),
                }
            }
        };
        tokio::time::timeout(timeout, next).await.map_err(|_| other("client did not close in time"))?
    }

    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), SupportError> {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
        self.ws.close(Some(frame)).await.map_err(|e| other(format!("close: {e}")))
    }
}
