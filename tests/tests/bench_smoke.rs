//! The pincer-bench scenarios run end to end against an in-process Pincer gateway with a fake
//! node, small sizes. This checks that every scenario works and reports what it should; it
//! asserts nothing about timing (the bench is a measurement tool, not a test of speed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_tests::bench::{self, ConnectionsOpts, Target};
use pincer_tests::fake_node::{connect_approved, standard_reply, FakeNodeSpec};
use pincer_tests::TestGateway;
use serde_json::{json, Value};

fn assert_latency_report(v: &Value, n: u64) {
    assert_eq!(v["n"], n, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    for key in ["openMs", "challengeMs", "helloMs", "p50ms", "p90ms", "p99ms", "maxMs", "meanMs", "rps", "totalS"] {
        assert!(v[key].is_number(), "{key} missing in {v}");
    }
    let (p50, p99, max) = (v["p50ms"].as_f64().unwrap(), v["p99ms"].as_f64().unwrap(), v["maxMs"].as_f64().unwrap());
    assert!(p50 <= p99 && p99 <= max, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_against_a_pincer_gateway() {
    let gw = TestGateway::start().await.unwrap();
    let target = Target { url: gw.url(), token: gw.token.clone() };

    for method in ["health", "status"] {
        let v = bench::sequential(&target, method, json!({}), 20, &["operator.read"]).await.unwrap();
        assert_eq!(v["method"], method);
        assert_latency_report(&v, 20);
    }

    // invoke: without a node it says so; with one (found through node.list) it round-trips.
    let err = bench::invoke(&target, None, 5).await.unwrap_err();
    assert!(err.to_string().contains("no node"), "{err}");
    let admin = gw.admin().await.unwrap();
    let mut node = connect_approved(&gw.url(), &gw.token, &admin, FakeNodeSpec::linux(&["system.which"])).await.unwrap();
    node.serve(standard_reply);
    let v = bench::invoke(&target, None, 20).await.unwrap();
    assert_eq!(v["nodeId"], node.node_id().as_str());
    assert_latency_report(&v, 20);

    // connections: every client handshakes and receives the broadcast exactly once.
    let o = ConnectionsOpts {
        concurrent: 40,
        parallelism: 8,
        broadcast_method: "voicewake.set".into(),
        broadcast_params: None,
        broadcast_event: "voicewake.changed".into(),
        trigger_scopes: vec!["operator.admin".into()],
        timeout: Duration::from_secs(10),
        server_pid: Some(std::process::id()),
    };
    let v = bench::connections(&target, &o).await.unwrap();
    assert_eq!(v["connected"], 40, "{v}");
    assert_eq!(v["handshakeErrors"], 0, "{v}");
    assert_eq!(v["broadcastReceived"], 40, "{v}");
    assert_eq!(v["broadcastMissed"], 0, "{v}");
    assert!(v["fanoutLastMs"].as_f64().unwrap() >= v["fanoutFirstMs"].as_f64().unwrap(), "{v}");
    assert!(v["serverKiBPerConn"].is_number(), "{v}");
    // The marker trigger was restored afterwards.
    let (reader, _) = gw.operator(&["operator.read"]).await.unwrap();
    let triggers = reader.request("voicewake.get", json!({})).await.unwrap();
    assert!(!triggers.to_string().contains("pincer-bench-"), "{triggers}");

    // rss of this very process.
    let v = bench::rss(std::process::id()).unwrap();
    assert!(v["treeRssKiB"].as_u64().unwrap() > 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_scenario_times_a_spawned_gateway_and_stops_it() {
    let bin = pincer_tests::workspace_bin("pincer-gateway").unwrap();
    let state = pincer_tests::TempState::new("bench-start").unwrap();
    let port = pincer_tests::free_port().unwrap();
    let target = Target { url: format!("ws://127.0.0.1:{port}"), token: "bench-smoke-token".into() };
    let spawn = format!(
        "exec '{}' run --port {port} --token bench-smoke-token --state-dir '{}' >'{}' 2>&1",
        bin.display(),
        state.path().display(),
        state.join("out.log").display()
    );
    let o = bench::StartOpts {
        spawn,
        ready_url: Some(format!("http://127.0.0.1:{port}/readyz")),
        poll: Duration::from_millis(10),
        timeout: Duration::from_secs(60),
        idle: Duration::from_millis(200),
    };
    let (v, child) = bench::start(&target, &o).await.unwrap();
    let pid = child.pid();
    assert!(v["firstHealthMs"].as_f64().unwrap() >= v["portOpenMs"].as_f64().unwrap(), "{v}");
    assert!(v["idleTreeRssKiB"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["idleProcesses"][0]["pid"], pid, "the shell exec'd into the gateway: {v}");
    let stopped = bench::stop(child).unwrap();
    assert!(stopped["sigtermExitMs"].is_number(), "exited on SIGTERM, not killed: {stopped}");
    assert!(pincer_tests::procfs::read_process(pid).map(|p| p.rss_kib == 0).unwrap_or(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_scenarios_time_turns_and_weigh_seeded_sessions() {
    use pincer_tests::bench::agent::{self, GatewayBin, SeedMode, SessionsOpts, TurnOpts};
    let bin = pincer_tests::workspace_bin("pincer-gateway").unwrap();
    let turn_opts = |tool: bool| TurnOpts {
        gateway: GatewayBin::Pincer(bin.clone()),
        turns: 4,
        warmup: 1,
        tool,
        session_turns: 0,
        frame_delay: Duration::ZERO,
        turn_timeout: Duration::from_secs(30),
        start_timeout: Duration::from_secs(60),
    };
    for tool in [false, true] {
        let v = agent::turns(&turn_opts(tool)).await.unwrap();
        assert_eq!(v["scenario"], if tool { "agent-tool" } else { "agent-turn" }, "{v}");
        assert_eq!((v["turns"].as_u64(), v["errors"].as_u64()), (Some(4), Some(0)), "{v}");
        for key in ["sendToRequest", "doneToFinal", "firstDelta", "turn", "gatewayShare"] {
            assert_eq!(v[key]["n"], 4, "{key}: {v}");
            assert!(v[key]["p50ms"].as_f64().unwrap() <= v[key]["maxMs"].as_f64().unwrap(), "{key}: {v}");
        }
        // One session of 5 turns: the last answer request carries the system prompt, 4 earlier
        // turns (user + reply; with the tool: user, call, result, reply) and this turn's messages.
        let expected = if tool { 1 + 4 * 4 + 3 } else { 1 + 4 * 2 + 1 };
        assert_eq!(v["lastRequestMessages"].as_u64(), Some(expected), "{v}");
        assert_eq!(v["providerRequestsPerTurn"].as_f64(), Some(if tool { 2.0 } else { 1.0 }), "{v}");
        assert_eq!(v["toolGap"].is_object(), tool, "{v}");
    }

    let o = SessionsOpts {
        gateway_bin: bin,
        sessions: 6,
        messages: 8,
        seed: SeedMode::Store,
        idle: Duration::ZERO,
        history_limit: 5,
        list_repeats: 2,
        turns: 2,
        start_timeout: Duration::from_secs(60),
    };
    let v = agent::sessions(&o).await.unwrap();
    assert_eq!((v["seedRows"].as_u64(), v["sessionsListCount"].as_u64()), (Some(48), Some(6)), "{v}");
    assert_eq!((v["chatHistory"]["n"].as_u64(), v["chatHistoryShort"].as_u64()), (Some(6), Some(0)), "{v}");
    assert_eq!(v["seededTurn"]["errors"], 0, "{v}");
    assert_eq!(v["seededTurn"]["turn"]["n"], 2, "{v}");
    assert_eq!(v["seededTurn"]["lastRequestMessages"], 1 + 8 + 1, "system + seeded history + the new message: {v}");
    for key in ["emptyIdleRssKiB", "seededIdleRssKiB", "afterHistoryHwmKiB", "dbBytes"] {
        assert!(v[key].as_u64().unwrap() > 0, "{key}: {v}");
    }
}

/// fanout-slow: the readers get every broadcast while the flooded, non-reading operator is
/// closed by the gateway; presence: every device connects and the readers see presence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_slow_and_presence_scenarios_run_against_a_pincer_gateway() {
    let gw = TestGateway::start().await.unwrap();
    let target = Target { url: gw.url(), token: gw.token.clone() };
    let o = bench::fanout::SlowFanoutOpts {
        concurrent: 20,
        parallelism: 8,
        rounds: 2,
        flood_messages: 220,
        flood_chars: 190_000,
        timeout: Duration::from_secs(60),
        server_pid: Some(std::process::id()),
    };
    let v = bench::fanout::slow_fanout(&target, &o).await.unwrap();
    assert_eq!(v["readers"], 20, "{v}");
    assert_eq!(v["fanoutMissed"], 0, "{v}");
    assert_eq!(v["floodFailed"], 0, "{v}");
    assert_eq!(v["slowConsumer"]["closed"], true, "{v}");
    assert!(v["fanoutP99ms"].is_number(), "{v}");

    let o = bench::fanout::PresenceOpts {
        readers: 5,
        devices: 10,
        parallelism: 8,
        timeout: Duration::from_secs(30),
        server_pid: Some(std::process::id()),
    };
    let v = bench::fanout::presence(&target, &o).await.unwrap();
    assert_eq!(v["devices"], 10, "{v}");
    assert_eq!(v["deviceErrors"], 0, "{v}");
    assert!(v["presenceEventsPerReaderOnConnect"].as_f64().unwrap() >= 1.0, "{v}");
    assert!(v["serverRssDevicesMiB"].is_number(), "{v}");
}
