//! Services: the gateway's work, below the method handlers.
//!
//! Handlers (`methods/`), the connection code (`conn.rs`), the agent's tools (`agent/`) and,
//! next, the desktop shell all call these; none of them reaches into another's handlers.
//! Services use the state floor (`state`, `store`, `hub`, `nodes`, `approvals`) and never
//! import from `methods/` (`router::tests::nothing_outside_methods_imports_from_methods` checks
//! the whole crate for that).

pub mod agent_runs;
pub mod approval_flow;
pub mod node_directory;
pub mod node_lifecycle;
pub mod node_pairing;
pub mod node_routing;
pub mod presence;
pub mod session_view;
pub mod voicewake;
