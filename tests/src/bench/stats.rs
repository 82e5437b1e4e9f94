//! Latency summaries.

use std::time::Duration;

use serde::Serialize;

/// Summary of one batch of samples. Field names match the peer baseline
/// (`protocol/tests/fixtures/openclaw/bench-results.jsonl`) so results compare line by line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub errors: usize,
    #[serde(rename = "minMs")]
    pub min_ms: f64,
    #[serde(rename = "p50ms")]
    pub p50_ms: f64,
    #[serde(rename = "p90ms")]
    pub p90_ms: f64,
    #[serde(rename = "p99ms")]
    pub p99_ms: f64,
    #[serde(rename = "maxMs")]
    pub max_ms: f64,
    #[serde(rename = "meanMs")]
    pub mean_ms: f64,
    /// Successful samples per second of wall time.
    pub rps: f64,
    #[serde(rename = "totalS")]
    pub total_s: f64,
}

pub fn ms(d: Duration) -> f64 {
    round3(d.as_secs_f64() * 1000.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Nearest-rank percentile of sorted samples (`p` in 0..=100).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn summarize(samples: &[Duration], errors: usize, wall: Duration) -> Summary {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let sum: Duration = sorted.iter().sum();
    let mean = if n == 0 { Duration::ZERO } else { sum / n as u32 };
    let wall_s = wall.as_secs_f64();
    Summary {
        n,
        errors,
        min_ms: ms(sorted.first().copied().unwrap_or_default()),
        p50_ms: ms(percentile(&sorted, 50.0)),
        p90_ms: ms(percentile(&sorted, 90.0)),
        p99_ms: ms(percentile(&sorted, 99.0)),
        max_ms: ms(sorted.last().copied().unwrap_or_default()),
        mean_ms: ms(mean),
        rps: if wall_s > 0.0 { (n as f64 / wall_s * 10.0).round() / 10.0 } else { 0.0 },
        total_s: round3(wall_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = summarize(&samples, 2, Duration::from_secs(2));
        assert_eq!((s.n, s.errors), (100, 2));
        assert_eq!((s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms), (1.0, 50.0, 90.0, 99.0, 100.0));
        assert_eq!(s.mean_ms, 50.5);
        assert_eq!(s.rps, 50.0);
        let one = summarize(&[Duration::from_micros(1500)], 0, Duration::from_secs(1));
        assert_eq!((one.p50_ms, one.p99_ms), (1.5, 1.5));
        assert_eq!(summarize(&[], 0, Duration::ZERO).p50_ms, 0.0);
    }
}
