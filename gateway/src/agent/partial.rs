//! The answer being streamed, kept durably but cheaply: the text so far is written to the run's
//! row at most every [`SAVE_INTERVAL`] (and once more after the last delta), so a process killed
//! mid-answer loses at most that much of what the person already saw. Recovery turns it into
//! the interrupted answer (see `host::recover`); a message stored whole clears it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::state::SharedState;

/// How often the streamed text is written while it grows.
pub const SAVE_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Slot {
    text: String,
    /// `text` changed since it was last written.
    dirty: bool,
    saved_at: Option<Instant>,
    /// Something is in the row and must be cleared when the message is stored whole.
    saved_any: bool,
    /// A delayed write is pending (the trailing write after a burst of deltas).
    flush_scheduled: bool,
}

struct Inner {
    state: SharedState,
    run_id: String,
    slot: Mutex<Slot>,
}

/// One run's streamed text and its throttled writes.
#[derive(Clone)]
pub struct PartialText {
    inner: Arc<Inner>,
}

impl PartialText {
    pub fn new(state: SharedState, run_id: &str) -> PartialText {
        PartialText { inner: Arc::new(Inner { state, run_id: run_id.to_string(), slot: Mutex::new(Slot::default()) }) }
    }

    /// The text streamed so far by the current model call.
    pub fn update(&self, text: &str) {
        let mut slot = self.inner.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.text.clear();
        slot.text.push_str(text);
        slot.dirty = true;
        match slot.saved_at.map(|t| t.elapsed()) {
            Some(since) if since < SAVE_INTERVAL => {
                if !slot.flush_scheduled {
                    slot.flush_scheduled = true;
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(SAVE_INTERVAL - since).await;
                        let mut slot = me.inner.slot.lock().unwrap_or_else(|p| p.into_inner());
                        slot.flush_scheduled = false;
                        if slot.dirty {
                            me.write(&mut slot);
                        }
                    });
                }
            }
            _ => self.write(&mut slot),
        }
    }

    /// The message was stored whole (or the run ended): forget the partial text.
    pub fn clear(&self) {
        let mut slot = self.inner.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.text.clear();
        slot.dirty = false;
        slot.saved_at = None;
        if slot.saved_any {
            slot.saved_any = false;
            if let Err(e) = self.inner.state.store.save_partial_text(&self.inner.run_id, None) {
                tracing::warn!(run = %self.inner.run_id, error = %e, "could not clear the saved partial answer");
            }
        }
    }

    fn write(&self, slot: &mut Slot) {
        slot.dirty = false;
        slot.saved_at = Some(Instant::now());
        match self.inner.state.store.save_partial_text(&self.inner.run_id, Some(&slot.text)) {
            Ok(()) => slot.saved_any = true,
            Err(e) => tracing::warn!(run = %self.inner.run_id, error = %e, "could not save the partial answer"),
        }
    }
}
