//! The shell-chain splitter (`sh -c` / `cmd.exe /c` scripts) and the argv analysis that turns a
//! `system.run` command into the executables the allowlist must cover.
//!
//! Invariants: nothing panics; the splitter never yields an empty segment; re-quoting every
//! word it returned and joining the segments with `;` (or `&`) splits back to exactly the
//! same segments (so no quote it reported as closed was open, and no separator was lost);
//! an analysis without a blocker has at least one segment, and none of its segments is still
//! a known wrapper, a `NAME=value` prefix or a `sh -c` that should have been split.
#![no_main]

use std::path::{Component, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pincer_fuzz::split_parts;
use pincer_node::approvals::fuzzing::{analyze, split_script, Dialect, Resolver};

/// A PATH with a few fake executables, so resolution is exercised without depending on the
/// machine running the fuzzer.
fn fake_path() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pincer-fuzz-bin-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        for name in ["ls", "rg", "sh", "bash", "env", "git", "rm"] {
            let path = dir.join(name);
            let _ = std::fs::write(&path, "#!/bin/sh\n");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            }
        }
        dir
    })
}

fn posix_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn check_split(script: &str, dialect: Dialect) {
    let Ok(segments) = split_script(script, dialect) else { return };
    assert!(segments.iter().all(|s| !s.is_empty()), "empty segment from {script:?}");
    let (quote, separator): (fn(&str) -> String, &str) = match dialect {
        Dialect::Posix => (posix_quote, " ; "),
        // cmd words can hold no `"` (quotes always toggle) and no `%`/`^` (refused).
        Dialect::Cmd => (|w: &str| format!("\"{w}\""), " & "),
    };
    let requoted: Vec<String> = segments.iter().map(|words| words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")).collect();
    let requoted = requoted.join(separator);
    assert_eq!(split_script(&requoted, dialect).as_ref(), Ok(&segments), "re-quoted {script:?} as {requoted:?}");
}

const WRAPPERS: &[&str] = &["env", "nice", "timeout", "nohup", "stdbuf"];

fn basename(program: &str) -> String {
    program.rsplit(['/', '\\']).next().unwrap_or(program).to_ascii_lowercase()
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

fn check_analysis(argv: &[String]) {
    let dir = fake_path();
    let resolver = Resolver::new(dir.to_str(), Some(dir));
    let analysis = analyze(argv, &resolver);
    for path in analysis.resolved_paths() {
        assert!(path.is_absolute(), "relative resolution {path:?}");
        assert!(!path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)), "unnormalised {path:?}");
    }
    if analysis.blocker.is_some() {
        assert!(!analysis.fully_resolved());
        return;
    }
    assert!(!analysis.segments.is_empty(), "no blocker and nothing to check for {argv:?}");
    for segment in &analysis.segments {
        let program = segment.argv.first().unwrap_or_else(|| panic!("empty segment for {argv:?}"));
        let name = basename(program);
        assert!(!WRAPPERS.contains(&name.as_str()), "wrapper {program:?} left unpeeled in {argv:?}");
        assert!(!is_assignment(program), "assignment {program:?} taken as the program in {argv:?}");
        if matches!(name.as_str(), "sh" | "bash" | "zsh" | "dash") {
            // The plainest form (`sh -c`, `bash -lc`: the first option carries `c`) must
            // always have been split into the commands it runs.
            let first_option_has_c = segment.argv.get(1).is_some_and(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'));
            assert!(!first_option_has_c, "shell script left unsplit in {argv:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [script, argv_bytes] = split_parts(data, 2)[..] else { return };
    if let Ok(script) = std::str::from_utf8(script) {
        check_split(script, Dialect::Posix);
        check_split(script, Dialect::Cmd);
        check_analysis(&["sh".to_string(), "-c".to_string(), script.to_string()]);
    }
    // The rest is an argv, words separated by NUL bytes.
    if let Ok(text) = std::str::from_utf8(argv_bytes) {
        let argv: Vec<String> = text.split('\0').map(str::to_string).collect();
        check_analysis(&argv);
    }
});
