//! What the agent's file tools must never touch: every state directory and state file of this
//! gateway, of a Pincer node host on this machine and of OpenClaw, wherever flags and
//! environment variables moved them.
//!
//! The workspace may not contain any of the state directories (the turn is refused, see
//! [`pincer_agent::workspace::Workspace::open_guarded`]); the files are protected by path and by
//! identity in case one of them still ends up reachable from the workspace (a config file or a
//! log file placed there with `--config` / `logging.file`, a bind mount).
//!
//! The gateway can only know the node host's state dir from its defaults and the environment
//! (`PINCER_NODE_STATE_DIR` in the gateway's own environment): a node started with
//! `--state-dir` elsewhere is covered by the hard-link refusal and the workspace check, not by
//! this list.

use std::path::{Path, PathBuf};

use pincer_agent::workspace::StateGuard;

use crate::state::SharedState;

/// Files of the gateway's state dir (besides the config, which may live elsewhere).
const GATEWAY_FILES: [&str; 5] = ["pincer.json", "pincer.sqlite", "exec-approvals.json", "gateway.token", "logs"];
/// Files of a node host's state dir (`pincer-node`: credentials, approvals, audit log,
/// capability settings and its single-instance lock).
const NODE_FILES: [&str; 5] = ["secrets.json", "exec-approvals.json", "exec-audit.jsonl", "node.json", "node.lock"];
/// What OpenClaw keeps in its state dir that grants or records trust.
const OPENCLAW_FILES: [&str; 8] =
    ["openclaw.json", ".env", "exec-approvals.json", "exec-approvals.sock", "identity", "devices", "nodes", "credentials"];

/// Where this gateway's state is, as the binary resolved it.
pub struct GatewayPaths<'a> {
    pub state_dir: &'a Path,
    pub config_path: &'a Path,
    /// The JSON log file (`logging.file`, default `<state>/logs/gateway.log`).
    pub log_file: Option<&'a Path>,
}

/// The guard for the running gateway: its own paths, the process environment and `$HOME`.
pub fn state_guard(state: &SharedState) -> StateGuard {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = env("HOME").or_else(|| env("USERPROFILE"));
    let paths = GatewayPaths {
        state_dir: &state.options.state_dir,
        config_path: &state.options.config_path,
        log_file: state.options.log_file.as_deref(),
    };
    guard_for(&paths, &env, home.as_deref())
}

/// The state dirs and files for `paths`, the environment `env` and the home directory `home`.
pub fn guard_for(paths: &GatewayPaths<'_>, env: &dyn Fn(&str) -> Option<PathBuf>, home: Option<&Path>) -> StateGuard {
    let mut guard = StateGuard::default();
    let add_dir = |guard: &mut StateGuard, dir: PathBuf, files: &[&str]| {
        guard.protected.extend(files.iter().map(|f| dir.join(f)));
        if !guard.state_dirs.contains(&dir) {
            guard.state_dirs.push(dir);
        }
    };

    add_dir(&mut guard, paths.state_dir.to_path_buf(), &GATEWAY_FILES);
    // Another gateway instance's state (the default dir, or the one the environment names).
    for dir in [env("PINCER_STATE_DIR"), home.map(|h| h.join(".pincer"))].into_iter().flatten() {
        add_dir(&mut guard, dir, &GATEWAY_FILES);
    }
    guard.protected.push(paths.config_path.to_path_buf());
    if let Some(log) = paths.log_file {
        guard.protected.push(log.to_path_buf());
        // The previous log the start-up rotation keeps (see crate::logging).
        guard.protected.push(log.with_extension("log.1"));
    }

    for dir in [env("PINCER_NODE_STATE_DIR"), home.map(|h| h.join(".pincer").join("node"))].into_iter().flatten() {
        add_dir(&mut guard, dir, &NODE_FILES);
    }

    for dir in [env("OPENCLAW_STATE_DIR"), home.map(|h| h.join(".openclaw"))].into_iter().flatten() {
        add_dir(&mut guard, dir, &OPENCLAW_FILES);
    }
    if let Some(config) = env("OPENCLAW_CONFIG_PATH") {
        guard.protected.push(config);
    }
    guard
}

#[cfg(test)]
mod tests {
    use std::fs;

    use pincer_agent::workspace::{Workspace, WorkspaceError};

    use super::*;

    struct Layout {
        _dir: tempfile::TempDir,
        home: PathBuf,
        /// Where the environment moved the node host and OpenClaw.
        moved_node: PathBuf,
        moved_openclaw: PathBuf,
        custom_config: PathBuf,
    }

    fn layout() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let moved_node = dir.path().join("elsewhere/node-state");
        let moved_openclaw = dir.path().join("elsewhere/openclaw-state");
        let custom_config = dir.path().join("etc/pincer.json5");
        Layout { home, moved_node, moved_openclaw, custom_config, _dir: dir }
    }

    fn guard(l: &Layout) -> StateGuard {
        let state_dir = l.home.join(".pincer");
        let log = state_dir.join("logs/gateway.log");
        let paths = GatewayPaths { state_dir: &state_dir, config_path: &l.custom_config, log_file: Some(&log) };
        let env = |name: &str| match name {
            "PINCER_NODE_STATE_DIR" => Some(l.moved_node.clone()),
            "OPENCLAW_STATE_DIR" => Some(l.moved_openclaw.clone()),
            _ => None,
        };
        guard_for(&paths, &env, Some(&l.home))
    }

    /// Every state file of the gateway, of a node host (default dir and the one
    /// `PINCER_NODE_STATE_DIR` names) and of OpenClaw is protected by identity: a hard link to
    /// it inside the workspace is refused as a protected file, for read and for write. On
    /// 7f29638 only the config, the gateway's approvals and `pincer.sqlite` were listed (plus a
    /// `node.json` in the wrong dir), by path only.
    #[test]
    fn every_state_file_is_protected() {
        let l = layout();
        let pincer = l.home.join(".pincer");
        let node = pincer.join("node");
        let openclaw = l.home.join(".openclaw");
        let table: Vec<(&str, PathBuf)> = vec![
            ("gateway config (--config)", l.custom_config.clone()),
            ("gateway default config", pincer.join("pincer.json")),
            ("gateway state db", pincer.join("pincer.sqlite")),
            ("gateway state db wal", pincer.join("pincer.sqlite-wal")),
            ("gateway state db shm", pincer.join("pincer.sqlite-shm")),
            ("gateway exec approvals", pincer.join("exec-approvals.json")),
            ("gateway token", pincer.join("gateway.token")),
            ("gateway log", pincer.join("logs/gateway.log")),
            ("gateway rotated log", pincer.join("logs/gateway.log.1")),
            ("node secrets", node.join("secrets.json")),
            ("node exec approvals", node.join("exec-approvals.json")),
            ("node exec audit", node.join("exec-audit.jsonl")),
            ("node settings", node.join("node.json")),
            ("moved node secrets", l.moved_node.join("secrets.json")),
            ("moved node exec approvals", l.moved_node.join("exec-approvals.json")),
            ("openclaw config", openclaw.join("openclaw.json")),
            ("openclaw exec approvals", openclaw.join("exec-approvals.json")),
            ("openclaw device identity", openclaw.join("identity/device.json")),
            ("moved openclaw paired devices", l.moved_openclaw.join("devices/paired.json")),
        ];
        for (_, path) in &table {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "state").unwrap();
        }
        let ws = Workspace::open_guarded(l.home.join("work"), &guard(&l)).unwrap();
        for (i, (what, path)) in table.iter().enumerate() {
            let name = format!("link-{i}");
            fs::hard_link(path, ws.root().join(&name)).unwrap();
            let err = ws.resolve(&name).unwrap_err();
            assert!(matches!(err, WorkspaceError::Protected { .. }), "{what}: {err}");
        }
    }

    /// Workspace `~` with the state in `~/.pincer` (or only OpenClaw's `~/.openclaw`, or a
    /// node dir the environment names inside it) is refused with a message naming the dir.
    #[test]
    fn a_workspace_containing_any_state_dir_is_refused() {
        let l = layout();
        fs::create_dir_all(l.home.join(".pincer/node")).unwrap();
        let err = Workspace::open_guarded(l.home.clone(), &guard(&l)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "the agent workspace {} contains the state directory {},",
                l.home.display(),
                l.home.join(".pincer").display()
            )),
            "{err}"
        );
        assert!(err.contains("Set agents.defaults.workspace"), "{err}");
        // The dirs the environment moved are state dirs too.
        let parent = l.moved_node.parent().unwrap().to_path_buf();
        let err = Workspace::open_guarded(parent, &guard(&l)).unwrap_err().to_string();
        assert!(err.contains("contains the state directory"), "{err}");
        // The default layout is accepted.
        assert!(Workspace::open_guarded(l.home.join(".pincer/workspace"), &guard(&l)).is_ok());
    }
}
