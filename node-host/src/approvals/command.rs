//! From an argv to the executables it will really run: unwrap `env`/`nice`/`timeout`/
//! `nohup`/`stdbuf`, split `sh -c` / `cmd.exe /c` scripts, resolve each program on PATH.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::shell::{split_script, Dialect, NotAllowlistable};

/// Nesting deeper than this (`sh -c "env sh -c '…'"`) is refused rather than followed.
const MAX_DEPTH: usize = 8;

/// One command the request runs, after unwrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub argv: Vec<String>,
    /// Absolute path of `argv[0]`; `None` when it cannot be found (always an allowlist miss).
    pub resolved: Option<PathBuf>,
}

/// What the gate knows about a request's executables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub segments: Vec<Segment>,
    /// Set when the command can never be satisfied by an allowlist.
    pub blocker: Option<String>,
}

impl Analysis {
    pub fn resolved_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for path in self.segments.iter().filter_map(|s| s.resolved.clone()) {
            if !out.contains(&path) {
                out.push(path);
            }
        }
        out
    }

    /// Every segment found on disk and nothing opaque: the shape allow-always can persist.
    pub fn fully_resolved(&self) -> bool {
        self.blocker.is_none() && !self.segments.is_empty() && self.segments.iter().all(|s| s.resolved.is_some())
    }
}

/// Where programs are looked up.
pub struct Resolver {
    path: Option<OsString>,
    cwd: PathBuf,
}

impl Resolver {
    pub fn new(env_path: Option<&str>, cwd: Option<&Path>) -> Resolver {
        let path = env_path.map(OsString::from).or_else(|| std::env::var_os("PATH"));
        let cwd = cwd.map(Path::to_path_buf).or_else(|| std::env::current_dir().ok()).unwrap_or_else(|| PathBuf::from("/"));
        Resolver { path, cwd }
    }

    pub fn resolve(&self, program: &str) -> Option<PathBuf> {
        if program.is_empty() || program.contains('\0') {
            return None;
        }
        let found = which::which_in(program, self.path.as_ref(), &self.cwd).ok()?;
        normalize(&found)
    }
}

/// Lexical clean-up, except that `..` is resolved on disk: `/usr/bin/../../tmp/x` must not
/// look like something under `/usr/bin/` to a glob.
fn normalize(path: &Path) -> Option<PathBuf> {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return std::fs::canonicalize(path).ok();
    }
    let cleaned: PathBuf = path.components().collect();
    cleaned.is_absolute().then_some(cleaned)
}

pub fn analyze(argv: &[String], resolver: &Resolver) -> Analysis {
    let mut analysis = Analysis::default();
    if let Err(reason) = collect(argv, resolver, 0, &mut analysis.segments) {
        analysis.blocker = Some(reason);
    }
    analysis
}

fn collect(argv: &[String], resolver: &Resolver, depth: usize, out: &mut Vec<Segment>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("too deeply nested".to_string());
    }
    let argv = unwrap_wrappers(argv)?;
    let Some(program) = argv.first() else {
        return Err("empty command".to_string());
    };
    if let Some((script, dialect)) = shell_script(argv) {
        let segments = split_script(script, dialect).map_err(|e: NotAllowlistable| e.to_string())?;
        if segments.is_empty() {
            return Err("empty shell script".to_string());
        }
        return segments.iter().try_for_each(|segment| collect(segment, resolver, depth + 1, out));
    }
    out.push(Segment { argv: argv.to_vec(), resolved: resolver.resolve(program) });
    Ok(())
}

fn basename(program: &str) -> String {
    let name = program.rsplit(['/', '\\']).next().unwrap_or(program);
    name.to_ascii_lowercase()
}

/// `sh|bash|zsh|dash -c|-lc <script>` and `cmd.exe [/d] [/s] /c <script…>`.
pub(crate) fn shell_script(argv: &[String]) -> Option<(&str, Dialect)> {
    let name = basename(argv.first()?);
    match name.as_str() {
        "sh" | "bash" | "zsh" | "dash" => posix_shell_script(argv).map(|script| (script, Dialect::Posix)),
        "cmd" | "cmd.exe" => {
            let rest = argv.get(1..)?;
            let c = rest.iter().position(|a| a.eq_ignore_ascii_case("/c"))?;
            if !rest[..c].iter().all(|a| matches!(a.to_ascii_lowercase().as_str(), "/d" | "/s" | "/q")) {
                return None;
            }
            // Only the single-string form the exec tool produces is split; any other shape
            // stays `cmd.exe` itself, which then has to be allowlisted on its own.
            match rest.get(c + 1..) {
                Some([script]) => Some((script.as_str(), Dialect::Cmd)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The script of `sh -c`, also when `-c` hides in a flag cluster (`-ec`, `-xlc`) or follows
/// other options (`bash -o pipefail -c …`): otherwise an allowlisted shell would run any script.
fn posix_shell_script(argv: &[String]) -> Option<&str> {
    let mut seen_c = false;
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" | "-" => {
                i += 1;
                break;
            }
            "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file" => i += 2,
            w if w.starts_with("--") => i += 1,
            w if (w.starts_with('-') || w.starts_with('+')) && w.len() > 1 => {
                seen_c |= w.starts_with('-') && w.contains('c');
                i += 1;
            }
            _ => break,
        }
    }
    seen_c.then(|| argv.get(i).map(String::as_str).unwrap_or(""))
}

/// Environment names that change which code runs, so `env NAME=…`/`NAME=… cmd` is opaque.
fn dangerous_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PATH", "BASH_ENV", "ENV", "IFS", "SHELLOPTS", "PS4", "NODE_OPTIONS", "RUBYOPT", "PATHEXT", "COMSPEC"].contains(&upper.as_str())
        || ["LD_", "DYLD_", "PYTHON", "PERL"].iter().any(|p| upper.starts_with(p))
}

fn assignment_name(word: &str) -> Option<&str> {
    let (name, _) = word.split_once('=')?;
    let valid =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some(name)
}

/// Peel known wrappers (and leading `NAME=value` words, which a shell segment may carry) off
/// the front of argv, recursively.
fn unwrap_wrappers(mut argv: &[String]) -> Result<&[String], String> {
    for _ in 0..=MAX_DEPTH {
        let assignments = argv.iter().take_while(|w| assignment_name(w).is_some()).count();
        check_assignments(&argv[..assignments])?;
        argv = &argv[assignments..];
        let Some(program) = argv.first() else {
            return Ok(argv);
        };
        let skip = match basename(program).as_str() {
            "env" => skip_env(argv)?,
            "nice" => skip_nice(argv),
            "timeout" => skip_timeout(argv),
            "nohup" => 1 + usize::from(argv.get(1).is_some_and(|a| a == "--")),
            "stdbuf" => skip_stdbuf(argv),
            _ => return Ok(argv),
        };
        argv = argv.get(skip..).unwrap_or_default();
    }
    Err("too deeply nested".to_string())
}

fn check_assignments(words: &[String]) -> Result<(), String> {
    match words.iter().filter_map(|w| assignment_name(w)).find(|n| dangerous_env_name(n)) {
        Some(name) => Err(format!("sets {name}")),
        None => Ok(()),
    }
}

fn skip_env(argv: &[String]) -> Result<usize, String> {
    let mut i = 1;
    while let Some(word) = argv.get(i) {
        match word.as_str() {
            "--" => return Ok(i + 1),
            "-u" | "--unset" => i += 2,
            "-S" | "--split-string" | "-C" | "--chdir" => return Err(format!("env {word}")),
            w if w.starts_with("--split-string") || w.starts_with("--chdir") || w.starts_with("-S") || w.starts_with("-C") => {
                return Err(format!("env {w}"))
            }
            w if w.starts_with('-') => i += 1,
            w if assignment_name(w).is_some() => {
                check_assignments(std::slice::from_ref(word))?;
                i += 1;
            }
            _ => return Ok(i),
        }
    }
    Ok(i)
}

fn skip_nice(argv: &[String]) -> usize {
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" => return i + 1,
            "-n" | "--adjustment" => i += 2,
            w if w.starts_with('-') => i += 1,
            _ => return i,
        }
    }
    i
}

fn skip_timeout(argv: &[String]) -> usize {
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" => return i + 2,
            "-s" | "-k" | "--signal" | "--kill-after" => i += 2,
            w if w.starts_with('-') => i += 1,
            _ => return i + 1, // the duration
        }
    }
    i
}

fn skip_stdbuf(argv: &[String]) -> usize {
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" => return i + 1,
            "-i" | "-o" | "-e" => i += 2,
            w if w.starts_with('-') => i += 1,
            _ => return i,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    fn inner(words: &[&str]) -> Result<Vec<String>, String> {
        unwrap_wrappers(&argv(words)).map(<[String]>::to_vec)
    }

    #[test]
    fn wrappers_resolve_to_the_inner_binary() {
        assert_eq!(inner(&["env", "FOO=1", "nice", "-n", "5", "/usr/bin/ls"]), Ok(argv(&["/usr/bin/ls"])));
        assert_eq!(inner(&["/usr/bin/env", "-i", "A=b", "--", "ls", "-la"]), Ok(argv(&["ls", "-la"])));
        assert_eq!(inner(&["nice", "-n5", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["nice", "-10", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["timeout", "-s", "KILL", "--preserve-status", "5s", "rg", "x"]), Ok(argv(&["rg", "x"])));
        assert_eq!(inner(&["timeout", "10", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["nohup", "stdbuf", "-oL", "-e", "0", "rg"]), Ok(argv(&["rg"])));
        assert_eq!(inner(&["nohup", "--", "timeout", "1", "nice", "env", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["FOO=1", "BAR=2", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["env"]), Ok(argv(&[])));
    }

    #[test]
    fn env_forms_that_change_what_runs_are_opaque() {
        assert_eq!(inner(&["env", "PATH=/tmp", "ls"]), Err("sets PATH".to_string()));
        assert_eq!(inner(&["env", "LD_PRELOAD=/tmp/x.so", "ls"]), Err("sets LD_PRELOAD".to_string()));
        assert_eq!(inner(&["DYLD_INSERT_LIBRARIES=x", "ls"]), Err("sets DYLD_INSERT_LIBRARIES".to_string()));
        assert_eq!(inner(&["env", "-S", "sh -c id"]), Err("env -S".to_string()));
        assert_eq!(inner(&["env", "--chdir=/tmp", "./x"]), Err("env --chdir=/tmp".to_string()));
        // A word that only looks like an assignment after the program is an argument.
        assert_eq!(inner(&["ls", "PATH=/tmp"]), Ok(argv(&["ls", "PATH=/tmp"])));
    }

    #[test]
    fn shell_wrappers_are_recognised() {
        assert_eq!(shell_script(&argv(&["/bin/sh", "-lc", "ls"])), Some(("ls", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["bash", "-c", "ls", "arg0"])), Some(("ls", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["bash", "script.sh"])), None);
        assert_eq!(shell_script(&argv(&["bash", "-ec", "rm x"])), Some(("rm x", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["bash", "-o", "pipefail", "--norc", "-x", "-c", "rm x"])), Some(("rm x", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["sh", "-c", "--", "rm x"])), Some(("rm x", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["sh", "-c"])), Some(("", Dialect::Posix)));
        assert_eq!(shell_script(&argv(&["sh", "-o", "c", "script.sh"])), None);
        assert_eq!(shell_script(&argv(&["sh", "-x", "script.sh", "-c"])), None);
        assert_eq!(shell_script(&argv(&["cmd.exe", "/d", "/s", "/c", "dir"])), Some(("dir", Dialect::Cmd)));
        assert_eq!(shell_script(&argv(&["CMD", "/C", "dir"])), Some(("dir", Dialect::Cmd)));
        assert_eq!(shell_script(&argv(&["python3", "-c", "print(1)"])), None);
    }

    #[test]
    fn dot_dot_paths_are_resolved_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("bin")).unwrap();
        let sneaky = real.join("bin").join("..").join("bin");
        assert_eq!(normalize(&sneaky), Some(real.join("bin")));
        assert_eq!(normalize(Path::new("/usr/./bin/ls")), Some(PathBuf::from("/usr/bin/ls")));
        assert_eq!(normalize(&real.join("missing").join("..")), None);
    }
}
