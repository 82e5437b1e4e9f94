//! A real local LLM for tests: llama.cpp's `llama-server` (OpenAI-compatible `/v1` API) with the
//! tiny SmolLM2-135M-Instruct model, both installed by `scripts/install-llama.sh` into
//! `${PINCER_CACHE:-~/.cache/pincer}/llama` (or wherever `$PINCER_LLAMA_DIR` points).
//!
//! [`LlamaServer::start`] spawns it on a free loopback port (`-c 2048 -t 1 --jinja`), logs to a
//! file in its own temp dir, waits for `GET /health` to answer 200 and kills it on drop.
//! Tests that need it must FAIL when it is not installed (the error says to run the install
//! script): they never skip.
//!
//! What the server is like (llama.cpp as built by the script, SmolLM2's own ChatML template):
//! healthy 0.3-3 s after spawn (3 s when the model file is not in the page cache), ~180 MB RSS,
//! 15-50 tokens/s generated on a busy 2-core machine. It answers with its `--alias` as `model`
//! whatever the request names. Non-streamed answers carry `usage` {prompt_tokens,
//! completion_tokens, total_tokens, prompt_tokens_details.cached_tokens} plus a llama.cpp
//! `timings` object; streamed ones send `usage` only with `stream_options.include_usage` (then as
//! a last chunk with `choices: []`) and end with `data: [DONE]`. SmolLM2's template has no tool
//! support: `tools` (even with `tool_choice: "required"`) are left out of the prompt and no
//! `tool_calls` come back; after a history with assistant `tool_calls` + a `tool` message the model
//! tends to answer with empty content. A prompt over the context gets a 400
//! `exceed_context_size_error`.
//!
//! [`post_json`] is a minimal HTTP/1.1 POST over plain TCP (loopback only) that returns the whole
//! decoded body, so a test can look at the raw SSE text of a streamed completion too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::process::ChildGuard;
use crate::wait::http_get;
use crate::{free_port, SupportError, TempState};

/// The model file the install script puts in `<dir>/models/`.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Spawn → `GET /health` 200. The 135M model loads in well under a second; the rest is slack
/// for a busy 2-core machine.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
/// The model id the server reports and accepts (`--alias`); llama.cpp would otherwise use the
/// `-m` path as given.
pub const MODEL_ID: &str = MODEL_FILE;
/// Context size the tests run with.
pub const CONTEXT: u32 = 2048;
/// Threads (`-t`), unless `$PINCER_LLAMA_THREADS` says otherwise. One, on purpose: on the 2-core
/// machines, with other tests (or builds) busy, `-t 2` generated 2-10 tokens/s against 15-30 for
/// `-t 1` (every layer ends in a barrier that waits for whichever thread is descheduled). With more
/// than one thread `--poll 0` is added (workers sleep instead of spinning), which never hurt.
pub const THREADS: u32 = 1;

fn threads() -> u32 {
    std::env::var("PINCER_LLAMA_THREADS").ok().and_then(|t| t.trim().parse().ok()).filter(|&t| t > 0).unwrap_or(THREADS)
}

/// Where an installed llama-server and its model are.
#[derive(Debug, Clone)]
pub struct LlamaPaths {
    /// `$PINCER_LLAMA_DIR`, else `${PINCER_CACHE:-~/.cache/pincer}/llama`.
    pub dir: PathBuf,
    /// `<dir>/bin/llama-server` (a wrapper that execs the real binary).
    pub server: PathBuf,
    /// `<dir>/models/SmolLM2-135M-Instruct.Q4_1.gguf`.
    pub model: PathBuf,
}

/// The install directory, whether or not anything is installed there.
pub fn llama_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PINCER_LLAMA_DIR") {
        return Some(PathBuf::from(d));
    }
    let cache = match std::env::var_os("PINCER_CACHE") {
        Some(c) => PathBuf::from(c),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/pincer"),
    };
    Some(cache.join("llama"))
}

/// A running llama-server, killed (with its process group) on drop.
#[derive(Debug)]
pub struct LlamaServer {
    pub paths: LlamaPaths,
    pub port: u16,
    /// Spawn → first `/health` 200.
    pub ready_after: Duration,
    model_id: String,
    log: PathBuf,
    // Field order matters: the child dies before its log dir is removed.
    child: ChildGuard,
    _state: TempState,
}

impl LlamaServer {
    /// The binary and model, when both are installed.
    pub fn installed() -> Option<LlamaPaths> {
        let dir = llama_dir()?;
        let server = dir.join("bin/llama-server");
        let model = dir.join("models").join(MODEL_FILE);
        (server.is_file() && model.is_file()).then_some(LlamaPaths { dir, server, model })
    }

    /// The installed paths, or an error that says how to install them.
    pub fn require() -> Result<LlamaPaths, SupportError> {
        LlamaServer::installed().ok_or_else(|| {
            let dir = llama_dir().map(|d| d.display().to_string()).unwrap_or_else(|| "~/.cache/pincer/llama".into());
            SupportError::Other(format!(
                "llama-server or its model is not installed (looked in {dir} for bin/llama-server and \
                 models/{MODEL_FILE}). Run scripts/install-llama.sh (~10 minutes the first time; CI runs \
                 it before the tests), or set PINCER_LLAMA_DIR. Tests that need a local LLM never skip."
            ))
        })
    }

    /// Start the installed server with the default arguments.
    pub async fn start() -> Result<LlamaServer, SupportError> {
        LlamaServer::start_with(&LlamaServer::require()?, &[]).await
    }

    /// Start `paths.server` on a free loopback port with `-c 2048 -t 1 --jinja --alias <MODEL_ID>`
    /// plus `extra_args`, and wait for `/health`.
    pub async fn start_with(paths: &LlamaPaths, extra_args: &[&str]) -> Result<LlamaServer, SupportError> {
        let state = TempState::new("llama")?;
        let log = state.join("llama-server.log");
        let port = free_port()?;
        let threads = threads();
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(&paths.server);
        cmd.arg("-m")
            .arg(&paths.model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", &CONTEXT.to_string(), "-t", &threads.to_string()])
            .args(if threads > 1 { &["--poll", "0"][..] } else { &[] })
            .args(["--jinja", "--alias", MODEL_ID])
            // No web UI, no periodic slot dumps: only the API.
            .arg("--no-webui")
            .args(extra_args)
            .current_dir(state.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let mut child = ChildGuard::spawn("llama-server", cmd)?;

        let health = format!("http://127.0.0.1:{port}/health");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_status()? {
                return Err(SupportError::Exited(format!(
                    "llama-server exited with {status}; its log ({}):\n{}",
                    log.display(),
                    tail(&log, 30)
                )));
            }
            let last = match http_get(&health, Duration::from_secs(2)).await {
                Ok((200, _)) => break,
                Ok((status, body)) => format!("{status} {}", body.trim()),
                Err(e) => e.to_string(),
            };
            if started.elapsed() > HEALTH_TIMEOUT {
                return Err(SupportError::Timeout {
                    what: format!("llama-server {health} (last answer: {last}); log:\n{}", tail(&log, 30)),
                    secs: HEALTH_TIMEOUT.as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ready_after = started.elapsed();

        // The id the server reports for its model (the --alias).
        let fallback = MODEL_ID.to_string();
        let model_id = match http_get(&format!("http://127.0.0.1:{port}/v1/models"), Duration::from_secs(10)).await {
            Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&decode_body_if_chunked(&body))
                .ok()
                .and_then(|v| v["data"][0]["id"].as_str().map(str::to_string))
                .unwrap_or(fallback),
            _ => fallback,
        };

        Ok(LlamaServer { paths: paths.clone(), port, ready_after, model_id, log, child, _state: state })
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The model id to put in requests (what `GET /v1/models` reports).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The server's combined stdout/stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the server's log (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// POST `body` as JSON to a plain `http://` URL (loopback test servers only) with HTTP/1.1 and
/// `Connection: close`; returns the status and the whole body, de-chunked (for a streamed
/// completion: the raw SSE text).
pub async fn post_json(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<(u16, String), SupportError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| SupportError::Other(format!("only http:// URLs are supported: {url}")))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let payload = serde_json::to_vec(body).map_err(|e| SupportError::Other(format!("encoding request: {e}")))?;
    let fetch = async {
        let mut tcp = tokio::net::TcpStream::connect(host).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: */*\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        tcp.write_all(head.as_bytes()).await?;
        tcp.write_all(&payload).await?;
        let mut buf = Vec::new();
        tcp.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| SupportError::Timeout { what: format!("POST {url}"), secs: timeout.as_secs_f64() })??;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, raw) = match split {
        Some(i) => (String::from_utf8_lossy(&buf[..i]).into_owned(), &buf[i + 4..]),
        None => (String::from_utf8_lossy(&buf).into_owned(), &[][..]),
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SupportError::Other(format!("no HTTP status from {url}: {head}")))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `wait::http_get` returns the raw body; undo chunked framing when it is there.
fn decode_body_if_chunked(body: &str) -> String {
    let first = body.split("\r\n").next().unwrap_or_default().trim();
    let looks_chunked = !first.is_empty() && first.chars().all(|c| c.is_ascii_hexdigit()) && body.contains("\r\n");
    if looks_chunked {
        String::from_utf8_lossy(&dechunk(body.as_bytes())).into_owned()
    } else {
        body.to_string()
    }
}

/// Decode `Transfer-Encoding: chunked` framing (sizes in hex, extensions ignored). Works on bytes:
/// a chunk boundary may fall inside a UTF-8 sequence.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or_default().trim(), 16).unwrap_or(0);
        let rest = &raw[eol + 2..];
        if size == 0 {
            break;
        }
        if rest.len() < size {
            out.extend_from_slice(rest);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        raw = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n"), b"hello, world");
        // A chunk boundary inside a UTF-8 sequence (\u{e9} is two bytes).
        assert_eq!(String::from_utf8(dechunk(b"1\r\n\xc3\r\n1\r\n\xa9\r\n0\r\n\r\n")).unwrap(), "\u{e9}");
        assert_eq!(decode_body_if_chunked("2\r\n{}\r\n0\r\n\r\n"), "{}");
        assert_eq!(decode_body_if_chunked("{\"a\":1}"), "{\"a\":1}");
    }
}
