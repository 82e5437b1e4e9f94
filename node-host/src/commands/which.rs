//! `system.which {bins}` → `{bins: {name: absolute path}}`; names that are not found are left out.

use std::collections::BTreeMap;

use pincer_protocol::node_commands::{SystemWhichParams, SystemWhichResult};
use serde_json::Value;

use super::{parse_params, to_result, InvokeContext};
use crate::error::CommandError;

/// Most names an agent could sensibly ask for at once.
const MAX_BINS: usize = 256;

pub async fn which(params: Value, _ctx: InvokeContext) -> Result<Value, CommandError> {
    let params: SystemWhichParams = parse_params("system.which", params)?;
    if params.bins.len() > MAX_BINS {
        return Err(CommandError::invalid_request(format!("bins: at most {MAX_BINS} names")));
    }
    for name in &params.bins {
        if name.is_empty() || name.contains(['/', '\\', '\0']) {
            return Err(CommandError::invalid_request(format!("bins: {name:?} is not a bare program name")));
        }
    }
    let found = tokio::task::spawn_blocking(move || {
        let mut found = BTreeMap::new();
        for name in params.bins {
            if let Ok(path) = ::which::which(&name) {
                found.insert(name, path.to_string_lossy().into_owned());
            }
        }
        found
    })
    .await
    .map_err(|e| CommandError::unavailable(format!("system.which failed: {e}")))?;
    to_result("system.which", &SystemWhichResult { bins: found, extra: Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn finds_programs_and_leaves_out_missing_ones() {
        let out = which(json!({"bins": ["sh", "pincer-no-such-program"]}), InvokeContext::detached()).await.unwrap();
        let bins = out["bins"].as_object().unwrap();
        assert!(bins["sh"].as_str().unwrap().ends_with("/sh"));
        assert!(!bins.contains_key("pincer-no-such-program"));
    }

    #[tokio::test]
    async fn paths_are_rejected() {
        let err = which(json!({"bins": ["/bin/sh"]}), InvokeContext::detached()).await.unwrap_err();
        assert_eq!(err.code, "INVALID_REQUEST");
        let err = which(json!({}), InvokeContext::detached()).await.unwrap_err();
        assert!(err.message.contains("missing field `bins`"), "{}", err.message);
    }
}
