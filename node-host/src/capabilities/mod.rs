//! Screen, camera and location back-ends for the node commands `screen.snapshot|record`,
//! `camera.list|snap|clip` and `location.get` (params and results as in OpenClaw's §2.5 catalog).
//!
//! Each command is an `async fn(params, ctx) -> Result<Value, CommandError>`. Blocking OS calls run
//! in `spawn_blocking`; every command stops waiting and answers `CANCELLED` when `ctx.cancel` fires.
//! Whether a command is enabled at all ([`CapabilitySettings`]) is decided by the dispatcher.

pub mod camera;
pub mod location;
pub mod screen;

mod avi;
mod clip;
mod imaging;
mod params;

use std::future::Future;
use std::pin::Pin;

use crate::commands::InvokeContext;
use crate::error::{codes, CommandError};

/// Which capability families the user allowed on this node. All off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CapabilitySettings {
    pub screen: bool,
    pub camera: bool,
    pub location: bool,
}

/// A boxed `Send` future, so the back-end traits stay object-safe (`&dyn CameraBackend`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CommandError>> + Send + 'a>>;

pub(crate) fn cancelled() -> CommandError {
    CommandError::new(codes::CANCELLED, "cancelled by the gateway")
}

/// Awaits `fut` unless the invoke is cancelled first.
pub(crate) async fn or_cancelled<T>(ctx: &InvokeContext, fut: impl Future<Output = Result<T, CommandError>>) -> Result<T, CommandError> {
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(cancelled()),
        res = fut => res,
    }
}

/// Runs blocking capture code on the blocking pool; answers `CANCELLED` as soon as the invoke is
/// cancelled (the closure gets the token too, so long loops stop at their next check).
pub(crate) async fn run_blocking<T: Send + 'static>(
    ctx: &InvokeContext,
    what: &'static str,
    f: impl FnOnce(tokio_util::sync::CancellationToken) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let token = ctx.cancel.clone();
    let handle = tokio::task::spawn_blocking(move || f(token));
    or_cancelled(ctx, async move {
        handle.await.map_err(|e| {
            tracing::error!(error = %e, what, "capture task failed");
            CommandError::unavailable(format!("{what} failed: the capture task crashed"))
        })?
    })
    .await
}
