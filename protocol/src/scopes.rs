//! Operator scopes and OpenClaw's rules for what each one grants.

pub const ADMIN: &str = "operator.admin";
pub const READ: &str = "operator.read";
pub const WRITE: &str = "operator.write";
pub const APPROVALS: &str = "operator.approvals";
pub const PAIRING: &str = "operator.pairing";
pub const TALK_SECRETS: &str = "operator.talk.secrets";

pub const ALL_OPERATOR_SCOPES: &[&str] = &[ADMIN, READ, WRITE, APPROVALS, PAIRING, TALK_SECRETS];

/// Whether a granted scope set satisfies `required`: `operator.admin` satisfies everything
/// and `operator.write` implies `operator.read`.
pub fn satisfies<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().any(|g| {
        let g = g.as_ref();
        g == ADMIN || g == required || (required == READ && g == WRITE)
    })
}

/// Whether `scope` is an operator scope this protocol defines.
pub fn is_known(scope: &str) -> bool {
    ALL_OPERATOR_SCOPES.contains(&scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_satisfies_everything_and_write_implies_read() {
        assert!(satisfies(&[ADMIN], PAIRING));
        assert!(satisfies(&[WRITE], READ));
        assert!(!satisfies(&[READ], WRITE));
        assert!(!satisfies(&[PAIRING], ADMIN));
        assert!(!satisfies::<&str>(&[], READ));
    }
}
