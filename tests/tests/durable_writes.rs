//! Compare-and-swap writes of the gateway's state files under contention: four operators send
//! `exec.approvals.set` / `config.patch` at the same moment with the same `baseHash`. Exactly
//! one is acknowledged, the other three get the base-hash error, and what is on disk (and in
//! memory) is exactly what was acknowledged. Many rounds per test so a race shows reliably.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;
use pincer_client::{ClientError, GatewayClient};
use pincer_gateway::config::sha256_hex;
use pincer_protocol::error::ErrorCode;
use pincer_tests::TestGateway;
use serde_json::{json, Value};

const WRITERS: usize = 4;
const ROUNDS: usize = 60;

async fn admins(gw: &TestGateway) -> Vec<GatewayClient> {
    let mut clients = Vec::new();
    for _ in 0..WRITERS {
        clients.push(gw.admin().await.unwrap());
    }
    clients
}

/// The one acknowledged answer of a round (its writer and payload); every other answer must be
/// exactly `(INVALID_REQUEST, conflict_message)`.
fn single_winner(round: usize, results: Vec<Result<Value, ClientError>>, conflict_message: &str) -> (usize, Value) {
    let mut winners = Vec::new();
    for (writer, result) in results.into_iter().enumerate() {
        match result {
            Ok(payload) => winners.push((writer, payload)),
            Err(ClientError::Server(e)) => {
                assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidRequest, conflict_message), "round {round} writer {writer}")
            }
            Err(other) => panic!("round {round} writer {writer}: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "round {round}: exactly one writer must be acknowledged, got {winners:?}");
    winners.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_exec_approvals_sets_with_one_base_hash_ack_exactly_one_and_it_is_on_disk() {
    let gw = TestGateway::start().await.unwrap();
    let clients = admins(&gw).await;
    let path = gw.state.exec_approvals_path();
    let file_of = |round: usize, writer: usize| json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": format!("/usr/bin/round-{round}-writer-{writer}")}]}}});
    for round in 0..ROUNDS {
        let base = clients[0].request("exec.approvals.get", json!({})).await.unwrap()["hash"].as_str().unwrap().to_string();
        let sets = clients
            .iter()
            .enumerate()
            .map(|(writer, client)| client.request("exec.approvals.set", json!({"file": file_of(round, writer), "baseHash": base})));
        let results = join_all(sets).await;
        let (writer, acked) = single_winner(round, results, "exec approvals changed since last load; re-run exec.approvals.get and retry");

        let disk = std::fs::read(&path).unwrap();
        assert_eq!(acked["hash"].as_str().unwrap(), sha256_hex(&disk), "round {round}: the acknowledged file is not the one on disk");
        let on_disk: Value = serde_json::from_slice(&disk).unwrap();
        assert_eq!(on_disk, file_of(round, writer), "round {round}");
        assert_eq!(clients[1].request("exec.approvals.get", json!({})).await.unwrap()["hash"], acked["hash"]);
    }
    let leftovers: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_config_patches_with_one_base_hash_ack_exactly_one_and_it_is_on_disk_and_live() {
    let gw = TestGateway::start().await.unwrap();
    let clients = admins(&gw).await;
    let path = gw.state.options.config_path.clone();
    for round in 0..ROUNDS {
        let base = clients[0].request("config.get", json!({})).await.unwrap()["hash"].as_str().unwrap().to_string();
        let patches = clients.iter().enumerate().map(|(writer, client)| {
            let raw = format!("{{probe: {{round: {round}, writer: {writer}}}}}");
            client.request("config.patch", json!({"raw": raw, "baseHash": base}))
        });
        let results = join_all(patches).await;
        let (writer, acked) = single_winner(round, results, "config changed since last load; re-run config.get and retry");

        let disk = std::fs::read(&path).unwrap();
        assert_eq!(acked["hash"].as_str().unwrap(), sha256_hex(&disk), "round {round}: the acknowledged config is not the one on disk");
        let on_disk: Value = serde_json::from_slice(&disk).unwrap();
        assert_eq!(on_disk["probe"], json!({"round": round, "writer": writer}), "round {round}");
        // ... and it is the one the gateway serves and compares the next patch against.
        let live = clients[2].request("config.get", json!({})).await.unwrap();
        assert_eq!(live["hash"], acked["hash"], "round {round}");
        assert_eq!(live["config"]["probe"], json!({"round": round, "writer": writer}), "round {round}");
    }
}
