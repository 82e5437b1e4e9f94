//! Tools the agent can call. A tool is a name, a JSON Schema and an async function; the
//! gateway adds node-backed tools (exec, nodes, camera, …) and this crate ships the workspace
//! file tools ([`crate::tools`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::model::Content;
use crate::provider::ToolSpec;

/// What a tool produced. Errors are results too: the model sees them and can react.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: Vec<Content>,
    pub is_error: bool,
    /// Structured extras shown to UIs in `agent` tool events and kept in the transcript.
    pub details: Option<Value>,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput { content: vec![Content::text(text)], is_error: false, details: None }
    }

    pub fn error(text: impl Into<String>) -> ToolOutput {
        ToolOutput { content: vec![Content::text(text)], is_error: true, details: None }
    }

    pub fn with_details(mut self, details: Value) -> ToolOutput {
        self.details = Some(details);
        self
    }
}

/// Everything a running tool call may use besides its arguments.
pub struct ToolContext<'a> {
    pub session_key: &'a str,
    pub run_id: &'a str,
    pub tool_call_id: &'a str,
    /// Fires when the run is aborted; long tools must stop promptly.
    pub cancel: &'a CancellationToken,
    /// Progress for UIs (`agent` event, stream `tool`, phase `update`), e.g. "waiting for approval".
    pub progress: &'a (dyn Fn(Value) + Send + Sync),
}

/// A callable tool.
pub trait Tool: Send + Sync {
    fn spec(&self) -> ToolSpec;

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput>;
}

/// The tools offered to the model in one run, by name.
#[derive(Clone, Default)]
pub struct ToolSet {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl ToolSet {
    pub fn new() -> ToolSet {
        ToolSet::default()
    }

    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.spec().name, tool);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.values().map(|t| t.spec()).collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.tools.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}
