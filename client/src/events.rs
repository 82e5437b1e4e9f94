//! Server events: a bounded backlog that `wait_event` searches (so a test can wait for
//! events in any order without losing the ones it skips), plus a broadcast channel for
//! long-lived consumers.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use pincer_protocol::EventFrame;
use tokio::sync::{broadcast, Notify};

/// Events kept for `wait_event`/`next_event` before the oldest are dropped (the default of
/// [`ConnectOptions::event_backlog`](crate::ConnectOptions::event_backlog)). A client that
/// only uses `events()` would otherwise grow the backlog forever (ticks, presence...).
pub const BACKLOG_CAPACITY: usize = 4096;
/// Per-subscriber buffer of the broadcast channel; a slower subscriber sees `Lagged`.
const BROADCAST_CAPACITY: usize = 1024;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeqStats {
    /// `seq` of the last event that carried one.
    pub last: Option<u64>,
    /// Events whose `seq` was not exactly `last + 1` (the server skipped or reordered).
    pub gaps: u64,
    /// Events dropped from the backlog because nobody consumed them.
    pub dropped: u64,
}

/// An event and when the reader task took it off the socket (for fan-out measurements that
/// should not include how late the waiting task got scheduled).
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub frame: EventFrame,
    pub at: Instant,
}

pub(crate) struct EventHub {
    backlog: Mutex<VecDeque<ReceivedEvent>>,
    backlog_capacity: usize,
    seq: Mutex<SeqStats>,
    notify: Notify,
    tx: broadcast::Sender<EventFrame>,
}

impl EventHub {
    /// A hub whose backlog keeps at most `backlog_capacity` events (at least one).
    pub(crate) fn new(backlog_capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        EventHub {
            backlog: Mutex::new(VecDeque::new()),
            backlog_capacity: backlog_capacity.max(1),
            seq: Mutex::new(SeqStats::default()),
            notify: Notify::new(),
            tx,
        }
    }

    pub(crate) fn push(&self, event: EventFrame) {
        let at = Instant::now();
        if let Some(seq) = event.seq {
            let mut stats = lock(&self.seq);
            if let Some(last) = stats.last {
                if seq != last.wrapping_add(1) {
                    tracing::warn!(last, seq, event = %event.event, "event seq gap");
                    stats.gaps += 1;
                }
            }
            stats.last = Some(seq);
        }
        // Nobody subscribed is not an error: the backlog still has it.
        let _ = self.tx.send(event.clone());
        {
            let mut backlog = lock(&self.backlog);
            if backlog.len() >= self.backlog_capacity {
                backlog.pop_front();
                lock(&self.seq).dropped += 1;
            }
            backlog.push_back(ReceivedEvent { frame: event, at });
        }
        self.notify.notify_waiters();
    }

    /// Wake every waiter, e.g. because the connection closed.
    pub(crate) fn wake_all(&self) {
        self.notify.notify_waiters();
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<EventFrame> {
        self.tx.subscribe()
    }

    pub(crate) fn seq_stats(&self) -> SeqStats {
        *lock(&self.seq)
    }

    /// Remove and return the oldest backlog event that `pred` accepts.
    pub(crate) fn take_first(&self, pred: &dyn Fn(&EventFrame) -> bool) -> Option<ReceivedEvent> {
        let mut backlog = lock(&self.backlog);
        let pos = backlog.iter().position(|e| pred(&e.frame))?;
        backlog.remove(pos)
    }

    pub(crate) fn drain(&self) -> Vec<EventFrame> {
        lock(&self.backlog).drain(..).map(|e| e.frame).collect()
    }

    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain data; the data
/// is still usable, so recover instead of propagating the panic.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> EventFrame {
        EventFrame { event: "tick".into(), payload: None, seq: Some(seq), state_version: None, extra: Default::default() }
    }

    #[test]
    fn the_backlog_keeps_the_newest_events_up_to_its_capacity() {
        let hub = EventHub::new(3);
        for seq in 1..=5 {
            hub.push(event(seq));
        }
        let kept: Vec<Option<u64>> = hub.drain().iter().map(|e| e.seq).collect();
        assert_eq!(kept, vec![Some(3), Some(4), Some(5)]);
        assert_eq!(hub.seq_stats(), SeqStats { last: Some(5), gaps: 0, dropped: 2 });
    }
}
