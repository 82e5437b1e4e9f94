//! Programs that are themselves a way to run any command. Allowlisting one of them by path is
//! as good as `security=full` for whoever controls its arguments, so the node warns when such
//! an entry is added (`system.execApprovals.set` answers with `warnings`, allow-always logs).
//! Shells are never stored by allow-always at all.

use std::path::Path;

/// Shells: given a script argument (or a file), they run anything.
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "csh", "tcsh", "cmd", "powershell", "pwsh"];

/// Other programs that run a command or code they are given, and how.
const RUNNERS: &[(&str, &str)] = &[
    ("env", "runs any program it is given"),
    ("xargs", "runs any program it is given"),
    ("time", "runs any program it is given"),
    ("nice", "runs any program it is given"),
    ("nohup", "runs any program it is given"),
    ("timeout", "runs any program it is given"),
    ("stdbuf", "runs any program it is given"),
    ("setsid", "runs any program it is given"),
    ("sudo", "runs any program it is given"),
    ("doas", "runs any program it is given"),
    ("watch", "runs a shell command"),
    ("script", "runs a shell command (-c)"),
    ("ssh", "runs commands (remote command, ProxyCommand, LocalCommand)"),
    ("busybox", "contains a shell and every applet"),
    ("toybox", "contains a shell and every applet"),
    ("find", "runs commands (-exec, -execdir, -ok)"),
    ("git", "runs commands (-c alias.x='!cmd', core.pager, hooks, GIT_* variables)"),
    ("make", "runs the recipes of any Makefile (-f, --eval)"),
    ("awk", "runs commands (system(), pipes to \"cmd\")"),
    ("gawk", "runs commands (system(), pipes to \"cmd\")"),
    ("mawk", "runs commands (system(), pipes to \"cmd\")"),
    ("nawk", "runs commands (system(), pipes to \"cmd\")"),
    ("sed", "runs commands (GNU sed's e command and s///e flag)"),
    ("python", "runs inline code (-c)"),
    ("node", "runs inline code (-e)"),
    ("nodejs", "runs inline code (-e)"),
    ("deno", "runs inline code (eval)"),
    ("bun", "runs inline code (-e)"),
    ("perl", "runs inline code (-e)"),
    ("ruby", "runs inline code (-e)"),
    ("php", "runs inline code (-r)"),
    ("lua", "runs inline code (-e)"),
    ("tclsh", "runs inline code"),
    ("osascript", "runs inline code (-e)"),
    ("npm", "runs package scripts (run, exec)"),
    ("npx", "runs any package binary"),
    ("pnpm", "runs package scripts (run, exec, dlx)"),
    ("yarn", "runs package scripts (run, exec, dlx)"),
    ("vim", "runs shell commands (:!cmd, -c)"),
    ("vi", "runs shell commands (:!cmd, -c)"),
    ("nvim", "runs shell commands (:!cmd, -c)"),
    ("emacs", "runs code (--eval)"),
    ("less", "runs shell commands (!cmd, LESSOPEN)"),
    ("more", "runs shell commands (!cmd)"),
    ("man", "runs a pager and preprocessors"),
    ("tar", "runs commands (--to-command, --checkpoint-action=exec, -I)"),
    ("rsync", "runs commands (-e, --rsh)"),
    ("zip", "runs commands (-TT)"),
];

/// The lower-case program name of a path or pattern, without `.exe` and version suffixes
/// (`python3.12` → `python`), so one entry covers every installed version.
fn program_name(path: &str) -> String {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path).to_ascii_lowercase();
    let base = base.strip_suffix(".exe").unwrap_or(&base);
    base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.').to_string()
}

/// Whether `path` is a shell (never persisted by allow-always).
pub fn is_shell(path: &Path) -> bool {
    SHELLS.contains(&program_name(&path.to_string_lossy()).as_str())
}

/// A warning for an allowlist pattern that lets a caller run arbitrary commands, if it does.
pub fn runner_warning(pattern: &str) -> Option<String> {
    let base = pattern.rsplit(['/', '\\']).next().unwrap_or(pattern);
    if base.contains(['*', '?', '[', '{']) {
        return Some(format!(
            "{pattern}: a wildcard program name can match shells and command runners (an allowlisted shell runs anything)"
        ));
    }
    let name = program_name(pattern);
    if SHELLS.contains(&name.as_str()) {
        return Some(format!("{pattern}: a shell runs any command; allowlisting it is the same as security=full"));
    }
    RUNNERS.iter().find(|(n, _)| *n == name).map(|(_, how)| format!("{pattern}: {how}; allowlisting it lets a caller run other programs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_interpreters_and_runners_are_flagged() {
        assert_eq!(
            runner_warning("/bin/sh").as_deref(),
            Some("/bin/sh: a shell runs any command; allowlisting it is the same as security=full")
        );
        assert_eq!(
            runner_warning("/usr/bin/git").as_deref(),
            Some("/usr/bin/git: runs commands (-c alias.x='!cmd', core.pager, hooks, GIT_* variables); allowlisting it lets a caller run other programs")
        );
        for pattern in
            ["/usr/bin/python3.12", "C:\\Python\\python.exe", "/usr/bin/find", "/usr/bin/xargs", "/usr/bin/env", "/usr/bin/awk", "/bin/sed"]
        {
            assert!(runner_warning(pattern).is_some(), "{pattern}");
        }
        assert!(runner_warning("/usr/bin/*").unwrap().contains("wildcard"));
        for pattern in ["/usr/bin/ls", "/usr/bin/wc", "/opt/homebrew/bin/rg", "/usr/bin/uname"] {
            assert_eq!(runner_warning(pattern), None, "{pattern}");
        }
    }

    #[test]
    fn shells_are_recognised_by_name() {
        assert!(is_shell(Path::new("/bin/sh")));
        assert!(is_shell(Path::new("/usr/bin/bash")));
        assert!(is_shell(Path::new("/usr/local/bin/zsh5")));
        assert!(!is_shell(Path::new("/usr/bin/ls")));
        assert!(!is_shell(Path::new("/usr/bin/shred")));
    }
}
