//! RFC 7386 merge patch, the redaction sentinel carried back in a patch, and leaf-path diffs.

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::{HASHLESS_PATCH_PATH_PREFIXES, KNOWN_KEYS, REDACTED_SENTINEL};

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else
/// (arrays included) replaces. Key order is kept; new keys go last.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.shift_remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Replace every [`REDACTED_SENTINEL`] string in `patch` by the value stored at the same path.
pub(super) fn restore_sentinels(patch: &Value, original: Option<&Value>, path: &str) -> Result<Value, ConfigError> {
    match patch {
        Value::String(s) if s == REDACTED_SENTINEL => match original {
            Some(v) if !v.is_null() => Ok(v.clone()),
            _ => {
                let key = if path.is_empty() { "<root>" } else { path };
                Err(ConfigError::invalid(
                    key,
                    format!("the redaction marker \"{REDACTED_SENTINEL}\" is not valid config data here (there is no stored value to keep); send the real value"),
                ))
            }
        },
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let child = original.and_then(|o| o.get(k));
                out.insert(k.clone(), restore_sentinels(v, child, &join_path(path, k))?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let orig = original.and_then(Value::as_array);
            items
                .iter()
                .enumerate()
                .map(|(i, v)| restore_sentinels(v, orig.and_then(|a| a.get(i)), &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

pub(super) fn diff_leaf_paths(prev: Option<&Value>, next: Option<&Value>, prefix: &str) -> Vec<String> {
    let here = || vec![if prefix.is_empty() { "<root>".to_string() } else { prefix.to_string() }];
    match (prev, next) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            if keys.is_empty() {
                return Vec::new();
            }
            keys.into_iter().flat_map(|k| diff_leaf_paths(a.get(k), b.get(k), &join_path(prefix, k))).collect()
        }
        (Some(Value::Object(a)), None) | (None, Some(Value::Object(a))) => {
            if a.is_empty() {
                return here();
            }
            let mut out = Vec::new();
            for (k, v) in a {
                out.extend(diff_leaf_paths(Some(v), None, &join_path(prefix, k)));
            }
            out
        }
        (a, b) if a == b => Vec::new(),
        _ => here(),
    }
}

pub(super) fn is_hashless_path(path: &str) -> bool {
    HASHLESS_PATCH_PATH_PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}.")))
}

pub(super) fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn value_at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |node, seg| node.get(seg)).filter(|v| !v.is_null())
}

pub(super) fn contains_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|c| contains_key(c, key)),
        Value::Array(a) => a.iter().any(|c| contains_key(c, key)),
        _ => false,
    }
}

/// `gateway.controlUi.allowedOrigins[0]` → is under a key Pincer reads.
pub(super) fn is_known_path(path: &str) -> bool {
    let mut normalized = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => normalized.push(c),
            _ => {}
        }
    }
    KNOWN_KEYS.iter().any(|k| normalized == *k || normalized.starts_with(&format!("{k}.")))
}
