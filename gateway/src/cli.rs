//! Operator verbs of the `pincer-gateway` binary. They connect over the protocol like any
//! client (token-only `cli` operator), so they work against Pincer and OpenClaw gateways.

use std::time::Duration;

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use pincer_protocol::scopes::{ADMIN, PAIRING, READ, WRITE};
use serde_json::{json, Value};

/// Which gateway to talk to, and how to print.
pub struct Target {
    pub url: String,
    pub token: Option<String>,
    pub password: Option<String>,
    pub json: bool,
}

pub enum DevicesCmd {
    List,
    Approve(String),
    Reject(String),
}

pub enum NodesCmd {
    List,
    Pending,
    Approve(String),
    Reject(String),
    Describe(String),
    Invoke { node: String, command: String, params: String, timeout_ms: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("--params is not valid JSON: {0}")]
    BadParams(serde_json::Error),
    #[error("unknown node: {0} (see `pincer-gateway nodes list`)")]
    UnknownNode(String),
    #[error("ambiguous node: {0} matches {1}")]
    AmbiguousNode(String, String),
    #[error("no credentials: pass --token (or set PINCER_GATEWAY_TOKEN) or --password")]
    NoCredentials,
    #[error("{0}")]
    Input(String),
    #[error("the agent failed: {0}")]
    Agent(String),
    #[error("no answer within {0} s (the run goes on; see `chat.history`)")]
    Timeout(u64),
}

/// `chat`: send a message, print the answer's text as it streams (to stdout), and return the
/// final text (or, with `--json`, the final `chat` event).
pub async fn chat(target: &Target, session: &str, message: &str, timeout: Duration) -> Result<String, CliError> {
    use std::io::Write;
    let client = connect(target, "cli", "cli", &[READ, WRITE]).await?;
    let key = uuid::Uuid::new_v4().to_string();
    let ack = client.request("chat.send", json!({"sessionKey": session, "message": message, "idempotencyKey": key})).await?;
    let run_id = s(&ack, "runId").to_string();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut printed = false;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = match client
            .wait_event_where("chat event", left, |e| {
                e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id.as_str())
            })
            .await
        {
            Ok(e) => e,
            Err(ClientError::Timeout { .. }) => return Err(CliError::Timeout(timeout.as_secs())),
            Err(e) => return Err(e.into()),
        };
        let payload = event.payload.unwrap_or(Value::Null);
        match s(&payload, "state") {
            "delta" if !target.json => {
                let mut out = std::io::stdout();
                let _ = out.write_all(s(&payload, "deltaText").as_bytes());
                let _ = out.flush();
                printed = true;
            }
            "final" => {
                if target.json {
                    return Ok(pretty(&payload));
                }
                // Deltas were printed as they came; end the line.
                return Ok(if printed { String::new() } else { message_text(&payload["message"]) });
            }
            "aborted" => return Err(CliError::Agent("the run was aborted".into())),
            "error" => return Err(CliError::Agent(s(&payload, "errorMessage").to_string())),
            _ => {}
        }
    }
}

fn message_text(message: &Value) -> String {
    message["content"]
        .as_array()
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").map(|p| s(p, "text")).collect::<Vec<_>>().join(""))
        .unwrap_or_default()
}

async fn connect(target: &Target, client_id: &str, mode: &str, scopes: &[&str]) -> Result<GatewayClient, CliError> {
    if target.token.is_none() && target.password.is_none() {
        return Err(CliError::NoCredentials);
    }
    let mut opts = ConnectOptions::new(target.url.clone()).with_client(client_id, mode).with_scopes(scopes);
    if let Some(t) = &target.token {
        opts = opts.with_token(t.clone());
    }
    if let Some(p) = &target.password {
        opts = opts.with_password(p.clone());
    }
    opts.version = env!("CARGO_PKG_VERSION").to_string();
    let (client, _hello) = GatewayClient::connect(opts).await?;
    Ok(client)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")).unwrap_or_default()
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

pub async fn devices(target: &Target, cmd: DevicesCmd) -> Result<String, CliError> {
    match cmd {
        DevicesCmd::List => {
            let client = connect(target, "cli", "cli", &[PAIRING]).await?;
            let v = client.request("device.pair.list", json!({})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            let mut out = String::from("Pending:\n");
            for p in v["pending"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  {}  {}  role={} scopes=[{}] platform={} from={}\n",
                    s(p, "requestId"),
                    p.get("displayName").and_then(Value::as_str).unwrap_or(&short(s(p, "deviceId"))),
                    s(p, "role"),
                    list_of(p, "scopes"),
                    s(p, "platform"),
                    s(p, "remoteIp"),
                ));
            }
            out.push_str("Paired:\n");
            for p in v["paired"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  {}  {}  roles=[{}] scopes=[{}] via={}{}\n",
                    short(s(p, "deviceId")),
                    p.get("displayName").and_then(Value::as_str).unwrap_or(s(p, "clientId")),
                    list_of(p, "roles"),
                    list_of(p, "scopes"),
                    s(p, "approvedVia"),
                    if p["connected"].as_bool() == Some(true) { "  (connected)" } else { "" },
                ));
            }
            Ok(out.trim_end().to_string())
        }
        DevicesCmd::Approve(id) => {
            // Approving a node-role device needs admin, like OpenClaw.
            let client = connect(target, "cli", "cli", &[PAIRING, ADMIN]).await?;
            let v = client.request("device.pair.approve", json!({"requestId": id})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            Ok(format!("Approved {} ({})", s(&v["device"], "deviceId"), id))
        }
        DevicesCmd::Reject(id) => {
            let client = connect(target, "cli", "cli", &[PAIRING, ADMIN]).await?;
            let v = client.request("device.pair.reject", json!({"requestId": id})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            Ok(format!("Rejected {} ({})", s(&v, "deviceId"), id))
        }
    }
}

/// Resolve a node by exact id, id prefix (6+ chars) or display name.
async fn resolve_node(client: &GatewayClient, query: &str) -> Result<String, CliError> {
    let v = client.request("node.list", json!({})).await?;
    let nodes: Vec<&Value> = v["nodes"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    if let Some(n) = nodes.iter().find(|n| s(n, "nodeId") == query) {
        return Ok(s(n, "nodeId").to_string());
    }
    let by_name: Vec<&&Value> = nodes.iter().filter(|n| s(n, "displayName").eq_ignore_ascii_case(query)).collect();
    let candidates: Vec<&&Value> = if !by_name.is_empty() {
        by_name
    } else if query.len() >= 6 {
        nodes.iter().filter(|n| s(n, "nodeId").starts_with(query)).collect()
    } else {
        Vec::new()
    };
    match candidates.as_slice() {
        [one] => Ok(s(one, "nodeId").to_string()),
        [] => Err(CliError::UnknownNode(query.to_string())),
        many => Err(CliError::AmbiguousNode(query.to_string(), many.iter().map(|n| short(s(n, "nodeId"))).collect::<Vec<_>>().join(", "))),
    }
}

fn node_line(n: &Value) -> String {
    format!(
        "  {}  {}  {} {}  {}{}  commands=[{}]",
        short(s(n, "nodeId")),
        s(n, "displayName"),
        s(n, "platform"),
        s(n, "version"),
        s(n, "approvalState"),
        if n["connected"].as_bool() == Some(true) { " (connected)" } else { " (offline)" },
        list_of(n, "commands"),
    )
}

pub async fn nodes(target: &Target, cmd: NodesCmd) -> Result<String, CliError> {
    match cmd {
        NodesCmd::List => {
            let client = connect(target, "cli", "cli", &[READ]).await?;
            let v = client.request("node.list", json!({})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            let lines: Vec<String> = v["nodes"].as_array().into_iter().flatten().map(node_line).collect();
            Ok(if lines.is_empty() { "No nodes.".into() } else { lines.join("\n") })
        }
        NodesCmd::Pending => {
            let client = connect(target, "gateway-client", "backend", &[PAIRING]).await?;
            let v = client.request("node.pair.list", json!({})).await?;
            if target.json {
                return Ok(pretty(&v["pending"]));
            }
            let lines: Vec<String> = v["pending"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "  {}  {} ({})  {}  commands=[{}]  approve needs [{}]",
                        s(p, "requestId"),
                        s(p, "displayName"),
                        short(s(p, "nodeId")),
                        s(p, "platform"),
                        list_of(p, "commands"),
                        list_of(p, "requiredApproveScopes"),
                    )
                })
                .collect();
            Ok(if lines.is_empty() { "No pending node pairing requests.".into() } else { lines.join("\n") })
        }
        NodesCmd::Approve(id) => {
            let client = connect(target, "gateway-client", "backend", &[PAIRING, WRITE, ADMIN]).await?;
            let v = client.request("node.pair.approve", json!({"requestId": id})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            Ok(format!(
                "Approved node {} ({}) with commands [{}]",
                s(&v["node"], "displayName"),
                short(s(&v["node"], "nodeId")),
                list_of(&v["node"], "commands")
            ))
        }
        NodesCmd::Reject(id) => {
            let client = connect(target, "gateway-client", "backend", &[PAIRING]).await?;
            let v = client.request("node.pair.reject", json!({"requestId": id})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            Ok(format!("Rejected node pairing {id}"))
        }
        NodesCmd::Describe(query) => {
            let client = connect(target, "cli", "cli", &[READ]).await?;
            let node_id = resolve_node(&client, &query).await?;
            let v = client.request("node.describe", json!({"nodeId": node_id})).await?;
            if target.json {
                return Ok(pretty(&v));
            }
            Ok(format!(
                "{}\n  id: {}\n  platform: {} ({})\n  caps: [{}]\n  permissions: {}",
                node_line(&v).trim(),
                s(&v, "nodeId"),
                s(&v, "platform"),
                s(&v, "deviceFamily"),
                list_of(&v, "caps"),
                v.get("permissions").map(|p| p.to_string()).unwrap_or_default(),
            ))
        }
        NodesCmd::Invoke { node, command, params, timeout_ms } => {
            let params: Value = serde_json::from_str(&params).map_err(CliError::BadParams)?;
            let client = connect(target, "cli", "cli", &[WRITE]).await?;
            let node_id = resolve_node(&client, &node).await?;
            let v = client
                .request_with_timeout(
                    "node.invoke",
                    json!({"nodeId": node_id, "command": command, "params": params, "timeoutMs": timeout_ms,
                           "idempotencyKey": uuid::Uuid::new_v4().to_string()}),
                    Duration::from_millis(timeout_ms.max(10_000) + 10_000),
                )
                .await?;
            Ok(if target.json { pretty(&v) } else { pretty(&v["payload"]) })
        }
    }
}
