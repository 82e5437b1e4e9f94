//! The real OpenClaw gateway (npm `openclaw`) as a reference peer, run the way
//! `shared/docs/openclaw-peer.md` §2 describes: own state dir, token auth, loopback, no
//! mDNS/updates/channels, and a config that keeps it from starting agent turns by itself.
//! `scripts/install-openclaw.sh` installs it and its wrapper.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::process::ChildGuard;
use crate::SupportError;

/// The wrapper installed by `scripts/install-openclaw.sh`: `$PINCER_OPENCLAW_BIN`, else
/// `${PINCER_CACHE:-~/.cache/pincer}/openclaw/bin/openclaw` if it exists.
pub fn openclaw_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PINCER_OPENCLAW_BIN") {
        return Some(PathBuf::from(p));
    }
    let cache = match std::env::var_os("PINCER_CACHE") {
        Some(c) => PathBuf::from(c),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/pincer"),
    };
    let bin = cache.join("openclaw/bin/openclaw");
    bin.is_file().then_some(bin)
}

/// How to run one OpenClaw gateway.
#[derive(Debug, Clone)]
pub struct OpenClawSpec {
    pub port: u16,
    pub token: String,
    pub state_dir: PathBuf,
    /// `gateway.nodes.pairing.autoApproveLocal` (false = manual pairing).
    pub auto_approve_local: bool,
}

impl OpenClawSpec {
    pub fn new(port: u16, token: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        OpenClawSpec { port, token: token.into(), state_dir: state_dir.into(), auto_approve_local: true }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn config_path(&self) -> PathBuf {
        self.state_dir.join("openclaw.json")
    }

    /// Write the config (strict schema: unknown keys make the gateway exit 78).
    pub fn write_config(&self) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(self.state_dir.join("home"))?;
        std::fs::create_dir_all(self.state_dir.join("logs"))?;
        let config = json!({
            "gateway": {
                "mode": "local", "port": self.port, "bind": "loopback",
                "auth": {"mode": "token", "token": self.token},
                "nodes": {"pairing": {"autoApproveLocal": self.auto_approve_local}},
            },
            "discovery": {"mdns": {"mode": "off"}},
            "update": {"checkOnStart": false},
            // Its own log file: the default one in /tmp/openclaw is shared by every instance.
            "logging": {"file": self.state_dir.join("logs/openclaw.log")},
            // No model key here: stop self-started agent turns that would only fail.
            "agents": {"defaults": {"heartbeat": {"every": "0m"}}},
            "tools": {"exec": {"notifyOnExit": false}},
        });
        let path = self.config_path();
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap_or_default())?;
        Ok(path)
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        vec![
            ("HOME".into(), s(&self.state_dir.join("home"))),
            ("OPENCLAW_STATE_DIR".into(), s(&self.state_dir)),
            ("OPENCLAW_CONFIG_PATH".into(), s(&self.config_path())),
            ("OPENCLAW_GATEWAY_TOKEN".into(), self.token.clone()),
            ("OPENCLAW_GATEWAY_PORT".into(), self.port.to_string()),
            ("OPENCLAW_DISABLE_BONJOUR".into(), "1".into()),
            ("OPENCLAW_SKIP_CHANNELS".into(), "1".into()),
            ("OPENCLAW_NO_AUTO_UPDATE".into(), "1".into()),
            ("OPENCLAW_NO_RESPAWN".into(), "1".into()),
            ("OPENCLAW_OFFLINE".into(), "1".into()),
            ("DO_NOT_TRACK".into(), "1".into()),
        ]
    }

    fn args(&self) -> Vec<String> {
        ["gateway", "run", "--port", &self.port.to_string(), "--bind", "loopback", "--auth", "token"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `openclaw gateway run`, output to `<state>/gateway.out`.
    pub fn command(&self, bin: &Path) -> std::io::Result<Command> {
        let out = std::fs::File::create(self.state_dir.join("gateway.out"))?;
        let mut cmd = Command::new(bin);
        cmd.args(self.args()).envs(self.env()).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        Ok(cmd)
    }

    /// The same as one shell line, e.g. for `pincer-bench --spawn`. Values are single-quoted.
    pub fn shell_line(&self, bin: &Path) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let env: Vec<String> = self.env().iter().map(|(k, v)| format!("{k}={}", q(v))).collect();
        let out = self.state_dir.join("gateway.out");
        format!(
            "exec env {} {} {} >{} 2>&1 </dev/null",
            env.join(" "),
            q(&bin.display().to_string()),
            self.args().join(" "),
            q(&out.display().to_string())
        )
    }
}

/// A running OpenClaw gateway, stopped with SIGTERM on `stop` or killed on drop.
#[derive(Debug)]
pub struct OpenClawGateway {
    pub spec: OpenClawSpec,
    child: ChildGuard,
    /// Spawn → first successful `health`.
    pub ready_after: Duration,
}

impl OpenClawGateway {
    /// Write the config, spawn, and wait until `health` answers (the port opens seconds
    /// before RPCs work; a cold start can take ~20 s on a 2-core machine).
    pub async fn start(spec: OpenClawSpec, bin: &Path, timeout: Duration) -> Result<OpenClawGateway, SupportError> {
        spec.write_config()?;
        let mut child = ChildGuard::spawn("openclaw-gateway", spec.command(bin)?)?;
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_status()? {
                return Err(SupportError::Exited(format!(
                    "openclaw gateway exited with {status}; see {}",
                    spec.state_dir.join("gateway.out").display()
                )));
            }
            if crate::wait::probe_health(&spec.url(), &spec.token).await.is_ok() {
                return Ok(OpenClawGateway { spec, child, ready_after: started.elapsed() });
            }
            if started.elapsed() > timeout {
                return Err(SupportError::Timeout { what: "openclaw gateway health".into(), secs: timeout.as_secs_f64() });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn url(&self) -> String {
        self.spec.url()
    }

    /// SIGTERM (it broadcasts `shutdown` and closes sockets with 1012), wait up to 10 s.
    pub fn stop(&mut self) -> Result<Option<Duration>, SupportError> {
        Ok(self.child.terminate(Duration::from_secs(10))?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_shell_line() {
        let dir = crate::TempState::new("oc").unwrap();
        let spec = OpenClawSpec::new(28790, "tok'en", dir.path());
        let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(spec.write_config().unwrap()).unwrap()).unwrap();
        assert_eq!(cfg["gateway"]["mode"], "local");
        assert_eq!(cfg["gateway"]["auth"]["token"], "tok'en");
        let line = spec.shell_line(Path::new("/x/openclaw"));
        assert!(line.contains(r"OPENCLAW_GATEWAY_TOKEN='tok'\''en'"), "{line}");
        assert!(line.contains("'/x/openclaw' gateway run --port 28790 --bind loopback --auth token"), "{line}");
    }
}
