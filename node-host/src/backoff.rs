//! Reconnect delays: 1 s doubling to 30 s, with a little jitter so a fleet of nodes that lost
//! the same gateway does not reconnect in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max, next: initial }
    }

    /// The delay to wait now; the following one doubles (up to `max`).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 10);
        (base + Duration::from_millis(jitter)).min(self.max)
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        for base in [1_000u64, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000] {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= base && d <= (base + base / 10).min(30_000), "{d} ms for base {base}");
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(1_101));
    }
}
