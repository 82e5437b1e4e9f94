//! The in-memory transport: a client in the same process (the desktop app's own node host,
//! its shell, UI-less clients, tests) talks to the gateway over a pair of channels that carry
//! the same frames a WebSocket would, through the same connection code ([`crate::conn::run`]):
//! challenge, `connect` with its auth, the method table, events and close codes are identical.
//!
//! [`connect`] returns the client's end, a [`Stream`] + [`Sink`] of tungstenite messages, which
//! is what `pincer_client::GatewayClient::connect_over` takes; [`register`] makes the gateway
//! reachable at a `memory://<name>` URL for every `pincer-client` user in the process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use pincer_client::in_process::Registration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_util::sync::PollSender;

use crate::handshake::Peer;
use crate::state::SharedState;
use crate::transport::{CloseFrame, Inbound, Message, Utf8Bytes};

/// Frames buffered each way before a writer waits: the outbound side must push back like a
/// socket does, so a client that stops reading is found slow by the same rules.
const CHANNEL_FRAMES: usize = 64;

/// The address an in-memory connection reports (it is on this machine, and no proxy is in
/// between).
pub const IN_MEMORY_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Open an in-memory connection to the gateway behind `state`: the connection is served by a
/// task of its own, and the returned end speaks to it.
pub fn connect(state: &SharedState) -> InMemoryClient {
    let (to_gateway, from_client) = mpsc::channel(CHANNEL_FRAMES);
    let (to_client, from_gateway) = mpsc::channel(CHANNEL_FRAMES);
    let server = ServerEnd { inbound: from_client, outbound: PollSender::new(to_client) };
    let peer = Peer { addr: IN_MEMORY_ADDR, client_ip: IN_MEMORY_ADDR.ip(), origin: None, host: None, forwarded: false };
    tokio::spawn(crate::conn::run(state.clone(), server, peer, None));
    InMemoryClient { outbound: PollSender::new(to_gateway), inbound: from_gateway, close_sent: None }
}

/// Serve `state` at `memory://<name>` (see `pincer_client::in_process`) until the returned
/// registration is dropped.
pub fn register(state: &SharedState, name: &str) -> Registration {
    let state = state.clone();
    pincer_client::in_process::register(name, move || connect(&state))
}

/// The gateway's end of an in-memory connection.
struct ServerEnd {
    inbound: mpsc::Receiver<Inbound>,
    outbound: PollSender<Message>,
}

impl Stream for ServerEnd {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        self.inbound.poll_recv(cx)
    }
}

fn gone<T>(_: T) -> axum::Error {
    axum::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
}

impl Sink<Message> for ServerEnd {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        self.outbound.poll_reserve(cx).map_err(gone)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), axum::Error> {
        self.outbound.send_item(item).map_err(gone)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        self.outbound.close();
        Poll::Ready(Ok(()))
    }
}

/// The client's end of an in-memory connection: send tungstenite messages, read the
/// gateway's. The stream ends when the gateway closes the connection; dropping this end is
/// the client going away.
pub struct InMemoryClient {
    outbound: PollSender<Inbound>,
    inbound: mpsc::Receiver<Message>,
    /// The close frame this end sent, until it is echoed: a WebSocket peer answers a close
    /// with a close, and clients wait for that answer.
    close_sent: Option<Option<tungstenite::protocol::CloseFrame>>,
}

impl InMemoryClient {
    /// What the gateway reads for a message the client sends; a text over the payload limit
    /// is refused as a WebSocket read of it would be.
    fn inbound_of(message: tungstenite::Message) -> Inbound {
        match message {
            tungstenite::Message::Text(text) if text.len() > pincer_protocol::DEFAULT_MAX_PAYLOAD_BYTES => Inbound::TooBig,
            tungstenite::Message::Text(text) => Inbound::Text(Utf8Bytes::from(text.as_str())),
            tungstenite::Message::Binary(_) => Inbound::Binary,
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) | tungstenite::Message::Frame(_) => Inbound::Control,
            tungstenite::Message::Close(_) => Inbound::Closed,
        }
    }

    fn message_of(message: Message) -> tungstenite::Message {
        match message {
            Message::Text(text) => tungstenite::Message::text(text.as_str()),
            Message::Binary(bytes) => tungstenite::Message::Binary(bytes),
            Message::Ping(bytes) => tungstenite::Message::Ping(bytes),
            Message::Pong(bytes) => tungstenite::Message::Pong(bytes),
            Message::Close(frame) => tungstenite::Message::Close(frame.map(|CloseFrame { code, reason }| {
                tungstenite::protocol::CloseFrame { code: code.into(), reason: reason.as_str().into() }
            })),
        }
    }
}

impl Stream for InMemoryClient {
    type Item = Result<tungstenite::Message, tungstenite::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inbound.poll_recv(cx) {
            Poll::Ready(Some(message)) => Poll::Ready(Some(Ok(InMemoryClient::message_of(message)))),
            Poll::Ready(None) => Poll::Ready(self.close_sent.take().map(|frame| Ok(tungstenite::Message::Close(frame)))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Sink<tungstenite::Message> for InMemoryClient {
    type Error = tungstenite::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), tungstenite::Error>> {
        self.outbound.poll_reserve(cx).map_err(|_| tungstenite::Error::ConnectionClosed)
    }

    fn start_send(mut self: Pin<&mut Self>, item: tungstenite::Message) -> Result<(), tungstenite::Error> {
        if let tungstenite::Message::Close(frame) = &item {
            self.close_sent = Some(frame.clone());
        }
        let inbound = InMemoryClient::inbound_of(item);
        self.outbound.send_item(inbound).map_err(|_| tungstenite::Error::ConnectionClosed)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), tungstenite::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), tungstenite::Error>> {
        self.outbound.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pincer_client::{ConnectOptions, Frame, GatewayClient, Incoming, RawSocket};
    use pincer_protocol::close_code;
    use pincer_protocol::scopes::{ADMIN, READ};
    use serde_json::json;

    use super::*;
    use crate::{Gateway, GatewayOptions, Overrides};

    const TOKEN: &str = "in-memory-test-token-0123456789";
    const WAIT: Duration = Duration::from_secs(5);

    /// A gateway's state (its port is bound but not served: everything here goes in-memory).
    async fn gateway() -> (SharedState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let options = GatewayOptions {
            state_dir: dir.path().to_path_buf(),
            config_path: dir.path().join("pincer.json"),
            overrides: Overrides { port: Some(0), bind: None, token: Some(TOKEN.into()), password: None },
            log_file: None,
        };
        let gateway = Gateway::bind(options).await.unwrap();
        (gateway.state(), dir)
    }

    fn operator(scopes: &[&str]) -> ConnectOptions {
        ConnectOptions::operator("memory://unit", TOKEN, scopes).with_request_timeout(WAIT)
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn the_handshake_and_requests_run_over_the_in_memory_transport() {
        let (state, _dir) = gateway().await;
        let (client, hello) = GatewayClient::connect_over(operator(&[READ]), connect(&state)).await.unwrap();
        assert_eq!(hello.kind, "hello-ok");
        assert_eq!(hello.auth.scopes, [READ]);
        assert_eq!(hello.features, crate::router::features());
        assert_eq!(state.hub.count(), 1);
        let health = client.request("health", json!({})).await.unwrap();
        assert_eq!(health["ok"], true);
        // The table's authorization applies here as over a socket.
        let refused = client.request("config.get", json!({})).await.unwrap_err();
        assert_eq!(refused.error_shape().map(|e| e.message.as_str()), Some("missing scope: operator.admin"));
        drop(client);
        wait_until("the connection left the hub", || state.hub.count() == 0).await;
    }

    #[tokio::test]
    async fn the_challenge_comes_first_and_a_request_before_connect_is_refused_with_a_close() {
        let (state, _dir) = gateway().await;
        let mut raw = RawSocket::over(connect(&state));
        let challenge = raw.expect_challenge(WAIT).await.unwrap();
        assert!(!challenge.nonce.is_empty());
        let id = raw.send_request("health", json!({})).await.unwrap();
        let res = raw.expect_response(&id, WAIT).await.unwrap();
        let message = "invalid handshake: first request must be connect";
        assert_eq!(res.error.map(|e| e.message), Some(message.to_string()));
        assert_eq!(raw.expect_close(WAIT).await.unwrap(), (close_code::POLICY_VIOLATION, message.to_string()));
    }

    #[tokio::test]
    async fn an_oversized_frame_before_connect_closes_1009() {
        let (state, _dir) = gateway().await;
        let mut raw = RawSocket::over(connect(&state));
        raw.expect_challenge(WAIT).await.unwrap();
        raw.send_text("x".repeat(pincer_protocol::PREAUTH_MAX_PAYLOAD_BYTES + 1)).await.unwrap();
        assert_eq!(raw.expect_close(WAIT).await.unwrap(), (close_code::MESSAGE_TOO_BIG, "preauth payload too large".to_string()));
    }

    #[tokio::test]
    async fn a_binary_frame_after_connect_is_answered_as_an_invalid_frame() {
        let (state, _dir) = gateway().await;
        let mut raw = RawSocket::over(connect(&state));
        let res = raw.handshake(&operator(&[READ])).await.unwrap();
        assert!(res.ok, "{res:?}");
        raw.send_binary(vec![1, 2, 3]).await.unwrap();
        match raw.next_frame(WAIT).await.unwrap() {
            Incoming::Frame(Frame::Res(res)) => {
                assert_eq!(res.id, "invalid");
                assert_eq!(res.error.map(|e| e.message), Some("invalid request frame: binary frames are not supported".to_string()));
            }
            other => panic!("expected the invalid-frame response, got {other:?}"),
        }
        // The client's close is answered with a close, as a WebSocket peer does.
        assert_eq!(raw.close(close_code::NORMAL, "bye").await.unwrap(), (close_code::NORMAL, "bye".to_string()));
        wait_until("the connection left the hub", || state.hub.count() == 0).await;
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_dropped_as_a_slow_consumer() {
        let (state, _dir) = gateway().await;
        let mut raw = RawSocket::over(connect(&state));
        assert!(raw.handshake(&operator(&[ADMIN])).await.unwrap().ok);
        // Nothing is read from here on: the channel fills, the writer waits, the queue grows
        // past maxBufferedBytes (50 MiB) and the connection is dropped.
        let conn = state.hub.all().pop().unwrap();
        let chunk = "y".repeat(1 << 20);
        for _ in 0..80 {
            state.hub.broadcast("health", &json!({"filler": chunk}));
            if conn.dropped_as_slow() {
                break;
            }
        }
        assert!(conn.dropped_as_slow(), "60+ MiB queued and the connection was not dropped");
        // What it reads now is what the channel held, then the slow-consumer close.
        assert_eq!(raw.expect_close(WAIT).await.unwrap(), (close_code::POLICY_VIOLATION, "slow consumer".to_string()));
        wait_until("the connection left the hub", || state.hub.count() == 0).await;
    }

    #[tokio::test]
    async fn a_detached_request_keeps_its_id_until_answered_or_cancelled() {
        let (state, _dir) = gateway().await;
        let mut raw = RawSocket::over(connect(&state));
        assert!(raw.handshake(&operator(&[ADMIN])).await.unwrap().ok);
        // No approval client is connected and none is required: the request waits (detached).
        let ask = json!({"id": "held", "command": "ls", "requireDeliveryRoute": false, "timeoutMs": 60_000});
        let waiting = json!({"type": "req", "id": "same", "method": "exec.approval.request", "params": ask});
        raw.send_json(&waiting).await.unwrap();
        // The connection keeps serving while it waits.
        let id = raw.send_request("health", json!({})).await.unwrap();
        assert!(raw.expect_response(&id, WAIT).await.unwrap().ok);
        // A second request under the same id is refused: its answer would be ambiguous.
        let again = json!({"type": "req", "id": "same", "method": "exec.approval.waitDecision", "params": {"id": "held"}});
        raw.send_json(&again).await.unwrap();
        let refused = raw.expect_response("same", WAIT).await.unwrap();
        assert_eq!(
            refused.error.map(|e| e.message),
            Some("request id same is still in use by an unanswered request; use a new id".to_string())
        );
        // A cancel frees the id: the same id is served again (and answered: the approval is
        // still pending, so resolving it answers the new wait).
        raw.send_json(&json!({"type": "cancel", "id": "same"})).await.unwrap();
        raw.send_json(&again).await.unwrap();
        let id = raw.send_request("exec.approval.resolve", json!({"id": "held", "decision": "deny"})).await.unwrap();
        assert!(raw.expect_response(&id, WAIT).await.unwrap().ok);
        let decided = raw.expect_response("same", WAIT).await.unwrap();
        assert_eq!(decided.payload.map(|p| p["decision"].clone()), Some(json!("deny")));
    }
}
