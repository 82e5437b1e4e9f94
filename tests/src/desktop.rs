//! A throwaway desktop for tests: a virtual X display (Xvfb), a private D-Bus session bus and
//! a real notification daemon (dunst) on it. Child processes that get [`DesktopSession::env`]
//! see a desktop like a person's: screen capture works and notifications are shown.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ChildGuard, SupportError, TempState};

pub struct DesktopSession {
    pub display: String,
    pub bus_address: String,
    pub runtime_dir: PathBuf,
    home: Option<PathBuf>,
    // Dropped in declaration order: the daemons, the bus, the display, then their files.
    dunst: Option<ChildGuard>,
    keyring: Option<ChildGuard>,
    _bus: ChildGuard,
    _xvfb: ChildGuard,
    _dir: TempState,
}

fn other(msg: impl Into<String>) -> SupportError {
    SupportError::Other(msg.into())
}

impl DesktopSession {
    /// Start Xvfb on a free display number, a session bus, and (with `notifications`) dunst.
    pub fn start(notifications: bool) -> Result<DesktopSession, SupportError> {
        let dir = TempState::new("desktop")?;
        let runtime_dir = dir.join("run");
        std::fs::create_dir_all(&runtime_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let (xvfb, display) = start_xvfb()?;
        let mut bus_cmd = Command::new("dbus-daemon");
        // Our own socket path: the session config's default (unix:tmpdir=/tmp) leaves a
        // directory in /tmp behind for every bus.
        let address = format!("--address=unix:path={}", runtime_dir.join("bus").display());
        bus_cmd.args(["--session", "--nofork", "--print-address=1", &address]).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut bus = ChildGuard::spawn("dbus-daemon", bus_cmd)?;
        let stdout = bus.stdout().ok_or_else(|| other("dbus-daemon has no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let bus_address = line.trim().to_string();
        if bus_address.is_empty() {
            return Err(other("dbus-daemon printed no address (is the dbus package installed?)"));
        }
        let mut session =
            DesktopSession { display, bus_address, runtime_dir, _dir: dir, dunst: None, keyring: None, home: None, _bus: bus, _xvfb: xvfb };
        if notifications {
            session.start_dunst()?;
        }
        Ok(session)
    }

    /// The variables a child needs to live on this desktop.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir.display().to_string()),
            ("NO_AT_BRIDGE".into(), "1".into()),
        ];
        if let Some(home) = &self.home {
            env.push(("HOME".into(), home.display().to_string()));
        }
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env()).stdin(Stdio::null());
        cmd
    }

    fn start_dunst(&mut self) -> Result<(), SupportError> {
        let mut cmd = self.command("dunst");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        self.dunst = Some(ChildGuard::spawn("dunst", cmd)?);
        // Ready once it owns org.freedesktop.Notifications (dunstctl answers).
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if self.dunstctl(&["is-paused"]).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(other("dunst did not come up on the session bus within 20 s"))
    }

    /// Start an unlocked GNOME Keyring (Secret Service) on this session's bus, with its files
    /// under this session's own home. `env()` then also sets `HOME` to that home.
    pub fn start_keyring(&mut self) -> Result<(), SupportError> {
        let home = self._dir.join("home");
        std::fs::create_dir_all(&home)?;
        let mut cmd = self.command("gnome-keyring-daemon");
        cmd.args(["--unlock", "--components=secrets", "--foreground"])
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = ChildGuard::spawn("gnome-keyring-daemon", cmd)?;
        // The unlock password arrives on stdin; closing it tells the daemon it is complete.
        if let Some(mut stdin) = child.stdin() {
            use std::io::Write;
            stdin.write_all(b"pincer-test")?;
        }
        self.home = Some(home);
        self.keyring = Some(child);
        // Ready once org.freedesktop.secrets is owned on the bus.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let owned = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()?;
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(other("gnome-keyring-daemon did not take org.freedesktop.secrets within 20 s (is gnome-keyring installed?)"))
    }

    /// Run `dunstctl <args>` against this session's daemon; its stdout.
    pub fn dunstctl(&self, args: &[&str]) -> Result<String, SupportError> {
        let out = self.command("dunstctl").args(args).output()?;
        if !out.status.success() {
            return Err(other(format!("dunstctl {args:?}: {}", String::from_utf8_lossy(&out.stderr))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Summaries and bodies of every notification dunst has shown (closes them first so they
    /// move to its history).
    pub fn notifications(&self) -> Result<Vec<(String, String)>, SupportError> {
        self.dunstctl(&["close-all"])?;
        let history: serde_json::Value =
            serde_json::from_str(&self.dunstctl(&["history"])?).map_err(|e| other(format!("dunstctl history is not JSON: {e}")))?;
        let entries = history["data"][0].as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .map(|n| {
                let field = |k: &str| n[k]["data"].as_str().unwrap_or_default().to_string();
                (field("summary"), field("body"))
            })
            .collect())
    }
}

impl Drop for DesktopSession {
    /// SIGTERM first (a killed Xvfb leaves `/tmp/.X<n>-lock` and its socket behind, and the
    /// display numbers run out); the guards kill whatever is left.
    fn drop(&mut self) {
        for daemon in [&mut self.dunst, &mut self.keyring].into_iter().flatten() {
            let _ = daemon.terminate(Duration::from_secs(2));
        }
        let _ = self._bus.terminate(Duration::from_secs(2));
        let _ = self._xvfb.terminate(Duration::from_secs(5));
    }
}

/// Xvfb on a display number it picks itself (`-displayfd`), so parallel tests never share one.
/// `-noreset`: without it the server resets whenever its last client disconnects, and a
/// capture (which connects several times in a row) can land in the reset and be refused.
fn start_xvfb() -> Result<(ChildGuard, String), SupportError> {
    let mut cmd = Command::new("Xvfb");
    cmd.args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ChildGuard::spawn("Xvfb", cmd)?;
    let stdout = child.stdout().ok_or_else(|| other("Xvfb has no stdout"))?;
    // Xvfb writes the display number once it accepts connections.
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let number = line.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(other(format!("Xvfb did not report a display (got {line:?}); is the xvfb package installed?")));
    }
    Ok((child, format!(":{number}")))
}
