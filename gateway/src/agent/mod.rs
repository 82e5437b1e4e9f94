//! The gateway side of the agent: sessions and runs on top of `pincer-agent`, the node-backed
//! tools, and the `chat`/`agent` events.

pub mod events;
pub mod host;
pub mod keys;
pub mod node_tools;
pub mod partial;
pub mod protected;
pub mod queue;
pub mod queue_settings;
pub mod session_events;

pub use host::AgentHost;
