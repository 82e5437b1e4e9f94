//! A connection's outbound side: the byte-bounded queue that broadcasts and handlers push
//! into, and the writer that drains it onto the socket.
//!
//! Three things this module guarantees, each of which the writer used to get wrong:
//!
//! - **Bounded memory per connection.** Every frame's length is counted when it is queued and
//!   uncounted when it is written. A push that would take a connection over its limit
//!   (`policy.maxBufferedBytes`, what hello-ok advertises) drops the connection instead, as
//!   OpenClaw does: one log line, every queued frame freed, later pushes refused.
//! - **A dropped connection is closed even when its writer is stuck in a send.** The drop is a
//!   signal the writer races against every send, not a `Close` queued behind the data the peer
//!   is not taking.
//! - **A send that makes no progress for [`SEND_STALL_TIMEOUT`] ends the connection.**
//!
//! Broadcasts serialize their frame once: the queue holds an `Arc` of it and the writer splices
//! in this connection's `seq` when it writes it, so a thousand receivers share one payload.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt};
use pincer_protocol::close_code;
use pincer_protocol::frames::StateVersion;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long one write may wait on a socket that takes nothing before the connection is ended.
/// A peer that reads at all (even slowly) completes a 16 KiB buffer flush well within this; a
/// peer that stopped reading never does, and would otherwise pin its writer forever.
pub const SEND_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a dropped slow consumer gets to take its close frame before the socket is shut
/// (OpenClaw's `WEBSOCKET_CLOSE_GRACE_MS`).
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How many queued frames the writer hands to the socket before one flush: a burst of events
/// (a broadcast storm, a streaming turn) costs one write syscall per batch, not per frame.
const BATCH_FRAMES: usize = 64;

/// An event frame serialized once for every receiver of a broadcast, with a gap where each
/// connection's `seq` goes: `{"type":"event","event":..,"payload":..` + `,"seq":N` + tail.
pub struct EventFrame {
    head: String,
    /// `,"stateVersion":{..}}` or `}`.
    tail: String,
}

/// Room for `,"seq":` and a u64 in the byte count of a queued event.
const SEQ_FIELD_MAX: usize = r#","seq":"#.len() + 20;

impl EventFrame {
    /// Build the frame from an already-serialized payload.
    pub fn new(event: &str, payload_json: &str, state_version: Option<StateVersion>) -> EventFrame {
        let name = serde_json::to_string(event).unwrap_or_else(|_| "\"\"".into());
        let mut head = String::with_capacity(payload_json.len() + name.len() + 40);
        head.push_str(r#"{"type":"event","event":"#);
        head.push_str(&name);
        head.push_str(r#","payload":"#);
        head.push_str(payload_json);
        let tail = match state_version {
            Some(sv) => format!(r#","stateVersion":{{"presence":{},"health":{}}}}}"#, sv.presence, sv.health),
            None => "}".to_string(),
        };
        EventFrame { head, tail }
    }

    /// The frame as this connection sends it; `None` for events addressed to one connection,
    /// which carry no `seq` (like OpenClaw's targeted `node.invoke.request`).
    pub fn render(&self, seq: Option<u64>) -> String {
        let mut out = String::with_capacity(self.head.len() + SEQ_FIELD_MAX + self.tail.len());
        out.push_str(&self.head);
        if let Some(seq) = seq {
            out.push_str(r#","seq":"#);
            // Writing to a String cannot fail.
            let _ = write!(out, "{seq}");
        }
        out.push_str(&self.tail);
        out
    }

    /// What this frame counts against a connection's buffer (the largest it can render to).
    fn queued_len(&self) -> usize {
        self.head.len() + SEQ_FIELD_MAX + self.tail.len()
    }
}

impl fmt::Debug for EventFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFrame").field("len", &self.queued_len()).finish()
    }
}

/// What a connection's writer sends.
#[derive(Debug)]
pub enum Outbound {
    /// A complete frame (a response, a targeted event).
    Text(String),
    /// A broadcast event; the writer numbers it with this connection's next `seq`.
    Event(Arc<EventFrame>),
    /// A graceful close, sent after everything queued before it.
    Close(u16, String),
}

impl Outbound {
    fn queued_len(&self) -> usize {
        match self {
            Outbound::Text(t) => t.len(),
            Outbound::Event(e) => e.queued_len(),
            Outbound::Close(_, r) => r.len(),
        }
    }
}

/// The pushing side of a connection's queue, shared by everything that sends to it.
pub struct OutboundQueue {
    conn_id: String,
    tx: mpsc::UnboundedSender<Outbound>,
    queued_bytes: AtomicUsize,
    max_buffered_bytes: usize,
    /// Set once, by the push that found the connection too far behind.
    slow: AtomicBool,
    /// Tells the writer to give up whatever it is doing and end the connection.
    dropped: CancellationToken,
}

impl OutboundQueue {
    /// A queue for connection `conn_id` that holds at most `max_buffered_bytes` unsent bytes.
    pub fn new(conn_id: &str, max_buffered_bytes: usize) -> (Arc<OutboundQueue>, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(OutboundQueue {
            conn_id: conn_id.to_string(),
            tx,
            queued_bytes: AtomicUsize::new(0),
            max_buffered_bytes,
            slow: AtomicBool::new(false),
            dropped: CancellationToken::new(),
        });
        (queue, rx)
    }

    /// Queue a frame. `false` if the connection is gone or was just dropped for falling more
    /// than `maxBufferedBytes` behind (the frame is discarded then).
    pub fn push(&self, item: Outbound) -> bool {
        if self.dropped.is_cancelled() {
            return false;
        }
        let len = item.queued_len();
        let queued = self.queued_bytes.fetch_add(len, Ordering::AcqRel) + len;
        if queued > self.max_buffered_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.drop_slow_consumer(queued - len, len);
            return false;
        }
        if self.tx.send(item).is_err() {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn drop_slow_consumer(&self, queued: usize, frame: usize) {
        if !self.slow.swap(true, Ordering::AcqRel) {
            tracing::warn!(conn = %self.conn_id, queued, frame, limit = self.max_buffered_bytes, "closing slow consumer");
        }
        self.dropped.cancel();
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    /// Whether the connection was dropped for falling behind.
    pub fn dropped_as_slow(&self) -> bool {
        self.slow.load(Ordering::Acquire)
    }

    fn written(&self, len: usize) {
        self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
    }
}

/// Why a connection's writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEnd {
    /// The socket failed (the peer went away).
    PeerGone,
    /// A write made no progress for [`SEND_STALL_TIMEOUT`].
    Stalled,
    /// The queue went over `maxBufferedBytes`.
    SlowConsumer,
    /// A queued `Close` was sent.
    Closed,
}

/// The writing half of a connection: the socket sink plus the queue's receiving end.
pub struct Writer<S> {
    sink: S,
    queue: Arc<OutboundQueue>,
    rx: mpsc::UnboundedReceiver<Outbound>,
    /// The last `seq` written. Numbering at write time, in queue order, keeps `seq` per
    /// connection and in socket order without a lock on the broadcast path.
    seq: u64,
    stall: Duration,
    close_grace: Duration,
}

impl<S> Writer<S>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    pub fn new(sink: S, queue: Arc<OutboundQueue>, rx: mpsc::UnboundedReceiver<Outbound>) -> Self {
        Writer { sink, queue, rx, seq: 0, stall: SEND_STALL_TIMEOUT, close_grace: CLOSE_GRACE }
    }

    /// The next queued frame, or why the connection must end. Cancel-safe: it is one branch of
    /// the connection's `select!`.
    pub async fn next(&mut self) -> Result<Outbound, WriteEnd> {
        tokio::select! {
            biased;
            _ = self.queue.dropped.cancelled() => Err(WriteEnd::SlowConsumer),
            item = self.rx.recv() => item.ok_or(WriteEnd::Closed),
        }
    }

    /// Write `first` and whatever else is already queued (up to a batch), then flush once.
    pub async fn write_queued(&mut self, first: Outbound) -> Result<(), WriteEnd> {
        let mut item = first;
        for _ in 0..BATCH_FRAMES {
            let len = item.queued_len();
            let message = match item {
                Outbound::Text(text) => Message::Text(text.into()),
                Outbound::Event(frame) => {
                    self.seq += 1;
                    Message::Text(frame.render(Some(self.seq)).into())
                }
                Outbound::Close(code, reason) => {
                    self.queue.written(len);
                    self.guarded_flush().await?;
                    self.close(code, &reason).await;
                    return Err(WriteEnd::Closed);
                }
            };
            let fed = guarded(&self.queue.dropped, self.stall, self.sink.feed(message)).await;
            self.queue.written(len);
            fed?;
            item = match self.rx.try_recv() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        self.guarded_flush().await
    }

    /// Write one frame that did not go through the queue (a response answered inline).
    pub async fn write_now(&mut self, text: String) -> Result<(), WriteEnd> {
        guarded(&self.queue.dropped, self.stall, self.sink.send(Message::Text(text.into()))).await
    }

    async fn guarded_flush(&mut self) -> Result<(), WriteEnd> {
        guarded(&self.queue.dropped, self.stall, self.sink.flush()).await
    }

    /// Send a close frame and shut the sink, giving the peer [`CLOSE_GRACE`] to take it.
    pub async fn close(&mut self, code: u16, reason: &str) {
        // Close reasons are limited to 123 bytes on the wire.
        let mut reason = reason.to_string();
        while reason.len() > 123 {
            reason.pop();
        }
        let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
        let _ = tokio::time::timeout(self.close_grace, async {
            let _ = self.sink.send(frame).await;
            let _ = self.sink.close().await;
        })
        .await;
    }

    /// End the connection for `end`: free what is still queued (a slow consumer's backlog can be
    /// tens of megabytes), then close as the reason calls for. The socket itself is shut when
    /// the caller drops both halves of the WebSocket.
    pub async fn finish(mut self, end: WriteEnd) {
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            self.queue.written(item.queued_len());
        }
        match end {
            WriteEnd::SlowConsumer => self.close(close_code::POLICY_VIOLATION, "slow consumer").await,
            WriteEnd::Stalled => {
                tracing::warn!(conn = %self.queue.conn_id, stall_ms = self.stall.as_millis() as u64, "closing stalled connection: a write made no progress");
            }
            WriteEnd::PeerGone | WriteEnd::Closed => {}
        }
    }

    #[cfg(test)]
    fn with_timeouts(mut self, stall: Duration, close_grace: Duration) -> Self {
        self.stall = stall;
        self.close_grace = close_grace;
        self
    }
}

/// Run one socket operation unless the connection is dropped first or the operation stalls.
async fn guarded(
    dropped: &CancellationToken,
    stall: Duration,
    op: impl std::future::Future<Output = Result<(), axum::Error>>,
) -> Result<(), WriteEnd> {
    tokio::select! {
        biased;
        _ = dropped.cancelled() => Err(WriteEnd::SlowConsumer),
        res = tokio::time::timeout(stall, op) => match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(WriteEnd::PeerGone),
            Err(_) => Err(WriteEnd::Stalled),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use super::*;

    /// A socket whose peer never takes a byte once `capacity` frames are in.
    #[derive(Clone, Default)]
    struct StuckSink {
        capacity: usize,
        taken: Arc<Mutex<Vec<String>>>,
    }

    impl Sink<Message> for StuckSink {
        type Error = axum::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            if self.taken.lock().map(|t| t.len()).unwrap_or(0) < self.capacity {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), axum::Error> {
            if let Message::Text(t) = item {
                self.taken.lock().map_err(|_| axum::Error::new("poisoned"))?.push(t.to_string());
            }
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frame(payload: &str) -> Arc<EventFrame> {
        Arc::new(EventFrame::new("tick", payload, None))
    }

    #[test]
    fn event_frames_render_with_and_without_seq() {
        let f = EventFrame::new("presence", r#"{"presence":[]}"#, Some(StateVersion { presence: 4, health: 2 }));
        assert_eq!(
            f.render(Some(17)),
            r#"{"type":"event","event":"presence","payload":{"presence":[]},"seq":17,"stateVersion":{"presence":4,"health":2}}"#
        );
        assert_eq!(EventFrame::new("tick", r#"{"ts":1}"#, None).render(None), r#"{"type":"event","event":"tick","payload":{"ts":1}}"#);
        assert!(f.render(Some(u64::MAX)).len() <= f.queued_len());
    }

    #[tokio::test]
    async fn writer_numbers_events_per_connection_in_queue_order() {
        let sink = StuckSink { capacity: usize::MAX, ..Default::default() };
        let taken = sink.taken.clone();
        let (queue, rx) = OutboundQueue::new("c1", 1 << 20);
        let shared = frame(r#"{"n":1}"#);
        assert!(queue.push(Outbound::Event(shared.clone())));
        assert!(queue.push(Outbound::Text("{\"type\":\"res\"}".into())));
        assert!(queue.push(Outbound::Event(shared)));
        let mut writer = Writer::new(sink, queue.clone(), rx);
        let first = writer.next().await.unwrap();
        writer.write_queued(first).await.unwrap();
        let taken = taken.lock().unwrap().clone();
        assert_eq!(
            taken,
            vec![
                r#"{"type":"event","event":"tick","payload":{"n":1},"seq":1}"#.to_string(),
                "{\"type\":\"res\"}".to_string(),
                r#"{"type":"event","event":"tick","payload":{"n":1},"seq":2}"#.to_string(),
            ]
        );
        assert_eq!(queue.queued_bytes(), 0, "written frames are uncounted");
    }

    /// Case 5: the writer is stuck in a send to a peer that stopped reading; pushing past the
    /// limit drops the connection anyway (on 7f29638 the close was queued behind the stuck
    /// data and the push kept logging, once per frame).
    #[tokio::test]
    async fn over_the_limit_ends_a_writer_stuck_in_a_send() {
        let (queue, rx) = OutboundQueue::new("c1", 1000);
        // The stall timeout is far away: only the drop can end this send.
        let mut writer = Writer::new(StuckSink { capacity: 1, ..Default::default() }, queue.clone(), rx)
            .with_timeouts(Duration::from_secs(3600), Duration::from_millis(10));
        assert!(queue.push(Outbound::Text("x".repeat(300))));
        assert!(queue.push(Outbound::Text("y".repeat(300))));
        let pusher = {
            let queue = queue.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                // The writer now holds the second frame in a send that cannot complete.
                let mut accepted = 0;
                for _ in 0..10 {
                    if queue.push(Outbound::Text("z".repeat(300))) {
                        accepted += 1;
                    }
                }
                accepted
            })
        };
        let first = writer.next().await.unwrap();
        let end = writer.write_queued(first).await.unwrap_err();
        assert_eq!(end, WriteEnd::SlowConsumer);
        // 300 (the frame stuck in the send) + 300 + 300 fit under 1000; the next one does not.
        assert_eq!(pusher.await.unwrap(), 2);
        assert!(queue.dropped_as_slow());
        assert!(!queue.push(Outbound::Text("late".into())), "a dropped connection takes nothing more");
        writer.finish(end).await;
        assert_eq!(queue.queued_bytes(), 0, "the backlog is freed when the connection ends");
    }

    /// A write that makes no progress ends the connection after the stall timeout (on
    /// 7f29638 it waited forever).
    #[tokio::test]
    async fn a_write_that_makes_no_progress_ends_the_connection() {
        let (queue, rx) = OutboundQueue::new("c1", 1 << 20);
        let mut writer = Writer::new(StuckSink { capacity: 0, ..Default::default() }, queue.clone(), rx)
            .with_timeouts(Duration::from_millis(50), Duration::from_millis(10));
        assert!(queue.push(Outbound::Text("hello".into())));
        let first = writer.next().await.unwrap();
        assert_eq!(writer.write_queued(first).await.unwrap_err(), WriteEnd::Stalled);
        assert!(!queue.dropped_as_slow());
        writer.finish(WriteEnd::Stalled).await;
        assert_eq!(queue.queued_bytes(), 0);
    }
}
