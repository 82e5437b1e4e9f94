//! `node.json` in the state dir: what the person allowed this node to offer. Camera, screen
//! and location stay off until switched on here (or with the binary's `--enable-*` flags, or
//! the desktop app's toggles, which write this file).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capabilities::CapabilitySettings;

pub const SETTINGS_FILE: &str = "node.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSettingsFile {
    #[serde(default)]
    pub capabilities: CapabilityToggles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityToggles {
    #[serde(default)]
    pub screen: bool,
    #[serde(default)]
    pub camera: bool,
    #[serde(default)]
    pub location: bool,
}

impl From<CapabilityToggles> for CapabilitySettings {
    fn from(t: CapabilityToggles) -> Self {
        CapabilitySettings { screen: t.screen, camera: t.camera, location: t.location }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {reason} (expected e.g. {{\"capabilities\": {{\"screen\": true}}}})")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

pub fn settings_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SETTINGS_FILE)
}

/// Read `node.json`; a missing file means everything optional is off.
pub fn load(state_dir: &Path) -> Result<NodeSettingsFile, SettingsError> {
    let path = settings_path(state_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SettingsError::Invalid { path, reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NodeSettingsFile::default()),
        Err(source) => Err(SettingsError::Read { path, source }),
    }
}

pub fn save(state_dir: &Path, settings: &NodeSettingsFile) -> Result<(), SettingsError> {
    let path = settings_path(state_dir);
    let text = serde_json::to_vec_pretty(settings).unwrap_or_default();
    pincer_statefile::write_private_atomic(&path, &text).map_err(|e| SettingsError::Write { path, source: e.into_source() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_everything_off_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), NodeSettingsFile::default());
        let on = NodeSettingsFile { capabilities: CapabilityToggles { screen: true, camera: false, location: true }, display_name: None };
        save(dir.path(), &on).unwrap();
        assert_eq!(load(dir.path()).unwrap(), on);
        std::fs::write(settings_path(dir.path()), "{\"capabilities\": {\"screen\": \"yes\"}}").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("node.json is not valid"), "{err}");
    }
}
