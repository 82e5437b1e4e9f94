//! Every text frame a socket can send: the envelope parser, the `connect` params validation
//! the gateway runs before auth, and the device-signature check on the signed payload.
//!
//! Invariants: nothing panics; a parsed frame re-serializes to a frame that parses back to the
//! same value; accepted connect params are in the closed sets the gateway promises and are a
//! fixed point of validation; a signature made over the fields it is checked against verifies
//! (v3 and v2), and one made over anything else does not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pincer_fuzz::assert_json_eq;
use pincer_gateway::handshake::parse_connect_params;
use pincer_protocol::connect::{ConnectChallenge, HelloOk, CLIENT_IDS, CLIENT_MODES};
use pincer_protocol::device::{b64url_decode, b64url_encode, verify_connect_signature, DeviceIdentity, PayloadVersion, SignedFields};
use pincer_protocol::Frame;
use serde_json::Value;

/// A fixed identity: the harness must be deterministic for libFuzzer to minimise crashes.
fn identity() -> DeviceIdentity {
    DeviceIdentity::from_seed(&[7u8; 32]).unwrap_or_else(|_| unreachable!("a 32-byte seed is valid"))
}

fn check_frame(text: &str) {
    let Ok(frame) = Frame::parse(text) else { return };
    let json = frame.to_json();
    let again = Frame::parse(&json).unwrap_or_else(|e| panic!("re-serialized frame does not parse: {e}\n{json}"));
    let (a, b) = (serde_json::to_value(&frame).unwrap_or_default(), serde_json::to_value(&again).unwrap_or_default());
    assert_json_eq("frame", &a, &b);
    if let Frame::Req(req) = &frame {
        if req.method == "connect" {
            check_connect(req.params_or_empty());
        }
    }
    if let Frame::Event(event) = &frame {
        if let Some(payload) = &event.payload {
            let _ = serde_json::from_value::<ConnectChallenge>(payload.clone());
        }
    }
    if let Frame::Res(res) = &frame {
        if let Some(payload) = &res.payload {
            if let Ok(hello) = serde_json::from_value::<HelloOk>(payload.clone()) {
                let back = serde_json::to_value(&hello).unwrap_or_default();
                let hello2: HelloOk = serde_json::from_value(back.clone()).unwrap_or_else(|e| panic!("hello-ok round trip: {e}"));
                assert_json_eq("hello-ok", &back, &serde_json::to_value(&hello2).unwrap_or_default());
            }
        }
    }
}

fn check_connect(params: Value) {
    let Ok(parsed) = parse_connect_params(params) else { return };
    assert!(CLIENT_IDS.contains(&parsed.client.id.as_str()), "client id {:?} not canonical", parsed.client.id);
    assert!(CLIENT_MODES.contains(&parsed.client.mode.as_str()), "client mode {:?} not canonical", parsed.client.mode);
    assert!(parsed.min_protocol >= 1 && parsed.max_protocol >= 1);
    assert!(!parsed.client.version.trim().is_empty() && !parsed.client.platform.trim().is_empty());
    let auth = parsed.auth.clone().unwrap_or_default();
    for (token, max) in [(&auth.device_token, 256), (&auth.bootstrap_token, 256), (&auth.token, 4096), (&auth.password, 4096)] {
        assert!(token.as_ref().is_none_or(|t| t.chars().count() <= max), "over-long secret accepted");
    }
    // Validation is a fixed point: what it accepted, it accepts again unchanged.
    let value = serde_json::to_value(&parsed).unwrap_or_default();
    let again = parse_connect_params(value.clone()).unwrap_or_else(|e| panic!("accepted params rejected on re-check: {}", e.error.message));
    assert_json_eq("connect params", &value, &serde_json::to_value(&again).unwrap_or_default());

    let scopes = parsed.scopes().to_vec();
    let nonce = parsed.device.as_ref().and_then(|d| d.nonce.clone()).unwrap_or_default();
    let signed_at = parsed.device.as_ref().map_or(0, |d| d.signed_at);
    let device_id = parsed.device.as_ref().map_or_else(String::new, |d| d.id.clone());
    let fields = SignedFields {
        device_id: &device_id,
        client_id: &parsed.client.id,
        client_mode: &parsed.client.mode,
        role: parsed.role_str(),
        scopes: &scopes,
        signed_at_ms: signed_at,
        token: auth.signed_token(),
        nonce: &nonce,
        platform: &parsed.client.platform,
        device_family: parsed.client.device_family.as_deref().unwrap_or(""),
    };
    // Whatever the peer claims, checking it never panics.
    if let Some(device) = &parsed.device {
        let _ = verify_connect_signature(&device.public_key, &device.signature, &fields);
    }
    check_signatures(&fields);
}

/// Sign the fields as a real client would and check the gateway's verifier agrees.
fn check_signatures(fields: &SignedFields<'_>) {
    let me = identity();
    let id = me.device_id();
    let fields = SignedFields { device_id: &id, ..fields.clone() };
    let key = me.public_key_b64url();
    assert_eq!(verify_connect_signature(&key, &me.sign(&fields.v3_payload()), &fields), Ok(PayloadVersion::V3));
    assert_eq!(verify_connect_signature(&key, &me.sign(&fields.v2_payload()), &fields), Ok(PayloadVersion::V2));
    // A signature over a different nonce must not verify for this one.
    let other_nonce = format!("{}x", fields.nonce);
    let other = SignedFields { nonce: &other_nonce, ..fields.clone() };
    assert!(verify_connect_signature(&key, &me.sign(&other.v3_payload()), &fields).is_err(), "signature for another nonce verified");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_frame(text);
        // Base64url as peers send it: decode never panics, encode→decode is the identity.
        if let Some(bytes) = b64url_decode(text) {
            assert_eq!(b64url_decode(&b64url_encode(&bytes)).as_deref(), Some(bytes.as_slice()));
        }
    }
    assert_eq!(b64url_decode(&b64url_encode(data)).as_deref(), Some(data));
});
