use super::*;
use serde_json::json;

fn device(id: &str) -> PairedDevice {
    serde_json::from_value(json!({
        "deviceId": id, "publicKey": "pk", "displayName": "n", "platform": "linux", "deviceFamily": "Linux",
        "clientId": "node-host", "clientMode": "node", "role": "node", "roles": ["node"], "scopes": [],
        "approvedVia": "owner", "createdAtMs": 1, "approvedAtMs": 1
    }))
    .unwrap()
}

fn request(id: &str, device_id: &str) -> DevicePairRequest {
    serde_json::from_value(json!({
        "requestId": id, "deviceId": device_id, "publicKey": "pk", "role": "node", "roles": ["node"],
        "scopes": [], "silent": false, "isRepair": false, "ts": 5
    }))
    .unwrap()
}

#[test]
fn tokens_are_stored_hashed_and_verify_only_for_their_role() {
    let store = Store::open_in_memory().unwrap();
    store.save_paired_device(&device("d1")).unwrap();
    let token = store.issue_device_token("d1", "node", &[], 10).unwrap();
    assert!(token.len() >= 43);
    assert!(store.verify_device_token("d1", "node", &token, 11).unwrap().is_some());
    assert!(store.verify_device_token("d1", "operator", &token, 11).unwrap().is_none());
    assert!(store.verify_device_token("d1", "node", "wrong", 11).unwrap().is_none());
    // The plaintext is nowhere in the database.
    let raw: String = store.with(|c| Ok(c.query_row("SELECT token_hash FROM device_tokens", [], |r| r.get(0))?)).unwrap();
    assert_ne!(raw, token);
    assert_eq!(raw.len(), 64);
    // Rotation invalidates the old token; revocation invalidates the new one.
    let rotated = store.issue_device_token("d1", "node", &[], 12).unwrap();
    assert!(store.verify_device_token("d1", "node", &token, 13).unwrap().is_none());
    assert!(store.revoke_device_token("d1", "node", 14).unwrap());
    assert!(store.verify_device_token("d1", "node", &rotated, 15).unwrap().is_none());
    let info = store.device_tokens("d1").unwrap();
    assert_eq!(info[0].revoked_at_ms, Some(14));
    assert_eq!(info[0].rotated_at_ms, Some(12));
}

#[test]
fn approving_a_request_is_atomic() {
    let store = Store::open_in_memory().unwrap();
    store.save_device_request(&request("r1", "d1")).unwrap();
    assert_eq!(store.device_request_for("d1").unwrap().unwrap().request_id, "r1");
    let token = store.approve_device_request("r1", &device("d1"), "node", &[], 20).unwrap();
    assert!(store.device_request("r1").unwrap().is_none());
    assert_eq!(store.paired_device("d1").unwrap().unwrap().display_name.as_deref(), Some("n"));
    assert!(store.verify_device_token("d1", "node", &token, 21).unwrap().is_some());
    assert!(store.remove_paired_device("d1").unwrap());
    assert!(store.verify_device_token("d1", "node", &token, 22).unwrap().is_none());
    assert!(!store.remove_paired_device("d1").unwrap());
}

#[test]
fn audit_log_is_append_only() {
    let store = Store::open_in_memory().unwrap();
    store.audit(1, "device.pair", "d1", "approved", Some("cli"), &json!({"requestId": "r1"})).unwrap();
    store.audit(2, "exec.approval", "a1", "deny", None, &json!({})).unwrap();
    let rows = store.audit_entries(10).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].decision, "approved");
    for statement in ["DELETE FROM audit_log", "UPDATE audit_log SET decision = 'x'"] {
        let refused = store.with(|c| Ok(c.execute(statement, [])?)).unwrap_err();
        assert!(matches!(&refused, StoreError::Sqlite(e) if e.to_string() == "audit log is append-only"), "{statement}: {refused:?}");
    }
    assert_eq!(store.audit_entries(1).unwrap()[0].kind, "exec.approval");
}

#[test]
fn state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let token = {
        let store = Store::open(&path).unwrap();
        store
            .save_node_request(&NodePairRequestRecord {
                request_id: "nr".into(),
                node_id: "n1".into(),
                ts: 3,
                record: json!({"requestId": "nr", "nodeId": "n1"}),
            })
            .unwrap();
        store.set_setting("voicewake", &json!({"triggers": ["pincer"]}), 4).unwrap();
        store.approve_device_request("r", &device("d9"), "node", &[], 5).unwrap()
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.node_requests().unwrap()[0].node_id, "n1");
    assert_eq!(store.setting("voicewake").unwrap().unwrap()["triggers"][0], "pincer");
    assert!(store.verify_device_token("d9", "node", &token, 6).unwrap().is_some());
    store.approve_node_request("nr", "n1", &json!({"nodeId": "n1", "commands": ["system.which"]}), 7).unwrap();
    assert!(store.node_requests().unwrap().is_empty());
    assert_eq!(store.node_pairing("n1").unwrap().unwrap()["commands"][0], "system.which");
}

fn silent(id: &str, client: &str, name: &str, approved_at: i64) -> PairedDevice {
    serde_json::from_value(json!({
        "deviceId": id, "publicKey": "pk", "displayName": name, "platform": "linux",
        "clientId": client, "clientMode": "cli", "role": "operator", "roles": ["operator"], "scopes": ["operator.read"],
        "approvedVia": "silent", "createdAtMs": approved_at, "approvedAtMs": approved_at, "lastSeenAtMs": approved_at
    }))
    .unwrap()
}

fn device_ids(store: &Store) -> Vec<String> {
    store.paired_devices().unwrap().into_iter().map(|d| d.device_id).collect()
}

fn count(store: &Store, table: &str) -> i64 {
    store.with(|c| Ok(c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)).unwrap()
}

/// 1,000 fresh keys paired silently (each with its own display name, so no two look like the
/// same client) leave at most `max_silent` silent rows and their tokens; the devices a person
/// approved and a silent device whose node commands a person approved are all kept. On 7f29638
/// nothing was ever removed: 1,000 device rows and 1,000 tokens.
#[test]
fn a_thousand_silent_pairings_stay_bounded_and_approved_devices_are_kept() {
    let store = Store::open_in_memory().unwrap();
    let policy = SilentPrune::default();
    store.save_paired_device(&device("owner-1")).unwrap();
    store.save_paired_device(&device("owner-2")).unwrap();
    store.issue_device_token("owner-1", "node", &[], 1).unwrap();
    let node = silent("silent-node", "node-host", "laptop", 1);
    store.save_paired_device(&node).unwrap();
    store.save_node_pairing("silent-node", &json!({"nodeId": "silent-node"}), 1).unwrap();
    let connected: std::collections::HashSet<String> = std::collections::HashSet::new();
    for i in 0..1_000i64 {
        let now = 10_000 + i * 10;
        let id = format!("fresh-{i:04}");
        store.save_paired_device(&silent(&id, "cli", &format!("probe {i}"), now)).unwrap();
        store.issue_device_token(&id, "operator", &["operator.read".into()], now).unwrap();
        store.prune_silent_devices(&id, &connected, &policy, now).unwrap();
    }
    let ids = device_ids(&store);
    let silent_rows = ids.iter().filter(|id| id.starts_with("fresh-")).count();
    assert_eq!(silent_rows, policy.max_silent);
    assert!(ids.contains(&"owner-1".to_string()) && ids.contains(&"owner-2".to_string()), "{ids:?}");
    assert!(ids.contains(&"silent-node".to_string()), "a node whose commands a person approved is kept");
    // The newest ones are kept (the last pairing, and the ones seen most recently).
    assert!(ids.contains(&"fresh-0999".to_string()) && !ids.contains(&"fresh-0000".to_string()));
    assert_eq!(count(&store, "device_tokens"), policy.max_silent as i64 + 1, "pruned devices lose their tokens");
}

/// OpenClaw's rule: the same client re-pairing silently with a fresh key retires its older
/// silent pairings once they are past the grace period, unless connected; other clients and
/// person-approved devices stay.
#[test]
fn a_silent_repairing_supersedes_the_same_clients_older_pairings() {
    let store = Store::open_in_memory().unwrap();
    let policy = SilentPrune::default();
    let mut owner = silent("owner", "cli", "my cli", 0);
    owner.approved_via = Some("owner".into());
    store.save_paired_device(&owner).unwrap();
    store.save_paired_device(&silent("old", "cli", "My CLI ", 0)).unwrap();
    store.save_paired_device(&silent("old-connected", "cli", "my cli", 0)).unwrap();
    store.save_paired_device(&silent("recent", "cli", "my cli", 100_000)).unwrap();
    store.save_paired_device(&silent("other-client", "webchat", "my cli", 0)).unwrap();
    store.save_paired_device(&silent("new", "cli", "my cli", 120_000)).unwrap();
    let connected: std::collections::HashSet<String> = ["old-connected".to_string()].into();
    let pruned = store.prune_silent_devices("new", &connected, &policy, 120_000).unwrap();
    assert_eq!(pruned, vec!["old".to_string()]);
    let mut ids = device_ids(&store);
    ids.sort();
    assert_eq!(ids, ["new", "old-connected", "other-client", "owner", "recent"]);
}

/// A silent device not seen for `stale_after_ms` goes at the next silent pairing; a person's
/// device as old as that stays.
#[test]
fn stale_silent_pairings_are_pruned() {
    let store = Store::open_in_memory().unwrap();
    let policy = SilentPrune::default();
    let mut owner = silent("owner", "a", "a", 0);
    owner.approved_via = Some("owner".into());
    store.save_paired_device(&owner).unwrap();
    store.save_paired_device(&silent("stale", "b", "b", 0)).unwrap();
    let mut seen = silent("seen", "c", "c", 0);
    seen.last_seen_at_ms = Some(policy.stale_after_ms);
    store.save_paired_device(&seen).unwrap();
    store.save_paired_device(&silent("new", "d", "d", policy.stale_after_ms + 1)).unwrap();
    let pruned = store.prune_silent_devices("new", &Default::default(), &policy, policy.stale_after_ms + 1).unwrap();
    assert_eq!(pruned, vec!["stale".to_string()]);
}
