//! Hello and presence: the `hello-ok` a client gets when its connect is accepted, the health
//! snapshot, and the presence list (the gateway plus every device-bearing connection) with its
//! coalesced broadcasts.

use pincer_protocol::connect::{Features, HelloAuth, HelloOk, Policy, ServerInfo, SessionDefaults, Snapshot};
use pincer_protocol::methods::events;
use pincer_protocol::now_ms;
use serde_json::{json, Value};

use crate::handshake::Accepted;
use crate::state::{GatewayState, SharedState};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn server_version() -> String {
    format!("pincer-{VERSION}")
}

/// The `hello-ok` payload for an accepted connection; `features` lists what the method table
/// serves and the events the gateway emits.
pub fn hello_ok(state: &GatewayState, conn_id: &str, accepted: &Accepted, features: Features) -> Value {
    let settings = state.settings();
    let mut server_extra = serde_json::Map::new();
    server_extra.insert("bootId".into(), json!(state.boot_id));
    server_extra.insert("buildId".into(), json!(format!("pincer-{VERSION}")));
    let mut snapshot_extra = serde_json::Map::new();
    snapshot_extra.insert("stateDir".into(), json!(state.options.state_dir.display().to_string()));
    snapshot_extra.insert("configPath".into(), json!(state.options.config_path.display().to_string()));
    snapshot_extra.insert("authMode".into(), json!(settings.auth.name()));
    let hello = HelloOk {
        kind: "hello-ok".into(),
        protocol: pincer_protocol::PROTOCOL_VERSION,
        server: ServerInfo { version: server_version(), conn_id: conn_id.to_string(), extra: server_extra },
        features,
        snapshot: Snapshot {
            presence: presence_entries(state),
            health: health_payload(state),
            state_version: state.hub.state_version(),
            uptime_ms: state.uptime_ms(),
            session_defaults: SessionDefaults::default(),
            extra: snapshot_extra,
        },
        auth: hello_auth(accepted),
        policy: Policy { tick_interval_ms: settings.tick_interval.as_millis() as u64, ..Policy::default() },
        extra: Default::default(),
    };
    serde_json::to_value(hello).unwrap_or(Value::Null)
}

/// `hello-ok.auth` for an accepted connect.
pub fn hello_auth(accepted: &Accepted) -> HelloAuth {
    HelloAuth {
        method: Some(accepted.auth_method.to_string()),
        role: accepted.role.as_str().to_string(),
        scopes: accepted.scopes.clone(),
        device_token: accepted.device_token.clone(),
        issued_at_ms: accepted.issued_at_ms,
        extra: Default::default(),
    }
}

/// The health snapshot, in the shape the OpenClaw CLI reads.
pub fn health_payload(state: &GatewayState) -> Value {
    let nodes = state.nodes.all().len();
    let sessions = json!({"path": state.options.state_dir.join("pincer.sqlite").display().to_string(), "count": 0, "recent": []});
    json!({
        "ok": true,
        "ts": now_ms(),
        "durationMs": 0,
        "uptimeMs": state.uptime_ms(),
        "version": server_version(),
        "plugins": {"loaded": [], "errors": [], "unavailable": []},
        "configReload": {"hotReloadStatus": "disabled"},
        "channels": {},
        "channelOrder": [],
        "channelLabels": {},
        "heartbeatSeconds": 0,
        "defaultAgentId": "main",
        "agents": [{
            "agentId": "main",
            "isDefault": true,
            "heartbeat": {"enabled": false, "every": "disabled", "everyMs": null, "prompt": "", "target": "none", "ackMaxChars": 0},
            "sessions": sessions,
        }],
        "sessions": sessions,
        "nodes": {"connected": nodes},
        "connections": state.hub.count(),
    })
}

/// One presence row for the gateway itself plus one per node and per device-bearing
/// operator (one-shot CLI connections are not presence).
pub fn presence_entries(state: &GatewayState) -> Vec<Value> {
    let host = hostname();
    let mut out = vec![json!({
        "host": host,
        "version": server_version(),
        "platform": std::env::consts::OS,
        "mode": "gateway",
        "reason": "self",
        "instanceId": state.instance_id,
        "text": format!("Gateway: {host} · app {} · mode gateway · reason self", server_version()),
        "ts": now_ms(),
    })];
    let mut conns = state.hub.all();
    conns.sort_by_key(|c| c.connected_at_ms);
    for conn in conns {
        let Some(device_id) = &conn.device_id else { continue };
        let name = conn.client.display_name.clone().unwrap_or_else(|| conn.client.id.clone());
        out.push(json!({
            "host": name,
            "clientId": conn.client.id,
            "version": conn.client.version,
            "platform": conn.client.platform,
            "deviceFamily": conn.client.device_family,
            "mode": conn.client.mode,
            "deviceId": device_id,
            "roles": [conn.role.as_str()],
            "scopes": conn.scopes,
            "instanceId": conn.client.instance_id.clone().unwrap_or_else(|| device_id.clone()),
            "reason": "connect",
            "ts": conn.connected_at_ms,
            "text": format!("{}: {name} · mode {}", if conn.role == pincer_protocol::connect::Role::Node { "Node" } else { "Client" }, conn.client.mode),
        }));
    }
    out
}

/// How long a presence change waits for others to join it in one broadcast.
///
/// Every device connect and disconnect changes presence, and a presence event carries the whole
/// list to every operator: one broadcast per change costs O(devices × operators) per connect, so
/// a burst of 300 devices in front of 200 readers meant 300 full lists to each of 500 sockets.
/// Coalesced, a burst costs one broadcast per window, and the connect path does no fan-out.
pub const PRESENCE_COALESCE: std::time::Duration = std::time::Duration::from_millis(200);

/// Announce that presence changed: one `presence` event with the then-current list goes to every
/// operator [`PRESENCE_COALESCE`] after the first change of a burst.
pub fn broadcast_presence(state: &SharedState) {
    if !state.hub.schedule_presence_broadcast() {
        return; // one is already on its way and will carry this change too
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        state.hub.presence_broadcast_started();
        broadcast_presence_now(state);
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        tokio::time::sleep(PRESENCE_COALESCE).await;
        // Cleared before the list is read, so a change from here on schedules another broadcast.
        state.hub.presence_broadcast_started();
        broadcast_presence_now(&state);
    });
}

/// Broadcast the current presence list now, with the next presence version.
pub fn broadcast_presence_now(state: &GatewayState) {
    let version = state.hub.bump_presence();
    let payload = json!({"presence": presence_entries(state)});
    state.hub.broadcast_filtered(events::PRESENCE, &payload, Some(version), |_| true);
}

/// The machine's host name, looked up once: presence rows are built on every handshake and
/// every presence broadcast.
fn hostname() -> &'static str {
    static HOST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        gethostname::gethostname()
            .into_string()
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .unwrap_or_else(|| "localhost".into())
    });
    &HOST
}
