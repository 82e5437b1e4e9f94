//! Finding workspace binaries from tests in another package.
//!
//! `env!("CARGO_BIN_EXE_<name>")` only exists for binaries of the package under test, so the
//! cross-process tests locate `pincer-gateway` & co. in the target dir, building them once
//! per test process first so they are never stale.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::SupportError;

/// (package, bin) pairs this process already built (or tried to).
static BUILT: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `$CARGO_TARGET_DIR` (relative paths are relative to the workspace root) or `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The profile these tests were built with; binaries are taken from the same one.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Package that owns a binary: the package of the same name (`pincer-node` is package
/// `pincer-node` in `node-host/`), except for these.
fn package_of(bin: &str) -> &str {
    match bin {
        "pincer-bench" => "pincer-tests",
        other => other,
    }
}

/// Path of workspace binary `bin` (e.g. `pincer-gateway`), built first.
///
/// * `PINCER_BIN_<NAME>` (upper case, `-` → `_`) overrides the path outright;
/// * `PINCER_TESTS_NO_BUILD=1` skips the build and uses whatever is in the target dir.
pub fn workspace_bin(bin: &str) -> Result<PathBuf, SupportError> {
    workspace_bin_in(package_of(bin), bin)
}

pub fn workspace_bin_in(package: &str, bin: &str) -> Result<PathBuf, SupportError> {
    let env_key = format!("PINCER_BIN_{}", bin.to_ascii_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&env_key) {
        return Ok(PathBuf::from(path));
    }
    if std::env::var_os("PINCER_TESTS_NO_BUILD").is_none() {
        build_once(package, bin)?;
    }
    let path = target_dir().join(profile()).join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(SupportError::BinaryMissing(path))
    }
}

fn build_once(package: &str, bin: &str) -> Result<(), SupportError> {
    // Held for the whole build so parallel tests wait for one build instead of racing.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (package.to_string(), bin.to_string());
    if built.contains(&key) {
        return Ok(());
    }
    built.push(key);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args(["build", "--quiet", "-p", package, "--bin", bin]);
    if profile() == "release" {
        cmd.arg("--release");
    }
    cmd.env("CARGO_TARGET_DIR", target_dir());
    // Cargo sets CARGO_PKG_NAME=pincer-tests & co. for the running test. Build scripts such as
    // ring's rerun when those change, so passing them on would rebuild ring, rustls and every
    // crate above them here, and again in the next `cargo test` (about 20 s each way).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&key.as_ref())
        {
            cmd.env_remove(key.as_ref());
        }
    }
    tracing::debug!(?cmd, "building workspace binary");
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SupportError::Build {
            package: package.into(),
            bin: bin.into(),
            detail: String::from_utf8_lossy(&out.stderr).chars().take(4000).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("tests/Cargo.toml").is_file());
    }

    #[test]
    fn explicit_override_wins() {
        std::env::set_var("PINCER_BIN_SOME_TOOL", "/opt/x/some-tool");
        assert_eq!(workspace_bin("some-tool").unwrap(), PathBuf::from("/opt/x/some-tool"));
    }
}
