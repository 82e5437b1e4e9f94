//! `GatewayClient`: one authenticated connection with concurrent requests and events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use pincer_protocol::connect::{ConnectChallenge, HelloOk};
use pincer_protocol::error::ErrorCode;
use pincer_protocol::frames::RequestFrame;
use pincer_protocol::{ErrorShape, EventFrame, Frame, ResponseFrame};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{ClientError, ABNORMAL_CLOSE};
use crate::events::{EventHub, ReceivedEvent, SeqStats};
use crate::handshake::{self, HandshakeTimings};
use crate::options::ConnectOptions;
use crate::transport::{ClientTransport, WsStream};

/// Close code reported when the server's close frame carried no status (RFC 6455).
const NO_STATUS_CLOSE: u16 = 1005;

type Pending = Mutex<HashMap<String, Waiter>>;

/// Who waits for the responses to one request id.
struct Waiter {
    tx: mpsc::UnboundedSender<ResponseFrame>,
    /// Keep waiting past `{status:"accepted"}` acks (methods such as `agent` answer twice).
    expect_final: bool,
}

/// An ok response whose payload says the work was only accepted, a final answer follows.
fn is_accepted_ack(res: &ResponseFrame) -> bool {
    res.ok && res.payload.as_ref().and_then(|p| p.get("status")).and_then(Value::as_str) == Some("accepted")
}

/// State shared by the client handles and the reader task.
struct Shared {
    sink: tokio::sync::Mutex<SplitSink<WsStream, Message>>,
    pending: Pending,
    events: EventHub,
    close: watch::Sender<Option<(u16, String)>>,
    next_id: AtomicU64,
    /// Per-connection id suffix: ids look like the official client's `<n>:<uuid>`.
    id_suffix: String,
}

/// Owned by the client handles only (not the reader), so dropping the last handle stops
/// the reader task, which drops the socket.
struct Inner {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    hello: HelloOk,
    challenge: ConnectChallenge,
    timings: HandshakeTimings,
    request_timeout: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
        // Say goodbye with a normal close (1000) so the server does not log an abnormal
        // disconnect. Needs a runtime; without one the socket is simply dropped.
        if self.shared.close.borrow().is_none() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let shared = Arc::clone(&self.shared);
                runtime.spawn(async move {
                    let mut sink = shared.sink.lock().await;
                    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    let _ = sink.close().await;
                });
            }
        }
    }
}

/// A connected, authenticated gateway client. Cheap to clone; all clones share the
/// connection, which closes when the last one is dropped.
#[derive(Clone)]
pub struct GatewayClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient").field("conn_id", &self.inner.hello.server.conn_id).field("closed", &self.close_info()).finish()
    }
}

impl GatewayClient {
    /// Open the socket, wait for `connect.challenge`, send `connect` and return `hello-ok`.
    pub async fn connect(opts: ConnectOptions) -> Result<(GatewayClient, HelloOk), ClientError> {
        let done = handshake::run(&opts).await?;
        Self::connected(opts, done)
    }

    /// The same over an already open transport (the gateway's in-memory transport, say):
    /// `opts.url` and the socket options are not used, everything else is.
    pub async fn connect_over(
        opts: ConnectOptions,
        transport: impl ClientTransport + 'static,
    ) -> Result<(GatewayClient, HelloOk), ClientError> {
        let done = handshake::run_over(&opts, Box::new(transport), Duration::ZERO).await?;
        Self::connected(opts, done)
    }

    fn connected(opts: ConnectOptions, done: handshake::Handshake) -> Result<(GatewayClient, HelloOk), ClientError> {
        let (sink, stream) = done.ws.split();
        let (close_tx, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            sink: tokio::sync::Mutex::new(sink),
            pending: Mutex::new(HashMap::new()),
            events: EventHub::new(opts.event_backlog),
            close: close_tx,
            // id 1 went to `connect`.
            next_id: AtomicU64::new(2),
            id_suffix: done.id_suffix,
        });
        for event in done.early_events {
            shared.events.push(event);
        }
        let reader = tokio::spawn(read_loop(stream, Arc::clone(&shared)));
        let inner = Inner {
            shared,
            reader,
            hello: done.hello.clone(),
            challenge: done.challenge,
            timings: done.timings,
            request_timeout: opts.request_timeout,
        };
        Ok((GatewayClient { inner: Arc::new(inner) }, done.hello))
    }

    pub fn hello(&self) -> &HelloOk {
        &self.inner.hello
    }

    /// The challenge this connection answered.
    pub fn challenge(&self) -> &ConnectChallenge {
        &self.inner.challenge
    }

    pub fn timings(&self) -> HandshakeTimings {
        self.inner.timings
    }

    /// Send a request and wait (default request timeout) for its payload.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.request_with_timeout(method, params, self.inner.request_timeout).await
    }

    /// Send a request with typed params (the shapes in `pincer_protocol`) and decode its typed
    /// result; a result that does not fit `R` is a [`ClientError::Protocol`].
    pub async fn call<P: Serialize, R: DeserializeOwned>(&self, method: &str, params: &P) -> Result<R, ClientError> {
        // Serializing the protocol's own types cannot fail (string keys only); say so if it does.
        let params = serde_json::to_value(params).map_err(|e| ClientError::Protocol(format!("{method} params do not serialize: {e}")))?;
        let result = self.request(method, params).await?;
        serde_json::from_value(result).map_err(|e| ClientError::Protocol(format!("unexpected {method} result: {e}")))
    }

    pub async fn request_with_timeout(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, ClientError> {
        let res = self.request_response(method, params, timeout).await?;
        response_result(res)
    }

    /// Send a request and return the raw `res` frame, `ok:false` included.
    pub async fn request_response(&self, method: &str, params: Value, timeout: Duration) -> Result<ResponseFrame, ClientError> {
        let mut frames = self.exchange(method, params, timeout, false).await?;
        frames.pop().ok_or_else(|| ClientError::timeout(format!("response to {method}")))
    }

    /// Send a request that answers twice (OpenClaw's `expectFinal`, e.g. `agent`): every
    /// `{status:"accepted"}` ack, then the final response last. `timeout` covers them all.
    pub async fn request_until_final(&self, method: &str, params: Value, timeout: Duration) -> Result<Vec<ResponseFrame>, ClientError> {
        self.exchange(method, params, timeout, true).await
    }

    async fn exchange(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
        expect_final: bool,
    ) -> Result<Vec<ResponseFrame>, ClientError> {
        let shared = &self.inner.shared;
        if let Some(err) = self.closed_error() {
            return Err(err);
        }
        let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("{n}:{}", shared.id_suffix);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&shared.pending).insert(id.clone(), Waiter { tx, expect_final });
        // Removes the entry however this future ends: answered, timed out or dropped.
        let _guard = PendingGuard { shared, id: &id };
        // The reader marks the connection closed before draining `pending`; checking after
        // inserting means we are either drained or see the close here.
        if let Some(err) = self.closed_error() {
            return Err(err);
        }
        let frame = Frame::Req(RequestFrame::new(id.clone(), method, params));
        self.send_message(Message::text(frame.to_json())).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(res)) => {
                    let done = !(expect_final && is_accepted_ack(&res));
                    frames.push(res);
                    if done {
                        return Ok(frames);
                    }
                }
                // Sender dropped: the reader drained the pending map because the socket closed.
                Ok(None) => return Err(self.closed_error().unwrap_or(ClientError::Closed { code: ABNORMAL_CLOSE, reason: String::new() })),
                Err(_) => return Err(ClientError::timeout(format!("response to {method} (id {id})"))),
            }
        }
    }

    /// Send any text frame as is (bad-input tests).
    pub async fn send_raw_text(&self, text: impl Into<String>) -> Result<(), ClientError> {
        self.send_message(Message::text(text.into())).await
    }

    /// Send a binary frame (which the protocol does not allow).
    pub async fn send_raw_binary(&self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.send_message(Message::binary(bytes)).await
    }

    async fn send_message(&self, message: Message) -> Result<(), ClientError> {
        let mut sink = self.inner.shared.sink.lock().await;
        match sink.send(message).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.closed_error().unwrap_or_else(|| e.into())),
        }
    }

    /// A live feed of events from now on (earlier ones are in the backlog only). A receiver
    /// that falls more than 1024 events behind gets `Lagged`; `wait_event` never loses any.
    pub fn events(&self) -> broadcast::Receiver<EventFrame> {
        self.inner.shared.events.subscribe()
    }

    /// Wait for the next event named `name`, oldest first. Events skipped on the way stay in
    /// the backlog for later `wait_event`/`next_event` calls.
    pub async fn wait_event(&self, name: &str, timeout: Duration) -> Result<EventFrame, ClientError> {
        self.wait_event_where(&format!("event {name}"), timeout, |e| e.event == name).await
    }

    /// Wait for the oldest event `pred` accepts. `what` names it in the timeout error.
    pub async fn wait_event_where(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&EventFrame) -> bool,
    ) -> Result<EventFrame, ClientError> {
        Ok(self.wait_received(what, timeout, pred).await?.frame)
    }

    /// Like [`wait_event_where`](Self::wait_event_where), also telling when the event came
    /// off the socket.
    pub async fn wait_received(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&EventFrame) -> bool,
    ) -> Result<ReceivedEvent, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let events = &self.inner.shared.events;
        loop {
            // Register for wake-ups before looking, so an event pushed in between is not missed.
            let notified = events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(event) = events.take_first(&pred) {
                return Ok(event);
            }
            if let Some(err) = self.closed_error() {
                return Err(err);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ClientError::timeout(what));
            }
        }
    }

    /// The oldest unconsumed event, whatever its name.
    pub async fn next_event(&self, timeout: Duration) -> Result<EventFrame, ClientError> {
        self.wait_event_where("any event", timeout, |_| true).await
    }

    /// Take the oldest backlog event `pred` accepts, with when it was received, without
    /// waiting. For measurements over many clients, where a waiting task per client would
    /// itself compete with the receiving for the CPU.
    pub fn take_received(&self, pred: impl Fn(&EventFrame) -> bool) -> Option<ReceivedEvent> {
        self.inner.shared.events.take_first(&pred)
    }

    /// Take every event in the backlog now.
    pub fn drain_events(&self) -> Vec<EventFrame> {
        self.inner.shared.events.drain()
    }

    /// `seq` bookkeeping of this connection's events.
    pub fn seq_stats(&self) -> SeqStats {
        self.inner.shared.events.seq_stats()
    }

    /// The close code and reason once the connection has closed (1006 if it ended without
    /// a close frame, 1005 if the frame had no code).
    pub fn close_info(&self) -> Option<(u16, String)> {
        self.inner.shared.close.borrow().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.shared.close.borrow().is_some()
    }

    /// Resolve when the connection closes, with its close code and reason.
    pub async fn closed(&self) -> (u16, String) {
        let mut rx = self.inner.shared.close.subscribe();
        let close = match rx.wait_for(Option::is_some).await {
            Ok(close) => close.clone(),
            // The sender lives in `Shared`, which we hold; it cannot be gone.
            Err(_) => None,
        };
        close.unwrap_or((ABNORMAL_CLOSE, String::new()))
    }

    pub async fn wait_closed(&self, timeout: Duration) -> Result<(u16, String), ClientError> {
        tokio::time::timeout(timeout, self.closed()).await.map_err(|_| ClientError::timeout("connection close"))
    }

    /// Close from our side and wait (briefly) for the server's answer.
    pub async fn close(&self, code: u16, reason: &str) -> Result<(u16, String), ClientError> {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
        // The server may have closed first; that is the outcome we wanted anyway.
        let _ = self.send_message(Message::Close(Some(frame))).await;
        self.wait_closed(Duration::from_secs(5)).await
    }

    fn closed_error(&self) -> Option<ClientError> {
        self.close_info().map(|(code, reason)| ClientError::Closed { code, reason })
    }
}

/// `ok:true` → payload (`null` when absent); `ok:false` → `ClientError::Server`.
pub fn response_result(res: ResponseFrame) -> Result<Value, ClientError> {
    if res.ok {
        Ok(res.payload.unwrap_or(Value::Null))
    } else {
        Err(ClientError::Server(
            res.error.unwrap_or_else(|| ErrorShape::new(ErrorCode::Other("UNKNOWN".into()), "ok:false response without an error")),
        ))
    }
}

struct PendingGuard<'a> {
    shared: &'a Shared,
    id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(self.id);
    }
}

async fn read_loop(mut stream: SplitStream<WsStream>, shared: Arc<Shared>) {
    let close = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => dispatch(&shared, text.as_str()),
            Some(Ok(Message::Binary(bytes))) => {
                tracing::warn!(len = bytes.len(), "ignoring binary frame from gateway");
            }
            Some(Ok(Message::Close(frame))) => {
                break match frame {
                    Some(f) => (u16::from(f.code), f.reason.as_str().to_string()),
                    None => (NO_STATUS_CLOSE, String::new()),
                };
            }
            // Ping/pong are answered by tungstenite itself.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(error = %e, "gateway socket error");
                break (ABNORMAL_CLOSE, e.to_string());
            }
            None => break (ABNORMAL_CLOSE, String::new()),
        }
    };
    tracing::debug!(code = close.0, reason = %close.1, "gateway connection closed");
    // Order matters: mark closed first, then drain, see `request_response`.
    shared.close.send_replace(Some(close));
    lock(&shared.pending).clear();
    shared.events.wake_all();
}

fn dispatch(shared: &Shared, text: &str) {
    match Frame::parse(text) {
        Ok(Frame::Res(res)) => {
            let mut pending = lock(&shared.pending);
            let keep_waiting = pending.get(&res.id).is_some_and(|w| w.expect_final && is_accepted_ack(&res));
            let waiter = if keep_waiting { pending.get(&res.id).map(|w| w.tx.clone()) } else { pending.remove(&res.id).map(|w| w.tx) };
            drop(pending);
            match waiter {
                // The requester may have given up in the meantime; nothing to do then.
                Some(tx) => {
                    let _ = tx.send(res);
                }
                None => {
                    tracing::debug!(id = %res.id, "response to an unknown or abandoned request")
                }
            }
        }
        Ok(Frame::Event(event)) => shared.events.push(event),
        Ok(Frame::Req(req)) => {
            tracing::debug!(method = %req.method, "ignoring request from gateway")
        }
        Ok(Frame::Cancel(c)) => tracing::debug!(id = %c.id, "ignoring cancel from gateway"),
        Err(e) => tracing::warn!(error = %e, "unparseable frame from gateway"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
