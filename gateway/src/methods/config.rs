//! `config.get`, `config.schema`, `config.patch` (base-hash guarded, secrets redacted).

use pincer_protocol::{now_ms, ErrorShape};
use serde_json::{json, Value};

use crate::error::MethodResult;
use crate::state::{GatewayState, Settings};

pub fn get(state: &GatewayState) -> MethodResult {
    let config = state.config.read().map_err(|_| ErrorShape::unavailable("config lock poisoned"))?;
    Ok(config.redacted_snapshot())
}

pub fn schema() -> MethodResult {
    Ok(crate::config::config_schema())
}

pub fn patch(state: &GatewayState, params: Value) -> MethodResult {
    let current = state.config.read().map_err(|_| ErrorShape::unavailable("config lock poisoned"))?.clone();
    let next = current.apply_patch_params(&params)?;
    // Refuse a patch that would leave the gateway unable to start (e.g. token auth with
    // no token) before anything is written.
    let settings =
        Settings::resolve(&next, &state.options.overrides).map_err(|e| ErrorShape::invalid_request(format!("invalid config: {e}")))?;
    let response = next.patch_response(&current);
    if response.get("noop").and_then(Value::as_bool) == Some(true) {
        return Ok(response);
    }
    next.save_atomic()?;
    let changed = response.get("changedPaths").cloned().unwrap_or(json!([]));
    if let Err(e) =
        state.store.audit(now_ms(), "config", &next.path().display().to_string(), "patched", None, &json!({"changedPaths": changed}))
    {
        tracing::error!(error = %e, "audit write failed");
    }
    if let Ok(mut c) = state.config.write() {
        *c = next;
    }
    if let Ok(mut s) = state.settings.write() {
        // Port and bind take effect on restart; everything else applies now.
        let (port, bind) = (s.port, s.bind);
        *s = Settings { port, bind, ..settings };
    }
    tracing::info!(changed = %changed, "config patched");
    Ok(response)
}
