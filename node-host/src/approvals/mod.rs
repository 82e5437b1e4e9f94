//! Local exec approvals (owned by the approvals work; see its module docs).
