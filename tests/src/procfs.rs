//! Resident memory of a process and its descendants, from /proc (Linux only).

use std::collections::HashMap;
use std::io;

/// One process of a tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcMem {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
    /// `VmRSS` in KiB (0 for zombies / kernel threads).
    pub rss_kib: u64,
    /// `VmHWM` (peak RSS) in KiB.
    pub hwm_kib: u64,
}

/// `pid` and all its descendants, root first.
pub fn tree(pid: u32) -> io::Result<Vec<ProcMem>> {
    let all = all_processes()?;
    let root = all.get(&pid).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no process {pid}")))?;
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].pid;
        let mut kids: Vec<ProcMem> = all.values().filter(|p| p.ppid == parent && p.pid != parent).cloned().collect();
        kids.sort_by_key(|p| p.pid);
        out.extend(kids);
        i += 1;
    }
    Ok(out)
}

/// Sum of `VmRSS` over the tree, in KiB.
pub fn tree_rss_kib(pid: u32) -> io::Result<u64> {
    Ok(tree(pid)?.iter().map(|p| p.rss_kib).sum())
}

fn all_processes() -> io::Result<HashMap<u32, ProcMem>> {
    let mut map = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        // Processes come and go while we scan; a vanished one is simply skipped.
        if let Ok(p) = read_process(pid) {
            map.insert(pid, p);
        }
    }
    Ok(map)
}

pub fn read_process(pid: u32) -> io::Result<ProcMem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(parse_status(pid, &status))
}

/// Parse `/proc/<pid>/status` (`Name:`, `PPid:`, `VmRSS:`, `VmHWM:`).
pub fn parse_status(pid: u32, status: &str) -> ProcMem {
    let mut p = ProcMem { pid, ppid: 0, name: String::new(), rss_kib: 0, hwm_kib: 0 };
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        let kib = || value.trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0);
        match key {
            "Name" => p.name = value.to_string(),
            "PPid" => p.ppid = value.parse().unwrap_or(0),
            "VmRSS" => p.rss_kib = kib(),
            "VmHWM" => p.hwm_kib = kib(),
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let s = "Name:\topenclaw-gateway\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t11561\nPPid:\t1\nVmHWM:\t  911000 kB\nVmRSS:\t  859080 kB\n";
        let p = parse_status(11561, s);
        assert_eq!(p, ProcMem { pid: 11561, ppid: 1, name: "openclaw-gateway".into(), rss_kib: 859_080, hwm_kib: 911_000 });
    }

    #[test]
    fn tree_includes_children_and_sums() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let me = std::process::id();
        let t = tree(me).unwrap();
        assert_eq!(t[0].pid, me);
        assert!(t.iter().any(|p| p.pid == child.id() && p.ppid == me), "{t:?}");
        let total = tree_rss_kib(me).unwrap();
        assert!(total >= t[0].rss_kib && t[0].rss_kib > 0);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
