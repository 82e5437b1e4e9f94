//! The `pincer-bench` scenarios. Each returns one JSON object; the binary prints them.
//! These are measurements, never assertions: nothing here decides pass or fail on timing.

pub mod agent;
pub mod fanout;
pub mod provider;
pub mod stats;

use std::time::{Duration, Instant};

use pincer_client::{ClientError, ConnectOptions, GatewayClient};
use serde_json::{json, Map, Value};

use crate::process::ChildGuard;
use crate::{procfs, wait, SupportError};
use stats::{ms, summarize};

/// The gateway under test.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub token: String,
}

impl Target {
    /// A token-only `cli`/`cli` operator, like the official CLI (least scope per command).
    pub fn operator(&self, scopes: &[&str]) -> ConnectOptions {
        ConnectOptions::operator(&self.url, &self.token, scopes)
    }

    /// `host:port` of the URL, for plain TCP checks.
    pub fn host_port(&self) -> Option<String> {
        let rest = self.url.split_once("://").map(|(_, r)| r).unwrap_or(&self.url);
        let host = rest.split('/').next().unwrap_or(rest);
        host.contains(':').then(|| host.to_string())
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `n` sequential requests of `method` on one connection (after the handshake).
pub async fn sequential(target: &Target, method: &str, params: Value, n: usize, scopes: &[&str]) -> Result<Value, SupportError> {
    let (client, hello) = GatewayClient::connect(target.operator(scopes)).await?;
    let t = client.timings();
    let mut samples = Vec::with_capacity(n);
    let mut errors = 0;
    let mut last_error = None;
    let started = Instant::now();
    for _ in 0..n {
        let sent = Instant::now();
        match client.request(method, params.clone()).await {
            Ok(_) => samples.push(sent.elapsed()),
            Err(e) => {
                errors += 1;
                let closed = client.is_closed();
                last_error = Some(e.to_string());
                if closed {
                    break;
                }
            }
        }
    }
    let wall = started.elapsed();
    if samples.is_empty() {
        return Err(SupportError::Other(format!("every {method} failed: {}", last_error.unwrap_or_default())));
    }
    let mut out = obj(json!({
        "scenario": method,
        "method": method,
        "server": hello.server.version,
        "scopes": scopes,
        "openMs": ms(t.open),
        "challengeMs": ms(t.challenge),
        "helloMs": ms(t.hello),
    }));
    out.extend(obj(serde_json::to_value(summarize(&samples, errors, wall)).unwrap_or_default()));
    if let Some(e) = last_error {
        out.insert("lastError".into(), e.into());
    }
    Ok(Value::Object(out))
}

/// The first connected node of `node.list` (or the first node at all).
pub async fn first_node(target: &Target) -> Result<String, SupportError> {
    let (client, _) = GatewayClient::connect(target.operator(&["operator.read"])).await?;
    let list = client.request("node.list", json!({})).await?;
    let nodes = list.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    let connected = nodes.iter().find(|n| n.get("connected").and_then(Value::as_bool) == Some(true));
    connected
        .or(nodes.first())
        .and_then(|n| n.get("nodeId"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| SupportError::Other("no node in node.list (connect and approve one, or pass --node-id)".into()))
}

/// `n` sequential `node.invoke system.which {"bins":["ls"]}` round trips.
pub async fn invoke(target: &Target, node_id: Option<String>, n: usize) -> Result<Value, SupportError> {
    let node_id = match node_id {
        Some(id) => id,
        None => first_node(target).await?,
    };
    let scopes = ["operator.write"];
    let (client, hello) = GatewayClient::connect(target.operator(&scopes)).await?;
    let t = client.timings();
    let mut samples = Vec::with_capacity(n);
    let mut errors = 0;
    let mut last_error = None;
    let started = Instant::now();
    for _ in 0..n {
        let params = json!({
            "nodeId": node_id, "command": "system.which", "params": {"bins": ["ls"]},
            "idempotencyKey": uuid::Uuid::new_v4().to_string(), "timeoutMs": 15000,
        });
        let sent = Instant::now();
        match client.request("node.invoke", params).await {
            Ok(res) if res.get("ok").and_then(Value::as_bool) != Some(false) => samples.push(sent.elapsed()),
            Ok(res) => {
                errors += 1;
                last_error = Some(res.to_string());
            }
            Err(e) => {
                errors += 1;
                last_error = Some(e.to_string());
                if client.is_closed() {
                    break;
                }
            }
        }
    }
    let wall = started.elapsed();
    if samples.is_empty() {
        return Err(SupportError::Other(format!("every node.invoke failed: {}", last_error.unwrap_or_default())));
    }
    let mut out = obj(json!({
        "scenario": "invoke", "method": "node.invoke", "command": "system.which", "nodeId": node_id,
        "server": hello.server.version, "scopes": scopes,
        "openMs": ms(t.open), "challengeMs": ms(t.challenge), "helloMs": ms(t.hello),
    }));
    out.extend(obj(serde_json::to_value(summarize(&samples, errors, wall)).unwrap_or_default()));
    if let Some(e) = last_error {
        out.insert("lastError".into(), e.into());
    }
    Ok(Value::Object(out))
}

#[derive(Debug, Clone)]
pub struct ConnectionsOpts {
    pub concurrent: usize,
    /// Handshakes in flight at once (an unbounded burst overflows the listen backlog and
    /// measures SYN retransmits instead of the gateway).
    pub parallelism: usize,
    pub broadcast_method: String,
    /// `None` = the default `voicewake.set` trick: current triggers plus a unique marker,
    /// matched in the event payload, restored afterwards.
    pub broadcast_params: Option<Value>,
    pub broadcast_event: String,
    pub trigger_scopes: Vec<String>,
    pub timeout: Duration,
    /// Gateway process to weigh before and after (RSS of its tree).
    pub server_pid: Option<u32>,
}

/// Raise RLIMIT_NOFILE's soft limit toward `want` (up to the hard limit); returns the limit
/// now in force.
pub fn raise_nofile(want: u64) -> u64 {
    match rlimit::increase_nofile_limit(want) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise RLIMIT_NOFILE; try `ulimit -n`");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(0)
        }
    }
}

/// Open `concurrent` handshaken connections, then time one broadcast to all of them.
pub async fn connections(target: &Target, o: &ConnectionsOpts) -> Result<Value, SupportError> {
    let nofile = raise_nofile(o.concurrent as u64 * 2 + 256);
    let rss_before = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());

    let started = Instant::now();
    let (clients, handshake, errors) = fanout::open_clients(target, o.concurrent, o.parallelism, &["operator.read"], o.timeout).await;
    let handshake_wall = started.elapsed();
    if clients.is_empty() {
        return Err(SupportError::Other(format!("no connection succeeded: {}", errors.first().cloned().unwrap_or_default())));
    }
    // Let connect-time events settle, then forget them so only the broadcast counts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in &clients {
        c.drain_events();
    }
    let rss_connected = o.server_pid.and_then(|p| procfs::tree_rss_kib(p).ok());

    let fanout = broadcast(target, o, &clients).await?;

    let hs = summarize(&handshake, errors.len(), handshake_wall);
    let mut out = obj(json!({
        "scenario": "connections",
        "concurrent": o.concurrent,
        "connected": clients.len(),
        "handshakeErrors": errors.len(),
        "handshakeWallS": hs.total_s,
        "handshakesPerS": hs.rps,
        "handshakeP50ms": hs.p50_ms,
        "handshakeP99ms": hs.p99_ms,
        "handshakeMaxMs": hs.max_ms,
        "nofileLimit": nofile,
    }));
    if let Some(e) = errors.first() {
        out.insert("firstHandshakeError".into(), e.clone().into());
    }
    out.extend(obj(fanout));
    if let (Some(before), Some(after)) = (rss_before, rss_connected) {
        out.insert("serverRssBeforeKiB".into(), before.into());
        out.insert("serverRssConnectedKiB".into(), after.into());
        let per = (after as f64 - before as f64) / clients.len() as f64;
        out.insert("serverKiBPerConn".into(), ((per * 10.0).round() / 10.0).into());
    }
    Ok(Value::Object(out))
}

async fn broadcast(target: &Target, o: &ConnectionsOpts, clients: &[GatewayClient]) -> Result<Value, SupportError> {
    let scopes: Vec<&str> = o.trigger_scopes.iter().map(String::as_str).collect();
    let (trigger, _) = GatewayClient::connect(target.operator(&scopes)).await?;
    let marker = format!("pincer-bench-{}", uuid::Uuid::new_v4().simple());
    let (params, restore) = match &o.broadcast_params {
        Some(p) => (p.clone(), None),
        None => {
            let current = trigger
                .request("voicewake.get", json!({}))
                .await
                .ok()
                .and_then(|v| v.get("triggers").cloned())
                .and_then(|t| serde_json::from_value::<Vec<String>>(t).ok())
                .unwrap_or_else(|| vec!["openclaw".into(), "claude".into(), "computer".into()]);
            let mut with_marker = current.clone();
            with_marker.push(marker.clone());
            (json!({ "triggers": with_marker }), Some(json!({ "triggers": current })))
        }
    };
    let use_marker = o.broadcast_params.is_none();

    let t0 = Instant::now();
    let trigger_result = trigger.request(&o.broadcast_method, params).await;
    let trigger_ms = ms(t0.elapsed());
    let event = o.broadcast_event.as_str();
    let (arrivals, missed, first_miss) =
        fanout::arrivals(clients, t0, o.timeout, |e| if use_marker { fanout::is_marked_voicewake(e, &marker) } else { e.event == event })
            .await;
    if let Some(r) = restore {
        if let Err(e) = trigger.request(&o.broadcast_method, r).await {
            tracing::warn!(error = %e, "could not restore voicewake triggers");
        }
    }
    trigger_result.map_err(|e| SupportError::Other(format!("broadcast trigger {} failed: {e}", o.broadcast_method)))?;
    let s = summarize(&arrivals, missed, Duration::ZERO);
    let mut out = obj(json!({
        "broadcastMethod": o.broadcast_method,
        "broadcastEvent": o.broadcast_event,
        "broadcastReceived": arrivals.len(),
        "broadcastMissed": missed,
        "triggerResponseMs": trigger_ms,
        "fanoutFirstMs": s.min_ms,
        "fanoutP50ms": s.p50_ms,
        "fanoutP99ms": s.p99_ms,
        "fanoutLastMs": s.max_ms,
    }));
    if let Some(m) = first_miss {
        out.insert("firstMiss".into(), m.into());
    }
    Ok(Value::Object(out))
}

#[derive(Debug, Clone)]
pub struct StartOpts {
    /// Shell command line that starts the gateway (`sh -c`; prefix `exec` to avoid a shell
    /// parent).
    pub spawn: String,
    pub ready_url: Option<String>,
    pub poll: Duration,
    pub timeout: Duration,
    pub idle: Duration,
}

/// Spawn the gateway, time it to its first `health`, wait `idle`, weigh it. The caller owns
/// the returned process (to run more scenarios against it) and stops it with [`stop`].
pub async fn start(target: &Target, o: &StartOpts) -> Result<(Value, ChildGuard), SupportError> {
    let started = Instant::now();
    let mut child = ChildGuard::spawn_shell("gateway", &o.spawn)?;
    let pid = child.pid();

    let ready = o.ready_url.clone().map(|url| {
        let (poll, timeout) = (o.poll, o.timeout);
        tokio::spawn(async move {
            while started.elapsed() < timeout {
                if let Ok((status, body)) = wait::http_get(&url, Duration::from_secs(2)).await {
                    if wait::is_ready(status, &body) {
                        return Some(started.elapsed());
                    }
                }
                tokio::time::sleep(poll).await;
            }
            None
        })
    });

    let host_port = target.host_port();
    let mut port_open = None;
    let mut attempts = 0u64;
    let mut last_error = None;
    let health = loop {
        if let Some(status) = child.try_status()? {
            return Err(SupportError::Exited(format!("gateway exited with {status} before answering health")));
        }
        if started.elapsed() > o.timeout {
            return Err(SupportError::Timeout {
                what: format!("first health (last error: {})", last_error.unwrap_or_default()),
                secs: o.timeout.as_secs_f64(),
            });
        }
        if port_open.is_none() {
            if let Some(hp) = &host_port {
                if tokio::net::TcpStream::connect(hp).await.is_ok() {
                    port_open = Some(started.elapsed());
                }
            }
        }
        if port_open.is_some() || host_port.is_none() {
            attempts += 1;
            match wait::probe_health(&target.url, &target.token).await {
                Ok(()) => break started.elapsed(),
                Err(e) => last_error = Some(short_error(&e)),
            }
        }
        tokio::time::sleep(o.poll).await;
    };
    let ready_after = match ready {
        Some(handle) => handle.await.ok().flatten(),
        None => None,
    };

    tokio::time::sleep(o.idle).await;
    let tree = procfs::tree(pid)?;
    let mut out = obj(json!({
        "scenario": "start",
        "spawn": o.spawn,
        "pid": pid,
        "pollMs": ms(o.poll),
        "portOpenMs": port_open.map(ms),
        "firstHealthMs": ms(health),
        "healthAttempts": attempts,
        "readyUrlMs": ready_after.map(ms),
        "idleSecs": o.idle.as_secs_f64(),
    }));
    out.extend(obj(rss_fields("idle", &tree)));
    if let Some(e) = last_error {
        out.insert("lastStartupError".into(), e.into());
    }
    Ok((Value::Object(out), child))
}

fn short_error(e: &ClientError) -> String {
    let s = e.to_string();
    s.chars().take(300).collect()
}

/// RSS of the process tree as `<prefix>RootRssKiB`, `<prefix>TreeRssKiB`, `<prefix>Processes`
/// (camelCase, so an empty prefix gives `rootRssKiB`, ...).
pub fn rss_fields(prefix: &str, tree: &[procfs::ProcMem]) -> Value {
    let key = |name: &str| {
        if prefix.is_empty() {
            let mut chars = name.chars();
            chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
        } else {
            format!("{prefix}{name}")
        }
    };
    let total: u64 = tree.iter().map(|p| p.rss_kib).sum();
    let procs: Vec<Value> = tree.iter().map(|p| json!({"pid": p.pid, "name": p.name, "rssKiB": p.rss_kib, "hwmKiB": p.hwm_kib})).collect();
    let mut out = Map::new();
    out.insert(key("RootRssKiB"), tree.first().map(|p| p.rss_kib).unwrap_or(0).into());
    out.insert(key("TreeRssKiB"), total.into());
    out.insert(key("TreeRssMiB"), ((total as f64 / 1024.0 * 10.0).round() / 10.0).into());
    out.insert(key("Processes"), procs.into());
    Value::Object(out)
}

/// Weigh, then SIGTERM the gateway and time its exit.
pub fn stop(mut child: ChildGuard) -> Result<Value, SupportError> {
    let mut out = match procfs::tree(child.pid()) {
        Ok(tree) => obj(rss_fields("final", &tree)),
        Err(_) => Map::new(),
    };
    out.insert("scenario".into(), "stop".into());
    let (took, status) = child.terminate(Duration::from_secs(15))?;
    out.insert("sigtermExitMs".into(), took.map(ms).into());
    out.insert("exitStatus".into(), status.to_string().into());
    Ok(Value::Object(out))
}

/// RSS of a running process tree.
pub fn rss(pid: u32) -> Result<Value, SupportError> {
    let tree = procfs::tree(pid)?;
    let mut out = obj(rss_fields("", &tree));
    out.insert("scenario".into(), "rss".into());
    out.insert("pid".into(), pid.into());
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_from_urls() {
        let t = |u: &str| Target { url: u.into(), token: String::new() }.host_port();
        assert_eq!(t("ws://127.0.0.1:28790"), Some("127.0.0.1:28790".into()));
        assert_eq!(t("ws://127.0.0.1:28790/path"), Some("127.0.0.1:28790".into()));
        assert_eq!(t("ws://localhost"), None);
    }
}

/// How to run the `node-host` scenario.
#[derive(Debug, Clone)]
pub struct NodeHostOpts {
    /// Shell command line that starts the node host and connects it to the target gateway.
    pub spawn: String,
    /// Invokes to time.
    pub n: usize,
    /// How long the node sits connected before it is weighed idle.
    pub idle: Duration,
    pub timeout: Duration,
}

/// A node host under test: spawn it, approve it on the target gateway (device pairing is
/// silent on loopback; its command surface is approved here with an admin operator), weigh it
/// idle, time `n` `system.which` invokes through the gateway, weigh it again (VmHWM = peak
/// under load), stop it.
pub async fn node_host(target: &Target, opts: &NodeHostOpts) -> Result<Value, SupportError> {
    let admin =
        GatewayClient::connect(target.operator(&["operator.admin", "operator.read", "operator.write", "operator.pairing"])).await?.0;
    let known: Vec<String> = node_ids(&admin, false).await?;
    let mut child = ChildGuard::spawn_shell("node-host", &opts.spawn)?;
    let deadline = Instant::now() + opts.timeout;
    let node_id = loop {
        if let Some(id) = node_ids(&admin, true).await?.into_iter().find(|id| !known.contains(id)) {
            break id;
        }
        if child.try_status()?.is_some() {
            return Err(SupportError::Other(format!("node host exited before connecting: {}", opts.spawn)));
        }
        if Instant::now() > deadline {
            return Err(SupportError::Timeout { what: "the node host to connect".into(), secs: opts.timeout.as_secs_f64() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let connected_after = opts.timeout.saturating_sub(deadline.saturating_duration_since(Instant::now()));
    crate::fake_node::approve_node(&admin, &node_id, opts.timeout).await?;
    loop {
        let list = admin.request("node.list", json!({})).await?;
        let paired = list["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["nodeId"] == node_id.as_str() && n["paired"] == true && n["connected"] == true);
        if paired {
            break;
        }
        if Instant::now() > deadline {
            return Err(SupportError::Timeout { what: "the node host's approval".into(), secs: opts.timeout.as_secs_f64() });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(opts.idle).await;
    let idle = procfs::tree(child.pid())?;
    let mut out = obj(invoke(target, Some(node_id.clone()), opts.n).await?);
    let loaded = procfs::tree(child.pid())?;
    out.insert("scenario".into(), "node-host".into());
    out.insert("connectMs".into(), ms(connected_after).into());
    out.extend(obj(rss_fields("idle", &idle)));
    out.extend(obj(rss_fields("afterLoad", &loaded)));
    let peak: u64 = loaded.iter().map(|p| p.hwm_kib).sum();
    out.insert("peakTreeHwmMiB".into(), ((peak as f64 / 1024.0 * 10.0).round() / 10.0).into());
    child.terminate(Duration::from_secs(15))?;
    Ok(Value::Object(out))
}

async fn node_ids(client: &GatewayClient, connected_only: bool) -> Result<Vec<String>, SupportError> {
    let list = client.request("node.list", json!({})).await?;
    Ok(list["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| !connected_only || n["connected"] == true)
        .filter_map(|n| n["nodeId"].as_str().map(str::to_string))
        .collect())
}
