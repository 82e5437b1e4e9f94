//! The gateway's durable state: one SQLite file (WAL, versioned migrations) holding paired
//! devices, their role tokens (hashed), pending pairing requests, node pairings, small
//! settings and an append-only audit log of every pairing and approval decision.
//!
//! Every write is one transaction that is committed before the caller acknowledges
//! anything on the wire, so a killed process loses nothing it has answered.

mod migrations;
mod run_queue;
mod sessions;

pub use sessions::{NewRun, RunRecord, SessionRecord, Stored, TranscriptRow};

use std::path::Path;
use std::sync::Mutex;

use pincer_protocol::devices::{DevicePairRequest, DeviceTokenInfo, PairedDevice};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("state database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(
        "the state database was written by a newer Pincer (schema version {found}; this build knows up to {known}): \
         run that newer version, or point this one at another state directory"
    )]
    TooNew { found: i64, known: usize },
    #[error("state record is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("state database lock poisoned")]
    Poisoned,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A pending node pairing request, as `node.pair.list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePairRequestRecord {
    pub request_id: String,
    pub node_id: String,
    pub ts: i64,
    pub record: Value,
}

/// One audit log row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub ts: i64,
    pub kind: String,
    pub subject: String,
    pub decision: String,
    pub actor: Option<String>,
    pub details: Value,
}

/// A verified device token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub role: String,
    pub scopes: Vec<String>,
}

/// `approvedVia` of a device the gateway approved by itself (loopback auto-approval).
pub const SILENT: &str = "silent";

/// Bounds on silently paired devices (see [`Store::prune_silent_devices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentPrune {
    /// At most this many silent devices are kept; beyond it the least recently seen go.
    pub max_silent: usize,
    /// A silent device of the same client as a newer silent pairing goes once it was approved
    /// this long ago (OpenClaw's grace, so two instances starting together keep both).
    pub superseded_grace_ms: i64,
    /// A silent device not seen for this long goes.
    pub stale_after_ms: i64,
}

impl Default for SilentPrune {
    fn default() -> SilentPrune {
        SilentPrune { max_silent: 64, superseded_grace_ms: 60_000, stale_after_ms: 30 * 24 * 60 * 60 * 1000 }
    }
}

/// Which client a silent pairing belongs to: the same client re-pairing with a fresh key (an
/// ephemeral state dir) shares it. `None` when nothing identifies the client.
fn silent_cluster_key(d: &PairedDevice) -> Option<(String, String, String)> {
    let norm = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_lowercase();
    let key = (norm(&d.client_id), norm(&d.client_mode), norm(&d.display_name));
    (!(key.0.is_empty() && key.1.is_empty() && key.2.is_empty())).then_some(key)
}

pub struct Store {
    conn: Mutex<Connection>,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    Ok(serde_json::to_string(value)?)
}

fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(text)?)
}

/// A fresh random secret: 32 bytes, base64url.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    pincer_protocol::device::b64url_encode(&bytes)
}

impl Store {
    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        Store::init(conn)
    }

    pub fn open_in_memory() -> StoreResult<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> StoreResult<Store> {
        // WAL + NORMAL survives a killed process (only power loss could drop the newest
        // commit); busy_timeout covers a second process reading the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let migrations = migrations::migrations();
        match migrations.to_latest(&mut conn) {
            Err(rusqlite_migration::Error::MigrationDefinition(rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead)) => {
                let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
                return Err(StoreError::TooNew { found, known: migrations::COUNT });
            }
            other => other?,
        }
        Ok(Store { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut conn)
    }

    // ---- paired devices -------------------------------------------------------------

    pub fn paired_device(&self, device_id: &str) -> StoreResult<Option<PairedDevice>> {
        self.with(|c| {
            let row: Option<String> =
                c.query_row("SELECT record FROM devices WHERE device_id = ?1", [device_id], |r| r.get(0)).optional()?;
            row.map(|t| from_json(&t)).transpose()
        })
    }

    pub fn paired_devices(&self) -> StoreResult<Vec<PairedDevice>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT record FROM devices ORDER BY created_at_ms, device_id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| from_json(&r?)).collect()
        })
    }

    /// Insert or replace a paired device record (tokens live in their own table).
    pub fn save_paired_device(&self, device: &PairedDevice) -> StoreResult<()> {
        let mut record = device.clone();
        record.tokens.clear();
        record.connected = None;
        let text = to_json(&record)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO devices (device_id, record, created_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(device_id) DO UPDATE SET record = excluded.record",
                params![device.device_id, text, device.created_at_ms],
            )?;
            Ok(())
        })
    }

    /// Remove a device, its tokens and its node pairing. Returns whether it existed.
    pub fn remove_paired_device(&self, device_id: &str) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM device_tokens WHERE device_id = ?1", [device_id])?;
            tx.execute("DELETE FROM node_pairings WHERE node_id = ?1", [device_id])?;
            let n = tx.execute("DELETE FROM devices WHERE device_id = ?1", [device_id])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    /// Retire silent (loopback auto-approved) pairings after `anchor` was approved silently, so
    /// a loop of fresh keys cannot grow the devices table forever. In one transaction, removes
    /// (with their tokens and pending requests) the silent devices that are not `anchor`, not
    /// in `connected`, and have no node pairing (a person approved that node's commands), when:
    /// - they share `anchor`'s client (`clientId`, `clientMode`, `displayName`) and were
    ///   approved at least [`SilentPrune::superseded_grace_ms`] ago: the same client re-paired
    ///   with a fresh key (OpenClaw's "superseded silent pairing" rule);
    /// - they were last seen more than [`SilentPrune::stale_after_ms`] ago;
    /// - more than [`SilentPrune::max_silent`] silent devices (node-paired ones not counted)
    ///   remain: the least recently seen go first.
    ///
    /// Devices a person approved (`approvedVia` other than `silent`) are never removed. Returns
    /// the removed device ids.
    pub fn prune_silent_devices(
        &self,
        anchor: &str,
        connected: &std::collections::HashSet<String>,
        policy: &SilentPrune,
        now_ms: i64,
    ) -> StoreResult<Vec<String>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let silent: Vec<PairedDevice> = {
                let mut stmt = tx.prepare("SELECT record FROM devices WHERE device_id NOT IN (SELECT node_id FROM node_pairings)")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for row in rows {
                    let device: PairedDevice = from_json(&row?)?;
                    if device.approved_via.as_deref() == Some(SILENT) {
                        out.push(device);
                    }
                }
                out
            };
            let anchor_key = silent.iter().find(|d| d.device_id == anchor).and_then(silent_cluster_key);
            let mut candidates: Vec<&PairedDevice> =
                silent.iter().filter(|d| d.device_id != anchor && !connected.contains(&d.device_id)).collect();
            let last_seen = |d: &PairedDevice| d.last_seen_at_ms.unwrap_or(d.approved_at_ms).max(d.approved_at_ms);
            let mut doomed: Vec<String> = Vec::new();
            candidates.retain(|d| {
                let superseded =
                    anchor_key.is_some() && silent_cluster_key(d) == anchor_key && now_ms - d.approved_at_ms >= policy.superseded_grace_ms;
                let stale = now_ms - last_seen(d) > policy.stale_after_ms;
                if superseded || stale {
                    doomed.push(d.device_id.clone());
                }
                !(superseded || stale)
            });
            let remaining = silent.len() - doomed.len();
            if remaining > policy.max_silent {
                candidates.sort_by_key(|d| (last_seen(d), d.device_id.clone()));
                doomed.extend(candidates.iter().take(remaining - policy.max_silent).map(|d| d.device_id.clone()));
            }
            for id in &doomed {
                tx.execute("DELETE FROM device_tokens WHERE device_id = ?1", [id])?;
                tx.execute("DELETE FROM device_pair_requests WHERE device_id = ?1", [id])?;
                tx.execute("DELETE FROM devices WHERE device_id = ?1", [id])?;
            }
            tx.commit()?;
            Ok(doomed)
        })
    }

    // ---- device tokens ---------------------------------------------------------------

    /// Issue a fresh token for (device, role), replacing any previous one. Only the hash
    /// is stored; the plaintext is returned once, to be handed to the device.
    pub fn issue_device_token(&self, device_id: &str, role: &str, scopes: &[String], now_ms: i64) -> StoreResult<String> {
        let token = new_secret();
        let hash = hash_token(&token);
        let scopes_json = to_json(&scopes)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO device_tokens (device_id, role, token_hash, scopes, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(device_id, role) DO UPDATE SET token_hash = excluded.token_hash,
                   scopes = excluded.scopes, rotated_at_ms = excluded.created_at_ms, revoked_at_ms = NULL",
                params![device_id, role, hash, scopes_json, now_ms],
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Check a presented device token. `None` when no live token of that role matches.
    pub fn verify_device_token(&self, device_id: &str, role: &str, token: &str, now_ms: i64) -> StoreResult<Option<TokenGrant>> {
        use subtle::ConstantTimeEq;
        let presented = hash_token(token);
        self.with(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT token_hash, scopes FROM device_tokens
                     WHERE device_id = ?1 AND role = ?2 AND revoked_at_ms IS NULL",
                    params![device_id, role],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((stored, scopes)) = row else {
                return Ok(None);
            };
            if !bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
                return Ok(None);
            }
            c.execute(
                "UPDATE device_tokens SET last_used_at_ms = ?3 WHERE device_id = ?1 AND role = ?2",
                params![device_id, role, now_ms],
            )?;
            Ok(Some(TokenGrant { role: role.to_string(), scopes: from_json(&scopes)? }))
        })
    }

    pub fn has_live_token(&self, device_id: &str, role: &str) -> StoreResult<bool> {
        self.with(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM device_tokens WHERE device_id = ?1 AND role = ?2 AND revoked_at_ms IS NULL",
                params![device_id, role],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
    }

    /// Revoke the token of (device, role). Returns whether a live token existed.
    pub fn revoke_device_token(&self, device_id: &str, role: &str, now_ms: i64) -> StoreResult<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE device_tokens SET revoked_at_ms = ?3
                 WHERE device_id = ?1 AND role = ?2 AND revoked_at_ms IS NULL",
                params![device_id, role, now_ms],
            )?;
            Ok(n > 0)
        })
    }

    pub fn device_tokens(&self, device_id: &str) -> StoreResult<Vec<DeviceTokenInfo>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT role, scopes, created_at_ms, rotated_at_ms, revoked_at_ms, last_used_at_ms
                 FROM device_tokens WHERE device_id = ?1 ORDER BY role",
            )?;
            let rows = stmt.query_map([device_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (role, scopes, created, rotated, revoked, used) = row?;
                out.push(DeviceTokenInfo {
                    role,
                    scopes: from_json(&scopes)?,
                    created_at_ms: created,
                    rotated_at_ms: rotated,
                    revoked_at_ms: revoked,
                    last_used_at_ms: used,
                    extra: Default::default(),
                });
            }
            Ok(out)
        })
    }

    // ---- pending device pairing requests ---------------------------------------------

    pub fn save_device_request(&self, req: &DevicePairRequest) -> StoreResult<()> {
        let text = to_json(req)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO device_pair_requests (request_id, device_id, record, ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(request_id) DO UPDATE SET record = excluded.record, ts = excluded.ts",
                params![req.request_id, req.device_id, text, req.ts],
            )?;
            Ok(())
        })
    }

    pub fn device_requests(&self) -> StoreResult<Vec<DevicePairRequest>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT record FROM device_pair_requests ORDER BY ts, request_id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| from_json(&r?)).collect()
        })
    }

    pub fn device_request(&self, request_id: &str) -> StoreResult<Option<DevicePairRequest>> {
        self.with(|c| {
            let row: Option<String> =
                c.query_row("SELECT record FROM device_pair_requests WHERE request_id = ?1", [request_id], |r| r.get(0)).optional()?;
            row.map(|t| from_json(&t)).transpose()
        })
    }

    pub fn device_request_for(&self, device_id: &str) -> StoreResult<Option<DevicePairRequest>> {
        self.with(|c| {
            let row: Option<String> = c
                .query_row("SELECT record FROM device_pair_requests WHERE device_id = ?1 ORDER BY ts DESC LIMIT 1", [device_id], |r| {
                    r.get(0)
                })
                .optional()?;
            row.map(|t| from_json(&t)).transpose()
        })
    }

    pub fn delete_device_request(&self, request_id: &str) -> StoreResult<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM device_pair_requests WHERE request_id = ?1", [request_id])? > 0))
    }

    pub fn delete_device_requests_for(&self, device_id: &str) -> StoreResult<usize> {
        self.with(|c| Ok(c.execute("DELETE FROM device_pair_requests WHERE device_id = ?1", [device_id])?))
    }

    /// Approve a pending request atomically: the device record is written, the request is
    /// removed and a token is issued for the role in one transaction.
    pub fn approve_device_request(
        &self,
        request_id: &str,
        device: &PairedDevice,
        token_role: &str,
        token_scopes: &[String],
        now_ms: i64,
    ) -> StoreResult<String> {
        let mut record = device.clone();
        record.tokens.clear();
        record.connected = None;
        let text = to_json(&record)?;
        let token = new_secret();
        let hash = hash_token(&token);
        let scopes_json = to_json(&token_scopes)?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO devices (device_id, record, created_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(device_id) DO UPDATE SET record = excluded.record",
                params![device.device_id, text, device.created_at_ms],
            )?;
            tx.execute("DELETE FROM device_pair_requests WHERE request_id = ?1", [request_id])?;
            tx.execute(
                "INSERT INTO device_tokens (device_id, role, token_hash, scopes, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(device_id, role) DO UPDATE SET token_hash = excluded.token_hash,
                   scopes = excluded.scopes, rotated_at_ms = excluded.created_at_ms, revoked_at_ms = NULL",
                params![device.device_id, token_role, hash, scopes_json, now_ms],
            )?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(token)
    }

    // ---- node pairings (command trust) -----------------------------------------------

    pub fn node_pairing(&self, node_id: &str) -> StoreResult<Option<Value>> {
        self.with(|c| {
            let row: Option<String> =
                c.query_row("SELECT record FROM node_pairings WHERE node_id = ?1", [node_id], |r| r.get(0)).optional()?;
            row.map(|t| from_json(&t)).transpose()
        })
    }

    pub fn node_pairings(&self) -> StoreResult<Vec<Value>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT record FROM node_pairings ORDER BY approved_at_ms, node_id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| from_json(&r?)).collect()
        })
    }

    pub fn save_node_pairing(&self, node_id: &str, record: &Value, approved_at_ms: i64) -> StoreResult<()> {
        let text = to_json(record)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO node_pairings (node_id, record, approved_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(node_id) DO UPDATE SET record = excluded.record",
                params![node_id, text, approved_at_ms],
            )?;
            Ok(())
        })
    }

    pub fn remove_node_pairing(&self, node_id: &str) -> StoreResult<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM node_pairings WHERE node_id = ?1", [node_id])? > 0))
    }

    pub fn save_node_request(&self, req: &NodePairRequestRecord) -> StoreResult<()> {
        let text = to_json(&req.record)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO node_pair_requests (request_id, node_id, record, ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(request_id) DO UPDATE SET record = excluded.record, ts = excluded.ts",
                params![req.request_id, req.node_id, text, req.ts],
            )?;
            Ok(())
        })
    }

    pub fn node_requests(&self) -> StoreResult<Vec<NodePairRequestRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT request_id, node_id, record, ts FROM node_pair_requests ORDER BY ts, request_id")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (request_id, node_id, record, ts) = row?;
                out.push(NodePairRequestRecord { request_id, node_id, ts, record: from_json(&record)? });
            }
            Ok(out)
        })
    }

    pub fn delete_node_request(&self, request_id: &str) -> StoreResult<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM node_pair_requests WHERE request_id = ?1", [request_id])? > 0))
    }

    /// Approve a node request: write the pairing and drop the request in one transaction.
    pub fn approve_node_request(&self, request_id: &str, node_id: &str, record: &Value, now_ms: i64) -> StoreResult<()> {
        let text = to_json(record)?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO node_pairings (node_id, record, approved_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(node_id) DO UPDATE SET record = excluded.record, approved_at_ms = excluded.approved_at_ms",
                params![node_id, text, now_ms],
            )?;
            tx.execute("DELETE FROM node_pair_requests WHERE request_id = ?1", [request_id])?;
            tx.commit()?;
            Ok(())
        })
    }

    // ---- settings --------------------------------------------------------------------

    pub fn setting(&self, key: &str) -> StoreResult<Option<Value>> {
        self.with(|c| {
            let row: Option<String> = c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?;
            row.map(|t| from_json(&t)).transpose()
        })
    }

    pub fn set_setting(&self, key: &str, value: &Value, now_ms: i64) -> StoreResult<()> {
        let text = to_json(value)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (key, value, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
                params![key, text, now_ms],
            )?;
            Ok(())
        })
    }

    // ---- audit log -------------------------------------------------------------------

    /// Append one decision to the audit log. Rows are never updated or deleted.
    pub fn audit(&self, ts: i64, kind: &str, subject: &str, decision: &str, actor: Option<&str>, details: &Value) -> StoreResult<()> {
        let text = to_json(details)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO audit_log (ts, kind, subject, decision, actor, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![ts, kind, subject, decision, actor, text],
            )?;
            Ok(())
        })
    }

    /// The newest `limit` audit rows, oldest first.
    pub fn audit_entries(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, ts, kind, subject, decision, actor, details FROM
                   (SELECT * FROM audit_log ORDER BY id DESC LIMIT ?1) ORDER BY id",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, ts, kind, subject, decision, actor, details) = row?;
                out.push(AuditEntry { id, ts, kind, subject, decision, actor, details: from_json(&details)? });
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests;
