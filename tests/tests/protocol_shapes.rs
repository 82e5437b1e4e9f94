//! What Pincer's gateway answers today fits the typed shapes in `protocol/` exactly: each result
//! parses into its type and serializes back to the same JSON. The gateway still builds most of
//! these with `json!`; this keeps the types honest until it builds them from the types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pincer_client::GatewayClient;
use pincer_protocol::agent::{AgentEvent, AgentWaitResult, AgentsListResult, ModelsListResult};
use pincer_protocol::approvals::{ExecApprovalSummary, ExecApprovalsFileResult};
use pincer_protocol::chat::ChatHistoryResult;
use pincer_protocol::chat::{ChatEvent, ChatSendAck};
use pincer_protocol::config::ConfigSnapshot;
use pincer_protocol::devices::DevicePairListResult;
use pincer_protocol::nodes::{NodeEntry, NodeListResult, NodePairListResult, NodeRename};
use pincer_protocol::sessions::{
    SessionMessageEvent, SessionUpdated, SessionsChangedEvent, SessionsPreviewResult, SessionsSubscribeResult,
};
use pincer_protocol::sessions::{SessionsDescribeResult, SessionsListResult, SessionsResolveResult};
use pincer_protocol::system::{
    CommandsListResult, HealthSnapshot, LogsTailResult, PresenceEntry, QuestionListResult, StatusResult, VoicewakeTriggers,
};
use pincer_tests::agent::{agent_gateway, agent_operator};
use pincer_tests::fake_node::{connect_approved, FakeNodeSpec};
use pincer_tests::llm_script::{Reply, ScriptedOpenAi};
use pincer_tests::TestGateway;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Calls `method` and round-trips its result through `T`.
async fn answer_fits<T: DeserializeOwned + Serialize>(client: &GatewayClient, method: &str, params: Value) -> T {
    let result = client.request(method, params).await.unwrap_or_else(|e| panic!("{method}: {e}"));
    let typed: T = serde_json::from_value(result.clone()).unwrap_or_else(|e| panic!("{method}: {e}\n{result}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), result, "{method}: the typed shape lost or changed fields");
    typed
}

#[tokio::test]
async fn gateway_answers_fit_the_protocol_types() {
    let gw = TestGateway::start().await.unwrap();
    let admin = gw.admin().await.unwrap();
    let node = connect_approved(&gw.url(), &gw.token, &admin, FakeNodeSpec::linux(&["system.which"])).await.unwrap();
    let node_id = node.node_id();

    let health: HealthSnapshot = answer_fits(&admin, "health", json!({})).await;
    assert!(health.ok);
    let status: StatusResult = answer_fits(&admin, "status", json!({})).await;
    assert!(status.runtime_version.starts_with("pincer-"), "{}", status.runtime_version);
    let presence: Vec<PresenceEntry> = answer_fits(&admin, "system-presence", json!({})).await;
    assert!(presence.iter().any(|p| p.device_id.as_deref() == Some(node_id.as_str())));
    answer_fits::<LogsTailResult>(&admin, "logs.tail", json!({})).await;
    answer_fits::<VoicewakeTriggers>(&admin, "voicewake.get", json!({})).await;
    let set: VoicewakeTriggers = answer_fits(&admin, "voicewake.set", json!({"triggers": ["hey pincer"]})).await;
    assert_eq!(set.triggers, ["hey pincer"]);
    answer_fits::<ConfigSnapshot>(&admin, "config.get", json!({})).await;

    answer_fits::<DevicePairListResult>(&admin, "device.pair.list", json!({})).await;
    let pairs: NodePairListResult = answer_fits(&admin, "node.pair.list", json!({})).await;
    assert!(pairs.paired.iter().any(|p| p.node_id == node_id));
    let list: NodeListResult = answer_fits(&admin, "node.list", json!({})).await;
    let entry = list.nodes.iter().find(|n| n.node_id == node_id).unwrap();
    assert_eq!((entry.connected, entry.approval_state.as_deref()), (Some(true), Some("approved")));
    answer_fits::<NodeEntry>(&admin, "node.describe", json!({"nodeId": node_id})).await;
    answer_fits::<NodeRename>(&admin, "node.rename", json!({"nodeId": node_id, "displayName": "renamed"})).await;

    answer_fits::<ExecApprovalsFileResult>(&admin, "exec.approvals.get", json!({})).await;
    answer_fits::<Vec<ExecApprovalSummary>>(&admin, "exec.approval.list", json!({})).await;
    answer_fits::<CommandsListResult>(&admin, "commands.list", json!({})).await;
    answer_fits::<QuestionListResult>(&admin, "question.list", json!({})).await;

    answer_fits::<SessionsListResult>(&admin, "sessions.list", json!({})).await;
    let resolved: SessionsResolveResult = answer_fits(&admin, "sessions.resolve", json!({"key": "main"})).await;
    assert!(resolved.ok);
    let described: SessionsDescribeResult = answer_fits(&admin, "sessions.describe", json!({"key": "agent:main:nobody"})).await;
    assert!(described.session.is_none());
    answer_fits::<ChatHistoryResult>(&admin, "chat.history", json!({"sessionKey": "agent:main:nobody"})).await;
}

/// Round-trips an event payload through `T`.
fn payload_fits<T: DeserializeOwned + Serialize>(event: &str, payload: &Value) -> T {
    let typed: T = serde_json::from_value(payload.clone()).unwrap_or_else(|e| panic!("{event}: {e}\n{payload}"));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), payload, "{event}: the typed shape lost or changed fields");
    typed
}

#[tokio::test]
async fn agent_answers_and_events_fit_the_protocol_types() {
    let llm = ScriptedOpenAi::start([Reply::text(["Hello ", "there"])]).await.unwrap();
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    let key = "agent:main:main";
    let subscribed: SessionsSubscribeResult = answer_fits(&client, "sessions.subscribe", json!({})).await;
    assert!(subscribed.subscribed);

    let ack: ChatSendAck = answer_fits(&client, "chat.send", json!({"sessionKey": key, "message": "hi", "idempotencyKey": "run-1"})).await;
    assert_eq!((ack.run_id.as_str(), ack.status.as_str()), ("run-1", "started"));
    let timeout = std::time::Duration::from_secs(20);
    let mut saw_agent_event = false;
    loop {
        let e = client.wait_event_where("chat or agent event", timeout, |e| e.event == "chat" || e.event == "agent").await.unwrap();
        let payload = e.payload.unwrap();
        if e.event == "agent" {
            payload_fits::<AgentEvent>("agent", &payload);
            saw_agent_event = true;
            continue;
        }
        let chat: ChatEvent = payload_fits("chat", &payload);
        if chat.state != "delta" {
            assert_eq!(chat.state, "final", "{payload}");
            break;
        }
    }
    assert!(saw_agent_event);
    let message = client.wait_event("session.message", timeout).await.unwrap().payload.unwrap();
    let message: SessionMessageEvent = payload_fits("session.message", &message);
    assert_eq!(message.session.map(|s| s.key), Some(key.to_string()));
    let waited: AgentWaitResult = answer_fits(&client, "agent.wait", json!({"runId": "run-1"})).await;
    assert_eq!(waited.status, "ok");

    let history: ChatHistoryResult = answer_fits(&client, "chat.history", json!({"sessionKey": key})).await;
    assert_eq!(history.messages.len(), 2);
    let list: SessionsListResult = answer_fits(&client, "sessions.list", json!({})).await;
    assert_eq!(list.sessions[0].key, key);
    answer_fits::<SessionsPreviewResult>(&client, "sessions.preview", json!({"keys": [key]})).await;
    let described: SessionsDescribeResult = answer_fits(&client, "sessions.describe", json!({"key": key})).await;
    assert_eq!(described.session.unwrap().is_main, Some(true));
    answer_fits::<SessionUpdated>(&client, "sessions.patch", json!({"key": key, "label": "typed"})).await;
    let changed = client.wait_event("sessions.changed", timeout).await.unwrap().payload.unwrap();
    assert_eq!(payload_fits::<SessionsChangedEvent>("sessions.changed", &changed).reason, "patch");
    answer_fits::<AgentsListResult>(&client, "agents.list", json!({})).await;
    answer_fits::<ModelsListResult>(&client, "models.list", json!({})).await;
}
