//! Nodes: command policy and the registry of connected nodes and in-flight invokes.

pub mod policy;
pub mod registry;

pub use registry::{InvokeOutcome, NodeRegistry, NodeSession};
