//! Failed-auth rate limiting per client: after `max_attempts` failures inside `window`, the
//! client is locked out for `lockout`. Who "the client" is (and whether it is exempt) is the
//! caller's decision: see [`crate::handshake::Peer::rate_limit_key`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct RateLimitPolicy {
    pub max_attempts: u32,
    pub window: Duration,
    pub lockout: Duration,
    pub exempt_loopback: bool,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        RateLimitPolicy { max_attempts: 10, window: Duration::from_secs(60), lockout: Duration::from_secs(300), exempt_loopback: true }
    }
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateLimitKey {
    /// A client address (the socket's, or the one a trusted proxy reports).
    Ip(IpAddr),
    /// A browser page on loopback, by its normalized `Origin` (OpenClaw's
    /// `browser-origin:<origin>` key): loopback exemption must not cover web pages.
    BrowserOrigin(String),
}

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Bounded so an attacker cycling addresses cannot grow memory without limit.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct RateLimiter {
    entries: Mutex<HashMap<RateLimitKey, Entry>>,
}

impl RateLimiter {
    /// `Some(retry_after)` when the client is locked out now.
    pub fn check(&self, key: &RateLimitKey, now: Instant) -> Option<Duration> {
        let map = self.entries.lock().ok()?;
        let until = map.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Record a failed attempt; returns the lockout if this failure triggered one.
    pub fn record_failure(&self, key: &RateLimitKey, policy: &RateLimitPolicy, now: Instant) -> Option<Duration> {
        let mut map = self.entries.lock().ok()?;
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(key) {
            map.retain(|_, e| e.locked_until.is_some_and(|u| u > now));
        }
        let entry = map.entry(key.clone()).or_default();
        while entry.failures.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() as u32 >= policy.max_attempts {
            entry.failures.clear();
            entry.locked_until = Some(now + policy.lockout);
            return Some(policy.lockout);
        }
        None
    }

    /// A successful auth clears the client's failure history.
    pub fn record_success(&self, key: &RateLimitKey) {
        if let Ok(mut map) = self.entries.lock() {
            if map.get(key).is_some_and(|e| e.locked_until.is_none()) {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> RateLimitKey {
        RateLimitKey::Ip(ip.parse().unwrap())
    }

    #[test]
    fn locks_out_after_max_failures_then_recovers() {
        let policy = RateLimitPolicy::default();
        let rl = RateLimiter::default();
        let ip = key("10.0.0.7");
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(rl.record_failure(&ip, &policy, t0 + Duration::from_secs(i)), None);
            assert_eq!(rl.check(&ip, t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(rl.record_failure(&ip, &policy, t0 + Duration::from_secs(9)), Some(policy.lockout));
        assert!(rl.check(&ip, t0 + Duration::from_secs(10)).is_some());
        assert_eq!(rl.check(&ip, t0 + Duration::from_secs(9) + policy.lockout), None);
        // Another address is unaffected.
        assert_eq!(rl.check(&key("10.0.0.8"), t0), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let policy = RateLimitPolicy::default();
        let rl = RateLimiter::default();
        let ip = key("10.0.0.9");
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(rl.record_failure(&ip, &policy, t0 + Duration::from_secs(i * 7)), None);
        }
    }

    #[test]
    fn browser_origins_are_counted_apart_from_addresses() {
        let policy = RateLimitPolicy { max_attempts: 2, ..Default::default() };
        let rl = RateLimiter::default();
        let evil = RateLimitKey::BrowserOrigin("http://evil.example".into());
        let now = Instant::now();
        rl.record_failure(&evil, &policy, now);
        assert_eq!(rl.record_failure(&evil, &policy, now), Some(policy.lockout));
        assert!(rl.check(&evil, now).is_some());
        assert_eq!(rl.check(&key("127.0.0.1"), now), None);
        assert_eq!(rl.check(&RateLimitKey::BrowserOrigin("http://other.example".into()), now), None);
    }
}
