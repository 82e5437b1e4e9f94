//! Nodes: command policy and the registry of connected nodes and in-flight invokes.

pub mod policy;
pub mod registry;
pub mod system_run;

pub use registry::{InvokeOutcome, NodeRegistry, NodeSession};
