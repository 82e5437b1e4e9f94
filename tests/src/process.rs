//! Child processes that never outlive the test or benchmark that started them.
//!
//! Children run in their own process group so a signal reaches helpers they spawn too
//! (the OpenClaw gateway has two worker children). Signals go through `kill(1)` because the
//! workspace forbids `unsafe` and std can only send SIGKILL to the direct child.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::SupportError;

#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawn `cmd` as the leader of a new process group.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<ChildGuard, SupportError> {
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| SupportError::Other(format!("spawning {name}: {e}")))?;
        tracing::debug!(name, pid = child.id(), "spawned");
        Ok(ChildGuard { child, name: name.to_string(), status: None })
    }

    /// Spawn a shell command line (`sh -c`), for user-supplied commands.
    pub fn spawn_shell(name: &str, command_line: &str) -> Result<ChildGuard, SupportError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command_line);
        ChildGuard::spawn(name, cmd)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin, when it was spawned with `Stdio::piped()` (taken once).
    pub fn stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// The child's stdout, when it was spawned with `Stdio::piped()` (taken once).
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// `Some(status)` once the child has exited.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>, SupportError> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// SIGTERM the group, wait up to `grace`, then SIGKILL. Returns how long the exit took
    /// after SIGTERM (None if it had to be killed) and the exit status.
    pub fn terminate(&mut self, grace: Duration) -> Result<(Option<Duration>, ExitStatus), SupportError> {
        if let Some(status) = self.try_status()? {
            return Ok((Some(Duration::ZERO), status));
        }
        let sent = Instant::now();
        signal_group(self.pid(), "TERM");
        while sent.elapsed() < grace {
            if let Some(status) = self.try_status()? {
                let took = sent.elapsed();
                // Helpers may linger after the leader exits; they are ours to clean up.
                signal_group(self.pid(), "KILL");
                return Ok((Some(took), status));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(name = %self.name, "did not exit after SIGTERM, killing");
        signal_group(self.pid(), "KILL");
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok((None, status))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.status.is_none() {
            signal_group(self.pid(), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// `kill -<sig> -- -<pgid>`; failures (group already gone) are expected and ignored.
fn signal_group(pgid: u32, signal: &str) {
    let result = Command::new("kill").arg(format!("-{signal}")).arg("--").arg(format!("-{pgid}")).output();
    if let Err(e) = result {
        tracing::warn!(pgid, signal, error = %e, "kill failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_reaches_grandchildren() {
        // The shell waits on a background sleep; both must die with the group.
        let mut g = ChildGuard::spawn_shell("sleeper", "sleep 30 & echo $! > /dev/null; wait").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let tree = crate::procfs::tree(g.pid()).unwrap();
        assert!(tree.len() >= 2, "{tree:?}");
        let (took, _status) = g.terminate(Duration::from_secs(5)).unwrap();
        assert!(took.is_some());
        std::thread::sleep(Duration::from_millis(100));
        for p in tree {
            let alive = crate::procfs::read_process(p.pid).map(|m| m.rss_kib > 0).unwrap_or(false);
            assert!(!alive, "process {} ({}) survived", p.pid, p.name);
        }
    }
}
