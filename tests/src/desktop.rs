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
    _dir: TempState,
    // Dropped in reverse order of start: dunst, the bus, the display.
    dunst: Option<ChildGuard>,
    _bus: ChildGuard,
    _xvfb: ChildGuard,
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
        bus_cmd.args(["--session", "--nofork", "--print-address=1"]).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut bus = ChildGuard::spawn("dbus-daemon", bus_cmd)?;
        let stdout = bus.stdout().ok_or_else(|| other("dbus-daemon has no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let bus_address = line.trim().to_string();
        if bus_address.is_empty() {
            return Err(other("dbus-daemon printed no address (is the dbus package installed?)"));
        }
        let mut session = DesktopSession { display, bus_address, runtime_dir, _dir: dir, dunst: None, _bus: bus, _xvfb: xvfb };
        if notifications {
            session.start_dunst()?;
        }
        Ok(session)
    }

    /// The variables a child needs to live on this desktop.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DISPLAY".into(), self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir.display().to_string()),
            ("NO_AT_BRIDGE".into(), "1".into()),
        ]
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
        let history: serde_json::Value = serde_json::from_str(&self.dunstctl(&["history"])?)
            .map_err(|e| other(format!("dunstctl history is not JSON: {e}")))?;
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
        if let Some(dunst) = &mut self.dunst {
            let _ = dunst.terminate(Duration::from_secs(2));
        }
        let _ = self._bus.terminate(Duration::from_secs(2));
        let _ = self._xvfb.terminate(Duration::from_secs(5));
    }
}

/// True when display `n` is taken. A lock whose Xvfb is gone (killed before it could clean
/// up) is stale: it and the socket are removed and the display counts as free.
#[cfg(target_os = "linux")]
fn display_taken(n: u32) -> bool {
    let lock = PathBuf::from(format!("/tmp/.X{n}-lock"));
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let pid = std::fs::read_to_string(&lock).ok().and_then(|t| t.trim().parse::<u32>().ok());
    match pid {
        Some(pid) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => {
            let _ = std::fs::remove_file(&lock);
            let _ = std::fs::remove_file(&socket);
            lock.exists() || socket.exists()
        }
        _ => lock.exists() || socket.exists(),
    }
}

#[cfg(not(target_os = "linux"))]
fn display_taken(n: u32) -> bool {
    std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
}

/// Xvfb on the first free display from :90 (tests may run in parallel).
fn start_xvfb() -> Result<(ChildGuard, String), SupportError> {
    for n in 90..140 {
        if display_taken(n) {
            continue;
        }
        let display = format!(":{n}");
        let mut cmd = Command::new("Xvfb");
        cmd.args([display.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"]).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = ChildGuard::spawn("Xvfb", cmd)?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return Ok((child, display));
            }
            if child.try_status()?.is_some() {
                break; // lost a race for this display number; try the next
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Err(other("could not start Xvfb on any display :90-:139 (is the xvfb package installed?)"))
}
