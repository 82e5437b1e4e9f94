//! Every captured OpenClaw frame whose method, event or node command has a typed shape parses
//! into that shape and serializes back to the same JSON (unknown fields kept in `extra`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use pincer_protocol::agent::*;
use pincer_protocol::approvals::*;
use pincer_protocol::chat::*;
use pincer_protocol::devices::*;
use pincer_protocol::node_commands::*;
use pincer_protocol::nodes::*;
use pincer_protocol::sessions::*;
use pincer_protocol::system::*;
use pincer_protocol::Frame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw")
}

/// Every frame of the capture, in file order (requests before their responses).
fn all_frames() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(fixtures_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            out.push((name, v.get("frame").cloned().unwrap_or(v)));
        } else if name.ends_with(".jsonl") {
            for (i, line) in text.lines().enumerate() {
                let v: Value = serde_json::from_str(line).unwrap();
                if let Some(frame) = v.get("frame") {
                    out.push((format!("{name}:{}", i + 1), frame.clone()));
                }
            }
        }
    }
    out
}

fn round_trip<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}\n{value}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, value, "{what} lost or changed fields");
    typed
}

/// Round-trips `value` as the typed params of `method`; false when the method has no type here.
fn params_of(method: &str, origin: &str, value: &Value) -> bool {
    match method {
        "device.pair.approve" | "device.pair.reject" | "node.pair.approve" | "node.pair.reject" => {
            round_trip::<PairRequestIdParams>(origin, value);
        }
        "node.skills.update" => {
            round_trip::<NodeSkillsUpdate>(origin, value);
        }
        "node.pluginTools.update" => {
            round_trip::<NodePluginToolsUpdate>(origin, value);
        }
        "node.runnerInventory.update" => {
            let p = round_trip::<NodeRunnerInventoryUpdateParams>(origin, value);
            assert!(p.protocol_features.is_some(), "{origin}");
        }
        _ => return false,
    }
    true
}

/// Round-trips `value` as the typed result of `method`.
fn result_of(method: &str, origin: &str, value: &Value) -> bool {
    match method {
        "health" => {
            round_trip::<HealthSnapshot>(origin, value);
        }
        "node.list" => {
            let list = round_trip::<NodeListResult>(origin, value);
            assert!(list.nodes.iter().all(|n| n.host_stats.as_ref().is_none_or(|s| s.cpu_count.is_some())), "{origin}");
        }
        "node.pair.list" => {
            round_trip::<NodePairListResult>(origin, value);
        }
        "node.pair.approve" => {
            round_trip::<NodePairApproveResult>(origin, value);
        }
        "device.pair.list" => {
            round_trip::<DevicePairListResult>(origin, value);
        }
        "device.pair.approve" => {
            round_trip::<DevicePairApproveResult>(origin, value);
        }
        "node.invoke" => {
            let r = round_trip::<NodeInvokeResponse>(origin, value);
            if let (Some(inline), Some(text)) = (&r.payload, &r.payload_json) {
                assert_eq!(inline, &serde_json::from_str::<Value>(text).unwrap(), "{origin}: payload and payloadJSON differ");
            }
        }
        "node.invoke.result" => {
            round_trip::<NodeInvokeResultAck>(origin, value);
        }
        "node.event" => {
            round_trip::<NodeEventResult>(origin, value);
        }
        "node.runnerInventory.update" => {
            round_trip::<NodeRunnerInventoryUpdateResult>(origin, value);
        }
        "node.skills.update" => {
            round_trip::<NodeSkillsUpdate>(origin, value);
        }
        "node.pluginTools.update" => {
            round_trip::<NodePluginToolsUpdate>(origin, value);
        }
        _ => return false,
    }
    true
}

fn event_of(event: &str, origin: &str, value: &Value) -> bool {
    match event {
        "tick" => {
            round_trip::<TickEvent>(origin, value);
        }
        "presence" => {
            let p = round_trip::<PresenceEvent>(origin, value);
            assert!(p.presence.iter().any(|e| e.mode.as_deref() == Some("gateway")), "{origin}");
        }
        "health" => {
            round_trip::<HealthSnapshot>(origin, value);
        }
        "voicewake.changed" => {
            round_trip::<VoicewakeTriggers>(origin, value);
        }
        "node.pair.requested" => {
            let r = round_trip::<NodePairRequest>(origin, value);
            assert!(r.request_id.is_some() && r.required_approve_scopes.is_some(), "{origin}");
        }
        "node.hostStats" => {
            round_trip::<NodeHostStatsEvent>(origin, value);
        }
        "node.runnerInventory.changed" => {
            round_trip::<NodeRunnerInventoryChanged>(origin, value);
        }
        _ => return false,
    }
    true
}

/// Round-trips a node command's result payload; false when the command has no type here.
fn command_result_of(command: &str, origin: &str, value: &Value) -> bool {
    match command {
        "system.which" => {
            round_trip::<SystemWhichResult>(origin, value);
        }
        "system.run" => {
            round_trip::<SystemRunResult>(origin, value);
        }
        "system.run.prepare" => {
            round_trip::<SystemRunPrepareResult>(origin, value);
        }
        "system.execApprovals.get" | "system.execApprovals.set" => {
            round_trip::<ExecApprovalsFileResult>(origin, value);
        }
        _ => return false,
    }
    true
}

fn command_params_of(command: &str, origin: &str, value: &Value) -> bool {
    match command {
        "system.which" => {
            round_trip::<SystemWhichParams>(origin, value);
        }
        "system.run" | "system.run.prepare" => {
            round_trip::<SystemRunParams>(origin, value);
        }
        _ => return false,
    }
    true
}

#[test]
fn captured_frames_round_trip_through_their_typed_shapes() {
    let mut method_of_request = HashMap::<String, String>::new();
    let mut command_of_invoke = HashMap::<String, String>::new();
    let mut checked = BTreeMap::<String, usize>::new();
    for (origin, value) in all_frames() {
        let Ok(frame) = Frame::from_value(value) else { continue };
        match frame {
            Frame::Req(req) => {
                method_of_request.insert(req.id.clone(), req.method.clone());
                let params = req.params.clone().unwrap_or(Value::Null);
                if params_of(&req.method, &origin, &params) {
                    *checked.entry(format!("req {}", req.method)).or_default() += 1;
                }
                if req.method == "node.invoke.result" {
                    let r: NodeInvokeResult = serde_json::from_value(params.clone()).unwrap();
                    let command = command_of_invoke.get(&r.id).cloned().unwrap_or_default();
                    if let Some(payload) = r.payload_value().unwrap() {
                        if r.ok && command_result_of(&command, &origin, &payload) {
                            *checked.entry(format!("result of {command}")).or_default() += 1;
                        }
                    }
                }
                if req.method == "node.event" {
                    let p: NodeEventParams = serde_json::from_value(params).unwrap();
                    let payload = p.payload_value().unwrap().unwrap_or(Value::Null);
                    if p.event.starts_with("exec.") {
                        round_trip::<ExecEvent>(&origin, &payload);
                        *checked.entry(format!("node event {}", p.event)).or_default() += 1;
                    } else if p.event == "node.host.stats" {
                        round_trip::<HostStats>(&origin, &payload);
                        *checked.entry("node event node.host.stats".into()).or_default() += 1;
                    }
                }
            }
            Frame::Res(res) => {
                let method = method_of_request.get(&res.id).cloned().unwrap_or_default();
                if let (true, Some(payload)) = (res.ok, &res.payload) {
                    if result_of(&method, &origin, payload) {
                        *checked.entry(format!("res {method}")).or_default() += 1;
                    }
                }
            }
            Frame::Event(ev) => {
                let payload = ev.payload.clone().unwrap_or(Value::Null);
                if event_of(&ev.event, &origin, &payload) {
                    *checked.entry(format!("event {}", ev.event)).or_default() += 1;
                }
                if ev.event == "node.invoke.request" {
                    let r: NodeInvokeRequest = serde_json::from_value(payload).unwrap();
                    command_of_invoke.insert(r.id.clone(), r.command.clone());
                    if let Some(params) = r.params_value().unwrap() {
                        if command_params_of(&r.command, &origin, &params) {
                            *checked.entry(format!("params of {}", r.command)).or_default() += 1;
                        }
                    }
                }
            }
            Frame::Cancel(_) => {}
        }
    }
    let expected = [
        "req node.pair.approve",
        "req device.pair.approve",
        "req node.skills.update",
        "req node.pluginTools.update",
        "req node.runnerInventory.update",
        "res health",
        "res node.list",
        "res node.pair.list",
        "res node.pair.approve",
        "res device.pair.list",
        "res device.pair.approve",
        "res node.invoke",
        "res node.invoke.result",
        "res node.event",
        "res node.runnerInventory.update",
        "res node.skills.update",
        "event tick",
        "event presence",
        "event health",
        "event voicewake.changed",
        "event node.pair.requested",
        "event node.hostStats",
        "event node.runnerInventory.changed",
        "params of system.which",
        "result of system.which",
        "params of system.run",
        "result of system.run",
        "node event exec.finished",
    ];
    let missing: Vec<&str> = expected.iter().copied().filter(|k| !checked.contains_key(*k)).collect();
    assert!(missing.is_empty(), "no captured frame was checked for {missing:?}; checked: {checked:?}");
}

/// Shapes Pincer sends that OpenClaw's capture has no frame of: each keeps unknown fields and
/// leaves out absent optional ones, and the fields that are `null` on the wire stay `null`.
#[test]
fn pincer_only_shapes_keep_unknown_fields_and_nulls() {
    let run = json!({"exitCode": null, "timedOut": false, "success": false, "stdout": "", "stderr": "",
                     "error": "command not found: nope", "truncated": false, "durationMs": 0, "futureField": 1});
    let typed = round_trip::<SystemRunResult>("system.run not started", &run);
    assert_eq!((typed.exit_code, typed.extra["futureField"].clone()), (None, json!(1)));

    let finished = json!({"sessionKey": null, "runId": "r", "host": "node", "command": "ls",
                          "exitCode": null, "timedOut": true, "success": false, "output": ""});
    let typed = round_trip::<ExecEvent>("exec.finished killed", &finished);
    assert_eq!(typed.exit_code, Some(None), "a null exitCode is kept apart from an absent one");
    let started = json!({"sessionKey": "agent:main:main", "runId": "r", "host": "node", "command": "ls"});
    assert_eq!(round_trip::<ExecEvent>("exec.started", &started).exit_code, None);

    let prepare = json!({"cmdText": "echo 'a b'", "plan": {"argv": ["echo", "a b"], "cwd": null, "commandText": "echo 'a b'",
                         "commandPreview": "echo 'a b'", "agentId": "main", "sessionKey": null}});
    round_trip::<SystemRunPrepareResult>("system.run.prepare", &prepare);

    let location = json!({"lat": 1.5, "lon": 2.0, "accuracyMeters": 30.0, "timestamp": "2023-11-14T22:13:20.123Z",
                          "isPrecise": true, "source": "unknown", "altitudeMeters": 100.0});
    round_trip::<LocationResult>("location.get", &location);
    let clip = json!({"format": "avi", "base64": "AA==", "durationMs": 1000, "fps": 4, "hasAudio": false,
                      "width": 160, "height": 90, "screenIndex": 0});
    round_trip::<ClipResult>("screen.record", &clip);
    round_trip::<CameraListResult>(
        "camera.list",
        &json!({"devices": [{"id": "0", "name": "cam", "position": "unspecified", "deviceType": "external"}]}),
    );
    round_trip::<ImageResult>("camera.snap", &json!({"format": "jpg", "base64": "AA==", "width": 2, "height": 1}));

    let resolution = json!({"id": "a1", "decision": null, "effectiveDecision": "deny", "createdAtMs": 1, "expiresAtMs": 2,
                            "terminalReason": "no-approval-route"});
    let typed = round_trip::<ExecApprovalResolution>("exec.approval.request", &resolution);
    assert_eq!((typed.decision, typed.effective_decision), (None, ExecDecision::Deny));

    let ack = json!({"runId": "r1", "status": "started", "queue": {"mode": "followup", "position": 1}});
    assert_eq!(round_trip::<ChatSendAck>("chat.send", &ack).queue.unwrap().position, 1);
    let accepted = json!({"runId": "r1", "sessionKey": "agent:main:main", "agentId": "main", "status": "accepted", "acceptedAt": 5});
    round_trip::<AgentAccepted>("agent", &accepted);
    let agent_event = json!({"runId": "r1", "stream": "lifecycle", "data": {"phase": "start", "startedAt": 1},
                             "sessionKey": "agent:main:main", "agentId": "main", "sessionId": "s", "seq": 1, "ts": 2, "isHeartbeat": false});
    round_trip::<AgentEvent>("agent event", &agent_event);
    let changed = json!({"sessionKey": "agent:main:main", "agentId": "main", "sessionId": "s", "reason": "patch", "ts": 1});
    round_trip::<SessionsChangedEvent>("sessions.changed", &changed);
    let describe = json!({"session": null});
    assert!(round_trip::<SessionsDescribeResult>("sessions.describe", &describe).session.is_none());
}
