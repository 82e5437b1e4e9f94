//! Pincer's agent runtime as a library: the conversation model, LLM provider clients with
//! streaming, retries and failover, the tool loop, workspace bootstrap files and file tools,
//! and context windowing/compaction.
//!
//! It has no sockets or storage of its own: the gateway owns sessions, transcripts, events and
//! the node-backed tools, and drives [`runner::run_turn`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod context;
pub mod model;
pub mod provider;
pub mod providers;
pub mod runner;
pub mod tool;
pub mod tools;
pub mod workspace;

pub use model::{AssistantMessage, Content, Message, StopReason, ToolResultMessage, Usage, UserMessage};
pub use provider::{ModelClient, ModelRequest, ProviderError, StreamDelta, ToolSpec};
pub use tool::{Tool, ToolContext, ToolOutput, ToolSet};
