//! The handshake on a fresh socket: challenge → connect → hello-ok (or a rejection and the
//! close that follows it).

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use pincer_protocol::connect::{ConnectChallenge, HelloOk};
use pincer_protocol::frames::RequestFrame;
use pincer_protocol::{EventFrame, Frame, ResponseFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::error::ClientError;
use crate::options::ConnectOptions;
use crate::raw::{next_incoming, Incoming};
use crate::transport::{self, WsStream};

/// Where the handshake spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeTimings {
    /// TCP connect + (TLS) + HTTP upgrade.
    pub open: Duration,
    /// Socket open → `connect.challenge` received.
    pub challenge: Duration,
    /// `connect` sent → `hello-ok` received.
    pub hello: Duration,
}

impl HandshakeTimings {
    pub fn total(&self) -> Duration {
        self.open + self.challenge + self.hello
    }
}

pub(crate) struct Handshake {
    pub ws: WsStream,
    pub hello: HelloOk,
    pub challenge: ConnectChallenge,
    pub timings: HandshakeTimings,
    /// Events that arrived before `hello-ok` (servers should send none, but keep them).
    pub early_events: Vec<EventFrame>,
    pub id_suffix: String,
}

pub(crate) async fn run(opts: &ConnectOptions) -> Result<Handshake, ClientError> {
    let started = Instant::now();
    let ws =
        transport::open(&opts.url, &opts.headers, opts.max_message_bytes, opts.connect_timeout, opts.tls_fingerprint.as_deref()).await?;
    run_over(opts, ws, started.elapsed()).await
}

/// The handshake over an already open transport; `open` is what opening it took.
pub(crate) async fn run_over(opts: &ConnectOptions, mut ws: WsStream, open: Duration) -> Result<Handshake, ClientError> {
    let mut early_events = Vec::new();
    let opened = Instant::now();
    let challenge = tokio::time::timeout(opts.challenge_timeout, wait_challenge(&mut ws, &mut early_events))
        .await
        .map_err(|_| ClientError::ChallengeMissing)??;
    let challenge_elapsed = opened.elapsed();

    let id_suffix = uuid::Uuid::new_v4().to_string();
    let id = format!("1:{id_suffix}");
    let params = serde_json::to_value(opts.connect_params(&challenge))
        .map_err(|e| ClientError::Protocol(format!("cannot encode connect params: {e}")))?;
    let frame = Frame::Req(RequestFrame::new(id.clone(), "connect", params));
    let sent = Instant::now();
    ws.send(Message::text(frame.to_json())).await?;
    let res = tokio::time::timeout(opts.request_timeout, wait_response(&mut ws, &id, &mut early_events))
        .await
        .map_err(|_| ClientError::timeout("connect response"))??;
    let hello_elapsed = sent.elapsed();

    if !res.ok {
        let error = res.error.unwrap_or_else(|| pincer_protocol::ErrorShape::invalid_request("connect failed"));
        let close = wait_close(&mut ws, opts.reject_close_grace).await;
        tracing::debug!(%error, ?close, "connect rejected");
        return Err(ClientError::Rejected { error, close });
    }
    let payload = res.payload.ok_or_else(|| ClientError::Protocol("connect ok without payload".into()))?;
    let hello: HelloOk = serde_json::from_value(payload).map_err(|e| ClientError::Protocol(format!("invalid hello-ok: {e}")))?;
    if hello.kind != "hello-ok" {
        return Err(ClientError::Protocol(format!("connect payload type is {:?}, not hello-ok", hello.kind)));
    }
    let timings = HandshakeTimings { open, challenge: challenge_elapsed, hello: hello_elapsed };
    Ok(Handshake { ws, hello, challenge, timings, early_events, id_suffix })
}

/// Read until `connect.challenge`; keep other events, fail if the socket closes first.
pub(crate) async fn wait_challenge(ws: &mut WsStream, early: &mut Vec<EventFrame>) -> Result<ConnectChallenge, ClientError> {
    loop {
        match next_incoming(ws).await? {
            Incoming::Frame(Frame::Event(event)) if event.event == "connect.challenge" => {
                let payload = event.payload.unwrap_or_default();
                return serde_json::from_value(payload).map_err(|e| ClientError::Protocol(format!("invalid connect.challenge: {e}")));
            }
            Incoming::Frame(Frame::Event(event)) => early.push(event),
            Incoming::Close(code, reason) => return Err(ClientError::Closed { code, reason }),
            other => tracing::warn!(?other, "unexpected frame before connect.challenge"),
        }
    }
}

/// Read until the `res` with `id`; keep events, fail if the socket closes first.
pub(crate) async fn wait_response(ws: &mut WsStream, id: &str, early: &mut Vec<EventFrame>) -> Result<ResponseFrame, ClientError> {
    loop {
        match next_incoming(ws).await? {
            Incoming::Frame(Frame::Res(res)) if res.id == id => return Ok(res),
            Incoming::Frame(Frame::Event(event)) => early.push(event),
            Incoming::Close(code, reason) => return Err(ClientError::Closed { code, reason }),
            other => tracing::warn!(?other, "unexpected frame while waiting for the connect response"),
        }
    }
}

/// After a rejection the server closes; collect its code and reason, or `None` if it does
/// not close within `grace`.
pub(crate) async fn wait_close(ws: &mut WsStream, grace: Duration) -> Option<(u16, String)> {
    let read = async {
        loop {
            match next_incoming(ws).await {
                Ok(Incoming::Close(code, reason)) => {
                    // tungstenite queued the close reply; send it so the server sees a clean
                    // close handshake instead of a reset (1006 in its logs).
                    let _ = ws.flush().await;
                    return Some((code, reason));
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    };
    tokio::time::timeout(grace, read).await.ok().flatten()
}
