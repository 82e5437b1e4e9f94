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
