//! Device identity: Ed25519 keys, device ids and the signed connect payloads.
//!
//! * device id = lowercase hex SHA-256 of the raw 32-byte public key;
//! * `publicKey` / `signature` travel as base64url without padding;
//! * the signed string is the v3 payload (v2 still accepted by gateways).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; some clients send the key in SPKI form.
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("device public key is not valid base64url")]
    PublicKeyEncoding,
    #[error("device public key is not a 32-byte Ed25519 key")]
    PublicKeyInvalid,
    #[error("device signature is not a valid base64url Ed25519 signature")]
    SignatureEncoding,
    #[error("device signature does not verify")]
    SignatureInvalid,
    #[error("device id does not match the public key")]
    DeviceIdMismatch,
    #[error("private key seed must be 32 bytes")]
    SeedInvalid,
}

pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url, tolerating padding and the standard alphabet (peers differ).
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(trimmed).ok().or_else(|| STANDARD.decode(text.trim()).ok())
}

/// Device id of a raw public key.
pub fn device_id_for(public_key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(public_key))
}

/// Parse a wire public key (raw 32 bytes or SPKI DER, base64url).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, DeviceError> {
    let bytes = b64url_decode(text).ok_or(DeviceError::PublicKeyEncoding)?;
    let raw: &[u8] = match bytes.len() {
        32 => &bytes,
        44 if bytes[..12] == SPKI_ED25519_PREFIX => &bytes[12..],
        _ => return Err(DeviceError::PublicKeyInvalid),
    };
    let arr: [u8; 32] = raw.try_into().map_err(|_| DeviceError::PublicKeyInvalid)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| DeviceError::PublicKeyInvalid)
}

/// The fields that go into a signed connect payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFields<'a> {
    pub device_id: &'a str,
    pub client_id: &'a str,
    pub client_mode: &'a str,
    pub role: &'a str,
    pub scopes: &'a [String],
    pub signed_at_ms: i64,
    pub token: &'a str,
    pub nonce: &'a str,
    pub platform: &'a str,
    pub device_family: &'a str,
}

fn normalize_meta(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

impl SignedFields<'_> {
    /// `v3|deviceId|clientId|clientMode|role|scopesCsv|signedAtMs|token|nonce|platform|deviceFamily`
    pub fn v3_payload(&self) -> String {
        format!(
            "v3|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.signed_at_ms,
            self.token,
            self.nonce,
            normalize_meta(self.platform),
            normalize_meta(self.device_family)
        )
    }

    /// `v2|deviceId|clientId|clientMode|role|scopesCsv|signedAtMs|token|nonce`
    pub fn v2_payload(&self) -> String {
        format!(
            "v2|{}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.signed_at_ms,
            self.token,
            self.nonce
        )
    }
}

/// Which payload version a signature matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    V3,
    V2,
}

/// Verify a connect signature: the id must match the key, and the signature must cover the
/// v3 payload, or failing that the v2 payload.
pub fn verify_connect_signature(
    public_key_b64: &str,
    signature_b64: &str,
    fields: &SignedFields<'_>,
) -> Result<PayloadVersion, DeviceError> {
    let key = parse_public_key(public_key_b64)?;
    if device_id_for(key.as_bytes()) != fields.device_id.to_ascii_lowercase() {
        return Err(DeviceError::DeviceIdMismatch);
    }
    let sig_bytes = b64url_decode(signature_b64).ok_or(DeviceError::SignatureEncoding)?;
    let sig_arr: [u8; 64] = sig_bytes.as_slice().try_into().map_err(|_| DeviceError::SignatureEncoding)?;
    let signature = Signature::from_bytes(&sig_arr);
    if key.verify(fields.v3_payload().as_bytes(), &signature).is_ok() {
        return Ok(PayloadVersion::V3);
    }
    if key.verify(fields.v2_payload().as_bytes(), &signature).is_ok() {
        return Ok(PayloadVersion::V2);
    }
    Err(DeviceError::SignatureInvalid)
}

/// An Ed25519 device identity with its private key.
#[derive(Clone)]
pub struct DeviceIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("DeviceIdentity").field("device_id", &self.device_id()).finish()
    }
}

impl DeviceIdentity {
    pub fn generate() -> Self {
        DeviceIdentity { key: SigningKey::generate(&mut rand::rngs::OsRng) }
    }

    pub fn from_seed(seed: &[u8]) -> Result<Self, DeviceError> {
        let arr: [u8; 32] = seed.try_into().map_err(|_| DeviceError::SeedInvalid)?;
        Ok(DeviceIdentity { key: SigningKey::from_bytes(&arr) })
    }

    /// The 32-byte private seed, for storage.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn public_key_raw(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn public_key_b64url(&self) -> String {
        b64url_encode(&self.public_key_raw())
    }

    pub fn device_id(&self) -> String {
        device_id_for(&self.public_key_raw())
    }

    /// Sign an arbitrary payload string; base64url signature.
    pub fn sign(&self, payload: &str) -> String {
        b64url_encode(&self.key.sign(payload.as_bytes()).to_bytes())
    }

    /// Build the `device` block of `connect`, signing the v3 payload.
    pub fn connect_device_block(&self, fields: &SignedFields<'_>) -> crate::connect::DeviceAuth {
        crate::connect::DeviceAuth {
            id: fields.device_id.to_string(),
            public_key: self.public_key_b64url(),
            signature: self.sign(&fields.v3_payload()),
            signed_at: fields.signed_at_ms,
            nonce: Some(fields.nonce.to_string()),
            extra: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(id: &'a str, scopes: &'a [String]) -> SignedFields<'a> {
        SignedFields {
            device_id: id,
            client_id: "node-host",
            client_mode: "node",
            role: "node",
            scopes,
            signed_at_ms: 1_700_000_000_000,
            token: "test-token",
            nonce: "nonce-1",
            platform: "Windows",
            device_family: "Desktop",
        }
    }

    #[test]
    fn v3_payload_matches_the_documented_example() {
        let f = fields("<id>", &[]);
        assert_eq!(f.v3_payload(), "v3|<id>|node-host|node|node||1700000000000|test-token|nonce-1|windows|desktop");
        assert_eq!(f.v2_payload(), "v2|<id>|node-host|node|node||1700000000000|test-token|nonce-1");
    }

    #[test]
    fn own_signature_verifies_and_tampering_fails() {
        let identity = DeviceIdentity::generate();
        let id = identity.device_id();
        assert_eq!(id.len(), 64);
        let f = fields(&id, &[]);
        let block = identity.connect_device_block(&f);
        assert_eq!(verify_connect_signature(&block.public_key, &block.signature, &f), Ok(PayloadVersion::V3));

        let mut other = f.clone();
        other.nonce = "nonce-2";
        assert_eq!(verify_connect_signature(&block.public_key, &block.signature, &other), Err(DeviceError::SignatureInvalid));
        let wrong_id = "0".repeat(64);
        let mut other = f.clone();
        other.device_id = &wrong_id;
        assert_eq!(verify_connect_signature(&block.public_key, &block.signature, &other), Err(DeviceError::DeviceIdMismatch));
    }

    #[test]
    fn v2_signatures_are_still_accepted() {
        let identity = DeviceIdentity::generate();
        let id = identity.device_id();
        let f = fields(&id, &[]);
        let sig = identity.sign(&f.v2_payload());
        assert_eq!(verify_connect_signature(&identity.public_key_b64url(), &sig, &f), Ok(PayloadVersion::V2));
    }

    #[test]
    fn spki_public_keys_are_accepted() {
        let identity = DeviceIdentity::generate();
        let mut spki = SPKI_ED25519_PREFIX.to_vec();
        spki.extend_from_slice(&identity.public_key_raw());
        let key = parse_public_key(&b64url_encode(&spki)).unwrap();
        assert_eq!(key.to_bytes(), identity.public_key_raw());
        assert_eq!(parse_public_key("AAAA"), Err(DeviceError::PublicKeyInvalid));
        assert_eq!(parse_public_key("***"), Err(DeviceError::PublicKeyEncoding));
    }

    #[test]
    fn seed_round_trip_keeps_the_identity() {
        let identity = DeviceIdentity::generate();
        let again = DeviceIdentity::from_seed(&identity.seed()).unwrap();
        assert_eq!(again.device_id(), identity.device_id());
        assert!(DeviceIdentity::from_seed(&[1, 2, 3]).is_err());
    }
}
