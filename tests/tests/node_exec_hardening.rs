//! `system.run` on a real node host (over a real WebSocket from a scripted gateway, real child
//! processes): what the exec gate checks is exactly what runs. The attacker's probes from issue
//! 10 — a PATH that puts `.` first, environment overrides that make an allowlisted program run
//! another (`GIT_EXTERNAL_DIFF`, …), a `setsid` grandchild outliving the timeout — and the
//! warning for an allowlist entry that is itself a command runner.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pincer_node::approvals::{ExecGate, NoPrompter};
use pincer_node::capabilities::{camera, location, CapabilitySettings};
use pincer_node::credentials::SecretBackend;
use pincer_node::{standard_commands, NodeConfig, NodeEvents, NodeHost, Services, SharedAuth};
use pincer_tests::fake_gateway::{FakeConn, FakeGateway};
use pincer_tests::TempState;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(20);

struct RunningNode {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    node_id: String,
    _state: TempState,
}

impl RunningNode {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task).await.expect("node did not stop").unwrap();
    }
}

/// A node host (the library `pincer-node` runs) with these local exec approvals.
fn start_node(url: &str, approvals: &Value) -> RunningNode {
    let state = TempState::new("node-exec").unwrap();
    std::fs::write(state.join("exec-approvals.json"), approvals.to_string()).unwrap();
    let mut config = NodeConfig::new(url, state.path());
    config.auth = SharedAuth { token: Some("t".into()), ..Default::default() };
    config.secrets = SecretBackend::File;
    let (events, outgoing) = NodeEvents::channel();
    let services = Services {
        gate: Arc::new(ExecGate::open(state.path(), Arc::new(NoPrompter)).unwrap()),
        events: events.clone(),
        settings: CapabilitySettings::default(),
        camera: Arc::new(camera::NativeCameras),
        location: Arc::from(location::default_provider()),
    };
    let host = NodeHost::new(config, standard_commands(&services), (events, outgoing)).unwrap();
    let node_id = host.node_id();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        host.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    RunningNode { stop: Some(tx), task, node_id, _state: state }
}

/// Send one `node.invoke.request` and return the node's `node.invoke.result` params.
async fn invoke(conn: &mut FakeConn, node_id: &str, command: &str, params: Value) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let request = json!({"id": id, "nodeId": node_id, "command": command, "paramsJSON": params.to_string(),
                         "timeoutMs": 30_000, "idempotencyKey": id});
    conn.send_event("node.invoke.request", request).await.unwrap();
    loop {
        let req = conn.recv_request("node.invoke.result", Duration::from_secs(40)).await.unwrap();
        conn.reply_ok(&req, json!({"ok": true})).await.unwrap();
        if req["params"]["id"] == id.as_str() {
            return req["params"].clone();
        }
    }
}

fn payload(result: &Value) -> Value {
    assert_eq!(result["ok"], true, "{result}");
    serde_json::from_str(result["payloadJSON"].as_str().unwrap()).unwrap()
}

/// An executable shell script that creates `marker` when it runs.
fn marker_script(path: &Path, marker: &Path) {
    std::fs::write(path, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The first `name` on this process's PATH (the node's PATH too: it runs in this process).
fn on_path(name: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap()
}

async fn node_with(approvals: Value) -> (FakeGateway, FakeConn, RunningNode) {
    let gw = FakeGateway::bind().await.unwrap();
    let node = start_node(&gw.url().unwrap(), &approvals);
    let (conn, _) = gw.accept_node(30_000, WAIT).await.unwrap();
    (gw, conn, node)
}

/// Case 2, the probe as reproduced: only `/usr/bin/ls` allowlisted, `ask: off`, cwd holding a
/// fake `ls`, and `PATH=.:<node PATH>`. The fake never runs; the real `ls` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_hijack_runs_the_allowlisted_ls_not_the_one_in_cwd() {
    // `/bin/ls` too: on merged-/usr systems it is the same file, and which comes first in
    // PATH varies by machine.
    let approvals = json!({"version": 1, "defaults": {"security": "allowlist", "ask": "off", "askFallback": "deny"},
                           "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/ls"}, {"pattern": "/bin/ls"}]}}});
    let (_gw, mut conn, node) = node_with(approvals).await;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let marker = cwd.join("hijacked");
    marker_script(&cwd.join("ls"), &marker);
    let node_path = std::env::var("PATH").unwrap();

    let hijack = format!(".:{node_path}");
    let r = invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["ls"], "cwd": cwd, "env": {"PATH": hijack}})).await;
    let out = payload(&r);
    assert!(!marker.exists(), "the fake ls in cwd ran");
    assert_eq!(out["exitCode"], 0, "{out}");
    assert_eq!(out["stdout"], "ls\n", "the real ls listed the directory: {out}");
    assert_eq!(out["envDropped"], json!([{"key": "PATH", "reason": "PATH entries must be absolute directories"}]));

    // The same through a shell: its PATH override is dropped and `ls` is the real one.
    let r =
        invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["/bin/sh", "-c", "ls"], "cwd": cwd, "env": {"PATH": hijack}}))
            .await;
    let out = payload(&r);
    assert!(!marker.exists(), "the fake ls in cwd ran through sh -c");
    assert_eq!(out["stdout"], "ls\n", "{out}");

    // An empty entry is the current directory too.
    let r =
        invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["ls"], "cwd": cwd, "env": {"PATH": format!(":{node_path}")}}))
            .await;
    assert_eq!(payload(&r)["stdout"], "ls\n");
    assert!(!marker.exists());

    // An explicit path to the fake is what it says: not allowlisted, denied, not run.
    let r = invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["./ls"], "cwd": cwd})).await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["message"], "SYSTEM_RUN_DENIED: allowlist miss");
    assert!(!marker.exists());
    node.stop().await;
}

/// Case 10: with git allowlisted, environment overrides that make git (or a pager, a config
/// lookup) run something else never reach the child, and the caller is told which were dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_outside_the_allowlist_never_reach_the_child() {
    let git = on_path("git");
    let printenv = on_path("printenv");
    let approvals = json!({"version": 1, "defaults": {"security": "allowlist", "ask": "off", "askFallback": "deny"},
                           "agents": {"main": {"allowlist": [{"pattern": git}, {"pattern": printenv}]}}});
    let (_gw, mut conn, node) = node_with(approvals).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().canonicalize().unwrap();
    let marker = repo.join("external-diff-ran");
    let evil = repo.join("evil.sh");
    marker_script(&evil, &marker);
    let git_env = [("GIT_CONFIG_NOSYSTEM", "1"), ("HOME", repo.to_str().unwrap())];
    for args in [&["init", "-q"][..], &["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x"]] {
        assert!(std::process::Command::new(&git).args(args).current_dir(&repo).envs(git_env).status().unwrap().success());
    }
    std::fs::write(repo.join("f.txt"), "one\n").unwrap();
    assert!(std::process::Command::new(&git).args(["add", "f.txt"]).current_dir(&repo).envs(git_env).status().unwrap().success());

    let hostile = json!({
        "GIT_EXTERNAL_DIFF": evil, "GIT_PROXY_COMMAND": evil, "HOME": "/tmp/pincer-evil-home",
        "XDG_CONFIG_HOME": "/tmp/pincer-evil-config", "LESSOPEN": format!("|{} %s", evil.display()),
        "GIT_PAGER": evil, "LD_PRELOAD": "/tmp/pincer-evil.so", "TERM": "dumb",
    });
    let r = invoke(
        &mut conn,
        &node.node_id,
        "system.run",
        json!({"command": ["git", "diff", "--cached", "--ext-diff"], "cwd": repo, "env": hostile}),
    )
    .await;
    let out = payload(&r);
    assert!(!marker.exists(), "GIT_EXTERNAL_DIFF ran: {out}");
    assert_eq!(out["exitCode"], 0, "{out}");
    assert!(out["stdout"].as_str().unwrap().contains("+one"), "git's own diff: {out}");
    let dropped: Vec<&str> = out["envDropped"].as_array().unwrap().iter().map(|d| d["key"].as_str().unwrap()).collect();
    assert_eq!(dropped, ["GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_PROXY_COMMAND", "HOME", "LD_PRELOAD", "LESSOPEN", "XDG_CONFIG_HOME"]);

    // What the child saw, printed by `printenv`: none of them, but the allowed TERM.
    let r = invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["printenv"], "env": hostile})).await;
    let seen = payload(&r)["stdout"].as_str().unwrap().to_string();
    for key in ["GIT_EXTERNAL_DIFF=", "GIT_PROXY_COMMAND=", "XDG_CONFIG_HOME=/tmp/pincer-evil", "LESSOPEN=", "GIT_PAGER=", "LD_PRELOAD="] {
        assert!(!seen.lines().any(|l| l.starts_with(key)), "{key} reached the child:\n{seen}");
    }
    assert!(!seen.contains("HOME=/tmp/pincer-evil-home"), "{seen}");
    assert!(seen.lines().any(|l| l == "TERM=dumb"), "{seen}");
    // The same names set through `env NAME=…` in argv make the command opaque: denied here.
    let r = invoke(
        &mut conn,
        &node.node_id,
        "system.run",
        json!({"command": ["env", format!("GIT_EXTERNAL_DIFF={}", evil.display()), "git", "diff", "--ext-diff"], "cwd": repo}),
    )
    .await;
    assert_eq!(r["error"]["message"], "SYSTEM_RUN_DENIED: allowlist miss", "{r}");
    assert!(!marker.exists());
    node.stop().await;
}

/// Case 12a, the probe: `setsid sh -c 'sleep 2; touch marker' & sleep 30` with a short timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setsid_grandchild_does_not_survive_the_timeout() {
    let (_gw, mut conn, node) = node_with(json!({"version": 1, "defaults": {"security": "full", "ask": "off"}})).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    let script = format!("setsid sh -c 'sleep 2; touch {}' & sleep 30", marker.display());
    let r = invoke(&mut conn, &node.node_id, "system.run", json!({"command": ["/bin/sh", "-c", script], "timeoutMs": 500})).await;
    let out = payload(&r);
    assert_eq!(out["timedOut"], true, "{out}");
    assert_eq!(out["error"], "timed out after 500 ms; the process tree was killed");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!marker.exists(), "the setsid grandchild outlived the timeout kill");
    node.stop().await;
}

/// Case 10: adding a shell or command runner to the node's allowlist answers with warnings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisting_a_command_runner_is_warned_about() {
    let (_gw, mut conn, node) = node_with(json!({"version": 1})).await;
    let snap = payload(&invoke(&mut conn, &node.node_id, "system.execApprovals.get", json!({})).await);
    let file = json!({"version": 1, "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/ls"}, {"pattern": "/usr/bin/find"}, {"pattern": "/bin/bash"}]}}});
    let r = invoke(&mut conn, &node.node_id, "system.execApprovals.set", json!({"file": file, "baseHash": snap["hash"]})).await;
    let out = payload(&r);
    assert_eq!(
        out["warnings"],
        json!([
            "/usr/bin/find: runs commands (-exec, -execdir, -ok); allowlisting it lets a caller run other programs",
            "/bin/bash: a shell runs any command; allowlisting it is the same as security=full",
        ])
    );
    // A set that adds nothing risky has no warnings field (the snapshot shape is unchanged).
    let r = invoke(&mut conn, &node.node_id, "system.execApprovals.set", json!({"file": file, "baseHash": out["hash"]})).await;
    assert!(payload(&r).get("warnings").is_none());
    node.stop().await;
}
