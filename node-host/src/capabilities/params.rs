//! Shared parsing of command params: JSON object → typed struct, errors as `INVALID_REQUEST`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::CommandError;

/// `null`/absent params count as `{}`; anything else must deserialize into `T`.
pub(crate) fn parse<T: DeserializeOwned + Default>(command: &str, params: Value) -> Result<T, CommandError> {
    match params {
        Value::Null => Ok(T::default()),
        Value::Object(_) => {
            serde_json::from_value(params).map_err(|e| CommandError::invalid_request(format!("{command}: bad params: {e}")))
        }
        _ => Err(CommandError::invalid_request(format!("{command}: params must be a JSON object"))),
    }
}

/// JPEG quality from either convention: `0..=1` (OpenClaw's default) or `1..=100`.
/// Returns 1..=100; `None` → `default`.
pub(crate) fn jpeg_quality(command: &str, q: Option<f64>, default: u8) -> Result<u8, CommandError> {
    let Some(q) = q else { return Ok(default) };
    if !q.is_finite() || !(0.0..=100.0).contains(&q) {
        return Err(CommandError::invalid_request(format!("{command}: quality must be 0..1 or 1..100, got {q}")));
    }
    let pct = if q <= 1.0 { q * 100.0 } else { q };
    Ok(pct.round().clamp(1.0, 100.0) as u8)
}

/// `maxWidth`: must be ≥ 1 when given.
pub(crate) fn max_width(command: &str, w: Option<f64>) -> Result<Option<u32>, CommandError> {
    match w {
        None => Ok(None),
        Some(w) if w.is_finite() && w >= 1.0 => Ok(Some(w.min(f64::from(u32::MAX)) as u32)),
        Some(w) => Err(CommandError::invalid_request(format!("{command}: maxWidth must be >= 1, got {w}"))),
    }
}

/// A duration in ms clamped to `0..=max`; negative or non-finite values are rejected.
pub(crate) fn duration_ms(command: &str, name: &str, v: Option<f64>, default: u64, max: u64) -> Result<u64, CommandError> {
    match v {
        None => Ok(default.min(max)),
        Some(v) if v.is_finite() && v >= 0.0 => Ok((v as u64).min(max)),
        Some(v) => Err(CommandError::invalid_request(format!("{command}: {name} must be >= 0, got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P {
        max_width: Option<f64>,
    }

    #[test]
    fn parse_accepts_null_and_objects_rejects_others() {
        assert!(parse::<P>("x", Value::Null).unwrap().max_width.is_none());
        assert_eq!(parse::<P>("x", json!({"maxWidth": 10})).unwrap().max_width, Some(10.0));
        let e = parse::<P>("x", json!([1])).unwrap_err();
        assert_eq!(e.code, "INVALID_REQUEST");
        let e = parse::<P>("x", json!({"maxWidth": "wide"})).unwrap_err();
        assert_eq!(e.code, "INVALID_REQUEST");
        assert!(e.message.contains("maxWidth") || e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn quality_accepts_both_scales() {
        assert_eq!(jpeg_quality("x", None, 90).unwrap(), 90);
        assert_eq!(jpeg_quality("x", Some(0.5), 90).unwrap(), 50);
        assert_eq!(jpeg_quality("x", Some(1.0), 90).unwrap(), 100);
        assert_eq!(jpeg_quality("x", Some(0.0), 90).unwrap(), 1);
        assert_eq!(jpeg_quality("x", Some(75.0), 90).unwrap(), 75);
        assert_eq!(jpeg_quality("x", Some(101.0), 90).unwrap_err().code, "INVALID_REQUEST");
        assert_eq!(jpeg_quality("x", Some(-0.1), 90).unwrap_err().code, "INVALID_REQUEST");
        assert_eq!(jpeg_quality("x", Some(f64::NAN), 90).unwrap_err().code, "INVALID_REQUEST");
    }

    #[test]
    fn widths_and_durations() {
        assert_eq!(max_width("x", Some(640.0)).unwrap(), Some(640));
        assert_eq!(max_width("x", Some(0.0)).unwrap_err().code, "INVALID_REQUEST");
        assert_eq!(duration_ms("x", "durationMs", None, 10_000, 60_000).unwrap(), 10_000);
        assert_eq!(duration_ms("x", "durationMs", Some(120_000.0), 10_000, 60_000).unwrap(), 60_000);
        assert_eq!(duration_ms("x", "durationMs", Some(-1.0), 10_000, 60_000).unwrap_err().code, "INVALID_REQUEST");
    }
}
