//! Backoff delays, `Retry-After` parsing and per-model cooldowns.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;

use crate::config::RetryConfig;

/// The delay before attempt `attempt + 1` (`attempt` ≥ 1 failed attempts so far): the base delay
/// doubled per attempt, capped, plus up to 25 % jitter so clients that failed together don't
/// retry together.
pub fn backoff(policy: &RetryConfig, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let delay = policy.base_delay.saturating_mul(1u32 << exp).min(policy.max_delay);
    let jitter_ms = (delay.as_millis() / 4) as u64;
    let jitter = if jitter_ms > 0 { rand::thread_rng().gen_range(0..=jitter_ms) } else { 0 };
    delay + Duration::from_millis(jitter)
}

/// The server's requested delay: OpenAI's `retry-after-ms`, else `Retry-After` as seconds
/// (fractions tolerated) or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    parse_retry_after(text("retry-after")?, SystemTime::now())
}

/// `Retry-After` value → delay from `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Models that failed recently and are skipped by later runs until their cooldown ends.
#[derive(Debug, Default)]
pub struct Cooldowns {
    entries: Mutex<HashMap<String, Cooldown>>,
}

#[derive(Debug, Clone, Copy)]
struct Cooldown {
    until: Instant,
    /// The length of the last cooldown, doubled on the next consecutive failure.
    last: Duration,
}

impl Cooldowns {
    /// When the model's cooldown ends, if it is cooling down now.
    pub fn cooling_until(&self, label: &str) -> Option<Instant> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(label).map(|c| c.until).filter(|until| *until > Instant::now())
    }

    /// Record a failure; returns the cooldown applied. `at_least` is a server-requested delay.
    pub fn record_failure(&self, label: &str, policy: &RetryConfig, at_least: Option<Duration>) -> Duration {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let next = match entries.get(label) {
            Some(prev) => prev.last.saturating_mul(2).min(policy.max_cooldown),
            None => policy.cooldown.min(policy.max_cooldown),
        };
        let length = next.max(at_least.unwrap_or(Duration::ZERO).min(policy.max_cooldown));
        entries.insert(label.to_string(), Cooldown { until: Instant::now() + length, last: length });
        length
    }

    /// A success ends the cooldown and resets the doubling.
    pub fn record_success(&self, label: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        let p = RetryConfig::default();
        for (attempt, base) in [(1, 500), (2, 1000), (3, 2000), (10, 8000)] {
            let d = backoff(&p, attempt).as_millis() as u64;
            assert!(d >= base && d <= base + base / 4, "attempt {attempt}: {d}");
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_ms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5", now), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1", now), None);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(&httpdate::fmt_http_date(now), now + Duration::from_secs(5)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn cooldowns_double_up_to_the_cap_and_reset_on_success() {
        let p = RetryConfig { cooldown: Duration::from_secs(60), max_cooldown: Duration::from_secs(150), ..RetryConfig::default() };
        let c = Cooldowns::default();
        assert_eq!(c.record_failure("a/b", &p, None), Duration::from_secs(60));
        assert!(c.cooling_until("a/b").is_some());
        assert_eq!(c.record_failure("a/b", &p, None), Duration::from_secs(120));
        assert_eq!(c.record_failure("a/b", &p, None), Duration::from_secs(150));
        c.record_success("a/b");
        assert!(c.cooling_until("a/b").is_none());
        assert_eq!(c.record_failure("a/b", &p, Some(Duration::from_secs(90))), Duration::from_secs(90));
    }
}
