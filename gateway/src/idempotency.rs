//! Idempotency cache for side-effecting methods: 5 minutes, at most 1,000 keys.
//! A replay with the same key and params gets the first result (or "in flight"); the
//! same key with different params is refused.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TTL: Duration = Duration::from_secs(300);
pub const MAX_KEYS: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    InFlight,
    /// Boxed: an error shape is large and most slots are in flight.
    Done(Box<Result<Value, pincer_protocol::ErrorShape>>),
}

#[derive(Debug, PartialEq)]
pub enum Begin {
    /// New key: the caller runs the work and must call `finish`.
    Fresh,
    /// Seen before with the same params.
    Replay(Slot),
    /// Seen before with other params.
    Conflict,
}

struct Entry {
    fingerprint: String,
    at: Instant,
    slot: Slot,
}

#[derive(Default)]
pub struct IdempotencyCache {
    inner: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

impl IdempotencyCache {
    pub fn begin(&self, key: &str, fingerprint: &str, now: Instant) -> Begin {
        let Ok(mut guard) = self.inner.lock() else { return Begin::Fresh };
        let (map, order) = &mut *guard;
        // Drop expired keys from the front (oldest first), then enforce the size bound.
        while let Some(front) = order.front() {
            let expired = map.get(front).map(|e| now.duration_since(e.at) > TTL).unwrap_or(true);
            if expired || map.len() >= MAX_KEYS {
                if let Some(k) = order.pop_front() {
                    map.remove(&k);
                }
            } else {
                break;
            }
        }
        if let Some(e) = map.get(key) {
            return if e.fingerprint == fingerprint { Begin::Replay(e.slot.clone()) } else { Begin::Conflict };
        }
        map.insert(key.to_string(), Entry { fingerprint: fingerprint.to_string(), at: now, slot: Slot::InFlight });
        order.push_back(key.to_string());
        Begin::Fresh
    }

    pub fn finish(&self, key: &str, result: Result<Value, pincer_protocol::ErrorShape>) {
        if let Ok(mut guard) = self.inner.lock() {
            if let Some(e) = guard.0.get_mut(key) {
                e.slot = Slot::Done(Box::new(result));
            }
        }
    }

    /// Forget a key whose work was abandoned before `finish` (the caller cancelled), so a
    /// retry with the same key runs again instead of being told it is still in flight.
    pub fn abandon(&self, key: &str) {
        if let Ok(mut guard) = self.inner.lock() {
            let (map, order) = &mut *guard;
            if map.get(key).is_some_and(|e| e.slot == Slot::InFlight) {
                map.remove(key);
                order.retain(|k| k != key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.0.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replays_conflicts_and_bounds() {
        let cache = IdempotencyCache::default();
        let t = Instant::now();
        assert_eq!(cache.begin("k", "a", t), Begin::Fresh);
        assert_eq!(cache.begin("k", "a", t), Begin::Replay(Slot::InFlight));
        cache.finish("k", Ok(json!(1)));
        assert_eq!(cache.begin("k", "a", t), Begin::Replay(Slot::Done(Box::new(Ok(json!(1))))));
        assert_eq!(cache.begin("k", "b", t), Begin::Conflict);
        assert_eq!(cache.begin("k", "a", t + TTL + Duration::from_secs(1)), Begin::Fresh);
        for i in 0..5000 {
            cache.begin(&format!("x{i}"), "f", t + TTL + Duration::from_secs(2));
        }
        assert!(cache.len() <= MAX_KEYS);
    }
}
