//! The `connect` handshake: params validation, protocol negotiation, browser origin
//! checks, shared-secret and device-token auth, device signatures, the failed-auth rate
//! limit, and device pairing (silent on loopback, otherwise a pending request).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use pincer_protocol::connect::{self, ConnectParams, Role};
use pincer_protocol::device::{self, DeviceError, SignedFields};
use pincer_protocol::devices::{DevicePairRequest, PairedDevice};
use pincer_protocol::error::{next_step, DetailCode, ErrorCode, ErrorShape};
use pincer_protocol::methods::events;
use pincer_protocol::{close_code, now_ms, scopes};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::origin::OriginCheck;
use crate::rate_limit::{RateLimitKey, RateLimitPolicy};
use crate::state::{AuthMode, GatewayState};

/// What the transport knows about the socket.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The client's address: the socket's, or the one a trusted proxy reports
    /// ([`crate::client_addr::resolve`]).
    pub client_ip: IpAddr,
    pub origin: Option<String>,
    pub host: Option<String>,
    /// Set when a proxy header says the socket is not the real client.
    pub forwarded: bool,
}

impl Peer {
    /// A direct loopback client (no proxy in between).
    pub fn is_local(&self) -> bool {
        self.addr.ip().to_canonical().is_loopback() && !self.forwarded
    }

    /// What this connection's failed logins count against, or `None` when it is exempt.
    /// Only a direct loopback client without a browser `Origin` can be exempt
    /// (`gateway.auth.rateLimit.exemptLoopback`); a web page on this machine is counted by its
    /// origin (OpenClaw's rule), and anything that came through a proxy by its client address.
    pub fn rate_limit_key(&self, policy: &RateLimitPolicy) -> Option<RateLimitKey> {
        let origin = self.origin.as_deref().map(str::trim).filter(|o| !o.is_empty());
        match origin {
            Some(origin) if self.client_ip.is_loopback() => {
                Some(RateLimitKey::BrowserOrigin(origin.trim_end_matches('/').to_ascii_lowercase()))
            }
            _ if self.is_local() && policy.exempt_loopback => None,
            _ => Some(RateLimitKey::Ip(self.client_ip)),
        }
    }
}

/// A successful handshake.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub role: Role,
    pub scopes: Vec<String>,
    pub protocol: u32,
    pub auth_method: &'static str,
    pub device_id: Option<String>,
    pub device_token: Option<String>,
    pub issued_at_ms: Option<i64>,
}

/// A refused handshake: the error response and how to close.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub error: ErrorShape,
    pub close_code: u16,
    pub close_reason: String,
}

impl Rejection {
    fn policy(error: ErrorShape) -> Self {
        let reason = error.message.clone();
        Rejection { error, close_code: close_code::POLICY_VIOLATION, close_reason: reason }
    }
}

fn auth_error(message: &str, code: DetailCode, auth_reason: &str, next: &str) -> Rejection {
    Rejection::policy(
        ErrorShape::invalid_request(message)
            .with_detail_code(code)
            .with_detail("authReason", auth_reason)
            .with_detail("canRetryWithDeviceToken", false)
            .with_detail("recommendedNextStep", next),
    )
}

fn device_error(e: DeviceError) -> Rejection {
    let (code, message) = match e {
        DeviceError::PublicKeyEncoding | DeviceError::PublicKeyInvalid => {
            (DetailCode::DeviceAuthPublicKeyInvalid, "device public key invalid")
        }
        DeviceError::DeviceIdMismatch => (DetailCode::DeviceAuthDeviceIdMismatch, "device identity mismatch"),
        DeviceError::SignatureEncoding | DeviceError::SignatureInvalid | DeviceError::SeedInvalid => {
            (DetailCode::DeviceAuthSignatureInvalid, "device signature invalid")
        }
    };
    Rejection::policy(ErrorShape::invalid_request(message).with_detail_code(code))
}

/// Validate the closed-set and shape rules OpenClaw's schema enforces on `connect`.
pub fn parse_connect_params(params: Value) -> Result<ConnectParams, Rejection> {
    let invalid = |why: String| Rejection::policy(ErrorShape::invalid_request(format!("invalid connect params: {why}")));
    if !params.is_object() {
        return Err(invalid("at root: must be object".into()));
    }
    for key in ["minProtocol", "maxProtocol", "client"] {
        if params.get(key).is_none() {
            return Err(invalid(format!("must have required property '{key}'")));
        }
    }
    let mut parsed: ConnectParams = serde_json::from_value(params).map_err(|e| invalid(e.to_string()))?;
    match connect::canonical_client_id(&parsed.client.id) {
        Some(id) => parsed.client.id = id.to_string(),
        None => return Err(invalid("at /client/id: must be equal to one of the allowed values".into())),
    }
    match connect::canonical_client_mode(&parsed.client.mode) {
        Some(mode) => parsed.client.mode = mode.to_string(),
        None => return Err(invalid("at /client/mode: must be equal to one of the allowed values".into())),
    }
    if parsed.client.version.trim().is_empty() {
        return Err(invalid("at /client/version: must NOT have fewer than 1 characters".into()));
    }
    if parsed.client.platform.trim().is_empty() {
        return Err(invalid("at /client/platform: must NOT have fewer than 1 characters".into()));
    }
    if parsed.min_protocol == 0 || parsed.max_protocol == 0 {
        return Err(invalid("at /minProtocol: must be >= 1".into()));
    }
    let auth = parsed.auth.clone().unwrap_or_default();
    let too_long = |t: &Option<String>, max: usize| t.as_ref().is_some_and(|v| v.chars().count() > max);
    if too_long(&auth.device_token, 256) || too_long(&auth.bootstrap_token, 256) {
        return Err(invalid("at /auth: token must NOT have more than 256 characters".into()));
    }
    if too_long(&auth.token, 4096) || too_long(&auth.password, 4096) {
        return Err(invalid("at /auth: secret must NOT have more than 4096 characters".into()));
    }
    Ok(parsed)
}

fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Client ids that are trusted with their requested scopes on a shared-secret connect with
/// no device identity (how the real CLI connects).
fn token_only_trusted(client_id: &str, mode: &str) -> bool {
    matches!((client_id, mode), ("cli", "cli") | ("gateway-client", "backend"))
}

fn is_browser_client(client_id: &str, mode: &str) -> bool {
    connect::BROWSER_CLIENT_IDS.contains(&client_id) || mode == "webchat"
}

/// The parenthesised hints of OpenClaw's shared-secret failure messages
/// (`formatGatewayAuthFailureMessage`): `(token_hint, password_hint, missing_token_hint)`,
/// chosen by client kind and whether the client is local.
fn auth_hints(client_id: &str, mode: &str, local: bool) -> (&'static str, &'static str, &'static str) {
    let ui = matches!(client_id, "openclaw-control-ui" | "openclaw-browser-copilot" | "openclaw-tui")
        || mode == "webchat"
        || client_id == "webchat-ui";
    let (token, password) = if mode == "cli" {
        if local {
            ("use this gateway's gateway.auth.token or pair the device", "use this gateway's gateway.auth.password")
        } else {
            ("set gateway.remote.token to match gateway.auth.token", "set gateway.remote.password to match gateway.auth.password")
        }
    } else if ui {
        ("open the dashboard URL and paste the token in Control UI settings", "enter the password in Control UI settings")
    } else {
        ("provide gateway auth token", "provide gateway auth password")
    };
    let missing_token = if ui { "paste in Control UI settings or openclaw doctor --generate-gateway-token; restart" } else { token };
    (token, password, missing_token)
}

/// Run the whole connect decision.
pub fn authenticate(state: &GatewayState, params: &ConnectParams, nonce: &str, peer: &Peer) -> Result<Accepted, Rejection> {
    let settings = state.settings();
    let now = now_ms();

    // Protocol version: nodes may still speak the previous one.
    let role = Role::parse(params.role_str()).ok_or_else(|| Rejection::policy(ErrorShape::invalid_request("invalid role")))?;
    let is_node = role == Role::Node && params.client.mode == "node";
    let Some(protocol) = connect::negotiate_protocol(params.min_protocol, params.max_protocol, is_node) else {
        return Err(Rejection {
            error: ErrorShape::invalid_request("protocol mismatch")
                .with_detail_code(DetailCode::ProtocolMismatch)
                .with_detail("clientMinProtocol", params.min_protocol)
                .with_detail("clientMaxProtocol", params.max_protocol)
                .with_detail("expectedProtocol", pincer_protocol::PROTOCOL_VERSION)
                .with_detail("minimumNodeProtocol", pincer_protocol::MIN_NODE_PROTOCOL),
            close_code: close_code::PROTOCOL_ERROR,
            close_reason: "protocol mismatch".into(),
        });
    };

    // Failed-auth lockout.
    let rate_key = peer.rate_limit_key(&settings.rate_limit);
    if let Some(retry) = rate_key.as_ref().and_then(|key| state.rate_limiter.check(key, Instant::now())) {
        let mut error = ErrorShape::invalid_request("unauthorized: too many failed authentication attempts (retry later)")
            .with_detail_code(DetailCode::AuthRateLimited)
            .with_detail("authReason", "rate_limited")
            .with_detail("recommendedNextStep", next_step::WAIT_THEN_RETRY);
        error = error.retryable(Some(retry.as_millis() as u64));
        return Err(Rejection::policy(error));
    }

    // Browsers: only allowed origins may drive the gateway.
    let client_id = params.client.id.as_str();
    let mode = params.client.mode.as_str();
    let origin_reject = |reason: &str| {
        Rejection::policy(
            ErrorShape::invalid_request(
                "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)",
            )
            .with_detail_code(DetailCode::ControlUiOriginNotAllowed)
            .with_detail("reason", reason),
        )
    };
    match &peer.origin {
        Some(origin) => match crate::origin::check_origin(origin, peer.host.as_deref(), &settings.allowed_origins) {
            OriginCheck::Allowed => {}
            OriginCheck::OriginNotAllowed => return Err(origin_reject("origin not allowed")),
            OriginCheck::HostNotAllowed => return Err(origin_reject("host not allowed")),
        },
        None if is_browser_client(client_id, mode) => return Err(origin_reject("origin missing or invalid")),
        None => {}
    }

    let auth = params.auth.clone().unwrap_or_default();
    let fail = |rejection: Rejection| {
        if let Some(key) = &rate_key {
            state.rate_limiter.record_failure(key, &settings.rate_limit, Instant::now());
        }
        Err(rejection)
    };

    // Device signature (checked before credentials so a forged identity never counts).
    let device = match &params.device {
        Some(d) => {
            let Some(sent_nonce) = d.nonce.as_deref().filter(|n| !n.is_empty()) else {
                return fail(Rejection::policy(
                    ErrorShape::invalid_request("device nonce required").with_detail_code(DetailCode::DeviceAuthNonceRequired),
                ));
            };
            if sent_nonce != nonce {
                return fail(Rejection::policy(
                    ErrorShape::invalid_request("device nonce mismatch").with_detail_code(DetailCode::DeviceAuthNonceMismatch),
                ));
            }
            if (now - d.signed_at).abs() > pincer_protocol::DEVICE_SIGNATURE_SKEW_MS {
                return fail(Rejection::policy(
                    ErrorShape::invalid_request("device signature expired").with_detail_code(DetailCode::DeviceAuthSignatureExpired),
                ));
            }
            let fields = SignedFields {
                device_id: &d.id,
                client_id: &params.client.id,
                client_mode: &params.client.mode,
                role: params.role_str(),
                scopes: params.scopes(),
                signed_at_ms: d.signed_at,
                token: auth.signed_token(),
                nonce: sent_nonce,
                platform: &params.client.platform,
                device_family: params.client.device_family.as_deref().unwrap_or(""),
            };
            // Clients may have sent the raw id with different case; sign-check uses theirs.
            if let Err(e) = device::verify_connect_signature(&d.public_key, &d.signature, &fields) {
                return fail(device_error(e));
            }
            Some(d.clone())
        }
        None => None,
    };
    let device_id = device.as_ref().map(|d| d.id.to_ascii_lowercase());

    // Credentials: a device token of this device and role, or the shared secret.
    let presented_device_token = auth.device_token.as_deref().or(auth.token.as_deref());
    let mut device_grant = None;
    if let (Some(id), Some(token)) = (&device_id, presented_device_token) {
        device_grant = state.store.verify_device_token(id, role.as_str(), token, now).map_err(|e| Rejection::policy(e.into()))?;
    }
    let shared_ok = match &settings.auth {
        AuthMode::Token(expected) => auth.token.as_deref().is_some_and(|t| secrets_equal(t, expected)),
        AuthMode::Password(expected) => auth.password.as_deref().is_some_and(|p| secrets_equal(p, expected)),
        AuthMode::None => true,
    };
    if device_grant.is_none() && !shared_ok {
        let rejection = if auth.device_token.is_some() && device_id.is_some() {
            auth_error(
                "unauthorized: device token mismatch (rotate/reissue device token)",
                DetailCode::AuthDeviceTokenMismatch,
                "device_token_mismatch",
                next_step::UPDATE_AUTH_CREDENTIALS,
            )
        } else {
            let (token_hint, password_hint, missing_token_hint) = auth_hints(client_id, mode, peer.is_local());
            match &settings.auth {
                AuthMode::Token(_) if auth.token.is_none() => auth_error(
                    &format!("unauthorized: gateway token missing ({missing_token_hint})"),
                    DetailCode::AuthTokenMissing,
                    "token_missing",
                    next_step::UPDATE_AUTH_CONFIGURATION,
                ),
                AuthMode::Token(_) => auth_error(
                    &format!("unauthorized: gateway token mismatch ({token_hint})"),
                    DetailCode::AuthTokenMismatch,
                    "token_mismatch",
                    next_step::UPDATE_AUTH_CREDENTIALS,
                ),
                AuthMode::Password(_) if auth.password.is_none() => auth_error(
                    &format!("unauthorized: gateway password missing ({password_hint})"),
                    DetailCode::AuthPasswordMissing,
                    "password_missing",
                    next_step::UPDATE_AUTH_CONFIGURATION,
                ),
                _ => auth_error(
                    &format!("unauthorized: gateway password mismatch ({password_hint})"),
                    DetailCode::AuthPasswordMismatch,
                    "password_mismatch",
                    next_step::UPDATE_AUTH_CREDENTIALS,
                ),
            }
        };
        return fail(rejection);
    }
    if let Some(key) = &rate_key {
        state.rate_limiter.record_success(key);
    }

    let requested: Vec<String> = params.scopes().iter().filter(|s| scopes::is_known(s)).cloned().collect();

    // No device identity: only trusted operator clients keep their scopes.
    let Some(device) = device else {
        if role == Role::Node {
            return Err(Rejection::policy(
                ErrorShape::new(ErrorCode::NotPaired, "device identity required").with_detail_code(DetailCode::DeviceIdentityRequired),
            ));
        }
        if mode == "ui" && !token_only_trusted(client_id, mode) {
            return Err(Rejection::policy(
                ErrorShape::invalid_request("control ui requires device identity (use HTTPS or localhost secure context)")
                    .with_detail_code(DetailCode::ControlUiDeviceIdentityRequired),
            ));
        }
        let granted = if token_only_trusted(client_id, mode) && shared_ok { requested } else { Vec::new() };
        return Ok(Accepted {
            role,
            scopes: granted,
            protocol,
            auth_method: settings.auth.name(),
            device_id: None,
            device_token: None,
            issued_at_ms: None,
        });
    };
    let device_id = device_id.unwrap_or_default();
    let wanted_scopes = if role == Role::Node { Vec::new() } else { requested };

    // A valid device token carries its approved scopes; asking for more needs approval.
    if let Some(grant) = device_grant {
        let within = wanted_scopes.iter().all(|s| scopes::satisfies(&grant.scopes, s));
        if within {
            touch_seen(state, &device_id, now);
            return Ok(Accepted {
                role,
                scopes: wanted_scopes,
                protocol,
                auth_method: "device-token",
                device_id: Some(device_id),
                device_token: presented_device_token.map(str::to_string),
                issued_at_ms: None,
            });
        }
        if !shared_ok {
            return Err(pairing_required(state, params, &device, &device_id, &wanted_scopes, "scope-upgrade", peer, now)?);
        }
    }

    // Shared secret + device identity: paired devices get (re)issued a role token; new
    // devices, new roles, wider scopes or changed metadata need pairing approval.
    let paired = state.store.paired_device(&device_id).map_err(|e| Rejection::policy(e.into()))?;
    let platform = params.client.platform.clone();
    let family = params.client.device_family.clone().unwrap_or_default();
    let reason = match &paired {
        None => Some("not-paired"),
        Some(p) if !p.roles.iter().any(|r| r == role.as_str()) => Some("role-upgrade"),
        Some(p) if !wanted_scopes.iter().all(|s| scopes::satisfies(&p.scopes, s)) => Some("scope-upgrade"),
        Some(p)
            if p.platform.as_deref().is_some_and(|x| !x.eq_ignore_ascii_case(&platform))
                || p.device_family.as_deref().is_some_and(|x| !x.eq_ignore_ascii_case(&family)) =>
        {
            Some("metadata-upgrade")
        }
        Some(_) => None,
    };
    if let Some(reason) = reason {
        if !(settings.auto_approve_local && peer.is_local()) {
            return Err(pairing_required(state, params, &device, &device_id, &wanted_scopes, reason, peer, now)?);
        }
        approve_silently(state, params, &device, &device_id, paired.as_ref(), role, &wanted_scopes, peer, now)?;
    }
    let token_scopes = paired_scopes_after(state, &device_id, &wanted_scopes);
    let token = state.store.issue_device_token(&device_id, role.as_str(), &token_scopes, now).map_err(|e| Rejection::policy(e.into()))?;
    touch_seen(state, &device_id, now);
    Ok(Accepted {
        role,
        scopes: wanted_scopes,
        protocol,
        auth_method: settings.auth.name(),
        device_id: Some(device_id),
        device_token: Some(token),
        issued_at_ms: Some(now),
    })
}

fn paired_scopes_after(state: &GatewayState, device_id: &str, wanted: &[String]) -> Vec<String> {
    match state.store.paired_device(device_id) {
        Ok(Some(p)) => p.scopes,
        _ => wanted.to_vec(),
    }
}

fn touch_seen(state: &GatewayState, device_id: &str, now: i64) {
    if let Ok(Some(mut p)) = state.store.paired_device(device_id) {
        p.last_seen_at_ms = Some(now);
        p.last_seen_reason = Some("connect".into());
        if let Err(e) = state.store.save_paired_device(&p) {
            tracing::warn!(error = %e, "could not record device last-seen time");
        }
    }
}

fn merged(a: &[String], b: &[String]) -> Vec<String> {
    let mut out: Vec<String> = a.to_vec();
    for s in b {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Loopback auto-approval: record the device (or its upgrade) as approved silently.
#[allow(clippy::too_many_arguments)]
fn approve_silently(
    state: &GatewayState,
    params: &ConnectParams,
    device: &pincer_protocol::connect::DeviceAuth,
    device_id: &str,
    existing: Option<&PairedDevice>,
    role: Role,
    wanted: &[String],
    peer: &Peer,
    now: i64,
) -> Result<(), Rejection> {
    let record = PairedDevice {
        device_id: device_id.to_string(),
        public_key: device.public_key.clone(),
        display_name: params.client.display_name.clone().or_else(|| existing.and_then(|e| e.display_name.clone())),
        platform: Some(params.client.platform.clone()),
        device_family: params.client.device_family.clone(),
        client_id: Some(params.client.id.clone()),
        client_mode: Some(params.client.mode.clone()),
        role: Some(role.as_str().to_string()),
        roles: merged(existing.map(|e| e.roles.as_slice()).unwrap_or(&[]), &[role.as_str().to_string()]),
        scopes: merged(existing.map(|e| e.scopes.as_slice()).unwrap_or(&[]), wanted),
        // A person's approval is kept when a loopback connect widens the device silently:
        // only devices nobody approved are ever pruned (see prune_silent_pairings).
        approved_via: existing
            .and_then(|e| e.approved_via.clone())
            .filter(|via| via != crate::store::SILENT)
            .or_else(|| Some(crate::store::SILENT.into())),
        created_at_ms: existing.map(|e| e.created_at_ms).unwrap_or(now),
        approved_at_ms: now,
        last_seen_at_ms: Some(now),
        last_seen_reason: Some("connect".into()),
        connected: None,
        tokens: Vec::new(),
        extra: existing.map(|e| e.extra.clone()).unwrap_or_default(),
    };
    state.store.save_paired_device(&record).map_err(|e| Rejection::policy(e.into()))?;
    let _ = state.store.delete_device_requests_for(device_id);
    let details = json!({"role": role.as_str(), "scopes": wanted, "remoteIp": peer.client_ip.to_string(), "via": "autoApproveLocal"});
    if let Err(e) = state.store.audit(now, "device.pair", device_id, "approved", Some("silent"), &details) {
        tracing::error!(error = %e, "audit write failed");
    }
    // OpenClaw files a silent request and approves it inline, telling operators only the
    // outcome: `device.pair.resolved` (never `device.pair.requested`) with that request's id.
    let resolved = json!({"requestId": uuid::Uuid::new_v4().to_string(), "deviceId": device_id, "decision": "approved", "ts": now});
    state.hub.broadcast(events::DEVICE_PAIR_RESOLVED, &resolved);
    tracing::info!(device = %device_id, role = role.as_str(), "device paired silently (loopback)");
    prune_silent_pairings(state, device_id, now);
    Ok(())
}

/// Silent pairings are free to make (any local process with the shared secret), so each one
/// retires the silent pairings it supersedes and keeps their number bounded; connected devices
/// are kept. A pruned device that comes back over loopback is simply paired silently again.
fn prune_silent_pairings(state: &GatewayState, anchor: &str, now: i64) {
    let connected: std::collections::HashSet<String> = state.hub.all().iter().filter_map(|c| c.device_id.clone()).collect();
    match state.store.prune_silent_devices(anchor, &connected, &crate::store::SilentPrune::default(), now) {
        Ok(pruned) if pruned.is_empty() => {}
        Ok(pruned) => tracing::info!(count = pruned.len(), devices = ?pruned, "pruned superseded or surplus silent device pairings"),
        Err(e) => tracing::warn!(error = %e, "could not prune silent device pairings"),
    }
}

/// Create (or reuse) a pending pairing request and build the `NOT_PAIRED` rejection.
#[allow(clippy::too_many_arguments)]
fn pairing_required(
    state: &GatewayState,
    params: &ConnectParams,
    device: &pincer_protocol::connect::DeviceAuth,
    device_id: &str,
    wanted: &[String],
    reason: &str,
    peer: &Peer,
    now: i64,
) -> Result<Rejection, Rejection> {
    let role = params.role_str().to_string();
    let existing = state.store.device_request_for(device_id).map_err(|e| Rejection::policy(e.into()))?;
    let same = existing.as_ref().filter(|r| {
        r.role.as_deref() == Some(role.as_str())
            && r.scopes == wanted
            && r.platform.as_deref() == Some(params.client.platform.as_str())
            && r.device_family == params.client.device_family
            && r.public_key == device.public_key
    });
    let request = match same {
        Some(r) => r.clone(),
        None => {
            // A reconnect with different details supersedes the old request.
            let _ = state.store.delete_device_requests_for(device_id);
            let paired = state.store.paired_device(device_id).ok().flatten();
            let req = DevicePairRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                device_id: device_id.to_string(),
                public_key: device.public_key.clone(),
                display_name: params.client.display_name.clone(),
                platform: Some(params.client.platform.clone()),
                device_family: params.client.device_family.clone(),
                client_id: Some(params.client.id.clone()),
                client_mode: Some(params.client.mode.clone()),
                role: Some(role.clone()),
                roles: vec![role.clone()],
                scopes: wanted.to_vec(),
                remote_ip: Some(peer.client_ip.to_string()),
                silent: false,
                is_repair: paired.is_some(),
                ts: now,
                extra: Default::default(),
            };
            state.store.save_device_request(&req).map_err(|e| Rejection::policy(e.into()))?;
            if let Ok(payload) = serde_json::to_value(&req) {
                state.hub.broadcast(events::DEVICE_PAIR_REQUESTED, &payload);
            }
            tracing::info!(device = %device_id, request = %req.request_id, "device pairing requested");
            req
        }
    };
    let message = if reason == "not-paired" {
        "pairing required: device is not approved yet".to_string()
    } else {
        format!("pairing required: {reason} needs approval")
    };
    let error = ErrorShape::new(ErrorCode::NotPaired, message.clone())
        .with_detail_code(DetailCode::PairingRequired)
        .with_detail("reason", reason)
        .with_detail("requestId", request.request_id.clone())
        .with_detail("remediationHint", "Approve this device from the pending pairing requests.")
        .with_detail("deviceId", device_id)
        .with_detail("requestedRole", role)
        .with_detail("requestedScopes", wanted.to_vec())
        .with_detail("retryable", true)
        .with_detail("waitForResolution", true);
    Ok(Rejection {
        error,
        close_code: close_code::POLICY_VIOLATION,
        close_reason: format!("{message} (requestId: {})", request.request_id),
    })
}
