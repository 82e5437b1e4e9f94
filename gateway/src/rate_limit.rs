//! Failed-auth rate limiting per client address: after `max_attempts` failures inside
//! `window`, the address is locked out for `lockout`.

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

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Bounded so an attacker cycling addresses cannot grow memory without limit.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct RateLimiter {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl RateLimiter {
    /// `Some(retry_after)` when the address is locked out now.
    pub fn check(&self, ip: IpAddr, policy: &RateLimitPolicy, now: Instant) -> Option<Duration> {
        if policy.exempt_loopback && ip.is_loopback() {
            return None;
        }
        let map = self.entries.lock().ok()?;
        let until = map.get(&ip)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Record a failed attempt; returns the lockout if this failure triggered one.
    pub fn record_failure(&self, ip: IpAddr, policy: &RateLimitPolicy, now: Instant) -> Option<Duration> {
        if policy.exempt_loopback && ip.is_loopback() {
            return None;
        }
        let mut map = self.entries.lock().ok()?;
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, e| e.locked_until.is_some_and(|u| u > now));
        }
        let entry = map.entry(ip).or_default();
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

    /// A successful auth clears the address's failure history.
    pub fn record_success(&self, ip: IpAddr) {
        if let Ok(mut map) = self.entries.lock() {
            if map.get(&ip).is_some_and(|e| e.locked_until.is_none()) {
                map.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_max_failures_then_recovers() {
        let policy = RateLimitPolicy { exempt_loopback: false, ..Default::default() };
        let rl = RateLimiter::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(rl.record_failure(ip, &policy, t0 + Duration::from_secs(i)), None);
            assert_eq!(rl.check(ip, &policy, t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(rl.record_failure(ip, &policy, t0 + Duration::from_secs(9)), Some(policy.lockout));
        assert!(rl.check(ip, &policy, t0 + Duration::from_secs(10)).is_some());
        assert_eq!(rl.check(ip, &policy, t0 + Duration::from_secs(9) + policy.lockout), None);
        // Another address is unaffected.
        assert_eq!(rl.check("10.0.0.8".parse().unwrap(), &policy, t0), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let policy = RateLimitPolicy { exempt_loopback: false, ..Default::default() };
        let rl = RateLimiter::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(rl.record_failure(ip, &policy, t0 + Duration::from_secs(i * 7)), None);
        }
    }

    #[test]
    fn loopback_is_exempt_by_default() {
        let policy = RateLimitPolicy::default();
        let rl = RateLimiter::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..50 {
            assert_eq!(rl.record_failure(ip, &policy, Instant::now()), None);
        }
        assert_eq!(rl.check(ip, &policy, Instant::now()), None);
    }
}
