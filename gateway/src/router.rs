//! Method dispatch: look the method up in the table ([`crate::methods::TABLE`]), check the
//! caller's role and scope against its entry, run its handler. This is the one module outside
//! `methods/` that imports from it.

use std::collections::HashMap;
use std::sync::LazyLock;

use pincer_protocol::connect::{Features, Role};
use pincer_protocol::error::ErrorShape;
use pincer_protocol::frames::{RequestFrame, ResponseFrame};
use pincer_protocol::methods as m;
use pincer_protocol::scopes::ADMIN;

use crate::caller::Caller;
pub use crate::methods::{Access, Handler, Method, Mode, TABLE};
use crate::state::SharedState;

/// Events Pincer emits.
pub const EVENTS: &[&str] = &[
    m::events::CONNECT_CHALLENGE,
    m::events::TICK,
    m::events::SHUTDOWN,
    m::events::PRESENCE,
    m::events::HEALTH,
    m::events::VOICEWAKE_CHANGED,
    m::events::DEVICE_PAIR_REQUESTED,
    m::events::DEVICE_PAIR_RESOLVED,
    m::events::NODE_PAIR_REQUESTED,
    m::events::NODE_PAIR_RESOLVED,
    m::events::NODE_INVOKE_REQUEST,
    m::events::NODE_INVOKE_CANCEL,
    m::events::NODE_HOST_STATS,
    m::events::NODE_RUNNER_INVENTORY_CHANGED,
    m::events::EXEC_APPROVAL_REQUESTED,
    m::events::EXEC_APPROVAL_RESOLVED,
    m::events::CHAT,
    m::events::AGENT,
    m::events::SESSIONS_CHANGED,
    m::events::SESSION_MESSAGE,
    m::events::SESSION_TOOL,
    m::events::SESSION_OPERATION,
];

/// The table entry of `method`, if the gateway serves it.
pub fn lookup(method: &str) -> Option<&'static Method> {
    static INDEX: LazyLock<HashMap<&'static str, &'static Method>> = LazyLock::new(|| TABLE.iter().map(|m| (m.name, m)).collect());
    INDEX.get(method).copied()
}

/// How `method` runs (unknown methods are answered inline, with their error).
pub fn mode_of(method: &str) -> Mode {
    lookup(method).map_or(Mode::Inline, |m| m.mode)
}

/// `hello-ok.features`: the methods of the table, in table order, and the events.
pub fn features() -> Features {
    Features {
        methods: TABLE.iter().map(|m| m.name.to_string()).collect(),
        events: EVENTS.iter().map(|e| e.to_string()).collect(),
        capabilities: Vec::new(),
        extra: Default::default(),
    }
}

/// Check the caller may call `method`. Unknown methods need admin (so probing which
/// methods exist needs admin too), as in OpenClaw.
pub fn authorize(caller: &Caller, method: &str) -> Result<&'static Method, ErrorShape> {
    let unauthorized_role = || ErrorShape::invalid_request(format!("unauthorized role: {}", caller.role().as_str()));
    let need = |scope: &'static str| {
        if caller.has_scope(scope) {
            Ok(())
        } else {
            Err(ErrorShape::missing_scope(scope, &[scope]))
        }
    };
    let Some(entry) = lookup(method) else {
        return match caller.role() {
            Role::Node => Err(unauthorized_role()),
            Role::Operator => {
                need(ADMIN)?;
                Err(ErrorShape::invalid_request(format!("unknown method: {method}")))
            }
        };
    };
    match (entry.access, caller.role()) {
        (Access::Anyone, _) | (Access::Node, Role::Node) | (Access::OperatorOrNode(_), Role::Node) => Ok(entry),
        (Access::Node, Role::Operator) | (Access::Operator(_), Role::Node) => Err(unauthorized_role()),
        (Access::Operator(scope) | Access::OperatorOrNode(scope), Role::Operator) => need(scope).map(|()| entry),
    }
}

/// Authorize and run one request for `caller`; the answer is its response frame.
pub async fn dispatch(state: &SharedState, caller: &Caller, req: RequestFrame) -> ResponseFrame {
    let params = req.params_or_empty();
    let result = match authorize(caller, &req.method) {
        Ok(entry) => match entry.handler {
            Handler::Immediate(handler) => handler(state, caller, params),
            Handler::Async(handler) => handler(state, caller, params).await,
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(payload) => ResponseFrame::ok(req.id, payload),
        Err(error) => ResponseFrame::err(req.id, error),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use pincer_protocol::connect::ClientInfo;
    use pincer_protocol::error::{DetailCode, ErrorCode};
    use pincer_protocol::scopes::{APPROVALS, PAIRING, READ, WRITE};

    use super::*;
    use crate::hub::ConnHandle;
    use crate::outbound::OutboundQueue;

    fn caller(role: Role, scopes: &[&str]) -> Caller {
        let (queue, _rx) = OutboundQueue::new("test", 1 << 20);
        let client = ClientInfo { id: "cli".into(), mode: "cli".into(), ..Default::default() };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let device = (role == Role::Node).then(|| "node-1".to_string());
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        Caller::new(Arc::new(ConnHandle::new("c1".into(), role, scopes, client, Vec::new(), device, addr, 0, queue)))
    }

    fn operator(scopes: &[&str]) -> Caller {
        caller(Role::Operator, scopes)
    }

    fn node() -> Caller {
        caller(Role::Node, &[])
    }

    /// The error `authorize` gives, as (code, message, details.code, details.missingScope).
    fn refusal(caller: &Caller, method: &str) -> (ErrorCode, String, Option<DetailCode>, Option<String>) {
        let e = match authorize(caller, method) {
            Ok(entry) => panic!("{method} was allowed (entry {})", entry.name),
            Err(e) => e,
        };
        let missing = e.details.as_ref().and_then(|d| d.get("missingScope")).and_then(|s| s.as_str()).map(str::to_string);
        let detail = e.detail_code();
        (e.code, e.message, detail, missing)
    }

    fn missing(scope: &str) -> (ErrorCode, String, Option<DetailCode>, Option<String>) {
        (ErrorCode::Forbidden, format!("missing scope: {scope}"), Some(DetailCode::MissingScope), Some(scope.to_string()))
    }

    fn unauthorized(role: &str) -> (ErrorCode, String, Option<DetailCode>, Option<String>) {
        (ErrorCode::InvalidRequest, format!("unauthorized role: {role}"), None, None)
    }

    #[test]
    fn hello_lists_exactly_the_table_in_order() {
        let features = features();
        let table: Vec<String> = TABLE.iter().map(|m| m.name.to_string()).collect();
        assert_eq!(features.methods, table);
        let unique: HashSet<&str> = TABLE.iter().map(|m| m.name).collect();
        assert_eq!(unique.len(), TABLE.len(), "a method has two entries");
        assert_eq!(features.events, EVENTS.iter().map(|e| e.to_string()).collect::<Vec<_>>());
        assert!(features.capabilities.is_empty());
    }

    #[test]
    fn the_table_is_what_openclaw_advertises_plus_known_extras() {
        let captured: serde_json::Value =
            serde_json::from_str(include_str!("../../protocol/tests/fixtures/openclaw/04-hello-ok.operator-cli.json")).unwrap();
        let openclaw: HashSet<&str> =
            captured["payload"]["features"]["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        let ours_only: Vec<&str> = TABLE.iter().map(|m| m.name).filter(|m| !openclaw.contains(m)).collect();
        // OpenClaw serves these too but leaves them out of an operator's hello-ok (node-side,
        // admin-only or internal ones); anything else new here must be a deliberate choice.
        let served_unadvertised = [
            m::NODE_PAIR_REQUEST,
            m::NODE_PAIR_VERIFY,
            m::NODE_INVOKE_CANCEL,
            m::NODE_RUNNER_INVENTORY_UPDATE,
            m::CHAT_INJECT,
            m::SESSIONS_RESOLVE,
        ];
        assert_eq!(ours_only, served_unadvertised, "methods OpenClaw does not advertise");
        let events: HashSet<&str> =
            captured["payload"]["features"]["events"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        let ours_only: Vec<&str> = EVENTS.iter().copied().filter(|e| !events.contains(e)).collect();
        assert_eq!(ours_only, Vec::<&str>::new(), "events OpenClaw does not advertise");
    }

    #[test]
    fn lookup_finds_every_entry_and_nothing_else() {
        for entry in TABLE {
            assert_eq!(lookup(entry.name).map(|m| m.name), Some(entry.name));
        }
        assert!(lookup("connect").is_none(), "connect is the handshake, not a table method");
        assert!(lookup("no.such.method").is_none());
    }

    #[test]
    fn the_methods_that_wait_on_others_run_detached() {
        let detached: Vec<&str> = TABLE.iter().filter(|m| m.mode.is_detached()).map(|m| m.name).collect();
        assert_eq!(
            detached,
            [
                m::NODE_INVOKE,
                m::EXEC_APPROVAL_REQUEST,
                m::EXEC_APPROVAL_WAIT_DECISION,
                m::EXEC_APPROVALS_NODE_GET,
                m::EXEC_APPROVALS_NODE_SET,
                m::AGENT
            ]
        );
        assert_eq!(mode_of(m::AGENT), Mode::AckThenFinal);
        assert_eq!(mode_of(m::NODE_INVOKE), Mode::Detached);
        assert_eq!(mode_of(m::AGENT_WAIT), Mode::Inline);
        assert_eq!(mode_of("no.such.method"), Mode::Inline);
    }

    #[test]
    fn anyone_may_call_health() {
        for who in [operator(&[]), operator(&[READ]), node()] {
            assert_eq!(authorize(&who, m::HEALTH).map(|e| e.name).ok(), Some(m::HEALTH));
        }
    }

    #[test]
    fn operator_methods_need_their_scope() {
        assert!(authorize(&operator(&[READ]), m::STATUS).is_ok());
        assert_eq!(refusal(&operator(&[]), m::STATUS), missing(READ));
        assert_eq!(refusal(&operator(&[READ]), m::CHAT_SEND), missing(WRITE));
        assert_eq!(refusal(&operator(&[READ, WRITE]), m::EXEC_APPROVAL_RESOLVE), missing(APPROVALS));
        assert_eq!(refusal(&operator(&[READ, WRITE]), m::DEVICE_PAIR_LIST), missing(PAIRING));
        assert_eq!(refusal(&operator(&[READ, WRITE, APPROVALS, PAIRING]), m::CONFIG_GET), missing(ADMIN));
    }

    #[test]
    fn write_implies_read_and_admin_implies_every_scope() {
        assert!(authorize(&operator(&[WRITE]), m::SESSIONS_LIST).is_ok());
        for entry in TABLE.iter().filter(|e| matches!(e.access, Access::Operator(_) | Access::OperatorOrNode(_) | Access::Anyone)) {
            assert!(authorize(&operator(&[ADMIN]), entry.name).is_ok(), "admin refused {}", entry.name);
        }
    }

    #[test]
    fn node_only_methods_refuse_operators_even_admins() {
        assert!(authorize(&node(), m::NODE_INVOKE_RESULT).is_ok());
        assert!(authorize(&node(), m::NODE_EVENT).is_ok());
        assert_eq!(refusal(&operator(&[ADMIN]), m::NODE_INVOKE_RESULT), unauthorized("operator"));
        assert_eq!(refusal(&operator(&[ADMIN]), m::NODE_EVENT), unauthorized("operator"));
    }

    #[test]
    fn nodes_may_call_only_node_and_shared_methods() {
        assert!(authorize(&node(), m::NODE_PAIR_REQUEST).is_ok());
        assert!(authorize(&node(), m::VOICEWAKE_GET).is_ok());
        assert_eq!(refusal(&node(), m::NODE_INVOKE), unauthorized("node"));
        assert_eq!(refusal(&node(), m::CHAT_SEND), unauthorized("node"));
        assert_eq!(refusal(&node(), m::CONFIG_GET), unauthorized("node"));
        // The shared ones still ask operators for the scope.
        assert_eq!(refusal(&operator(&[READ]), m::NODE_PAIR_REQUEST), missing(PAIRING));
    }

    #[test]
    fn unknown_methods_need_admin_to_learn_they_are_unknown() {
        assert_eq!(refusal(&operator(&[READ, WRITE]), "no.such.method"), missing(ADMIN));
        assert_eq!(
            refusal(&operator(&[ADMIN]), "no.such.method"),
            (ErrorCode::InvalidRequest, "unknown method: no.such.method".to_string(), None, None)
        );
        assert_eq!(refusal(&node(), "no.such.method"), unauthorized("node"));
    }

    /// Handlers sit above the services: only this module (the dispatch floor) reaches into
    /// `methods/`, so services, the connection code and the agent's tools cannot walk
    /// through a handler to get to each other.
    #[test]
    fn nothing_outside_methods_imports_from_methods() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut offenders = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            if rel.starts_with("methods/") || rel == "router.rs" || rel == "lib.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains("crate::methods") || line.contains("super::methods") {
                    offenders.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert_eq!(offenders, Vec::<String>::new());
    }
}
