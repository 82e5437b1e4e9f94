//! From an argv to the executables it will really run: unwrap `env`/`nice`/`timeout`/
//! `nohup`/`stdbuf`/`time`/`xargs`, split `sh -c` / `cmd.exe /c` scripts, resolve each program
//! on PATH — and the argv to spawn, in which every program word the node itself hands to
//! `execve` (the wrappers and the program they run) is the absolute path that was checked,
//! so no later PATH lookup can pick another file.

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
    /// The argv to spawn: the request's argv with its program words replaced by the resolved
    /// absolute paths (see [`exec_argv`]); `None` when the program cannot be found.
    pub exec_argv: Option<Vec<String>>,
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
    /// The PATH the child process gets (its relative and empty entries removed).
    path: Option<OsString>,
    /// The node's own PATH (cleaned the same way): wrappers and shells are looked up here, so a
    /// request's PATH prepend can never choose which `env` or `sh` runs the checked program.
    wrapper_path: Option<OsString>,
    cwd: PathBuf,
}

impl Resolver {
    /// `env_path` is the PATH the child will get (`None` = this process's PATH).
    pub fn new(env_path: Option<&str>, cwd: Option<&Path>) -> Resolver {
        let own = std::env::var_os("PATH").map(|p| absolute_entries(&p).0);
        let path = env_path.map(|p| absolute_entries(OsString::from(p).as_os_str()).0).or_else(|| own.clone());
        let cwd = cwd.map(Path::to_path_buf).or_else(|| std::env::current_dir().ok()).unwrap_or_else(|| PathBuf::from("/"));
        Resolver { path, wrapper_path: own, cwd }
    }

    pub fn resolve(&self, program: &str) -> Option<PathBuf> {
        resolve_in(program, self.path.as_ref(), &self.cwd)
    }

    fn resolve_wrapper(&self, program: &str) -> Option<PathBuf> {
        resolve_in(program, self.wrapper_path.as_ref(), &self.cwd)
    }
}

fn resolve_in(program: &str, path: Option<&OsString>, cwd: &Path) -> Option<PathBuf> {
    if program.is_empty() || program.contains('\0') {
        return None;
    }
    // With no usable PATH, `which` would fall back to the cwd for a bare name; a bare name
    // then simply does not resolve (an explicit `./x` or `/x` still does).
    let has_separator = program.contains('/') || (cfg!(windows) && program.contains('\\'));
    if !has_separator && path.is_none_or(|p| p.is_empty()) {
        return None;
    }
    let found = which::which_in(program, path, cwd).ok()?;
    normalize(&found)
}

/// A PATH with only absolute entries, and the entries that were removed. An empty or relative
/// entry (`::`, `.`, `bin`) makes a bare name resolve against whatever the current directory
/// is, which is how `PATH=.:$PATH` ran `./ls` instead of the allowlisted `/usr/bin/ls`.
pub fn absolute_entries(path: &std::ffi::OsStr) -> (OsString, Vec<String>) {
    let (keep, removed): (Vec<PathBuf>, Vec<PathBuf>) = std::env::split_paths(path).partition(|p| p.is_absolute());
    let removed = removed.iter().map(|p| p.display().to_string()).collect();
    // Joining only fails on an entry containing the separator, which split_paths never yields.
    (std::env::join_paths(keep).unwrap_or_default(), removed)
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
    let mut analysis = Analysis { exec_argv: exec_argv(argv, resolver), ..Analysis::default() };
    if let Err(reason) = collect(argv, resolver, 0, &mut analysis.segments) {
        analysis.blocker = Some(reason);
    }
    analysis
}

/// The argv the node spawns for `argv`: each wrapper word and the program it finally runs
/// replaced by its resolved absolute path (a shell wrapper's script stays as written: the shell
/// resolves its words itself, with the same PATH the gate used). When the wrappers cannot be
/// followed (an opaque `env -S`, say, that only a person or `security=full` lets through), only
/// `argv[0]` is pinned. `None` when the program to start does not resolve.
pub fn exec_argv(argv: &[String], resolver: &Resolver) -> Option<Vec<String>> {
    let first = argv.first()?;
    let mut out = argv.to_vec();
    let Ok(layers) = program_positions(argv) else {
        let pinned = if is_wrapper_or_shell(first) { resolver.resolve_wrapper(first) } else { resolver.resolve(first) };
        out[0] = pinned?.display().to_string();
        return Some(out);
    };
    let Some(program) = layers.program else {
        // Only assignments (not a program at all), or a wrapper given nothing to run.
        let wrapper = *layers.wrappers.first()?;
        out[wrapper] = resolver.resolve_wrapper(&argv[wrapper])?.display().to_string();
        return (wrapper == 0).then_some(out);
    };
    if program != 0 && layers.wrappers.first() != Some(&0) {
        return None; // argv[0] is an assignment word, which is no program to start
    }
    for &at in &layers.wrappers {
        out[at] = resolver.resolve_wrapper(&argv[at])?.display().to_string();
    }
    // A shell running a script is a wrapper too (its script's words are what the gate checked);
    // any other program is exactly the segment the gate resolved, with the same PATH.
    let resolved = match shell_script(&argv[program..]) {
        Some(_) => resolver.resolve_wrapper(&argv[program]),
        None => resolver.resolve(&argv[program]),
    };
    out[program] = resolved?.display().to_string();
    Some(out)
}

/// Wrapper and shell names: looked up on the node's own PATH only.
fn is_wrapper_or_shell(program: &str) -> bool {
    let name = basename(program);
    WRAPPERS.contains(&name.as_str()) || SHELLS.contains(&name.as_str())
}

const WRAPPERS: &[&str] = &["env", "nice", "timeout", "nohup", "stdbuf", "time", "xargs"];
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "cmd", "cmd.exe"];

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

/// `env NAME=…` / `NAME=… cmd` is transparent only for the names `system.run` itself accepts
/// as overrides (presentation and locale); anything else (`GIT_EXTERNAL_DIFF`, `LD_PRELOAD`,
/// `PATH`, …) may change which code runs, so the command becomes opaque.
fn dangerous_env_name(name: &str) -> bool {
    !crate::commands::env_policy::is_inert_key(name)
}

fn assignment_name(word: &str) -> Option<&str> {
    let (name, _) = word.split_once('=')?;
    let valid =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some(name)
}

/// Peel known wrappers (and leading `NAME=value` words, which a shell segment may carry) off
/// the front of argv, recursively.
fn unwrap_wrappers(argv: &[String]) -> Result<&[String], String> {
    let layers = program_positions(argv)?;
    Ok(layers.program.and_then(|at| argv.get(at..)).unwrap_or_default())
}

/// Where the program words of an argv sit.
#[derive(Debug, Default, PartialEq, Eq)]
struct Layers {
    /// Each wrapper (`env`, `nice`, …), outermost first.
    wrappers: Vec<usize>,
    /// The program they finally run; `None` for only assignments or a wrapper with no program.
    program: Option<usize>,
}

fn program_positions(argv: &[String]) -> Result<Layers, String> {
    let mut at = 0;
    let mut layers = Layers::default();
    for _ in 0..=MAX_DEPTH {
        let rest = argv.get(at..).unwrap_or_default();
        let assignments = rest.iter().take_while(|w| assignment_name(w).is_some()).count();
        check_assignments(&rest[..assignments])?;
        at += assignments;
        let rest = argv.get(at..).unwrap_or_default();
        let Some(program) = rest.first() else {
            return Ok(layers);
        };
        let skip = match basename(program).as_str() {
            "env" => skip_env(rest)?,
            "nice" => skip_nice(rest),
            "timeout" => skip_timeout(rest),
            "nohup" => 1 + usize::from(rest.get(1).is_some_and(|a| a == "--")),
            "stdbuf" => skip_stdbuf(rest),
            "time" => skip_time(rest)?,
            "xargs" => skip_xargs(rest)?,
            _ => {
                layers.program = Some(at);
                return Ok(layers);
            }
        };
        layers.wrappers.push(at);
        at += skip;
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

/// GNU/BSD `time [-p] [-v] [-f FMT] [-a] CMD`. `-o FILE` writes a file, so it is opaque.
fn skip_time(argv: &[String]) -> Result<usize, String> {
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" => return Ok(i + 1),
            "-f" | "--format" => i += 2,
            w if w == "-o" || w.starts_with("--output") || (w.starts_with("-o") && !w.starts_with("--")) => {
                return Err(format!("time {w}"))
            }
            w if w.starts_with('-') => i += 1,
            _ => return Ok(i),
        }
    }
    Ok(i)
}

/// `xargs [options] CMD…`: the program it runs with arguments from its input.
fn skip_xargs(argv: &[String]) -> Result<usize, String> {
    let mut i = 1;
    while let Some(word) = argv.get(i).map(String::as_str) {
        match word {
            "--" => return Ok(i + 1),
            "-a" | "-d" | "-E" | "-I" | "-L" | "-n" | "-P" | "-s" => i += 2,
            "--arg-file" | "--delimiter" | "--max-lines" | "--max-args" | "--max-procs" | "--max-chars" | "--process-slot-var" => i += 2,
            w if w.starts_with('-') => i += 1,
            _ => return Ok(i),
        }
    }
    Ok(i)
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
        assert_eq!(inner(&["env", "LANG=C", "nice", "-n", "5", "/usr/bin/ls"]), Ok(argv(&["/usr/bin/ls"])));
        assert_eq!(inner(&["/usr/bin/env", "-i", "TZ=UTC", "--", "ls", "-la"]), Ok(argv(&["ls", "-la"])));
        assert_eq!(inner(&["nice", "-n5", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["nice", "-10", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["timeout", "-s", "KILL", "--preserve-status", "5s", "rg", "x"]), Ok(argv(&["rg", "x"])));
        assert_eq!(inner(&["timeout", "10", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["nohup", "stdbuf", "-oL", "-e", "0", "rg"]), Ok(argv(&["rg"])));
        assert_eq!(inner(&["nohup", "--", "timeout", "1", "nice", "env", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["LC_ALL=C", "TERM=dumb", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["env"]), Ok(argv(&[])));
        assert_eq!(inner(&["time", "-p", "ls", "-l"]), Ok(argv(&["ls", "-l"])));
        assert_eq!(inner(&["time", "-f", "%e", "--", "ls"]), Ok(argv(&["ls"])));
        assert_eq!(inner(&["xargs", "-0", "-n", "1", "-I", "{}", "rm", "{}"]), Ok(argv(&["rm", "{}"])));
        assert_eq!(inner(&["xargs", "--max-procs", "4", "-r", "wc", "-l"]), Ok(argv(&["wc", "-l"])));
        assert_eq!(inner(&["xargs"]), Ok(argv(&[])), "bare xargs runs echo: nothing to allowlist");
    }

    #[test]
    fn assignments_outside_the_env_allowlist_are_opaque() {
        // Transparent only for presentation and locale names, the set system.run accepts.
        assert_eq!(inner(&["env", "FOO=1", "ls"]), Err("sets FOO".to_string()));
        assert_eq!(inner(&["env", "GIT_EXTERNAL_DIFF=sh -c id", "git", "diff"]), Err("sets GIT_EXTERNAL_DIFF".to_string()));
        assert_eq!(inner(&["HOME=/tmp/h", "git", "log"]), Err("sets HOME".to_string()));
        assert_eq!(inner(&["time", "-o", "/home/u/.bashrc", "ls"]), Err("time -o".to_string()));
        assert_eq!(inner(&["time", "--output=x", "ls"]), Err("time --output=x".to_string()));
    }

    fn resolver_with(cwd: &Path, path: &str) -> Resolver {
        Resolver::new(Some(path), Some(cwd))
    }

    #[cfg(unix)]
    fn fake_bin(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Case 2 at the resolver: `.` (or an empty or relative entry) in PATH is ignored, so a
    /// fake `ls` in the working directory is never what resolves or what is spawned.
    #[cfg(unix)]
    #[test]
    fn relative_and_empty_path_entries_are_never_searched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("bin")).unwrap();
        let real = fake_bin(&root.join("bin"), "ls");
        fake_bin(&root, "ls");
        let bin = root.join("bin").display().to_string();
        for path in [format!(".:{bin}"), format!(":{bin}"), format!("{bin}::"), format!("bin:{bin}")] {
            let resolver = resolver_with(&root, &path);
            assert_eq!(resolver.resolve("ls"), Some(real.clone()), "{path}");
            assert_eq!(exec_argv(&argv(&["ls", "-la"]), &resolver), Some(vec![real.display().to_string(), "-la".into()]), "{path}");
        }
        // Only relative entries: a bare name resolves nowhere (not in the cwd either).
        assert_eq!(resolver_with(&root, ".").resolve("ls"), None);
        assert_eq!(resolver_with(&root, "").resolve("ls"), None);
        // An explicit relative path is still a path: resolved against cwd, then pinned.
        assert_eq!(resolver_with(&root, ".").resolve("./ls"), Some(root.join("ls")));
    }

    #[cfg(unix)]
    #[test]
    fn exec_argv_pins_wrappers_and_the_inner_program() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let ls = fake_bin(&root, "ls").display().to_string();
        let resolver = resolver_with(&root, &root.display().to_string());
        // Wrappers come from the node's own PATH, never from the request's.
        let own = |name: &str| which::which(name).unwrap().display().to_string();
        assert_eq!(
            exec_argv(&argv(&["env", "LANG=C", "nice", "-n", "5", "ls", "-l"]), &resolver),
            Some(vec![own("env"), "LANG=C".into(), own("nice"), "-n".into(), "5".into(), ls.clone(), "-l".into()])
        );
        assert_eq!(exec_argv(&argv(&["time", "-p", "ls"]), &resolver).map(|a| a[2].clone()), Some(ls.clone()));
        // A shell's script is left as written; the shell is pinned.
        assert_eq!(exec_argv(&argv(&["sh", "-lc", "ls | wc -l"]), &resolver), Some(vec![own("sh"), "-lc".into(), "ls | wc -l".into()]));
        // Opaque wrapper options: only the program started is pinned.
        assert_eq!(exec_argv(&argv(&["env", "-S", "ls -l"]), &resolver), Some(vec![own("env"), "-S".into(), "ls -l".into()]));
        assert_eq!(exec_argv(&argv(&["nosuch-pincer"]), &resolver), None);
        assert_eq!(exec_argv(&argv(&["env", "nosuch-pincer"]), &resolver), None);
        assert_eq!(exec_argv(&argv(&["LANG=C", "ls"]), &resolver), None, "an assignment is no program");
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
