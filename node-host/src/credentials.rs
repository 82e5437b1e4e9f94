//! Where the node keeps its secrets: the Ed25519 device identity and the device tokens the
//! gateways issued. The OS keyring when there is one; otherwise a 0600 file in the state dir
//! (with a warning, once), so a headless server still works.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pincer_protocol::device::{b64url_decode, b64url_encode, DeviceIdentity};
use sha2::{Digest, Sha256};

use pincer_statefile::Locked;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is corrupt ({reason}); move it away to start with a new identity")]
    Corrupt { path: PathBuf, reason: String },
    #[error("keyring: {0}")]
    Keyring(String),
}

/// A small key → secret map.
pub trait SecretStore: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<String>, CredentialError>;
    fn set(&self, key: &str, value: &str) -> Result<(), CredentialError>;
    fn delete(&self, key: &str) -> Result<(), CredentialError>;
    /// The value of `key`, storing `make()` first when there is none. Stores that can make
    /// this atomic across processes do (two processes starting at once get the same identity).
    fn get_or_insert_with(&self, key: &str, make: &mut dyn FnMut() -> String) -> Result<String, CredentialError> {
        if let Some(v) = self.get(key)? {
            return Ok(v);
        }
        let v = make();
        self.set(key, &v)?;
        Ok(v)
    }
    /// Where the secrets live, for logs and docs ("OS keyring" or a path).
    fn describe(&self) -> String;
}

/// Secrets in one JSON file, mode 0600, written atomically.
#[derive(Debug)]
pub struct FileSecretStore {
    path: PathBuf,
}

impl FileSecretStore {
    pub fn new(path: PathBuf) -> Self {
        FileSecretStore { path }
    }

    fn load(&self, file: &Locked) -> Result<BTreeMap<String, String>, CredentialError> {
        match file.read() {
            Ok(Some(bytes)) => {
                serde_json::from_slice(&bytes).map_err(|e| CredentialError::Corrupt { path: self.path.clone(), reason: e.to_string() })
            }
            Ok(None) => Ok(BTreeMap::new()),
            Err(e) => Err(CredentialError::Read { path: self.path.clone(), source: e.into_source() }),
        }
    }

    fn store(&self, file: &Locked, map: &BTreeMap<String, String>) -> Result<(), CredentialError> {
        let text = serde_json::to_vec_pretty(map).unwrap_or_default();
        file.write(&text).map_err(|e| CredentialError::Write { path: self.path.clone(), source: e.into_source() })
    }

    /// Hold the file (`pincer_statefile`: other threads and other processes — a second
    /// `pincer-node`, `pincer-node id` — wait) across a read-modify-write.
    fn locked<T>(&self, f: impl FnOnce(&Locked) -> Result<T, CredentialError>) -> Result<T, CredentialError> {
        let file =
            pincer_statefile::lock(&self.path).map_err(|e| CredentialError::Write { path: self.path.clone(), source: e.into_source() })?;
        f(&file)
    }

    fn update(&self, f: impl FnOnce(&mut BTreeMap<String, String>)) -> Result<(), CredentialError> {
        self.locked(|file| {
            let mut map = self.load(file)?;
            f(&mut map);
            self.store(file, &map)
        })
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, key: &str) -> Result<Option<String>, CredentialError> {
        self.locked(|file| Ok(self.load(file)?.remove(key)))
    }

    fn get_or_insert_with(&self, key: &str, make: &mut dyn FnMut() -> String) -> Result<String, CredentialError> {
        self.locked(|file| {
            let mut map = self.load(file)?;
            if let Some(v) = map.get(key) {
                return Ok(v.clone());
            }
            let v = make();
            map.insert(key.to_string(), v.clone());
            self.store(file, &map)?;
            Ok(v)
        })
    }

    fn set(&self, key: &str, value: &str) -> Result<(), CredentialError> {
        self.update(|m| {
            m.insert(key.to_string(), value.to_string());
        })
    }

    fn delete(&self, key: &str) -> Result<(), CredentialError> {
        self.update(|m| {
            m.remove(key);
        })
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// The OS keyring (macOS Keychain, Windows Credential Manager, Secret Service on Linux).
/// Entries are namespaced by the state dir, so two node instances never share an identity.
#[derive(Debug)]
pub struct KeyringSecretStore {
    service: String,
}

impl KeyringSecretStore {
    /// A store for `state_dir`, if the keyring answers a probe; `Err` says why not.
    pub fn probe(state_dir: &Path) -> Result<Self, CredentialError> {
        let canonical = state_dir.canonicalize().unwrap_or_else(|_| state_dir.to_path_buf());
        let scope = hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..8]);
        let store = KeyringSecretStore { service: format!("pincer-node.{scope}") };
        // A read of a missing entry is the cheapest call that proves the backend works.
        store.get("probe")?;
        Ok(store)
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry, CredentialError> {
        keyring::Entry::new(&self.service, key).map_err(|e| CredentialError::Keyring(e.to_string()))
    }
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, key: &str) -> Result<Option<String>, CredentialError> {
        match self.entry(key)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(CredentialError::Keyring(e.to_string())),
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<(), CredentialError> {
        self.entry(key)?.set_password(value).map_err(|e| CredentialError::Keyring(e.to_string()))
    }

    fn delete(&self, key: &str) -> Result<(), CredentialError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(CredentialError::Keyring(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        format!("OS keyring (service {})", self.service)
    }
}

/// Which secret store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretBackend {
    /// The OS keyring, falling back to the file when it does not answer.
    Auto,
    /// Always the 0600 file in the state dir.
    File,
}

/// Open the secret store for a state dir.
pub fn open_secret_store(state_dir: &Path, backend: SecretBackend) -> Arc<dyn SecretStore> {
    let file = || Arc::new(FileSecretStore::new(state_dir.join("secrets.json")));
    if backend == SecretBackend::File {
        return file();
    }
    match KeyringSecretStore::probe(state_dir) {
        Ok(store) => Arc::new(store),
        Err(e) => {
            let store = file();
            tracing::warn!(
                error = %e,
                file = %store.describe(),
                "no usable OS keyring; keeping the device identity and tokens in a 0600 file instead"
            );
            store
        }
    }
}

const IDENTITY_KEY: &str = "device-identity";

/// Load the device identity, creating (and storing) one on first run.
pub fn load_or_create_identity(store: &dyn SecretStore) -> Result<DeviceIdentity, CredentialError> {
    let mut created = None;
    let text = store.get_or_insert_with(IDENTITY_KEY, &mut || {
        let identity = DeviceIdentity::generate();
        let text = b64url_encode(&identity.seed());
        created = Some(identity.device_id());
        text
    })?;
    let seed = b64url_decode(text.trim()).ok_or_else(|| CredentialError::Corrupt {
        path: PathBuf::from(store.describe()),
        reason: "device identity is not base64url".into(),
    })?;
    let identity = DeviceIdentity::from_seed(&seed)
        .map_err(|e| CredentialError::Corrupt { path: PathBuf::from(store.describe()), reason: e.to_string() })?;
    if created.as_deref() == Some(identity.device_id().as_str()) {
        tracing::info!(device_id = %identity.device_id(), store = %store.describe(), "created a new device identity");
    }
    Ok(identity)
}

/// Device tokens, one per gateway and role (`hello-ok.auth.deviceToken`).
#[derive(Clone)]
pub struct DeviceTokens {
    store: Arc<dyn SecretStore>,
}

impl DeviceTokens {
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        DeviceTokens { store }
    }

    fn key(gateway: &str, role: &str) -> String {
        format!("device-token|{}|{role}", gateway.trim_end_matches('/'))
    }

    pub fn get(&self, gateway: &str, role: &str) -> Option<String> {
        match self.store.get(&Self::key(gateway, role)) {
            Ok(v) => v.filter(|t| !t.is_empty()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the stored device token");
                None
            }
        }
    }

    pub fn set(&self, gateway: &str, role: &str, token: &str) -> Result<(), CredentialError> {
        self.store.set(&Self::key(gateway, role), token)
    }

    pub fn forget(&self, gateway: &str, role: &str) -> Result<(), CredentialError> {
        self.store.delete(&Self::key(gateway, role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSecretStore::new(dir.path().join("secrets.json"));
        let a = load_or_create_identity(&store).unwrap();
        let b = load_or_create_identity(&store).unwrap();
        assert_eq!(a.device_id(), b.device_id());
        assert_eq!(a.device_id().len(), 64);
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let path = path.clone();
                    // Separate store values, as separate processes would have.
                    s.spawn(move || load_or_create_identity(&FileSecretStore::new(path)).unwrap().device_id())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    }

    #[test]
    fn corrupt_identity_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSecretStore::new(dir.path().join("secrets.json"));
        store.set(IDENTITY_KEY, "!!!").unwrap();
        assert!(matches!(load_or_create_identity(&store), Err(CredentialError::Corrupt { .. })));
        std::fs::write(dir.path().join("secrets.json"), b"{not json").unwrap();
        assert!(matches!(store.get(IDENTITY_KEY), Err(CredentialError::Corrupt { .. })));
    }

    #[test]
    fn tokens_are_per_gateway_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = DeviceTokens::new(Arc::new(FileSecretStore::new(dir.path().join("s.json"))));
        tokens.set("ws://a:1/", "node", "t1").unwrap();
        assert_eq!(tokens.get("ws://a:1", "node").as_deref(), Some("t1"));
        assert_eq!(tokens.get("ws://a:1", "operator"), None);
        assert_eq!(tokens.get("ws://b:1", "node"), None);
        tokens.forget("ws://a:1", "node").unwrap();
        assert_eq!(tokens.get("ws://a:1", "node"), None);
    }
}
