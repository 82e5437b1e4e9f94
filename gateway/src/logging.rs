//! Logging for the binary: human-readable lines on stderr and JSON lines in
//! `<state>/logs/gateway.log` (what `logs.tail` serves).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// Keep one previous file once the log passes this size at start-up.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// `file` overrides the default `<state>/logs/gateway.log` (config `logging.file`).
pub fn init(state_dir: &Path, level: &str, file: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let path = file.unwrap_or_else(|| state_dir.join("logs").join("gateway.log"));
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| state_dir.to_path_buf());
    std::fs::create_dir_all(&dir)?;
    if std::fs::metadata(&path).map(|m| m.len() > ROTATE_BYTES).unwrap_or(false) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .with_filter(filter()),
        )
        .with(fmt::layer().json().with_writer(Mutex::new(file)).with_filter(filter()))
        .try_init();
    Ok(path)
}

use tracing_subscriber::Layer;
