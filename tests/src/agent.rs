//! Shared set-up of the agent tests: a gateway whose agent talks to a scripted LLM.

use std::path::PathBuf;

use pincer_client::GatewayClient;
use pincer_protocol::scopes::{ADMIN, READ, WRITE};
use serde_json::{json, Value};

use crate::llm_script::ScriptedLlm;
use crate::{SupportError, TestGateway, TestGatewayOptions};

/// Merge `patch` into `target` (objects key by key; anything else, `null` included, replaces).
pub fn merge_json(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge_json(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// Agent config with `llm` as provider `scripted` (models `m1`, `m2`; key `sk-test`), primary
/// `scripted/m1`, with `extra` merged in.
pub fn agent_config(llm: &ScriptedLlm, extra: Value) -> Value {
    let mut config = json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1", "m2"])}},
    });
    merge_json(&mut config, extra);
    config
}

/// An in-process gateway with `config`, in `state_dir` (to test restarts) or a fresh one. The
/// OS keyring is never consulted for provider keys.
pub async fn start_agent_gateway(config: Value, state_dir: Option<PathBuf>) -> Result<TestGateway, SupportError> {
    std::env::set_var("PINCER_NO_KEYRING", "1");
    TestGateway::start_with(TestGatewayOptions { config: Some(config), state_dir, ..Default::default() }).await
}

/// [`start_agent_gateway`] with [`agent_config`]; panics if the gateway does not start.
pub async fn agent_gateway(llm: &ScriptedLlm, extra: Value) -> TestGateway {
    match start_agent_gateway(agent_config(llm, extra), None).await {
        Ok(gw) => gw,
        Err(e) => panic!("gateway did not start: {e}"),
    }
}

/// An operator with read, write and admin.
pub async fn agent_operator(gw: &TestGateway) -> GatewayClient {
    match gw.operator(&[READ, WRITE, ADMIN]).await {
        Ok((client, _)) => client,
        Err(e) => panic!("operator did not connect: {e}"),
    }
}
