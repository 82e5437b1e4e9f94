//! Device pairing: `device.pair.*` and `device.token.*`.

use pincer_protocol::devices::PairedDevice;
use pincer_protocol::methods::events;
use pincer_protocol::{close_code, now_ms, scopes, ErrorShape};
use serde_json::{json, Value};

use super::required_str;
use crate::caller::Caller;
use crate::error::{invalid_params, MethodResult};
use crate::state::GatewayState;

fn actor(caller: &Caller) -> String {
    caller.display_name()
}

fn audit(state: &GatewayState, kind: &str, subject: &str, decision: &str, caller: &Caller, details: Value) {
    if let Err(e) = state.store.audit(now_ms(), kind, subject, decision, Some(&actor(caller)), &details) {
        tracing::error!(error = %e, "audit write failed");
    }
}

/// Non-admin device sessions may only manage their own device.
fn may_manage(caller: &Caller, device_id: &str) -> bool {
    caller.has_scope(scopes::ADMIN) || caller.device_id().is_none_or(|own| own == device_id)
}

/// A paired entry as `device.pair.list` shows it: live tokens' metadata and connection state.
pub fn paired_view(state: &GatewayState, mut device: PairedDevice) -> Value {
    device.tokens = state.store.device_tokens(&device.device_id).unwrap_or_default();
    device.connected = Some(state.hub.all().iter().any(|c| c.device_id.as_deref() == Some(device.device_id.as_str())));
    let mut v = serde_json::to_value(&device).unwrap_or(Value::Null);
    if device.tokens.is_empty() {
        if let Some(obj) = v.as_object_mut() {
            obj.remove("tokens");
        }
    }
    v
}

pub fn list(state: &GatewayState) -> MethodResult {
    let pending = state.store.device_requests()?;
    let paired: Vec<Value> = state.store.paired_devices()?.into_iter().map(|d| paired_view(state, d)).collect();
    Ok(json!({"pending": pending, "paired": paired}))
}

fn merged(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for s in b {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

pub fn approve(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "device.pair.approve")?;
    let Some(request) = state.store.device_request(request_id)? else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    let role = request.role.clone().unwrap_or_else(|| "operator".into());
    // Letting a device act as a node needs admin; granting operator scopes needs them.
    if role == "node" && !caller.has_scope(scopes::ADMIN) {
        return Err(ErrorShape::invalid_request("device pairing approval denied"));
    }
    if !may_manage(caller, &request.device_id) {
        return Err(ErrorShape::invalid_request("device pairing approval denied"));
    }
    if let Some(missing) = request.scopes.iter().find(|s| !caller.has_scope(s)) {
        return Err(ErrorShape::missing_scope(missing, &[missing.as_str()]));
    }
    let now = now_ms();
    let existing = state.store.paired_device(&request.device_id)?;
    let device = PairedDevice {
        device_id: request.device_id.clone(),
        public_key: request.public_key.clone(),
        display_name: request.display_name.clone().or_else(|| existing.as_ref().and_then(|e| e.display_name.clone())),
        platform: request.platform.clone(),
        device_family: request.device_family.clone(),
        client_id: request.client_id.clone(),
        client_mode: request.client_mode.clone(),
        role: Some(role.clone()),
        roles: merged(existing.as_ref().map(|e| e.roles.as_slice()).unwrap_or(&[]), &request.roles),
        scopes: merged(existing.as_ref().map(|e| e.scopes.as_slice()).unwrap_or(&[]), &request.scopes),
        approved_via: Some("owner".into()),
        created_at_ms: existing.as_ref().map(|e| e.created_at_ms).unwrap_or(now),
        approved_at_ms: now,
        last_seen_at_ms: existing.as_ref().and_then(|e| e.last_seen_at_ms),
        last_seen_reason: existing.as_ref().and_then(|e| e.last_seen_reason.clone()),
        connected: None,
        tokens: Vec::new(),
        extra: existing.map(|e| e.extra).unwrap_or_default(),
    };
    state.store.approve_device_request(request_id, &device, &role, &request.scopes, now)?;
    audit(
        state,
        "device.pair",
        &device.device_id,
        "approved",
        caller,
        json!({"requestId": request_id, "role": role, "scopes": request.scopes}),
    );
    state.hub.broadcast(
        events::DEVICE_PAIR_RESOLVED,
        &json!({"requestId": request_id, "deviceId": device.device_id, "decision": "approved", "ts": now}),
    );
    tracing::info!(device = %device.device_id, request = %request_id, "device pairing approved");
    let mut view = paired_view(state, device);
    if let Some(obj) = view.as_object_mut() {
        obj.remove("connected");
    }
    Ok(json!({"requestId": request_id, "device": view}))
}

pub fn reject(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let request_id = required_str(&params, "requestId", "device.pair.reject")?;
    let Some(request) = state.store.device_request(request_id)? else {
        return Err(ErrorShape::invalid_request("unknown requestId"));
    };
    if !may_manage(caller, &request.device_id) {
        return Err(ErrorShape::invalid_request("device pairing rejection denied"));
    }
    state.store.delete_device_request(request_id)?;
    let now = now_ms();
    audit(state, "device.pair", &request.device_id, "rejected", caller, json!({"requestId": request_id}));
    state.hub.broadcast(
        events::DEVICE_PAIR_RESOLVED,
        &json!({"requestId": request_id, "deviceId": request.device_id, "decision": "rejected", "ts": now}),
    );
    Ok(json!({"requestId": request_id, "deviceId": request.device_id}))
}

/// Close every socket of a device (optionally only those of one role).
fn disconnect_device(state: &GatewayState, device_id: &str, role: Option<&str>, except_conn: Option<&str>, reason: &str) {
    for c in state.hub.all() {
        if c.device_id.as_deref() == Some(device_id) && role.is_none_or(|r| r == c.role.as_str()) && except_conn != Some(c.conn_id.as_str())
        {
            c.close(close_code::POLICY_VIOLATION, reason);
        }
    }
}

pub fn remove(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let device_id = required_str(&params, "deviceId", "device.pair.remove")?;
    if !may_manage(caller, device_id) {
        return Err(ErrorShape::invalid_request("device pairing removal denied"));
    }
    if !state.store.remove_paired_device(device_id)? {
        return Err(ErrorShape::invalid_request("unknown deviceId"));
    }
    audit(state, "device.pair", device_id, "removed", caller, json!({}));
    disconnect_device(state, device_id, None, None, "device removed");
    Ok(json!({"deviceId": device_id}))
}

pub fn rename(state: &GatewayState, params: Value) -> MethodResult {
    let device_id = required_str(&params, "deviceId", "device.pair.rename")?;
    let label = params.get("label").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if label.is_empty() {
        return Err(ErrorShape::invalid_request("label required"));
    }
    if label.chars().count() > 64 {
        return Err(invalid_params("device.pair.rename", "at /label: must NOT have more than 64 characters"));
    }
    let Some(mut device) = state.store.paired_device(device_id)? else {
        return Err(ErrorShape::invalid_request("unknown deviceId"));
    };
    device.extra.insert("operatorLabel".into(), json!(label));
    state.store.save_paired_device(&device)?;
    Ok(json!({"deviceId": device_id, "label": label}))
}

fn role_param<'a>(params: &'a Value, method: &str) -> Result<&'a str, ErrorShape> {
    let role = required_str(params, "role", method)?;
    if role != "operator" && role != "node" {
        return Err(invalid_params(method, "at /role: must be equal to one of the allowed values"));
    }
    Ok(role)
}

pub fn rotate(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let device_id = required_str(&params, "deviceId", "device.token.rotate")?;
    let role = role_param(&params, "device.token.rotate")?;
    let denied = || ErrorShape::invalid_request("device token rotation denied");
    let Some(device) = state.store.paired_device(device_id)? else { return Err(denied()) };
    if !may_manage(caller, device_id) || !device.roles.iter().any(|r| r == role) {
        return Err(denied());
    }
    let wanted: Vec<String> = match params.get("scopes") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => device.scopes.clone(),
    };
    if !wanted.iter().all(|s| scopes::satisfies(&device.scopes, s)) {
        return Err(denied());
    }
    let now = now_ms();
    let token = state.store.issue_device_token(device_id, role, &wanted, now)?;
    audit(state, "device.token", device_id, "rotated", caller, json!({"role": role, "scopes": wanted}));
    // Only the device itself receives its new token in-band.
    let own = caller.device_id() == Some(device_id);
    disconnect_device(state, device_id, Some(role), Some(caller.conn_id()), "device token rotated");
    let mut out = json!({"deviceId": device_id, "role": role, "scopes": wanted, "rotatedAtMs": now,
                         "tokenDelivery": if own { "in-band" } else { "withheld-cross-device" }});
    if own {
        out["token"] = json!(token);
    }
    Ok(out)
}

pub fn revoke(state: &GatewayState, caller: &Caller, params: Value) -> MethodResult {
    let device_id = required_str(&params, "deviceId", "device.token.revoke")?;
    let role = role_param(&params, "device.token.revoke")?;
    if !may_manage(caller, device_id) {
        return Err(ErrorShape::invalid_request("device token revocation denied"));
    }
    let now = now_ms();
    if !state.store.revoke_device_token(device_id, role, now)? {
        return Err(ErrorShape::invalid_request("device token revocation denied"));
    }
    audit(state, "device.token", device_id, "revoked", caller, json!({"role": role}));
    disconnect_device(state, device_id, Some(role), None, "device token revoked");
    Ok(json!({"deviceId": device_id, "role": role, "revokedAtMs": now}))
}
