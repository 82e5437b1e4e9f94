//! Node methods by concern: pairing (command trust), the directory (list, describe, rename),
//! invoke routing and what nodes report. The work is done by the node services
//! ([`crate::services`]); these handlers parse, check and shape.

pub mod directory;
pub mod events;
pub mod invoke;
pub mod pairing;
