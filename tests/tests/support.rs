//! The test-support helpers, exercised from an integration test (the way other tests use them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_tests::{free_port, workspace_bin_in};

#[test]
fn workspace_bin_builds_and_finds_a_binary_from_inside_cargo_test() {
    // Cargo must not deadlock on its own build lock when called from a running test.
    let bin = workspace_bin_in("pincer-tests", "pincer-bench").unwrap();
    assert!(bin.is_file(), "{}", bin.display());
    let out = std::process::Command::new(&bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--scenario"));
}

#[test]
fn free_ports_are_bindable() {
    let port = free_port().unwrap();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[tokio::test]
async fn bench_reports_a_failed_connection_as_an_error_object() {
    // Nothing listens there: the bench must exit non-zero with a JSON error, not panic.
    let bin = workspace_bin_in("pincer-tests", "pincer-bench").unwrap();
    let port = free_port().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(&bin)
            .args(["--url", &format!("ws://127.0.0.1:{port}"), "--token", "t", "--scenario", "health", "--json"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["scenario"], "health");
    assert!(line["error"].as_str().unwrap().contains("websocket"), "{line}");
}
