//! Node commands: what a `node.invoke.request` can ask this machine to do.
//!
//! A [`CommandRegistry`] maps canonical command names to handlers. What is registered is
//! exactly what the node declares in `connect.commands`, so a command that is switched off
//! (camera, screen, location are off until the person enables them) is not even offered.
//! The desktop app registers its own handlers (canvas, talk) through the same trait.

pub mod env_policy;
pub mod exec_approvals;
pub mod notify;
pub mod output;
pub mod process_tree;
pub mod system_run;
pub mod which;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{codes, CommandError};

/// What a command handler knows about the invoke it serves.
#[derive(Debug, Clone)]
pub struct InvokeContext {
    /// Fires on `node.invoke.cancel`, on the caller's timeout and on disconnect.
    pub cancel: CancellationToken,
    /// The caller's `timeoutMs`, when it gave one.
    pub timeout: Option<Duration>,
    pub session_key: Option<String>,
}

impl InvokeContext {
    pub fn detached() -> Self {
        InvokeContext { cancel: CancellationToken::new(), timeout: None, session_key: None }
    }
}

pub type CommandFuture = Pin<Box<dyn Future<Output = Result<Value, CommandError>> + Send>>;

/// One node command.
pub trait CommandHandler: Send + Sync {
    fn invoke(&self, params: Value, ctx: InvokeContext) -> CommandFuture;
}

impl<F, Fut> CommandHandler for F
where
    F: Fn(Value, InvokeContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, CommandError>> + Send + 'static,
{
    fn invoke(&self, params: Value, ctx: InvokeContext) -> CommandFuture {
        Box::pin(self(params, ctx))
    }
}

/// The commands (and the caps they belong to) this node offers.
#[derive(Default, Clone)]
pub struct CommandRegistry {
    handlers: BTreeMap<String, Arc<dyn CommandHandler>>,
    caps: BTreeSet<String>,
}

impl CommandRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Offer `name` under capability `cap` (`system`, `screen`, `camera`, `location`, ...).
    pub fn register(&mut self, name: &str, cap: &str, handler: impl CommandHandler + 'static) {
        self.handlers.insert(name.to_string(), Arc::new(handler));
        self.caps.insert(cap.to_string());
    }

    /// Declared commands, sorted.
    pub fn commands(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    pub fn caps(&self) -> Vec<String> {
        self.caps.iter().cloned().collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// Run `name`; unknown commands get `UNKNOWN_COMMAND`.
    pub async fn invoke(&self, name: &str, params: Value, ctx: InvokeContext) -> Result<Value, CommandError> {
        let Some(handler) = self.handlers.get(name).cloned() else {
            return Err(CommandError::new(codes::UNKNOWN_COMMAND, format!("this node does not implement \"{name}\"")));
        };
        handler.invoke(params, ctx).await
    }
}

/// A command's typed result (the shapes in `pincer_protocol::node_commands`) as the JSON the
/// registry hands back.
pub fn to_result<T: serde::Serialize>(command: &str, result: &T) -> Result<Value, CommandError> {
    serde_json::to_value(result).map_err(|e| CommandError::unavailable(format!("{command}: result does not serialize: {e}")))
}

/// Decode command params; absent params count as `{}`.
pub fn parse_params<T: DeserializeOwned>(command: &str, params: Value) -> Result<T, CommandError> {
    let params = if params.is_null() { Value::Object(Default::default()) } else { params };
    serde_json::from_value(params).map_err(|e| CommandError::invalid_request(format!("{command}: invalid params: {e}")))
}
