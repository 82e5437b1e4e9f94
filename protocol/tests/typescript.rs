//! The committed TypeScript definitions (`packages/protocol/index.ts`) are what the Rust types
//! give today, and every wire type deriving `TS` is in them.
//!
//! `PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript` rewrites the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use pincer_protocol::typescript::{definitions, OUTPUT_PATH};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn generated_typescript_is_current() {
    let path = workspace_root().join(OUTPUT_PATH);
    let fresh = definitions();
    if std::env::var_os("PINCER_WRITE_TS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with `PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript` and commit it",
        path.display()
    );
}

/// A type that derives `TS` but is left out of the list in `typescript.rs` would silently be
/// missing from the UI package; this reads the sources and checks each one is declared.
#[test]
fn every_ts_type_is_exported() {
    let generated = definitions();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(src).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut derives_ts = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                derives_ts = line.contains(" TS)") || line.contains(" TS,");
            } else if let Some(rest) = line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub enum ")) {
                if derives_ts {
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    seen += 1;
                    if !generated.contains(&format!("export type {name} ")) {
                        missing.push(name);
                    }
                }
                derives_ts = false;
            }
        }
    }
    assert!(seen > 100, "found only {seen} TS types: did the source layout change?");
    assert!(missing.is_empty(), "derive TS but are not in typescript::definitions(): {missing:?}");
}

#[test]
fn numbers_are_numbers_and_types_list_the_known_fields() {
    let ts = definitions();
    assert!(!ts.contains("bigint"), "u64/i64 must be `number` in TypeScript");
    let invoke = ts.lines().find(|l| l.starts_with("export type NodeInvokeParams ")).unwrap();
    assert!(invoke.contains("nodeId: string"), "{invoke}");
    // Left out when absent on the wire: optional, not nullable.
    assert!(invoke.contains("timeoutMs?: number,"), "{invoke}");
    // Always sent, `null` when unknown: required and nullable.
    let run = ts.lines().find(|l| l.starts_with("export type SystemRunResult ")).unwrap();
    assert!(run.contains("exitCode: number | null,"), "{run}");
    // The Rust side keeps unknown fields (`extra`); the UI's types name only the known ones, so
    // a misspelt field is a type error there instead of an index-signature lookup.
    assert!(!ts.contains(" extra:") && !ts.contains(" extra?:"), "the `extra` maps must not reach TypeScript");
    assert!(!invoke.contains("[key in string]"), "{invoke}");
}
