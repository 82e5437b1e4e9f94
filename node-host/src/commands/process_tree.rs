//! Killing everything a `system.run` started, including processes that left its process group.
//!
//! The child is spawned in its own process group (`command-group`), and a group kill reaches
//! every process still in it. A `setsid` (or `setpgid`) child leaves the group and survives
//! that kill. So each run's environment carries a random tag ([`RUN_TAG_VAR`]); on timeout or
//! cancel, Linux walks `/proc` for the run's descendants (by parent pid) and for any process
//! whose environment carries the tag, stops them all (so none can fork a new one unseen),
//! rescans until nothing new appears, then kills them.
//!
//! Limits: a process that both clears its environment (`env -i`) and detaches from the tree
//! (double fork) before the kill is not found. Other OSes: the process-group kill (Unix) or
//! job object (Windows, which also holds children that detach) is all there is.

/// Environment variable carrying a run's tag (a fresh UUID per run, never the caller's runId).
pub const RUN_TAG_VAR: &str = "PINCER_SYSTEM_RUN_TAG";

/// Stop and kill `root`'s process tree and every process tagged with `tag`; returns how many
/// processes were signalled. Blocking (reads `/proc`): call it off the async workers.
#[cfg(target_os = "linux")]
pub fn kill_run(root: u32, tag: &str) -> usize {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::collections::BTreeSet;

    /// Rescans after stopping: each catches what forked while the previous one ran.
    const MAX_SCANS: usize = 32;
    let own = std::process::id();
    let mut stopped: BTreeSet<u32> = BTreeSet::new();
    for _ in 0..MAX_SCANS {
        let found = linux::scan(root, tag);
        let new: Vec<u32> = found.into_iter().filter(|p| *p != own && !stopped.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            let Ok(raw) = i32::try_from(pid) else { continue };
            if let Err(e) = kill(Pid::from_raw(raw), Signal::SIGSTOP) {
                tracing::debug!(pid, error = %e, "system.run: could not stop a process of the run");
            }
            stopped.insert(pid);
        }
    }
    for &pid in &stopped {
        if let Ok(raw) = i32::try_from(pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    stopped.len()
}

/// Elsewhere the process-group kill (or job object) is all there is.
#[cfg(not(target_os = "linux"))]
pub fn kill_run(_root: u32, _tag: &str) -> usize {
    0
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{BTreeMap, BTreeSet};

    /// `root`, its descendants, and every process whose environment has the run's tag.
    pub fn scan(root: u32, tag: &str) -> BTreeSet<u32> {
        let needle = format!("{}={tag}", super::RUN_TAG_VAR);
        let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut found = BTreeSet::new();
        let Ok(entries) = std::fs::read_dir("/proc") else { return found };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
            if has_env_entry(pid, &needle) {
                found.insert(pid);
            }
        }
        let mut visited = BTreeSet::new();
        let mut queue = vec![root];
        while let Some(pid) = queue.pop() {
            if visited.insert(pid) {
                queue.extend(children.get(&pid).into_iter().flatten().copied());
            }
        }
        found.extend(visited);
        found
    }

    /// Field 4 of `/proc/<pid>/stat`, read after the last `)` (the command name may hold any byte).
    fn parent_of(pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after_name = &stat[stat.rfind(')')? + 1..];
        after_name.split_whitespace().nth(1)?.parse().ok()
    }

    /// Whether `/proc/<pid>/environ` (NUL-separated; readable for our own user's processes)
    /// holds exactly this `NAME=value` entry.
    fn has_env_entry(pid: u32, entry: &str) -> bool {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(bytes) => bytes.split(|b| *b == 0).any(|e| e == entry.as_bytes()),
            Err(_) => false,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parent_pids_are_read_past_odd_command_names() {
            let own = std::process::id();
            let parent = parent_of(own).unwrap();
            assert_eq!(Some(parent), Some(std::os::unix::process::parent_id()));
            assert_eq!(parent_of(u32::MAX), None);
        }
    }
}
