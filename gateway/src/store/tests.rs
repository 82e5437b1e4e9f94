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
    assert!(store.with(|c| Ok(c.execute("DELETE FROM audit_log", [])?)).is_err());
    assert!(store.with(|c| Ok(c.execute("UPDATE audit_log SET decision = 'x'", [])?)).is_err());
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
