//! The parsers behind the exec-approval gate, for the cargo-fuzz targets in `fuzz/` only
//! (feature `fuzzing`). Not a stable API: the gate itself ([`super::ExecGate`]) is.

pub use super::command::{analyze, Analysis, Resolver, Segment};
pub use super::policy::{compile_pattern, pattern_error, EffectivePolicy};
pub use super::shell::{split_script, Dialect, NotAllowlistable};
pub use super::store::validate as validate_approvals_file;
