//! Helpers shared by the fuzz targets: invariant checks that are not themselves under test.

use serde_json::Value;

/// JSON equality where numbers compare as numbers: serde_json's default float parser may land
/// one ULP away from the value it printed, and an integer too large for u64/i64 comes back as
/// a float. Neither is a property of the code under test, so round-trip checks use this.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((kx, vx), (ky, vy))| kx == ky && json_eq(vx, vy))
        }
        _ => a == b,
    }
}

/// Panic with both documents when they differ (libFuzzer then saves the input).
pub fn assert_json_eq(what: &str, a: &Value, b: &Value) {
    assert!(json_eq(a, b), "{what}: round trip changed the document\n before: {a}\n after:  {b}");
}

/// Split fuzz input into `n` parts at 0xFF bytes (never valid UTF-8, so no text seed loses
/// meaning); missing parts are empty.
pub fn split_parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |&b| b == 0xFF).collect();
    parts.resize(n, &[]);
    parts
}
