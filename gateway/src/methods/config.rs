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

/// Compare-and-swap: the config file's lock is held from reading the current config (whose
/// hash `baseHash` must equal) until the new one is on disk and live, so of several patches
/// made against one hash exactly one is applied and the others get the base-hash error.
pub fn patch(state: &GatewayState, params: Value) -> MethodResult {
    let config_path = state.config.read().map_err(|_| ErrorShape::unavailable("config lock poisoned"))?.path().to_path_buf();
    let file = pincer_statefile::lock(&config_path)
        .map_err(|e| ErrorShape::unavailable(format!("cannot lock config file {}: {e}", config_path.display())))?;
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
    next.save_locked(&file)?;
    // What is on disk is now what every later patch must be compared against: swap it in
    // before releasing the file (a poisoned lock is recovered, never skipped).
    let written_path = next.path().display().to_string();
    *state.config.write().unwrap_or_else(|p| p.into_inner()) = next;
    {
        let mut s = state.settings.write().unwrap_or_else(|p| p.into_inner());
        // Port and bind take effect on restart; everything else applies now.
        let (port, bind) = (s.port, s.bind);
        *s = Settings { port, bind, ..settings };
    }
    drop(file);
    let changed = response.get("changedPaths").cloned().unwrap_or(json!([]));
    if let Err(e) = state.store.audit(now_ms(), "config", &written_path, "patched", None, &json!({"changedPaths": changed})) {
        tracing::error!(error = %e, "audit write failed");
    }
    tracing::info!(changed = %changed, "config patched");
    Ok(response)
}
