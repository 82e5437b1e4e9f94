//! A scriptable one-connection WebSocket server standing in for a gateway.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderMap;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type ServerWs = WebSocketStream<TcpStream>;

/// Accept one connection on a fresh loopback port and run `script` on it. Returns the
/// `ws://` URL and the script's join handle (a panicking assertion fails the join).
pub async fn serve_one<F, Fut, T>(script: F) -> (String, JoinHandle<T>)
where
    F: FnOnce(ServerWs, HeaderMap) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let headers = Arc::new(Mutex::new(HeaderMap::new()));
        let seen = Arc::clone(&headers);
        let ws = tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, res: Response| {
            *seen.lock().unwrap() = req.headers().clone();
            Ok(res)
        })
        .await
        .unwrap();
        let headers = headers.lock().unwrap().clone();
        script(ws, headers).await
    });
    (url, handle)
}

pub async fn send(ws: &mut ServerWs, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Next text frame as JSON; panics on close so a script notices the client went away.
pub async fn recv(ws: &mut ServerWs) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Close(f))) => panic!("client closed: {f:?}"),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

pub async fn close(ws: &mut ServerWs, code: u16, reason: &str) {
    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
    let _ = ws.send(Message::Close(Some(frame))).await;
    // Drain until the client's close reply so the close handshake completes.
    while let Some(Ok(m)) = ws.next().await {
        if matches!(m, Message::Close(_)) {
            break;
        }
    }
}

pub const NONCE: &str = "b1f3c0de-nonce";
pub const TS: i64 = 1_795_263_991_240;

pub async fn send_challenge(ws: &mut ServerWs) {
    send(
        ws,
        json!({"type":"event","event":"connect.challenge","payload":{"nonce":NONCE,"ts":TS,"capabilities":["model-catalog-snapshot"]}}),
    )
    .await;
}

/// The real OpenClaw 2026.9.6 hello-ok payload (captured fixture), with our conn id.
pub fn hello_ok(conn_id: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/fixtures/openclaw/04-hello-ok.operator-cli.json");
    let frame: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut payload = frame["payload"].clone();
    payload["server"]["connId"] = json!(conn_id);
    payload
}

/// Challenge, read `connect`, answer hello-ok; returns the connect request.
pub async fn accept_connect(ws: &mut ServerWs) -> Value {
    send_challenge(ws).await;
    let req = recv(ws).await;
    assert_eq!(req["type"], "req");
    assert_eq!(req["method"], "connect");
    send(ws, json!({"type":"res","id":req["id"],"ok":true,"payload":hello_ok("conn-1")})).await;
    req
}
