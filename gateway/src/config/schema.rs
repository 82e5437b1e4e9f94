//! `config.schema`: the JSON Schema and UI hints of the keys Pincer reads.

use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::patch::join_path;
use super::{
    DEFAULT_EXEC_APPROVAL_TIMEOUT_MS, DEFAULT_INVOKE_TIMEOUT_MS, DEFAULT_PORT, DEFAULT_RATE_LIMIT_LOCKOUT_MS,
    DEFAULT_RATE_LIMIT_MAX_ATTEMPTS, DEFAULT_RATE_LIMIT_WINDOW_MS, DEFAULT_TICK_INTERVAL_MS,
};

pub(super) struct KeyDoc {
    path: &'static str,
    label: &'static str,
    help: &'static str,
    schema: Value,
    pincer_specific: bool,
    sensitive: bool,
    deprecated: bool,
}

pub(super) fn secret_input_schema() -> Value {
    json!({
        "anyOf": [
            { "type": "string" },
            {
                "type": "object",
                "properties": {
                    "source": { "type": "string", "const": "env" },
                    "provider": { "type": "string" },
                    "id": { "type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,127}$" }
                },
                "required": ["source", "id"],
                "additionalProperties": true
            }
        ]
    })
}

pub(super) fn key_docs() -> Vec<KeyDoc> {
    let k = |path, label, help, schema| KeyDoc { path, label, help, schema, pincer_specific: false, sensitive: false, deprecated: false };
    let strings = || json!({ "type": "array", "items": { "type": "string" }, "default": [] });
    vec![
        k("gateway.port", "Gateway Port", "TCP port of the gateway listener (WebSocket, HTTP and Control UI on one port).",
            json!({ "type": "integer", "minimum": 1, "maximum": 65535, "default": DEFAULT_PORT })),
        k("gateway.bind", "Gateway Bind Mode",
            "Network bind profile: \"loopback\" (127.0.0.1 only), \"lan\" (all interfaces, 0.0.0.0), \"auto\" (Pincer: same as loopback) or \"custom\" (gateway.customBindHost). OpenClaw's \"tailnet\" is not supported.",
            json!({ "type": "string", "enum": ["loopback", "lan", "auto", "custom"], "default": "loopback" })),
        k("gateway.customBindHost", "Gateway Custom Bind Host", "IP address to listen on when gateway.bind is \"custom\".",
            json!({ "type": "string" })),
        k("gateway.auth.mode", "Gateway Auth Mode",
            "\"token\", \"password\" or \"none\" (no shared secret; private ingress only). When unset: \"password\" if gateway.auth.password is set, else \"token\". OpenClaw's \"trusted-proxy\" is not supported.",
            json!({ "type": "string", "enum": ["token", "password", "none"] })),
        KeyDoc { sensitive: true, ..k("gateway.auth.token", "Gateway Token",
            "Shared secret for gateway.auth.mode=token. A string, \"${ENV_VAR}\", or {source: \"env\", id: \"ENV_VAR\"}.",
            secret_input_schema()) },
        KeyDoc { sensitive: true, ..k("gateway.auth.password", "Gateway Password",
            "Shared secret for gateway.auth.mode=password. Same forms as the token.",
            secret_input_schema()) },
        k("gateway.auth.rateLimit.maxAttempts", "Auth Rate Limit Max Attempts", "Failed auth attempts allowed per client address within windowMs.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_RATE_LIMIT_MAX_ATTEMPTS })),
        k("gateway.auth.rateLimit.windowMs", "Auth Rate Limit Window (ms)", "Window in which failed attempts are counted.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_RATE_LIMIT_WINDOW_MS })),
        k("gateway.auth.rateLimit.lockoutMs", "Auth Rate Limit Lockout (ms)", "How long a client address is locked out after too many failures.",
            json!({ "type": "integer", "minimum": 0, "default": DEFAULT_RATE_LIMIT_LOCKOUT_MS })),
        k("gateway.auth.rateLimit.exemptLoopback", "Auth Rate Limit Exempt Loopback", "Do not rate-limit loopback clients.",
            json!({ "type": "boolean", "default": true })),
        k("gateway.controlUi.allowedOrigins", "Control UI Allowed Origins",
            "Browser origins allowed to open Control UI/WebChat WebSocket connections (full origins, e.g. https://control.example.com).",
            strings()),
        k("gateway.trustedProxies", "Trusted Proxy IPs",
            "Addresses or CIDR ranges of reverse proxies in front of the gateway. Only their X-Forwarded-For is believed (right-most hop that is not itself a trusted proxy); it names the client for the failed-auth rate limit. A connection with forwarding headers is never treated as local.",
            strings()),
        k("gateway.allowRealIpFallback", "Allow X-Real-IP Fallback",
            "Use a trusted proxy's X-Real-IP when its X-Forwarded-For names no client. Leave off unless your proxy needs it.",
            json!({ "type": "boolean", "default": false })),
        KeyDoc { pincer_specific: true, ..k("gateway.connections.max", "Max Connections",
            "Pincer-specific: sockets open at once (HTTP and WebSocket, authenticated or not); one more is closed on accept. Kept below the process's open-files limit. Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 1, "default": crate::listener::DEFAULT_MAX_CONNECTIONS })) },
        KeyDoc { pincer_specific: true, ..k("gateway.connections.maxUnauthenticated", "Max Unauthenticated Connections",
            "Pincer-specific: sockets that have not completed connect (HTTP probes included); when full, the oldest is closed to admit a new one. Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 1, "default": crate::listener::DEFAULT_MAX_UNAUTHENTICATED })) },
        KeyDoc { pincer_specific: true, ..k("gateway.connections.headerReadTimeoutMs", "Header Read Timeout (ms)",
            "Pincer-specific: a connection whose HTTP request headers are not complete within this time is closed (slowloris). Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 100, "default": crate::listener::DEFAULT_HEADER_READ_TIMEOUT_MS })) },
        k("gateway.nodes.pairing.autoApproveLocal", "Node Pairing Auto-Approve Local",
            "Silently approve pairing (and role/scope upgrades) of direct loopback clients.",
            json!({ "type": "boolean", "default": true })),
        k("gateway.nodes.commands.allow", "Node Command Allowlist (Extra Commands)",
            "Extra node.invoke commands to allow beyond the platform defaults (exact names).", strings()),
        k("gateway.nodes.commands.deny", "Node Command Denylist",
            "node.invoke commands to block even when declared and allowed (exact names; deny wins).", strings()),
        KeyDoc { deprecated: true, ..k("gateway.nodes.allowCommands", "Node Command Allowlist (older spelling)",
            "Older spelling of gateway.nodes.commands.allow; both are read (union).", strings()) },
        KeyDoc { deprecated: true, ..k("gateway.nodes.denyCommands", "Node Command Denylist (older spelling)",
            "Older spelling of gateway.nodes.commands.deny; both are read (union).", strings()) },
        KeyDoc { pincer_specific: true, ..k("gateway.nodes.invokeTimeoutMs", "Node Invoke Timeout (ms)",
            "Pincer-specific: default time node.invoke waits for the node's result. Not an OpenClaw key (OpenClaw's strict validator rejects it).",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_INVOKE_TIMEOUT_MS })) },
        KeyDoc { pincer_specific: true, ..k("gateway.tickIntervalMs", "Tick Interval (ms)",
            "Pincer-specific: interval of the `tick` keepalive event (hello-ok policy.tickIntervalMs). Not an OpenClaw key.",
            json!({ "type": "integer", "minimum": 100, "default": DEFAULT_TICK_INTERVAL_MS })) },
        KeyDoc { pincer_specific: true, ..k("approvals.exec.timeoutMs", "Exec Approval Timeout (ms)",
            "Pincer-specific: pending exec approvals expire after this long and askFallback applies. OpenClaw hard-codes 30 minutes.",
            json!({ "type": "integer", "minimum": 1, "default": DEFAULT_EXEC_APPROVAL_TIMEOUT_MS })) },
        KeyDoc { pincer_specific: true, ..k("approvals.exec.askFallback", "Exec Approval Ask Fallback",
            "Pincer-specific: decision applied when an exec approval expires unanswered: \"deny\", \"allowlist\" (allow only allowlisted commands) or \"full\" (allow). OpenClaw keeps askFallback in exec-approvals.json.",
            json!({ "type": "string", "enum": ["deny", "allowlist", "full"], "default": "deny" })) },
        k("logging.level", "Log Level", "Log level threshold: \"silent\", \"fatal\", \"error\", \"warn\", \"info\", \"debug\" or \"trace\".",
            json!({ "type": "string", "enum": ["silent", "fatal", "error", "warn", "info", "debug", "trace"], "default": "info" })),
        k("logging.file", "Log File Path", "Optional JSON-lines log file (~ is expanded).", json!({ "type": "string" })),
        k("messages.queue.mode", "Queue Mode",
            "What a message does while its session is busy: \"steer\" (OpenClaw injects it into the active run; Pincer waits for the run to end, as OpenClaw does when a run cannot take steering), \"followup\" (its own turn after the active run), \"collect\" (everything waiting merged into one turn), \"interrupt\" (abort the active run, drop what waited, run the newest).",
            json!({ "type": "string", "enum": ["steer", "followup", "collect", "interrupt"], "default": "steer" })),
        k("messages.queue.cap", "Queue Cap", "Messages that may wait per session before messages.queue.drop applies (values below 1 are ignored).",
            json!({ "type": "integer", "minimum": 1, "default": crate::agent::queue_settings::DEFAULT_CAP })),
        k("messages.queue.drop", "Queue Drop Policy",
            "When the queue is full: \"old\" drops the oldest waiting message, \"new\" refuses the newest, \"summarize\" drops the oldest and gives the agent a one-line summary of each in a followup turn.",
            json!({ "type": "string", "enum": ["old", "new", "summarize"], "default": "summarize" })),
        KeyDoc { pincer_specific: true, ..k("messages.queue.debounceMs", "Queue Debounce (ms)",
            "Older channel-wide spelling of messages.queue.debounceMsByChannel.webchat (OpenClaw 2026.9.6's validator rejects it): quiet time after the last queued message before the queue drains.",
            json!({ "type": "integer", "minimum": 0, "default": crate::agent::queue_settings::DEFAULT_DEBOUNCE_MS })) },
        k("messages.queue.debounceMsByChannel.webchat", "Queue Debounce for WebChat (ms)",
            "Quiet time after the last queued message before the queue drains (chat.send and agent are OpenClaw's webchat surface).",
            json!({ "type": "integer", "minimum": 0, "default": crate::agent::queue_settings::DEFAULT_DEBOUNCE_MS })),
        k("agents.defaults.maxConcurrent", "Max Concurrent Runs",
            "Agent runs executing at once across sessions (each session still runs one at a time). Default max(8, CPUs x 4). Read when the first run starts; restart to change it.",
            json!({ "type": "integer", "minimum": 1 })),
    ]
}

pub(super) const GROUP_DOCS: &[(&str, &str, &str)] = &[
    ("gateway", "Gateway", "Gateway listener, auth, Control UI and node settings."),
    ("gateway.auth", "Gateway Auth", "Authentication policy for gateway HTTP/WebSocket access."),
    ("gateway.auth.rateLimit", "Gateway Auth Rate Limit", "Failed-auth throttling per client address."),
    ("gateway.controlUi", "Control UI", "Control UI / WebChat settings."),
    ("gateway.connections", "Gateway Connections", "Pincer-specific: connection admission (caps and header timeout)."),
    ("gateway.nodes", "Gateway Nodes", "Node pairing and node command policy."),
    ("gateway.nodes.pairing", "Gateway Node Pairing", "Node/device pairing policy."),
    ("gateway.nodes.commands", "Gateway Node Commands", "Node command allow/deny lists."),
    ("approvals", "Approvals", "Approval settings."),
    ("approvals.exec", "Exec Approvals", "Exec approval settings (OpenClaw's forwarding keys are accepted and ignored)."),
    ("logging", "Logging", "Log level and file."),
    ("messages", "Messages", "Message handling (Pincer reads the run queue)."),
    ("messages.queue", "Queue", "What messages do while their session is busy."),
    ("messages.queue.debounceMsByChannel", "Queue Debounce by Channel", "Per-channel debounce (Pincer reads webchat)."),
    ("agents", "Agents", "Agent settings (the model and workspace keys are described in docs/agent.md)."),
    ("agents.defaults", "Agent Defaults", "Defaults for every agent."),
];

/// The `config.schema` result, shaped like OpenClaw's `{schema, uiHints, version,
/// generatedAt}`: `schema` is a JSON Schema (draft 2020-12) of the keys Pincer reads, open
/// (`additionalProperties: true`) at every level; `uiHints` maps dotted paths to
/// `{label, help, sensitive?, advanced?, tags?}` (Pincer-only keys are tagged
/// `"pincer-specific"`, older spellings `"deprecated"`).
pub fn config_schema() -> Value {
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "PincerConfig",
        "description": "Pincer gateway configuration (OpenClaw openclaw.json key names, JSON5). Keys Pincer does not use are kept and ignored.",
        "type": "object",
        "additionalProperties": true,
        "properties": {}
    });
    let mut hints = Map::new();
    for (path, label, help) in GROUP_DOCS {
        hints.insert((*path).to_string(), json!({ "label": label, "help": help, "advanced": true }));
    }
    for doc in key_docs() {
        let mut node = &mut root;
        let segments: Vec<&str> = doc.path.split('.').collect();
        let mut walked = String::new();
        for (i, seg) in segments.iter().enumerate() {
            walked = join_path(&walked, seg);
            let last = i + 1 == segments.len();
            let props = node.as_object_mut().and_then(|o| o.get_mut("properties")).and_then(Value::as_object_mut);
            let Some(props) = props else { break };
            let entry = props.entry((*seg).to_string()).or_insert_with(|| {
                let (title, desc) = GROUP_DOCS.iter().find(|(p, _, _)| *p == walked).map_or(("", ""), |(_, l, h)| (*l, *h));
                json!({ "type": "object", "title": title, "description": desc, "additionalProperties": true, "properties": {} })
            });
            if last {
                let mut leaf = doc.schema.clone();
                if let Some(obj) = leaf.as_object_mut() {
                    obj.insert("title".into(), json!(doc.label));
                    obj.insert("description".into(), json!(doc.help));
                    if doc.deprecated {
                        obj.insert("deprecated".into(), json!(true));
                    }
                }
                *entry = leaf;
            }
            node = entry;
        }
        let mut hint = json!({ "label": doc.label, "help": doc.help });
        if let Some(h) = hint.as_object_mut() {
            if doc.sensitive {
                h.insert("sensitive".into(), json!(true));
            }
            let mut tags = Vec::new();
            if doc.pincer_specific {
                tags.push("pincer-specific");
            }
            if doc.deprecated {
                tags.push("deprecated");
                h.insert("advanced".into(), json!(true));
            }
            if !tags.is_empty() {
                h.insert("tags".into(), json!(tags));
            }
        }
        hints.insert(doc.path.to_string(), hint);
    }
    json!({
        "schema": root,
        "uiHints": hints,
        "version": env!("CARGO_PKG_VERSION"),
        "generatedAt": rfc3339_now(),
    })
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(super) fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
