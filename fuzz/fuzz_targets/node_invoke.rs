//! The node-routing envelopes: `node.invoke` (operator → gateway), `node.invoke.request`
//! (gateway → node, `paramsJSON` or v3 `params`), `node.invoke.result` and `node.event`
//! (node → gateway, `payloadJSON` or inline `payload`), `node.invoke.cancel`.
//!
//! Invariants: nothing panics; every envelope re-serializes to one that parses back equal;
//! params the gateway encodes into `paramsJSON` decode on the node to the same value; an
//! inline value wins over its JSON companion; a result the gateway builds for the caller
//! carries the node's payload unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pincer_fuzz::{assert_json_eq, json_eq};
use pincer_gateway::nodes::registry::{InvokeOutcome, NodeRegistry};
use pincer_protocol::nodes::{NodeEventParams, NodeInvokeCancel, NodeInvokeParams, NodeInvokeRequest, NodeInvokeResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

fn round_trip<T: Serialize + DeserializeOwned>(what: &str, value: &Value) -> Option<T> {
    let parsed: T = serde_json::from_value(value.clone()).ok()?;
    let back = serde_json::to_value(&parsed).unwrap_or_default();
    let again: T = serde_json::from_value(back.clone()).unwrap_or_else(|e| panic!("{what} round trip: {e}\n{back}"));
    assert_json_eq(what, &back, &serde_json::to_value(&again).unwrap_or_default());
    Some(parsed)
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    // Frames carry these under `params` / `payload`; accept both the bare and the framed form.
    let inner = value.get("params").or_else(|| value.get("payload")).cloned();
    for v in std::iter::once(&value).chain(inner.as_ref()) {
        if let Some(invoke) = round_trip::<NodeInvokeParams>("node.invoke", v) {
            // What the gateway sends a v4 node, and what the node makes of it.
            let params_json = invoke.params.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
            let request = json!({"id": "i", "nodeId": invoke.node_id, "command": invoke.command, "paramsJSON": params_json});
            let request: NodeInvokeRequest = serde_json::from_value(request).unwrap_or_else(|e| panic!("request: {e}"));
            let decoded = request.params_value().unwrap_or_else(|e| panic!("node cannot decode paramsJSON: {e}"));
            let sent = invoke.params.clone().filter(|p| !p.is_null());
            match (&sent, &decoded) {
                (Some(a), Some(b)) => assert!(json_eq(a, b), "params changed in transit: {a} -> {b}"),
                (None, None) => {}
                (Some(Value::Null), None) => {}
                _ => panic!("params changed in transit: {sent:?} -> {decoded:?}"),
            }
        }
        if let Some(request) = round_trip::<NodeInvokeRequest>("node.invoke.request", v) {
            if let (Some(inline), Ok(Some(got))) = (&request.params, request.params_value()) {
                if !inline.is_null() {
                    assert_eq!(inline, &got, "inline params did not win");
                }
            }
        }
        if let Some(result) = round_trip::<NodeInvokeResult>("node.invoke.result", v) {
            if result.ok {
                if let Ok(payload) = result.payload_value() {
                    let out = NodeRegistry::outcome_to_result(&result.node_id, "cmd", InvokeOutcome::Ok(payload.clone()))
                        .unwrap_or_else(|e| panic!("ok outcome became an error: {}", e.message));
                    assert_eq!(out["payload"], payload.unwrap_or(Value::Null));
                    if let Some(text) = out["payloadJSON"].as_str() {
                        let reparsed: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("payloadJSON we send: {e}"));
                        assert!(json_eq(&reparsed, &out["payload"]), "payloadJSON and payload disagree");
                    }
                }
            } else if let Some(err) = &result.error {
                let outcome = InvokeOutcome::NodeError { code: err.code.clone(), message: err.message.clone() };
                assert!(NodeRegistry::outcome_to_result(&result.node_id, "cmd", outcome).is_err());
            }
        }
        if let Some(event) = round_trip::<NodeEventParams>("node.event", v) {
            let _ = event.payload_value();
        }
        let _ = round_trip::<NodeInvokeCancel>("node.invoke.cancel", v);
    }
});
