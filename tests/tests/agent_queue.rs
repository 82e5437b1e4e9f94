//! The run queue over the protocol (`messages.queue`, `agents.defaults.maxConcurrent`): a flood
//! of `chat.send` faster than turns finish keeps at most `cap` messages waiting per session and
//! tells every caller what happened to its message (dropped, merged, refused); each mode
//! (followup, collect, interrupt, steer's fallback) and drop policy (old, new, summarize); and
//! the text already streamed when the gateway is killed -9 is kept after the restart.
//!
//! The LLM is a scripted OpenAI-compatible server whose replies stall (`stall_after`), so a turn
//! lasts exactly until the test aborts it: every assertion is on counts and shapes, not times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pincer_client::GatewayClient;
use pincer_protocol::error::ErrorCode;
use pincer_protocol::scopes::{ADMIN, READ, WRITE};
use pincer_tests::agent::{agent_gateway, agent_operator};
use pincer_tests::expect::server_error;
use pincer_tests::interop::{Pincer, Scene};
use pincer_tests::llm_script::{Reply, ScriptedLlm, ScriptedOpenAi};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(20);

fn is_chat_of(e: &pincer_client::EventFrame, run_id: &str) -> bool {
    e.event == "chat" && e.payload.as_ref().is_some_and(|p| p["runId"] == run_id)
}

/// The terminal `chat` event of `run_id` (deltas skipped).
async fn terminal(client: &GatewayClient, run_id: &str) -> Value {
    loop {
        let e = client.wait_event_where(&format!("chat event of {run_id}"), T, |e| is_chat_of(e, run_id)).await.unwrap();
        let p = e.payload.unwrap();
        if p["state"] != "delta" {
            return p;
        }
    }
}

async fn first_delta(client: &GatewayClient, run_id: &str) {
    client
        .wait_event_where("first delta", T, |e| is_chat_of(e, run_id) && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
        .await
        .unwrap();
}

async fn send(client: &GatewayClient, key: &str, message: &str, run_id: &str) -> Value {
    client.request("chat.send", json!({"sessionKey": key, "message": message, "idempotencyKey": run_id})).await.unwrap()
}

async fn history(client: &GatewayClient, key: &str) -> Vec<Value> {
    let h = client.request("chat.history", json!({"sessionKey": key})).await.unwrap();
    h["messages"].as_array().unwrap().clone()
}

fn text_of(message: &Value) -> String {
    message["content"]
        .as_array()
        .map(|parts| parts.iter().filter(|p| p["type"] == "text").filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default()
}

fn last_user_text(llm: &ScriptedLlm, request: usize) -> String {
    let requests = llm.requests();
    let user = requests[request].messages().iter().rev().find(|m| m["role"] == "user").unwrap().clone();
    match &user["content"] {
        Value::String(s) => s.clone(),
        parts => parts.as_array().unwrap().iter().filter_map(|p| p["text"].as_str()).collect(),
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn queue_config(queue: Value, max_concurrent: u64) -> Value {
    json!({"messages": {"queue": queue}, "agents": {"defaults": {"maxConcurrent": max_concurrent}}})
}

// ------------------------------------------------------------------------------------------
// The flood
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_flood_faster_than_turns_finish_keeps_at_most_cap_waiting_per_session_and_reports_every_drop() {
    const SESSIONS: usize = 10;
    const PER_SESSION: usize = 12;
    const CAP: usize = 5;
    // Every turn stalls after one word until it is aborted.
    let llm = ScriptedOpenAi::start((0..SESSIONS).map(|_| Reply::stall_after(["busy "]))).await.unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "followup", "cap": CAP, "drop": "old", "debounceMs": 0}), 2)).await;
    let client = agent_operator(&gw).await;

    for i in 0..PER_SESSION {
        for s in 0..SESSIONS {
            let ack = send(&client, &format!("s{s}"), &format!("message {i}"), &format!("s{s}-m{i}")).await;
            assert_eq!(ack["status"], "started", "{ack}");
            if i == 0 {
                assert!(ack.get("queue").is_none(), "an idle session starts at once: {ack}");
            } else {
                assert_eq!(ack["queue"]["mode"], "followup", "{ack}");
                assert_eq!(ack["queue"]["position"], json!(i.min(CAP)), "{ack}");
            }
        }
    }
    // Per session: message 0 runs (or waits for one of the 2 global slots), messages 7..11 wait
    // (cap 5), messages 1..6 were dropped oldest-first as newer ones came.
    let queue = &gw.state.agents.queue;
    assert_eq!(queue.pending_count(), SESSIONS * CAP, "what waits is bounded by cap per session");
    assert_eq!(queue.lane_count(), SESSIONS);
    assert_eq!(gw.state.agents.active_count(), SESSIONS * (CAP + 1), "handles: one running + cap waiting per session");
    llm.wait_for_requests(2, T).await.unwrap();
    wait_until("two runs execute", || gw.state.agents.started_count() == 2).await;
    assert_eq!(llm.request_count(), 2, "agents.defaults.maxConcurrent = 2 runs at once across sessions");

    // Every dropped caller was told, with the reason, and the message is on record.
    let dropped_per_session = PER_SESSION - 1 - CAP;
    for s in 0..SESSIONS {
        for i in 1..=dropped_per_session {
            let run = format!("s{s}-m{i}");
            let e = terminal(&client, &run).await;
            assert_eq!(e["state"], "error", "{e}");
            assert_eq!(e["queueDisposition"], "dropped", "{e}");
            assert_eq!(e["sessionKey"], format!("agent:main:s{s}"), "{e}");
            let message = e["errorMessage"].as_str().unwrap();
            assert!(message.contains("messages.queue.cap 5") && message.contains("did not run"), "{message}");
        }
    }
    let waited = client.request("agent.wait", json!({"runId": "s3-m2", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error", "{waited}");
    assert!(waited["error"].as_str().unwrap().starts_with("Dropped: the session queue was full"), "{waited}");
    let replay = send(&client, "s3", "message 2", "s3-m2").await;
    assert_eq!(replay["status"], "error", "{replay}");
    assert_eq!(replay["queueDisposition"], "dropped", "{replay}");
    let waiting = client.request("agent.wait", json!({"runId": "s3-m11", "timeoutMs": 0})).await.unwrap();
    assert_eq!(waiting["status"], "timeout", "the newest message still waits: {waiting}");

    // Stop everything: every lane empties and goes; nothing stays in memory.
    for s in 0..SESSIONS {
        let aborted = client.request("chat.abort", json!({"sessionKey": format!("s{s}")})).await.unwrap();
        assert_eq!(aborted["runIds"].as_array().unwrap().len(), CAP + 1, "{aborted}");
    }
    wait_until("every lane is gone", || queue.lane_count() == 0 && gw.state.agents.active_count() == 0).await;
    assert_eq!(queue.pending_count(), 0);
    // A session's first message may start while the others are being aborted; the messages
    // that were waiting never reach the model.
    for i in 0..llm.request_count() {
        assert_eq!(last_user_text(&llm, i), "message 0");
    }
}

// ------------------------------------------------------------------------------------------
// Modes
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn collect_merges_everything_that_waited_into_one_turn_and_tells_each_merged_caller() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["working "]), Reply::text(["one answer for all"])]).await.unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "collect", "debounceMs": 0}), 4)).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "c1").await;
    first_delta(&client, "c1").await;
    for (i, (text, id)) in [("two", "c2"), ("three", "c3"), ("four", "c4")].into_iter().enumerate() {
        let ack = send(&client, "main", text, id).await;
        assert_eq!(ack, json!({"runId": id, "status": "started", "queue": {"mode": "collect", "position": i + 1}}));
    }
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "c1"})).await.unwrap();
    assert_eq!(terminal(&client, "c1").await["state"], "aborted");

    for id in ["c2", "c3"] {
        let e = terminal(&client, id).await;
        assert_eq!(e["state"], "final", "{e}");
        assert_eq!(e["mergedInto"], "c4", "{e}");
        assert_eq!(e["queueDisposition"], "merged", "{e}");
        assert_eq!(e["stopReason"], "merged", "{e}");
    }
    let last = terminal(&client, "c4").await;
    assert_eq!(last["state"], "final", "{last}");
    assert_eq!(text_of(&last["message"]), "one answer for all");
    assert_eq!(llm.request_count(), 2, "one turn for three messages");
    assert_eq!(
        last_user_text(&llm, 1),
        "[Queued messages while agent was busy]\n\n---\nQueued #1\ntwo\n\n---\nQueued #2\nthree\n\n---\nQueued #3\nfour"
    );
    // A merged run ends with the run that answered it.
    let waited = client.request("agent.wait", json!({"runId": "c2", "timeoutMs": 5000})).await.unwrap();
    assert_eq!(waited["status"], "ok", "{waited}");
    let replay = send(&client, "main", "three", "c3").await;
    assert_eq!(replay, json!({"runId": "c3", "status": "ok", "mergedInto": "c4"}));

    let messages = history(&client, "main").await;
    let texts: Vec<String> = messages.iter().map(text_of).collect();
    assert_eq!(texts.len(), 4, "{messages:#?}");
    assert_eq!(texts[0], "one");
    assert!(texts[2].starts_with("[Queued messages while agent was busy]"), "{texts:?}");
    assert_eq!(texts[3], "one answer for all");
}

#[tokio::test]
async fn followup_runs_each_waiting_message_as_its_own_turn_in_order() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["working "]), Reply::text(["A2"]), Reply::text(["A3"])]).await.unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "followup", "debounceMs": 0}), 4)).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "f1").await;
    first_delta(&client, "f1").await;
    assert_eq!(send(&client, "main", "two", "f2").await["queue"], json!({"mode": "followup", "position": 1}));
    assert_eq!(send(&client, "main", "three", "f3").await["queue"], json!({"mode": "followup", "position": 2}));
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "f1"})).await.unwrap();
    assert_eq!(text_of(&terminal(&client, "f2").await["message"]), "A2");
    assert_eq!(text_of(&terminal(&client, "f3").await["message"]), "A3");
    assert_eq!((last_user_text(&llm, 1), last_user_text(&llm, 2)), ("two".to_string(), "three".to_string()));
}

#[tokio::test]
async fn steer_is_the_default_and_falls_back_to_waiting_for_the_active_run_as_openclaw_does_without_steering() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["working "]), Reply::text(["A2"])]).await.unwrap();
    // No messages.queue at all: OpenClaw's default mode, steer.
    let gw = agent_gateway(&llm, json!({})).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "d1").await;
    first_delta(&client, "d1").await;
    assert_eq!(send(&client, "main", "two", "d2").await["queue"], json!({"mode": "steer", "position": 1}));
    assert_eq!(llm.request_count(), 1, "the message is not injected into the running turn");
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "d1"})).await.unwrap();
    assert_eq!(text_of(&terminal(&client, "d2").await["message"]), "A2");
    assert_eq!(last_user_text(&llm, 1), "two");
}

#[tokio::test]
async fn interrupt_aborts_the_active_run_drops_what_waited_and_runs_the_newest() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["holding the slot "]), Reply::text(["newest answer"])]).await.unwrap();
    // One global slot, held by another session: session "main"'s runs wait for it, so what
    // waits in its lane is known exactly.
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "interrupt"}), 1)).await;
    let client = agent_operator(&gw).await;
    send(&client, "other", "hold", "o1").await;
    first_delta(&client, "o1").await;
    assert!(send(&client, "main", "one", "i1").await.get("interruptedActiveRun").is_none());
    assert_eq!(send(&client, "main", "two", "i2").await, json!({"runId": "i2", "status": "started", "interruptedActiveRun": true}));
    assert_eq!(send(&client, "main", "three", "i3").await["interruptedActiveRun"], true);
    let dropped = terminal(&client, "i2").await;
    assert_eq!(dropped["state"], "error", "{dropped}");
    assert_eq!(dropped["queueDisposition"], "dropped", "{dropped}");
    assert!(dropped["errorMessage"].as_str().unwrap().contains("run i3 replaces it"), "{dropped}");

    client.request("chat.abort", json!({"sessionKey": "other"})).await.unwrap();
    assert_eq!(terminal(&client, "i1").await["state"], "aborted");
    assert_eq!(text_of(&terminal(&client, "i3").await["message"]), "newest answer");
    assert_eq!(llm.request_count(), 2, "only the newest message reached the model");
    assert_eq!(last_user_text(&llm, 1), "three");
    let texts: Vec<String> = history(&client, "main").await.iter().map(text_of).collect();
    assert_eq!(texts, ["three", "newest answer"], "the interrupted and dropped messages never joined the transcript");
}

// ------------------------------------------------------------------------------------------
// Drop policies
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn drop_new_refuses_the_newest_with_openclaws_text_and_stores_nothing() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["working "]), Reply::text(["A2"]), Reply::text(["A3"])]).await.unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "followup", "cap": 1, "drop": "new", "debounceMs": 0}), 4)).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "n1").await;
    first_delta(&client, "n1").await;
    assert_eq!(send(&client, "main", "two", "n2").await["queue"]["position"], 1);
    let refused = client.request("chat.send", json!({"sessionKey": "main", "message": "three", "idempotencyKey": "n3"})).await;
    let error = server_error(refused);
    assert_eq!(error.code, ErrorCode::Unavailable, "{error:?}");
    assert_eq!(
        error.message,
        "This message was not queued because the session queue is full. Please try again after the current response finishes."
    );
    assert_eq!(error.retryable, Some(true), "{error:?}");
    assert_eq!(error.details.as_ref().unwrap()["reason"], "queue-cap", "{error:?}");
    assert!(gw.state.store.run("n3").unwrap().is_none(), "a refused message is not acknowledged, so nothing is stored");

    client.request("chat.abort", json!({"sessionKey": "main", "runId": "n1"})).await.unwrap();
    assert_eq!(text_of(&terminal(&client, "n2").await["message"]), "A2");
    // Once there is room, the same key is accepted.
    assert_eq!(send(&client, "main", "three", "n3").await["status"], "started");
    assert_eq!(text_of(&terminal(&client, "n3").await["message"]), "A3");
}

#[tokio::test]
async fn drop_summarize_drops_the_oldest_and_gives_the_agent_openclaws_overflow_summary_first() {
    let llm = ScriptedOpenAi::start([
        Reply::stall_after(["working "]),
        Reply::text(["noted the overflow"]),
        Reply::text(["A4"]),
        Reply::text(["A5"]),
    ])
    .await
    .unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "followup", "cap": 2, "debounceMs": 0}), 4)).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "z1").await;
    first_delta(&client, "z1").await;
    for (text, id) in [("two", "z2"), ("three\n  spread   out", "z3"), ("four", "z4"), ("five", "z5")] {
        assert_eq!(send(&client, "main", text, id).await["status"], "started");
    }
    for id in ["z2", "z3"] {
        let e = terminal(&client, id).await;
        assert_eq!(e["state"], "error", "{e}");
        assert_eq!(e["queueDisposition"], "dropped", "{e}");
        assert!(e["errorMessage"].as_str().unwrap().contains("drop \"summarize\""), "{e}");
    }
    assert_eq!(gw.state.agents.queue.pending_count(), 3, "cap 2 waiting plus the summary");
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "z1"})).await.unwrap();
    assert_eq!(text_of(&terminal(&client, "z5").await["message"]), "A5");
    assert_eq!(llm.request_count(), 4);
    assert_eq!(last_user_text(&llm, 1), "[Queue overflow] Dropped 2 messages due to cap.\nSummary:\n- two\n- three spread out");
    assert_eq!((last_user_text(&llm, 2), last_user_text(&llm, 3)), ("four".to_string(), "five".to_string()));
    // The dropped messages are on record with what happened to them.
    let z2 = gw.state.store.run("z2").unwrap().unwrap();
    assert_eq!(z2.status, "dropped");
    assert_eq!(text_of(&z2.input), "two");
}

#[tokio::test]
async fn a_bad_queue_setting_is_refused_when_the_config_is_loaded() {
    let llm = ScriptedOpenAi::start([]).await.unwrap();
    let config = pincer_tests::agent::agent_config(&llm, json!({"messages": {"queue": {"mode": "later"}}}));
    let err = pincer_tests::agent::start_agent_gateway(config, None).await.err().expect("refused");
    assert!(err.to_string().contains("messages.queue.mode"), "{err}");
}

// ------------------------------------------------------------------------------------------
// kill -9 mid-stream
// ------------------------------------------------------------------------------------------

fn binary_config(llm: &ScriptedLlm) -> Value {
    json!({
        "agents": {"defaults": {"model": {"primary": "scripted/m1"}}},
        "models": {"providers": {"scripted": llm.provider_config(Some("sk-test"), &["m1"])}},
    })
}

#[tokio::test]
async fn text_streamed_before_a_kill_9_is_kept_after_the_restart_with_the_interrupted_note() {
    std::env::set_var("PINCER_NO_KEYRING", "1");
    let llm = ScriptedOpenAi::start([Reply::stall_after(["Hel", "lo, ", "wor"])]).await.unwrap();
    let scene = Scene::pincer_only("agent-kill-partial");
    let mut gw = Pincer::start(&scene, Some(binary_config(&llm))).await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    send(&client, "main", "say hello", "p1").await;
    let mut streamed = String::new();
    while streamed != "Hello, wor" {
        let e = client
            .wait_event_where("a delta", T, |e| is_chat_of(e, "p1") && e.payload.as_ref().is_some_and(|p| p["state"] == "delta"))
            .await
            .unwrap();
        streamed.push_str(e.payload.unwrap()["deltaText"].as_str().unwrap());
    }
    // The writes are throttled: wait (on the database, not a clock) for the last one.
    let store = pincer_gateway::store::Store::open(&gw.dir.join("pincer.sqlite")).unwrap();
    wait_until("the streamed text is saved", || store.partial_text("p1").unwrap().as_deref() == Some("Hello, wor")).await;
    drop(store);

    drop(gw.child.take().expect("running")); // SIGKILL to the process group
    gw.spawn().await;
    let client = gw.operator(&[READ, WRITE, ADMIN]).await;
    let messages = history(&client, "main").await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(text_of(&messages[0]), "say hello");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(text_of(&messages[1]), "Hello, wor", "what the person saw is kept");
    assert_eq!(messages[1]["stopReason"], "error");
    assert!(messages[1]["errorMessage"].as_str().unwrap().contains("The gateway stopped before this reply finished"), "{:#?}", messages[1]);
    let waited = client.request("agent.wait", json!({"runId": "p1", "timeoutMs": 1000})).await.unwrap();
    assert_eq!(waited["status"], "error", "{waited}");
}

#[tokio::test]
async fn aborting_a_waiting_message_ends_it_at_once_and_frees_its_place_under_the_cap() {
    let llm = ScriptedOpenAi::start([Reply::stall_after(["working "]), Reply::text(["A3"])]).await.unwrap();
    let gw = agent_gateway(&llm, queue_config(json!({"mode": "followup", "cap": 1, "drop": "new", "debounceMs": 0}), 4)).await;
    let client = agent_operator(&gw).await;
    send(&client, "main", "one", "w1").await;
    first_delta(&client, "w1").await;
    assert_eq!(send(&client, "main", "two", "w2").await["queue"]["position"], 1);
    let aborted = client.request("chat.abort", json!({"sessionKey": "main", "runId": "w2"})).await.unwrap();
    assert_eq!(aborted["runIds"], json!(["w2"]));
    // Ended while w1 still runs, not when its turn would have come.
    assert_eq!(terminal(&client, "w2").await["state"], "aborted");
    assert_eq!(gw.state.agents.queue.pending_count(), 0);
    assert_eq!(send(&client, "main", "three", "w3").await["queue"]["position"], 1, "the place is free again");
    client.request("chat.abort", json!({"sessionKey": "main", "runId": "w1"})).await.unwrap();
    assert_eq!(text_of(&terminal(&client, "w3").await["message"]), "A3");
    assert_eq!(llm.request_count(), 2, "the withdrawn message never reached the model");
    let texts: Vec<String> = history(&client, "main").await.iter().map(text_of).collect();
    assert_eq!(texts, ["one", "working ", "three", "A3"]);
}
