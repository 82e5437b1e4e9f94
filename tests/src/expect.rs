//! Assertion helpers shared by the integration tests: the captured OpenClaw frames, server
//! errors out of client results, and "same shape as the capture" checks.

use std::collections::BTreeSet;

use pincer_client::{ClientError, ErrorShape};
use serde_json::Value;

use crate::bins::workspace_root;

/// A captured OpenClaw frame from `protocol/tests/fixtures/openclaw/` (unwrapped from
/// `{note, frame}` when the capture carries a note).
pub fn fixture(name: &str) -> Value {
    let path = workspace_root().join("protocol/tests/fixtures/openclaw").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    match v.get("frame") {
        Some(frame) if v.get("note").is_some() => frame.clone(),
        _ => v,
    }
}

/// The `payload` of a captured event or response frame.
pub fn fixture_payload(name: &str) -> Value {
    fixture(name)["payload"].clone()
}

/// The server's error from a failed request or connect; panics on success or on a
/// transport-level failure (which the test did not expect).
pub fn server_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorShape {
    match result {
        Ok(v) => panic!("expected a server error, got success: {v:?}"),
        Err(e) => match e.error_shape() {
            Some(shape) => shape.clone(),
            None => panic!("expected a server error, got: {e}"),
        },
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// `actual` is an object with every key of `captured` and no others except `extra`.
pub fn assert_keys_like(what: &str, actual: &Value, captured: &Value, extra: &[&str]) {
    let want = keys(captured);
    let have = keys(actual);
    let missing: Vec<&String> = want.difference(&have).collect();
    let allowed: BTreeSet<String> = want.iter().cloned().chain(extra.iter().map(|s| s.to_string())).collect();
    let unexpected: Vec<&String> = have.difference(&allowed).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: missing keys {missing:?}, unexpected keys {unexpected:?}\n  actual:   {actual}\n  captured: {captured}"
    );
}

/// Every key of `captured` is present in `actual` with a value of the same JSON type.
pub fn assert_types_like(what: &str, actual: &Value, captured: &Value) {
    let Some(want) = captured.as_object() else { return };
    for (k, v) in want {
        let got = actual.get(k).unwrap_or_else(|| panic!("{what}: missing key {k:?} in {actual}"));
        assert_eq!(json_type(got), json_type(v), "{what}: key {k:?} has type {} (captured {}): {actual}", json_type(got), json_type(v));
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
