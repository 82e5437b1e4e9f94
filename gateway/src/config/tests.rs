//! The config module's unit tests (the suites in tests/tests cover the wire behaviour).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use super::document::{sha256_hex, GatewayConfig};
use super::error::{ConfigError, ConfigIssue};
use super::parse::{nesting_too_deep, parse_patch_param};
use super::patch::merge_patch;
use super::redact::{is_sensitive_config_path, url_has_credentials};
use super::schema::config_schema;
use super::view::{ConfigView, ConnectionsView, RateLimitView};
use super::{EnvLookup, DEFAULT_TICK_INTERVAL_MS, KNOWN_KEYS, REDACTED_SENTINEL};

fn env_of(vars: &[(&str, &str)]) -> EnvLookup {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Arc::new(move |name: &str| map.get(name).cloned())
}

fn no_env() -> EnvLookup {
    env_of(&[])
}

fn cfg(raw: &str) -> GatewayConfig {
    GatewayConfig::from_raw("/tmp/pincer-test/openclaw.json", raw, no_env()).unwrap()
}

fn cfg_err(raw: &str) -> ConfigError {
    GatewayConfig::from_raw("/tmp/pincer-test/openclaw.json", raw, no_env()).unwrap_err()
}

fn invalid_key(e: &ConfigError) -> &str {
    match e {
        ConfigError::Invalid { key, .. } => key,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

const FULL: &str = r#"
// A Pincer/OpenClaw config with comments, unquoted keys and trailing commas.
{
  gateway: {
    mode: "local",            // OpenClaw key Pincer ignores
    port: 19001,
    bind: "lan",
    auth: {
      mode: "password",
      password: 'hunter2-long-password',
      rateLimit: { maxAttempts: 3, windowMs: 1000, lockoutMs: 0, exemptLoopback: false, },
    },
    controlUi: { allowedOrigins: ["https://a.example", "https://b.example",], },
    nodes: {
      pairing: { autoApproveLocal: false },
      commands: { allow: ["camera.snap"], deny: ["system.run"] },
      invokeTimeoutMs: 5000,
    },
    tickIntervalMs: 15000,
  },
  /* block comment */
  approvals: { exec: { enabled: false, timeoutMs: 120000, askFallback: "allowlist" } },
  logging: { level: "debug", file: "/var/log/pincer.log" },
  agents: { defaults: { heartbeat: { every: "0m" } } },
}
"#;

#[test]
fn json5_with_comments_and_trailing_commas_reads_every_key() {
    let c = cfg(FULL);
    let v = c.view();
    assert_eq!(v.port, 19001);
    assert_eq!(v.bind, "lan");
    assert!(v.bind_lan());
    assert_eq!(v.bind_addr(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(v.auth_mode, "password");
    assert!(v.auth_mode_explicit);
    assert_eq!(v.auth_password.as_deref(), Some("hunter2-long-password"));
    assert_eq!(v.auth_token, None);
    assert_eq!(v.rate_limit, RateLimitView { max_attempts: 3, window_ms: 1000, lockout_ms: 0, exempt_loopback: false });
    assert_eq!(v.allowed_origins, vec!["https://a.example", "https://b.example"]);
    assert!(!v.auto_approve_local);
    assert_eq!(v.commands_allow, vec!["camera.snap"]);
    assert_eq!(v.commands_deny, vec!["system.run"]);
    assert_eq!(v.invoke_timeout_ms, 5000);
    assert_eq!(v.tick_interval_ms, 15000);
    assert_eq!(v.exec_approval_timeout_ms, 120_000);
    assert_eq!(v.ask_fallback, "allowlist");
    assert_eq!(v.log_level, "debug");
    assert_eq!(v.tracing_filter(), "debug");
    assert_eq!(v.log_file, Some(PathBuf::from("/var/log/pincer.log")));
    // Unknown keys are kept.
    assert_eq!(c.document()["agents"]["defaults"]["heartbeat"]["every"], "0m");
    assert_eq!(c.document()["gateway"]["mode"], "local");
    assert!(c.exists());
    assert_eq!(c.hash(), sha256_hex(FULL.as_bytes()));
}

#[test]
fn missing_file_is_empty_config_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope").join("openclaw.json");
    let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
    assert!(!c.exists());
    assert_eq!(c.raw(), "");
    assert_eq!(c.hash(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(c.document(), &json!({}));
    assert_eq!(c.view(), ConfigView::default());
    let v = c.view();
    assert_eq!(v.port, 18789);
    assert_eq!(v.bind, "loopback");
    assert_eq!(v.bind_addr(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(v.auth_mode, "token");
    assert!(!v.auth_mode_explicit);
    assert_eq!(v.rate_limit, RateLimitView { max_attempts: 10, window_ms: 60_000, lockout_ms: 300_000, exempt_loopback: true });
    assert!(v.allowed_origins.is_empty());
    assert!(v.auto_approve_local);
    assert_eq!(v.tick_interval_ms, 30_000);
    assert_eq!(v.invoke_timeout_ms, 30_000);
    assert_eq!(v.exec_approval_timeout_ms, 1_800_000);
    assert_eq!(v.ask_fallback, "deny");
    assert_eq!(v.log_level, "info");
    assert_eq!(v.log_file, None);
    let snap = c.redacted_snapshot();
    assert_eq!(snap["exists"], false);
    assert_eq!(snap["raw"], Value::Null);
    assert_eq!(snap["config"], json!({}));
    assert_eq!(snap["hash"], c.hash());
}

#[test]
fn empty_file_and_bom_are_accepted() {
    assert_eq!(cfg("").view(), ConfigView::default());
    assert_eq!(cfg("  \n// only a comment? no: comments alone are not an object\n{}").view(), ConfigView::default());
    assert_eq!(cfg("\u{feff}{ gateway: { port: 1234 } }").view().port, 1234);
}

#[test]
fn auth_mode_is_derived_when_unset() {
    assert_eq!(cfg("{gateway:{auth:{token:'t0k3n-abcdef'}}}").view().auth_mode, "token");
    assert_eq!(cfg("{gateway:{auth:{password:'pw-abcdef'}}}").view().auth_mode, "password");
    assert_eq!(cfg("{gateway:{auth:{token:'a-token', password:'pw-abcdef'}}}").view().auth_mode, "password");
    assert_eq!(cfg("{gateway:{auth:{mode:'none'}}}").view().auth_mode, "none");
    assert_eq!(cfg("{gateway:{auth:{token:'   '}}}").view().auth_token, None);
}

#[test]
fn bind_modes() {
    assert_eq!(cfg("{gateway:{bind:'auto'}}").view().bind, "loopback");
    let v = cfg("{gateway:{bind:'custom', customBindHost:'192.168.1.10'}}").view();
    assert_eq!(v.bind, "custom");
    assert!(!v.bind_lan());
    assert_eq!(v.bind_addr(), "192.168.1.10".parse::<IpAddr>().unwrap());
    assert_eq!(invalid_key(&cfg_err("{gateway:{bind:'custom'}}")), "gateway.customBindHost");
    assert_eq!(invalid_key(&cfg_err("{gateway:{bind:'custom', customBindHost:'my-host'}}")), "gateway.customBindHost");
    let e = cfg_err("{gateway:{bind:'tailnet'}}");
    assert_eq!(invalid_key(&e), "gateway.bind");
    assert!(e.to_string().contains("not supported"), "{e}");
}

#[test]
fn old_and_new_command_list_spellings_are_unioned() {
    let c = cfg(r#"{ gateway: { nodes: {
            commands: { allow: ["camera.snap", "screen.record"], deny: ["system.run"] },
            allowCommands: ["screen.record", "sms.send"],
            denyCommands: ["system.which"],
        } } }"#);
    let v = c.view();
    assert_eq!(v.commands_allow, vec!["camera.snap", "screen.record", "sms.send"]);
    assert_eq!(v.commands_deny, vec!["system.run", "system.which"]);
    let legacy: Vec<&str> = c.legacy_issues().iter().map(|i| i.path.as_str()).collect();
    assert_eq!(legacy, vec!["gateway.nodes.allowCommands", "gateway.nodes.denyCommands"]);
    assert_eq!(c.redacted_snapshot()["legacyIssues"].as_array().map(Vec::len), Some(2));

    // Old spelling alone.
    let v = cfg("{gateway:{nodes:{allowCommands:['a.b'], denyCommands:['c.d']}}}").view();
    assert_eq!(v.commands_allow, vec!["a.b"]);
    assert_eq!(v.commands_deny, vec!["c.d"]);
    // New spelling alone: no legacy issue.
    assert!(cfg("{gateway:{nodes:{commands:{allow:['a.b']}}}}").legacy_issues().is_empty());
}

#[test]
fn env_substitution_whole_embedded_and_escaped() {
    let env = env_of(&[("GW_TOKEN", "tok-from-env-123"), ("GW_PORT", "19999"), ("HOST", "a.example"), ("HOME", "/home/u")]);
    let raw = r#"{
        gateway: {
            port: "${GW_PORT}",
            auth: { token: "${GW_TOKEN}" },
            controlUi: { allowedOrigins: ["https://${HOST}:8443", "literal-$${HOST}", "$notavar", "${lower}"] },
        },
        logging: { file: "~/logs/pincer.log" },
    }"#;
    let c = GatewayConfig::from_raw("/x/openclaw.json", raw, env).unwrap();
    let v = c.view();
    assert_eq!(v.port, 19999);
    assert_eq!(v.auth_token.as_deref(), Some("tok-from-env-123"));
    assert_eq!(v.allowed_origins, vec!["https://a.example:8443", "literal-${HOST}", "$notavar", "${lower}"]);
    assert_eq!(v.log_file, Some(PathBuf::from("/home/u/logs/pincer.log")));
    // The authored document keeps the references (what patches edit and saves write).
    assert_eq!(c.document()["gateway"]["auth"]["token"], "${GW_TOKEN}");
    assert_eq!(c.resolved()["gateway"]["auth"]["token"], "tok-from-env-123");
    assert!(c.warnings().is_empty());
}

#[test]
fn env_secret_ref_object() {
    let env = env_of(&[("MY_GW_PASSWORD", "pw-from-ref-456")]);
    let raw = r#"{ gateway: { auth: { password: { source: "env", provider: "default", id: "MY_GW_PASSWORD" } } } }"#;
    let c = GatewayConfig::from_raw("/x/openclaw.json", raw, env).unwrap();
    assert_eq!(c.view().auth_password.as_deref(), Some("pw-from-ref-456"));
    assert_eq!(c.view().auth_mode, "password");

    let e = GatewayConfig::from_raw("/x/c.json", raw, no_env()).unwrap_err();
    assert_eq!(invalid_key(&e), "gateway.auth.password");
    assert!(e.to_string().contains("MY_GW_PASSWORD"), "{e}");

    let e = cfg_err(r#"{ gateway: { auth: { token: { source: "file", provider: "p", id: "/run/secret" } } } }"#);
    assert_eq!(invalid_key(&e), "gateway.auth.token");
    assert!(e.to_string().contains("not supported"), "{e}");
}

#[test]
fn missing_env_var_in_known_key_is_an_error_naming_key_and_variable() {
    let e = cfg_err(r#"{ gateway: { auth: { token: "${PINCER_TEST_MISSING_TOKEN}" } } }"#);
    assert_eq!(e.code(), "CONFIG_INVALID");
    assert_eq!(invalid_key(&e), "gateway.auth.token");
    let msg = e.to_string();
    assert!(msg.contains("PINCER_TEST_MISSING_TOKEN") && msg.contains("gateway.auth.token"), "{msg}");

    let e = cfg_err(r#"{ gateway: { controlUi: { allowedOrigins: ["https://${NO_SUCH_HOST}"] } } }"#);
    assert_eq!(invalid_key(&e), "gateway.controlUi.allowedOrigins[0]");
    assert!(e.to_string().contains("NO_SUCH_HOST"));

    // An empty variable counts as missing (OpenClaw's rule).
    let e = GatewayConfig::from_raw("/x/c.json", "{gateway:{port:'${P}'}}", env_of(&[("P", "")])).unwrap_err();
    assert_eq!(invalid_key(&e), "gateway.port");
}

#[test]
fn missing_env_var_in_unknown_key_is_a_warning() {
    let c = cfg(r#"{ models: { providers: { openai: { apiKey: "${OPENAI_API_KEY_FOR_TEST}" } } } }"#);
    assert_eq!(
        c.warnings(),
        &[ConfigIssue {
            path: "models.providers.openai.apiKey".into(),
            message: "Missing env var \"OPENAI_API_KEY_FOR_TEST\" - feature using this value will be unavailable".into(),
        }]
    );
    assert_eq!(c.resolved()["models"]["providers"]["openai"]["apiKey"], "${OPENAI_API_KEY_FOR_TEST}");
    assert_eq!(c.redacted_snapshot()["warnings"][0]["path"], "models.providers.openai.apiKey");
}

#[test]
fn proxy_trust_and_connection_limits() {
    let v = cfg("{}").view();
    assert!(v.trusted_proxies.is_empty() && !v.allow_real_ip_fallback);
    assert_eq!(v.connections, ConnectionsView { max: 8192, max_unauthenticated: 256, header_read_timeout_ms: 10_000 });
    let v = cfg(r#"{gateway:{trustedProxies:["127.0.0.1","10.0.0.0/8"], allowRealIpFallback:true,
        connections:{max:100, maxUnauthenticated:10, headerReadTimeoutMs:500}}}"#)
    .view();
    assert_eq!(v.trusted_proxies, vec!["127.0.0.1", "10.0.0.0/8"]);
    assert!(v.allow_real_ip_fallback);
    assert_eq!(v.connections, ConnectionsView { max: 100, max_unauthenticated: 10, header_read_timeout_ms: 500 });
    for (raw, key) in [
        (r#"{gateway:{trustedProxies:["proxy.local"]}}"#, "gateway.trustedProxies"),
        (r#"{gateway:{trustedProxies:"127.0.0.1"}}"#, "gateway.trustedProxies"),
        (r#"{gateway:{connections:{max:0}}}"#, "gateway.connections.max"),
        (r#"{gateway:{connections:{maxUnauthenticated:-1}}}"#, "gateway.connections.maxUnauthenticated"),
        (r#"{gateway:{connections:{headerReadTimeoutMs:10}}}"#, "gateway.connections.headerReadTimeoutMs"),
    ] {
        assert_eq!(invalid_key(&cfg_err(raw)), key, "{raw}");
    }
}

#[test]
fn wrong_types_for_known_keys_are_invalid() {
    let cases: &[(&str, &str)] = &[
        (r#"{gateway:{port:"abc"}}"#, "gateway.port"),
        (r#"{gateway:{port:0}}"#, "gateway.port"),
        (r#"{gateway:{port:70000}}"#, "gateway.port"),
        (r#"{gateway:{port:18789.5}}"#, "gateway.port"),
        (r#"{gateway:{port:true}}"#, "gateway.port"),
        (r#"{gateway:{bind:"moon"}}"#, "gateway.bind"),
        (r#"{gateway:{bind:1}}"#, "gateway.bind"),
        (r#"{gateway:5}"#, "gateway"),
        (r#"{gateway:{auth:"token"}}"#, "gateway.auth"),
        (r#"{gateway:{auth:{mode:"magic"}}}"#, "gateway.auth.mode"),
        (r#"{gateway:{auth:{mode:"trusted-proxy"}}}"#, "gateway.auth.mode"),
        (r#"{gateway:{auth:{token:12345}}}"#, "gateway.auth.token"),
        (r#"{gateway:{auth:{rateLimit:{maxAttempts:0}}}}"#, "gateway.auth.rateLimit.maxAttempts"),
        (r#"{gateway:{auth:{rateLimit:{windowMs:-5}}}}"#, "gateway.auth.rateLimit.windowMs"),
        (r#"{gateway:{auth:{rateLimit:{exemptLoopback:"yes"}}}}"#, "gateway.auth.rateLimit.exemptLoopback"),
        (r#"{gateway:{controlUi:{allowedOrigins:"https://a"}}}"#, "gateway.controlUi.allowedOrigins"),
        (r#"{gateway:{controlUi:{allowedOrigins:["ok", 1]}}}"#, "gateway.controlUi.allowedOrigins[1]"),
        (r#"{gateway:{nodes:{pairing:{autoApproveLocal:1}}}}"#, "gateway.nodes.pairing.autoApproveLocal"),
        (r#"{gateway:{nodes:{commands:{deny:"system.run"}}}}"#, "gateway.nodes.commands.deny"),
        (r#"{gateway:{nodes:{allowCommands:{}}}}"#, "gateway.nodes.allowCommands"),
        (r#"{gateway:{nodes:{invokeTimeoutMs:0}}}"#, "gateway.nodes.invokeTimeoutMs"),
        (r#"{gateway:{tickIntervalMs:"fast"}}"#, "gateway.tickIntervalMs"),
        (r#"{gateway:{tickIntervalMs:10}}"#, "gateway.tickIntervalMs"),
        (r#"{approvals:{exec:{timeoutMs:"soon"}}}"#, "approvals.exec.timeoutMs"),
        (r#"{approvals:{exec:{askFallback:"maybe"}}}"#, "approvals.exec.askFallback"),
        (r#"{approvals:[]}"#, "approvals"),
        (r#"{logging:{level:"loud"}}"#, "logging.level"),
        (r#"{logging:{file:42}}"#, "logging.file"),
    ];
    for (raw, key) in cases {
        let e = cfg_err(raw);
        assert_eq!(invalid_key(&e), *key, "for {raw}: {e}");
        assert_eq!(e.code(), "CONFIG_INVALID");
        assert_eq!(e.rpc_error_code(), "INVALID_REQUEST");
        assert_eq!(e.issues_details().unwrap()["issues"][0]["path"], *key);
    }
    let e = cfg_err(r#"{gateway:{port:"abc"}}"#);
    assert!(e.to_string().contains("\"abc\""), "{e}");
    let e = cfg_err(r#"{gateway:{bind:"moon"}}"#);
    assert!(e.to_string().contains("\"loopback\"") && e.to_string().contains("\"moon\""), "{e}");
    // A top-level non-object.
    assert_eq!(invalid_key(&cfg_err("[1, 2]")), "<root>");
}

#[test]
fn lenient_forms_env_substitution_produces() {
    let v = cfg(r#"{gateway:{port:" 19000 ", tickIntervalMs: 2e4, nodes:{pairing:{autoApproveLocal:"false"}}}}"#).view();
    assert_eq!(v.port, 19000);
    assert_eq!(v.tick_interval_ms, 20_000);
    assert!(!v.auto_approve_local);
    // null means unset.
    assert_eq!(cfg("{gateway:{port:null, auth:null}}").view(), ConfigView::default());
    assert_eq!(cfg("{logging:{level:'silent'}}").view().tracing_filter(), "off");
}

#[test]
fn invalid_json5_reports_position_without_quoting_the_text() {
    let raw = "{\n  gateway: {\n    auth: { token: \"s3cr3t-v4lue-xyz }\n  }\n}\n";
    let e = cfg_err(raw);
    match &e {
        ConfigError::Parse { path, line, column, message } => {
            assert_eq!(path.as_deref(), Some(Path::new("/tmp/pincer-test/openclaw.json")));
            assert!(line.is_some() && column.is_some());
            assert!(message.contains("unterminated string"), "{message}");
        }
        other => panic!("expected Parse, got {other:?}"),
    }
    let shown = e.to_string();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("/tmp/pincer-test/openclaw.json") && shown.contains("line"), "{shown}");
    assert_eq!(e.code(), "CONFIG_PARSE");

    let e = cfg_err("{ gateway: { port 18789 } }");
    let ConfigError::Parse { line: Some(1), column: Some(_), message, .. } = &e else { panic!("{e:?}") };
    assert!(message.contains("expected") && message.contains("missing ','"), "{message}");

    let e = cfg_err("{ a: 1,, }");
    assert!(matches!(e, ConfigError::Parse { line: Some(1), .. }), "{e:?}");
}

#[test]
fn non_utf8_file_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openclaw.json");
    std::fs::write(&path, b"{ a: \"\xff\" }").unwrap();
    let e = GatewayConfig::load_with_env(&path, no_env()).unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
    assert!(e.to_string().contains("UTF-8"));
}

#[test]
fn unreadable_path_is_io() {
    let dir = tempfile::tempdir().unwrap();
    let e = GatewayConfig::load_with_env(dir.path(), no_env()).unwrap_err(); // a directory
    assert_eq!(e.code(), "CONFIG_IO");
    assert_eq!(e.rpc_error_code(), "UNAVAILABLE");
}

#[test]
fn deep_nesting_is_rejected_before_parsing() {
    let deep = format!("{{a:{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = cfg_err(&deep);
    let ConfigError::Parse { message, .. } = &e else { panic!("{e:?}") };
    assert!(message.contains("nested more than 64"), "{message}");
    // Same through config.patch.
    let e = parse_patch_param(&json!({ "raw": deep })).unwrap_err();
    assert!(matches!(e, ConfigError::Parse { path: None, .. }));
    // Brackets inside strings and comments do not count.
    let ok = format!("{{ a: \"{}\", b: '{}', // {}\n /* {} */ c: 1 }}", "[".repeat(100), "{".repeat(100), "[".repeat(100), "{".repeat(100));
    assert_eq!(cfg(&ok).document()["c"], 1);
    assert_eq!(nesting_too_deep("[[[", 2), Some((1, 3)));
    assert_eq!(nesting_too_deep("[\"\\\"[[[\"]", 1), None);
}

#[test]
fn brackets_after_a_comment_ended_by_cr_or_unicode_line_breaks_count() {
    // JSON5 ends `//` comments at CR, U+2028 and U+2029 too; the depth check used to wait
    // for LF, so a patch hid any nesting behind `// x\r`: 1,000 levels were enough to
    // overflow a 2 MiB thread stack in the parser and abort the process.
    for (line_end, depth) in [("\r", 100), ("\u{2028}", 100), ("\u{2029}", 100), ("\r", 1_000)] {
        let deep = format!("{{a: // x{line_end}{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        let e = parse_patch_param(&json!({ "raw": deep })).unwrap_err();
        let ConfigError::Parse { message, .. } = &e else { panic!("{line_end:?}: {e:?}") };
        assert!(message.contains("nested more than 64"), "{line_end:?}: {message}");
        assert_eq!(nesting_too_deep(&format!("// x{line_end}[[["), 2), Some((1, 8)));
    }
    // Still one comment up to the terminator: brackets before it do not count.
    assert_eq!(cfg("{ // [[[[\r a: 1 }").document()["a"], 1);
}

#[test]
fn merge_patch_follows_rfc_7386() {
    // Test vectors from RFC 7386, appendix A.
    let vectors = [
        (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
        (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
        (json!({"a":"b"}), json!({"a":null}), json!({})),
        (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
        (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
        (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
        (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
        (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a":"b"}), json!(["c"]), json!(["c"])),
        (json!({"a":"foo"}), json!(null), json!(null)),
        (json!({"a":"foo"}), json!("bar"), json!("bar")),
        (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
        (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
        (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
    ];
    for (target, patch, expected) in vectors {
        let mut t = target.clone();
        merge_patch(&mut t, &patch);
        assert_eq!(t, expected, "{target} + {patch}");
    }
    // Deleting keeps the order of the remaining keys.
    let mut t = json!({"a":1,"b":2,"c":3});
    merge_patch(&mut t, &json!({"a":null}));
    assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"b":2,"c":3}"#);
}

#[test]
fn apply_patch_merges_deletes_and_validates() {
    let c = cfg(FULL);
    let next = c
        .apply_patch(
            &json!({
                "gateway": { "port": 19002, "tickIntervalMs": null, "nodes": { "commands": { "deny": [] } } },
                "logging": { "file": null },
                "newTopLevel": { "kept": true },
            }),
            Some(c.hash()),
        )
        .unwrap();
    let v = next.view();
    assert_eq!(v.port, 19002);
    assert_eq!(v.tick_interval_ms, DEFAULT_TICK_INTERVAL_MS);
    assert!(v.commands_deny.is_empty());
    assert_eq!(v.log_file, None);
    assert_eq!(v.auth_password.as_deref(), Some("hunter2-long-password"));
    assert_eq!(next.document()["newTopLevel"]["kept"], true);
    assert_eq!(next.document()["agents"]["defaults"]["heartbeat"]["every"], "0m");
    assert!(next.document()["gateway"].get("tickIntervalMs").is_none());
    assert!(next.exists());
    assert_ne!(next.hash(), c.hash());
    assert_eq!(next.hash(), sha256_hex(next.raw().as_bytes()));
    // raw is the pretty JSON to be written.
    assert_eq!(serde_json::from_str::<Value>(next.raw()).unwrap(), *next.document());
    assert!(next.raw().ends_with("}\n"));

    let mut changed = next.changed_paths(&c);
    changed.sort();
    assert_eq!(changed, vec!["gateway.nodes.commands.deny", "gateway.port", "gateway.tickIntervalMs", "logging.file", "newTopLevel.kept"]);
    let resp = next.patch_response(&c);
    assert_eq!(resp["ok"], true);
    assert_eq!(resp["hash"], next.hash());
    assert_eq!(resp["path"], "/tmp/pincer-test/openclaw.json");
    assert!(resp.get("noop").is_none());
    assert_eq!(resp["config"]["gateway"]["auth"]["password"], REDACTED_SENTINEL);

    // Invalid result is refused, and the original is untouched.
    let e = c.apply_patch(&json!({ "gateway": { "port": "abc" } }), Some(c.hash())).unwrap_err();
    assert_eq!(invalid_key(&e), "gateway.port");
    let e = c.apply_patch(&json!({ "gateway": { "bind": "moon" } }), None).unwrap_err();
    assert_eq!(invalid_key(&e), "gateway.bind");
    assert_eq!(c.view().port, 19001);
    // A non-object patch.
    assert_eq!(invalid_key(&c.apply_patch(&json!([1]), None).unwrap_err()), "<root>");
}

#[test]
fn noop_patch_keeps_hash_and_reports_noop() {
    let c = cfg(FULL);
    let same = c.apply_patch(&json!({ "gateway": { "port": 19001 } }), Some(c.hash())).unwrap();
    assert_eq!(same.hash(), c.hash());
    assert_eq!(same.raw(), c.raw()); // comments preserved: nothing to write
    let resp = same.patch_response(&c);
    assert_eq!(resp["noop"], true);
    assert_eq!(resp["changedPaths"], json!([]));
}

#[test]
fn base_hash_mismatch() {
    let c = cfg(FULL);
    let e = c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some("0000")).unwrap_err();
    match &e {
        ConfigError::BaseHashMismatch { current } => assert_eq!(current, c.hash()),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.code(), "CONFIG_BASE_HASH_MISMATCH");
    assert_eq!(e.to_string(), "config changed since last load; re-run config.get and retry");
    // Surrounding whitespace is tolerated (OpenClaw trims).
    let padded = format!("  {}\n", c.hash());
    assert!(c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some(&padded)).is_ok());
    // No hash: no check.
    assert!(c.apply_patch(&json!({ "logging": { "level": "warn" } }), None).is_ok());
}

#[test]
fn patch_params_like_openclaw() {
    let c = cfg(FULL);
    // raw JSON5 + baseHash
    let next = c
        .apply_patch_params(&json!({
            "raw": "{ logging: { level: 'warn', }, // comment\n }",
            "baseHash": c.hash(),
            "note": "from the UI",
            "restartDelayMs": 0,
            "replacePaths": ["gateway.nodes.commands.deny"],
        }))
        .unwrap();
    assert_eq!(next.view().log_level, "warn");
    // baseHash required when the file exists ...
    let e = c.apply_patch_params(&json!({ "raw": "{logging:{level:'warn'}}" })).unwrap_err();
    match &e {
        ConfigError::BaseHashRequired { paths } => {
            assert_eq!(paths, &vec!["logging.level".to_string()])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.to_string(), "config base hash required for logging.level; re-run config.get and retry with baseHash");
    assert_eq!(e.code(), "CONFIG_BASE_HASH_REQUIRED");
    // ... except for ui.prefs (last writer wins)
    let next = c.apply_patch_params(&json!({ "raw": "{ui:{prefs:{theme:'dark'}}}" })).unwrap();
    assert_eq!(next.document()["ui"]["prefs"]["theme"], "dark");
    // ... and when there is no file yet.
    let empty = GatewayConfig::load_with_env("/nonexistent-pincer-dir/openclaw.json", no_env()).unwrap();
    let next = empty.apply_patch_params(&json!({ "raw": "{gateway:{port:19005}}" })).unwrap();
    assert_eq!(next.view().port, 19005);
    assert!(next.exists());
    // wrong baseHash
    assert!(matches!(c.apply_patch_params(&json!({ "raw": "{}", "baseHash": "nope" })), Err(ConfigError::BaseHashMismatch { .. })));
    // bad raw
    let e = c.apply_patch_params(&json!({ "raw": "{logging:{level:", "baseHash": c.hash() })).unwrap_err();
    assert!(matches!(e, ConfigError::Parse { path: None, line: Some(1), .. }), "{e:?}");
    assert!(e.to_string().starts_with("invalid JSON5 in config text at line 1"), "{e}");
}

#[test]
fn parse_patch_param_forms() {
    assert_eq!(parse_patch_param(&json!({ "raw": "{a:1,}" })).unwrap(), json!({"a":1}));
    assert_eq!(parse_patch_param(&json!({ "patch": {"a":null} })).unwrap(), json!({"a":null}));
    assert_eq!(parse_patch_param(&json!({ "raw": "{a:1}", "patch": {"b":2} })).unwrap(), json!({"a":1}));
    for bad in [json!({}), json!({ "raw": 5 }), json!({ "raw": "" }), json!({ "raw": "[1]" }), json!({ "patch": [1] })] {
        let e = parse_patch_param(&bad).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{bad}: {e:?}");
    }
    assert_eq!(
        parse_patch_param(&json!({ "raw": "[1]" })).unwrap_err().to_string(),
        "invalid config: raw: config.patch raw must be an object"
    );
    assert_eq!(
        parse_patch_param(&json!({})).unwrap_err().to_string(),
        "invalid config: raw: invalid config.patch params: raw (string) required"
    );
}

const SECRETS: &str = r#"
// gateway token is tok-SECRET-aaaa1111 (also mentioned in this comment)
{
  gateway: {
    auth: { mode: "token", token: "tok-SECRET-aaaa1111", password: "pw-SECRET-bbbb2222" },
    remote: { url: "wss://user:pw-SECRET-url3333@gw.example/ws", token: "rem-SECRET-cccc4444" },
  },
  models: {
    providers: {
      openai: { apiKey: "sk-SECRET-dddd5555", baseUrl: "https://api.example/v1?api_key=q-SECRET-eeee6666", maxTokens: 4096 },
      other: { api_key: "ak-SECRET-ffff7777", headers: { "x-client-secret": "hs-SECRET-gggg8888" } },
    },
  },
  channels: { slack: { botToken: "xoxb-SECRET-hhhh9999", signingSecret: "ss-SECRET-iiii0000", appName: "visible-app-name" } },
  tools: { web: { ApiKeys: ["ka-SECRET-jjjj1212", "kb-SECRET-kkkk1313"] } },
  env: { vars: { FOO: "not-a-secret-value" } },
  approvals: { exec: { timeoutMs: 60000 } },
}
"#;

const SECRET_VALUES: &[&str] = &[
    "tok-SECRET-aaaa1111",
    "pw-SECRET-bbbb2222",
    "pw-SECRET-url3333",
    "rem-SECRET-cccc4444",
    "sk-SECRET-dddd5555",
    "q-SECRET-eeee6666",
    "ak-SECRET-ffff7777",
    "hs-SECRET-gggg8888",
    "xoxb-SECRET-hhhh9999",
    "ss-SECRET-iiii0000",
    "ka-SECRET-jjjj1212",
    "kb-SECRET-kkkk1313",
];

#[test]
fn redacted_snapshot_never_contains_a_secret() {
    let c = cfg(SECRETS);
    let snap = c.redacted_snapshot();
    let text = serde_json::to_string(&snap).unwrap();
    for s in SECRET_VALUES {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
    assert!(!text.contains("SECRET"), "{text}");
    // Shape (OpenClaw 2026.9 config.get).
    let keys: Vec<&str> = snap.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "path",
            "includedPaths",
            "includeProvenance",
            "exists",
            "raw",
            "parsed",
            "sourceConfig",
            "resolved",
            "valid",
            "runtimeConfig",
            "config",
            "hash",
            "issues",
            "warnings",
            "legacyIssues"
        ]
    );
    assert_eq!(snap["valid"], true);
    assert_eq!(snap["exists"], true);
    assert_eq!(snap["hash"], c.hash());
    let conf = &snap["config"];
    assert_eq!(conf["gateway"]["auth"]["token"], REDACTED_SENTINEL);
    assert_eq!(conf["gateway"]["auth"]["password"], REDACTED_SENTINEL);
    assert_eq!(conf["gateway"]["auth"]["mode"], "token");
    assert_eq!(conf["gateway"]["remote"]["url"], REDACTED_SENTINEL);
    assert_eq!(conf["models"]["providers"]["openai"]["apiKey"], REDACTED_SENTINEL);
    assert_eq!(conf["models"]["providers"]["openai"]["maxTokens"], 4096);
    assert_eq!(conf["models"]["providers"]["other"]["api_key"], REDACTED_SENTINEL);
    assert_eq!(conf["channels"]["slack"]["appName"], "visible-app-name");
    assert_eq!(conf["tools"]["web"]["ApiKeys"], json!([REDACTED_SENTINEL, REDACTED_SENTINEL]));
    assert_eq!(conf["env"]["vars"]["FOO"], "not-a-secret-value");
    assert_eq!(snap["parsed"], snap["config"]);
    // raw is redacted text (comments kept, the comment's copy of the token too).
    let raw = snap["raw"].as_str().expect("raw should be redactable");
    assert!(raw.contains("// gateway token is __OPENCLAW_REDACTED__"), "{raw}");
    assert!(raw.contains("visible-app-name"));
    // The real config still has them.
    assert_eq!(c.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
    // Debug output of the config and the view does not leak either.
    let dbg = format!("{c:?} {:?}", c.view());
    assert!(!dbg.contains("SECRET"), "{dbg}");
}

#[test]
fn env_placeholders_are_not_secrets_but_their_values_are() {
    let env = env_of(&[("GW_TOKEN", "tok-from-env-SECRET-9")]);
    let c = GatewayConfig::from_raw("/x/c.json", r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#, env).unwrap();
    let snap = c.redacted_snapshot();
    assert_eq!(snap["parsed"]["gateway"]["auth"]["token"], "${GW_TOKEN}");
    assert_eq!(snap["config"]["gateway"]["auth"]["token"], REDACTED_SENTINEL);
    assert_eq!(snap["raw"], r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#);
    assert!(!serde_json::to_string(&snap).unwrap().contains("SECRET"));
    // `${lower}` is never substituted, so it *is* the secret.
    let c = cfg(r#"{gateway:{auth:{token:"${not_an_env_ref}"}}}"#);
    let text = serde_json::to_string(&c.redacted_snapshot()).unwrap();
    assert!(!text.contains("not_an_env_ref"), "{text}");
}

#[test]
fn secret_ref_members_other_than_source_and_provider_are_redacted() {
    // Found by the config_patch fuzz target: only `id` of a SecretRef was redacted, so any
    // other member under a sensitive path (`password.value`, `password.note`) went out clear.
    let c =
        cfg(r#"{ secrets: { password: { source: "env", provider: "default", id: "PW", value: "hunter2", nested: { x: "s3cret" } } } }"#);
    let redacted = c.redacted_config();
    assert_eq!(
        redacted["secrets"]["password"],
        json!({"source": "env", "provider": "default", "id": REDACTED_SENTINEL, "value": REDACTED_SENTINEL, "nested": {"x": REDACTED_SENTINEL}})
    );
    let snapshot = serde_json::to_string(&c.redacted_snapshot()).unwrap();
    assert!(!snapshot.contains("hunter2") && !snapshot.contains("s3cret"), "{snapshot}");
}

#[test]
fn raw_is_null_when_it_cannot_be_provably_redacted() {
    // The token is written with a JSON5 escape: its decoded value does not occur in the text.
    let c = cfg(r#"{ gateway: { auth: { token: "tok-\u0053ECRET-zzzz" } } }"#);
    assert_eq!(c.view().auth_token.as_deref(), Some("tok-SECRET-zzzz"));
    let snap = c.redacted_snapshot();
    assert_eq!(snap["raw"], Value::Null);
    let text = serde_json::to_string(&snap).unwrap();
    assert!(!text.contains("SECRET") && !text.contains("u0053ECRET"), "{text}");
    // A whole-object secret (serviceAccount) cannot be redacted textually.
    let c = cfg(r#"{ google: { serviceAccount: { client_email: "se-SECRET-llll1414@x", kind: "svc" } } }"#);
    let snap = c.redacted_snapshot();
    assert_eq!(snap["raw"], Value::Null);
    assert_eq!(snap["config"]["google"]["serviceAccount"], REDACTED_SENTINEL);
    assert!(!serde_json::to_string(&snap).unwrap().contains("SECRET"));
    let next = c.apply_patch(&snap["parsed"], Some(c.hash())).unwrap();
    assert_eq!(next.document()["google"]["serviceAccount"]["client_email"], "se-SECRET-llll1414@x");
    // A secret that is also ordinary text elsewhere: replacing it would change other values.
    let c = cfg(r#"{ gateway: { auth: { token: "local" }, mode: "local" } }"#);
    let snap = c.redacted_snapshot();
    assert_eq!(snap["raw"], Value::Null);
    assert_eq!(snap["config"]["gateway"]["mode"], "local");
    assert_eq!(snap["config"]["gateway"]["auth"]["token"], REDACTED_SENTINEL);
}

#[test]
fn redaction_marker_in_a_patch_keeps_the_secret() {
    let c = cfg(SECRETS);
    // The UI sends back what config.get gave it, with one real change.
    let mut edited = c.redacted_snapshot()["parsed"].clone();
    edited["approvals"]["exec"]["timeoutMs"] = json!(90_000);
    let next = c.apply_patch(&edited, Some(c.hash())).unwrap();
    assert_eq!(next.view().exec_approval_timeout_ms, 90_000);
    assert_eq!(next.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
    assert_eq!(next.view().auth_password.as_deref(), Some("pw-SECRET-bbbb2222"));
    assert_eq!(next.document()["models"]["providers"]["openai"]["apiKey"], "sk-SECRET-dddd5555");
    assert_eq!(next.document()["tools"]["web"]["ApiKeys"], json!(["ka-SECRET-jjjj1212", "kb-SECRET-kkkk1313"]));
    assert_eq!(next.document()["gateway"]["remote"]["url"], "wss://user:pw-SECRET-url3333@gw.example/ws");
    assert!(!next.raw().contains(REDACTED_SENTINEL));
    assert_eq!(next.changed_paths(&c), vec!["approvals.exec.timeoutMs"]);

    // Through raw params too.
    let next = c
        .apply_patch_params(&json!({
            "raw": format!("{{gateway:{{auth:{{token:'{REDACTED_SENTINEL}', password:'new-password-1'}}}}}}"),
            "baseHash": c.hash(),
        }))
        .unwrap();
    assert_eq!(next.view().auth_token.as_deref(), Some("tok-SECRET-aaaa1111"));
    assert_eq!(next.view().auth_password.as_deref(), Some("new-password-1"));

    // A marker where nothing is stored is an error, not a literal write.
    let e = c.apply_patch(&json!({ "gateway": { "auth": { "rateLimit": { "newKey": REDACTED_SENTINEL } } } }), None).unwrap_err();
    assert_eq!(invalid_key(&e), "gateway.auth.rateLimit.newKey");

    // An env reference round-trips as the reference, not the value.
    let env = env_of(&[("GW_TOKEN", "tok-env-value-77")]);
    let c = GatewayConfig::from_raw("/x/c.json", r#"{gateway:{auth:{token:"${GW_TOKEN}"}}}"#, env).unwrap();
    let next = c.apply_patch(&json!({"gateway":{"auth":{"token": REDACTED_SENTINEL}, "port": 19010}}), None).unwrap();
    assert_eq!(next.document()["gateway"]["auth"]["token"], "${GW_TOKEN}");
    assert!(!next.raw().contains("tok-env-value-77"));
}

#[test]
fn sensitive_path_rules() {
    for p in [
        "gateway.auth.token",
        "gateway.auth.password",
        "gateway.remote.token",
        "channels.slack.botToken",
        "channels.slack.signingSecret",
        "models.providers.x.apiKey",
        "models.providers.x.api_key",
        "x.API-KEY",
        "secrets.providers.vault.address",
        "a.privateKey",
        "a.encryptionKey".replace("ion", "").as_str(),
        "gcp.serviceAccountRef",
        "plugins.x.localService.env.ANYTHING",
        "tools.web.apiKeys[]",
    ] {
        assert!(is_sensitive_config_path(p), "{p}");
    }
    for p in [
        "gateway.port",
        "gateway.auth.mode",
        "agents.defaults.maxTokens",
        "models.x.contextTokens",
        "gateway.auth.passwordFile",
        "channels.slack.appName",
        "gateway.auth.tokens",
        "apiBase.url",
        "keyboard.layout",
    ] {
        assert!(!is_sensitive_config_path(p), "{p}");
    }
    assert!(url_has_credentials("https://u:p@host/x"));
    assert!(url_has_credentials("https://host/x?access_token=abc"));
    assert!(url_has_credentials("https://host/x?a=1&X-Api-Key=abc"));
    assert!(!url_has_credentials("https://host:8443/x?a=1"));
    assert!(!url_has_credentials("ws://127.0.0.1:18789"));
}

#[cfg(unix)]
#[test]
fn save_atomic_round_trip_with_private_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("openclaw.json");
    let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
    assert!(!c.exists());
    let next = c
        .apply_patch(
            &json!({ "gateway": { "port": 19020, "auth": { "token": "tok-save-1234" } }, "custom": { "x": [1, 2] } }),
            Some(c.hash()),
        )
        .unwrap();
    next.save_atomic().unwrap();

    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);

    let reloaded = GatewayConfig::load_with_env(&path, no_env()).unwrap();
    assert!(reloaded.exists());
    assert_eq!(reloaded.hash(), next.hash());
    assert_eq!(reloaded.raw(), next.raw());
    assert_eq!(reloaded.document(), next.document());
    assert_eq!(reloaded.view().port, 19020);
    assert_eq!(reloaded.view().auth_token.as_deref(), Some("tok-save-1234"));
    assert_eq!(reloaded.document()["custom"]["x"], json!([1, 2]));
    // Pretty JSON, two-space indent, like `openclaw config set`.
    assert!(reloaded.raw().starts_with("{\n  \"gateway\": {\n    \"port\": 19020,"), "{}", reloaded.raw());

    // Overwrite an existing (hand-written, 0644) file: the mode becomes 0600 and no temp
    // files are left behind.
    std::fs::write(&path, "// hand written\n{ gateway: { port: 19021 }, keep: 'me' }\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = GatewayConfig::load_with_env(&path, no_env()).unwrap();
    let next = c.apply_patch(&json!({ "logging": { "level": "warn" } }), Some(c.hash())).unwrap();
    next.save_atomic().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let mut entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    entries.sort();
    assert_eq!(entries, vec![std::ffi::OsString::from(".openclaw.json.lock"), std::ffi::OsString::from("openclaw.json")]);
    let reloaded = GatewayConfig::load_with_env(&path, no_env()).unwrap();
    assert_eq!(reloaded.view().port, 19021);
    assert_eq!(reloaded.view().log_level, "warn");
    assert_eq!(reloaded.document()["keep"], "me");
    // The old hash no longer applies.
    assert!(matches!(reloaded.apply_patch(&json!({}), Some(c.hash())), Err(ConfigError::BaseHashMismatch { .. })));
}

#[test]
fn save_atomic_reports_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    // The parent "directory" is a file.
    assert_eq!(GatewayConfig::load_with_env(blocker.join("openclaw.json"), no_env()).unwrap_err().code(), "CONFIG_IO");
    let c = GatewayConfig::from_raw(blocker.join("openclaw.json"), "{}", no_env()).unwrap();
    let next = c.apply_patch(&json!({"a": 1}), None).unwrap();
    let e = next.save_atomic().unwrap_err();
    assert_eq!(e.code(), "CONFIG_IO");
}

#[test]
fn schema_shape() {
    let s = config_schema();
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["schema", "uiHints", "version", "generatedAt"]);
    let schema = &s["schema"];
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], true);
    let gw = &schema["properties"]["gateway"];
    assert_eq!(gw["additionalProperties"], true);
    assert_eq!(gw["properties"]["port"]["default"], 18789);
    assert_eq!(gw["properties"]["port"]["type"], "integer");
    assert_eq!(gw["properties"]["auth"]["properties"]["rateLimit"]["properties"]["lockoutMs"]["default"], 300_000);
    assert_eq!(gw["properties"]["nodes"]["properties"]["allowCommands"]["deprecated"], true);
    assert_eq!(schema["properties"]["approvals"]["properties"]["exec"]["properties"]["askFallback"]["default"], "deny");
    assert_eq!(schema["properties"]["logging"]["properties"]["level"]["default"], "info");
    // Every known key is described, every object level is open.
    for key in KNOWN_KEYS {
        let mut node = schema;
        for seg in key.split('.') {
            assert_eq!(node["additionalProperties"], true, "{key}");
            node = &node["properties"][seg];
        }
        assert!(node["description"].as_str().is_some_and(|d| !d.is_empty()), "{key}");
        assert!(s["uiHints"][*key]["label"].is_string(), "{key}");
    }
    assert_eq!(s["uiHints"]["gateway.auth.token"]["sensitive"], true);
    assert_eq!(s["uiHints"]["gateway.tickIntervalMs"]["tags"], json!(["pincer-specific"]));
    assert!(s["uiHints"]["gateway.port"].get("sensitive").is_none());
    let at = s["generatedAt"].as_str().unwrap();
    assert_eq!(at.len(), 24, "{at}");
    assert!(at.starts_with("20") && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
}

#[test]
fn error_codes_are_stable() {
    let io = ConfigError::Io { path: "/x".into(), action: "read", source: std::io::Error::other("boom") };
    assert_eq!(io.code(), "CONFIG_IO");
    assert!(io.to_string().contains("cannot read config file /x"));
    let p = ConfigError::Parse { path: None, line: None, column: None, message: "m".into() };
    assert_eq!(p.code(), "CONFIG_PARSE");
    assert_eq!(p.to_string(), "invalid JSON5 in config text: m");
    assert_eq!(ConfigError::invalid("a.b", "c").to_string(), "invalid config: a.b: c");
    assert_eq!(ConfigError::BaseHashRequired { paths: vec![] }.to_string(), "config base hash required; re-run config.get and retry");
}

#[test]
fn include_directive_warns() {
    let c = cfg("{ $include: './more.json5', gateway: { port: 19030 } }");
    assert_eq!(c.view().port, 19030);
    assert_eq!(c.warnings()[0].path, "$include");
}

#[test]
fn process_env_load_works() {
    // Only reads the environment (never sets it): PATH is always present.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openclaw.json");
    std::fs::write(&path, r#"{ custom: "${PATH}", gateway: { port: 19040 } }"#).unwrap();
    let c = GatewayConfig::load(&path).unwrap();
    assert_eq!(c.view().port, 19040);
    assert_eq!(c.resolved()["custom"].as_str(), std::env::var("PATH").ok().as_deref());
}

/// `config.schema` as clients see it, pinned: a rewrite of how the schema is produced (serde
/// structs + schemars) must give this output (less `version`/`generatedAt`) or update the file
/// on purpose (`PINCER_UPDATE_SCHEMA_SNAPSHOT=1`).
#[test]
fn schema_matches_its_snapshot() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/schema.snapshot.json");
    let mut schema = config_schema();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("version");
        obj.remove("generatedAt");
    }
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("PINCER_UPDATE_SCHEMA_SNAPSHOT").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let pinned = std::fs::read_to_string(&path).unwrap();
    assert!(pinned == text, "config.schema differs from {}; set PINCER_UPDATE_SCHEMA_SNAPSHOT=1 if that is intended", path.display());
}
