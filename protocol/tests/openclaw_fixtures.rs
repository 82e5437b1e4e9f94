//! Every frame captured from the real OpenClaw 2026.9.6 gateway, CLI and node host parses
//! into our types and re-serializes with no field lost; typed payloads do the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pincer_protocol::connect::{ConnectChallenge, ConnectParams, HelloOk};
use pincer_protocol::device::{verify_connect_signature, PayloadVersion, SignedFields};
use pincer_protocol::devices::{DevicePairRequest, PairResolved, PairedDevice};
use pincer_protocol::nodes::{NodeEventParams, NodeInvokeParams, NodeInvokeRequest, NodeInvokeResult};
use pincer_protocol::Frame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openclaw")
}

/// All frames in the fixture directory: single-frame files (optionally wrapped as
/// `{note, frame}`) and JSON-lines taps whose lines carry a `frame`.
fn all_frames() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(fixtures_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            let frame = v.get("frame").cloned().unwrap_or(v);
            out.push((name, frame));
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

fn frame_file(name: &str) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixtures_dir().join(name)).unwrap()).unwrap();
    v.get("frame").cloned().unwrap_or(v)
}

fn round_trip<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, value, "{what} lost or changed fields");
    typed
}

#[test]
fn every_captured_frame_round_trips_without_loss() {
    let frames = all_frames();
    assert!(frames.len() > 1500, "expected the whole capture, got {}", frames.len());
    for (origin, value) in frames {
        let frame = Frame::from_value(value.clone()).unwrap_or_else(|e| panic!("{origin}: {e}"));
        let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(back, value, "{origin}: re-serialized frame differs");
    }
}

#[test]
fn captured_payloads_parse_into_typed_shapes_without_loss() {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (origin, value) in all_frames() {
        let Ok(frame) = Frame::from_value(value) else { continue };
        match frame {
            Frame::Req(req) => {
                let params = req.params.clone().unwrap_or(Value::Null);
                match req.method.as_str() {
                    "connect" => {
                        round_trip::<ConnectParams>(&origin, &params);
                        *counts.entry("connect").or_default() += 1;
                    }
                    "node.invoke" => {
                        round_trip::<NodeInvokeParams>(&origin, &params);
                        *counts.entry("node.invoke").or_default() += 1;
                    }
                    "node.invoke.result" => {
                        let r = round_trip::<NodeInvokeResult>(&origin, &params);
                        assert!(r.payload_value().unwrap().is_some() || !r.ok, "{origin}");
                        *counts.entry("node.invoke.result").or_default() += 1;
                    }
                    "node.event" => {
                        round_trip::<NodeEventParams>(&origin, &params);
                        *counts.entry("node.event").or_default() += 1;
                    }
                    _ => {}
                }
            }
            Frame::Event(ev) => {
                let payload = ev.payload.clone().unwrap_or(Value::Null);
                match ev.event.as_str() {
                    "connect.challenge" => {
                        round_trip::<ConnectChallenge>(&origin, &payload);
                    }
                    "node.invoke.request" => {
                        let r = round_trip::<NodeInvokeRequest>(&origin, &payload);
                        r.params_value().unwrap();
                        *counts.entry("node.invoke.request").or_default() += 1;
                    }
                    "device.pair.requested" => {
                        round_trip::<DevicePairRequest>(&origin, &payload);
                    }
                    "device.pair.resolved" | "node.pair.resolved" => {
                        round_trip::<PairResolved>(&origin, &payload);
                    }
                    _ => {}
                }
            }
            Frame::Res(res) => {
                if let Some(p) = &res.payload {
                    if p.get("type").and_then(Value::as_str) == Some("hello-ok") {
                        round_trip::<HelloOk>(&origin, p);
                        *counts.entry("hello-ok").or_default() += 1;
                    }
                }
            }
            Frame::Cancel(_) => {}
        }
    }
    for key in ["connect", "node.invoke", "node.invoke.result", "node.event", "node.invoke.request", "hello-ok"] {
        assert!(counts.get(key).copied().unwrap_or(0) > 0, "no {key} frame was checked");
    }
}

#[test]
fn device_pairing_results_parse_into_typed_records() {
    let list = frame_file("21-res.device.pair.list.json");
    let payload = &list["payload"];
    for p in payload["pending"].as_array().unwrap() {
        round_trip::<DevicePairRequest>("pending", p);
    }
    for p in payload["paired"].as_array().unwrap() {
        round_trip::<PairedDevice>("paired", p);
    }
    let approve = frame_file("21-res.device.pair.approve.json");
    let device = round_trip::<PairedDevice>("approve", &approve["payload"]["device"]);
    assert_eq!(device.approved_via.as_deref(), Some("owner"));
    assert_eq!(device.tokens[0].role, "node");
}

#[test]
fn captured_node_connect_signature_verifies_as_v3() {
    let frame = frame_file("03-connect.req.node-host.json");
    let params: ConnectParams = serde_json::from_value(frame["params"].clone()).unwrap();
    let device = params.device.as_ref().unwrap();
    let auth = params.auth.clone().unwrap_or_default();
    let fields = SignedFields {
        device_id: &device.id,
        client_id: &params.client.id,
        client_mode: &params.client.mode,
        role: params.role_str(),
        scopes: params.scopes(),
        signed_at_ms: device.signed_at,
        token: auth.signed_token(),
        nonce: device.nonce.as_deref().unwrap(),
        platform: &params.client.platform,
        device_family: params.client.device_family.as_deref().unwrap_or(""),
    };
    assert_eq!(verify_connect_signature(&device.public_key, &device.signature, &fields), Ok(PayloadVersion::V3));

    // The signed time is the challenge's ts and the nonce is its nonce.
    let challenge = frame_file("01-connect.challenge.event.json");
    assert_eq!(challenge["payload"]["ts"], device.signed_at);
    assert_eq!(challenge["payload"]["nonce"], device.nonce.as_deref().unwrap());

    // Any change to a signed field breaks it.
    let mut tampered = fields.clone();
    tampered.platform = "windows";
    assert!(verify_connect_signature(&device.public_key, &device.signature, &tampered).is_err());
}

#[test]
fn own_signature_verifies_the_same_way_as_a_captured_one() {
    let identity = pincer_protocol::device::DeviceIdentity::generate();
    let device_id = identity.device_id();
    let scopes = vec!["operator.read".to_string(), "operator.write".to_string()];
    let fields = SignedFields {
        device_id: &device_id,
        client_id: "openclaw-linux",
        client_mode: "ui",
        role: "operator",
        scopes: &scopes,
        signed_at_ms: 1_795_264_472_238,
        token: "g1-token-0123456789",
        nonce: "21ff2d0d-504f-44a8-b40e-958b03ff2b88",
        platform: "linux",
        device_family: "Linux",
    };
    let block = identity.connect_device_block(&fields);
    // Serialize through the wire type and verify from what a peer would read.
    let wire = serde_json::to_value(&block).unwrap();
    assert_eq!(wire["id"], device_id.as_str());
    assert!(!wire["publicKey"].as_str().unwrap().contains('='));
    assert_eq!(
        verify_connect_signature(wire["publicKey"].as_str().unwrap(), wire["signature"].as_str().unwrap(), &fields),
        Ok(PayloadVersion::V3)
    );
}
