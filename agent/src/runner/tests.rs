//! `run_turn` against a scripted model and scripted tools: the exact transcript it persists and
//! the exact events it emits, for each way a run can go.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{run_turn, Limits, PersistError, RunEnd, RunError, RunEvent, RunObserver, Turn};
use crate::model::{AssistantMessage, Content, Message, StopReason, ToolResultMessage, Usage};
use crate::provider::{DeltaSink, ModelClient, ModelRequest, ProviderError, StreamDelta, ThinkingLevel, ToolSpec};
use crate::tool::{Tool, ToolContext, ToolOutput, ToolSet};

/// What the scripted model does on one call.
enum Step {
    /// Stream these text deltas, then return the message.
    Reply { deltas: Vec<&'static str>, message: AssistantMessage },
    /// Stream these deltas, then fail.
    Fail { deltas: Vec<&'static str>, error: ProviderError },
    /// Stream these deltas, then wait for the run to be cancelled and return `Aborted`.
    StallUntilCancelled { deltas: Vec<&'static str> },
}

struct ScriptedModel {
    steps: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<ModelRequest>>,
}

impl ScriptedModel {
    fn new(steps: Vec<Step>) -> ScriptedModel {
        ScriptedModel { steps: Mutex::new(steps.into()), requests: Mutex::new(Vec::new()) }
    }

    fn requests(&self) -> Vec<ModelRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl ModelClient for ScriptedModel {
    fn label(&self) -> String {
        "scripted/model-1".into()
    }

    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
        cancel: &'a CancellationToken,
        on_delta: DeltaSink<'a>,
    ) -> BoxFuture<'a, Result<AssistantMessage, ProviderError>> {
        Box::pin(async move {
            self.requests.lock().unwrap().push(request.clone());
            let step = self.steps.lock().unwrap().pop_front().expect("the script has a step for every model call");
            match step {
                Step::Reply { deltas, message } => {
                    deltas.into_iter().for_each(|d| on_delta(StreamDelta::Text(d.into())));
                    Ok(message)
                }
                Step::Fail { deltas, error } => {
                    deltas.into_iter().for_each(|d| on_delta(StreamDelta::Text(d.into())));
                    Err(error)
                }
                Step::StallUntilCancelled { deltas } => {
                    deltas.into_iter().for_each(|d| on_delta(StreamDelta::Text(d.into())));
                    cancel.cancelled().await;
                    Err(ProviderError::Aborted)
                }
            }
        })
    }
}

/// Records everything `run_turn` reports; `fail_persist_at` makes the n-th persist (0-based) fail.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<RunEvent>>,
    persisted: Mutex<Vec<Message>>,
    fail_persist_at: Option<usize>,
    persist_calls: Mutex<usize>,
}

impl RunObserver for Recorder {
    fn event(&self, event: RunEvent) {
        self.events.lock().unwrap().push(event);
    }

    fn persist(&self, message: &Message) -> Result<(), PersistError> {
        let mut calls = self.persist_calls.lock().unwrap();
        let this_call = *calls;
        *calls += 1;
        if self.fail_persist_at == Some(this_call) {
            return Err(PersistError::new(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full")));
        }
        self.persisted.lock().unwrap().push(message.clone());
        Ok(())
    }
}

impl Recorder {
    fn events(&self) -> Vec<RunEvent> {
        self.events.lock().unwrap().clone()
    }

    /// The persisted transcript with timestamps zeroed (they come from the clock).
    fn transcript(&self) -> Vec<Message> {
        self.persisted.lock().unwrap().iter().cloned().map(without_timestamp).collect()
    }
}

fn without_timestamp(message: Message) -> Message {
    match message {
        Message::Assistant(mut a) => {
            a.timestamp = 0;
            Message::Assistant(a)
        }
        Message::ToolResult(mut r) => {
            r.timestamp = 0;
            Message::ToolResult(r)
        }
        other => other,
    }
}

/// Echoes its `text` argument, or fails with it when `fail` is true; with `cancel` set it
/// cancels the run from inside the tool (a person pressing stop while a tool runs).
struct EchoTool;

impl Tool for EchoTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "echo".into(),
            description: "Echo the text back.".into(),
            parameters: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
        }
    }

    fn call<'a>(&'a self, args: Value, ctx: ToolContext<'a>) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let text = args.get("text").and_then(Value::as_str).unwrap_or("").to_string();
            (ctx.progress)(json!({"echoing": text}));
            if args.get("cancel") == Some(&Value::Bool(true)) {
                ctx.cancel.cancel();
            }
            if args.get("fail") == Some(&Value::Bool(true)) {
                return ToolOutput::error(format!("echo failed: {text}"));
            }
            ToolOutput::text(text.clone()).with_details(json!({"length": text.len()}))
        })
    }
}

fn tools() -> ToolSet {
    let mut set = ToolSet::new();
    set.add(Arc::new(EchoTool));
    set
}

fn usage(input: u64, output: u64) -> Usage {
    Usage { input, output, cache_read: 0, cache_write: 0, total_tokens: input + output }
}

fn answer(text: &str, usage: Usage) -> AssistantMessage {
    AssistantMessage {
        content: vec![Content::text(text)],
        api: "openai-completions".into(),
        provider: "scripted".into(),
        model: "model-1".into(),
        usage,
        stop_reason: StopReason::Stop,
        error_message: None,
        timestamp: 0,
    }
}

fn tool_call(id: &str, arguments: Value, usage: Usage) -> AssistantMessage {
    AssistantMessage {
        content: vec![Content::ToolCall { id: id.into(), name: "echo".into(), arguments }],
        stop_reason: StopReason::ToolUse,
        ..answer("", usage)
    }
}

fn tool_result(id: &str, name: &str, text: &str, details: Option<Value>, is_error: bool) -> Message {
    Message::ToolResult(ToolResultMessage {
        tool_call_id: id.into(),
        tool_name: name.into(),
        content: vec![Content::text(text)],
        details,
        is_error,
        timestamp: 0,
    })
}

fn turn<'a>(tools: &'a ToolSet) -> Turn<'a> {
    Turn {
        run_id: "run-1",
        session_key: "agent:main:main",
        system_prompt: "You are a test.".into(),
        history: vec![Message::user_text("hi", 1)],
        tools,
        limits: Limits::default(),
        thinking: ThinkingLevel::Off,
    }
}

#[tokio::test]
async fn a_text_answer_is_persisted_streamed_and_completes_the_run() {
    let model = ScriptedModel::new(vec![Step::Reply { deltas: vec!["Hel", "lo"], message: answer("Hello", usage(10, 2)) }]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    match &outcome.end {
        RunEnd::Completed(reply) => assert_eq!(reply, &answer("Hello", usage(10, 2))),
        other => panic!("expected a completed run, got {other:?}"),
    }
    assert_eq!(outcome.model_calls, 1);
    assert_eq!(outcome.usage, usage(10, 2));
    assert_eq!(
        recorder.events(),
        vec![RunEvent::AssistantStart, RunEvent::AssistantDelta("Hel".into()), RunEvent::AssistantDelta("lo".into())]
    );
    assert_eq!(recorder.transcript(), vec![Message::Assistant(answer("Hello", usage(10, 2)))]);
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].system_prompt, "You are a test.");
    assert_eq!(requests[0].messages, vec![Message::user_text("hi", 1)]);
    assert_eq!(requests[0].tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["echo"]);
}

#[tokio::test]
async fn a_tool_call_round_trip_runs_the_tool_and_feeds_its_result_back() {
    let call = tool_call("c1", json!({"text": "ping"}), usage(10, 3));
    let model = ScriptedModel::new(vec![
        Step::Reply { deltas: vec![], message: call.clone() },
        Step::Reply { deltas: vec!["pong"], message: answer("pong", usage(20, 1)) },
    ]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    assert!(matches!(&outcome.end, RunEnd::Completed(reply) if reply.text() == "pong"), "{:?}", outcome.end);
    assert_eq!(outcome.model_calls, 2);
    assert_eq!(outcome.usage, usage(30, 4));
    let result = tool_result("c1", "echo", "ping", Some(json!({"length": 4})), false);
    assert_eq!(
        recorder.transcript(),
        vec![Message::Assistant(call.clone()), result.clone(), Message::Assistant(answer("pong", usage(20, 1)))]
    );
    assert_eq!(
        recorder.events(),
        vec![
            RunEvent::AssistantStart,
            RunEvent::ToolStart { tool_call_id: "c1".into(), name: "echo".into(), args: json!({"text": "ping"}) },
            RunEvent::ToolUpdate { tool_call_id: "c1".into(), name: "echo".into(), data: json!({"echoing": "ping"}) },
            RunEvent::ToolResult {
                tool_call_id: "c1".into(),
                name: "echo".into(),
                is_error: false,
                result: json!({"content": [{"type": "text", "text": "ping"}], "details": {"length": 4}}),
            },
            RunEvent::AssistantStart,
            RunEvent::AssistantDelta("pong".into()),
        ]
    );
    // The second model call sees the call and its result after the user turn.
    let second = &model.requests()[1];
    assert_eq!(second.messages.len(), 3);
    assert_eq!(second.messages[0], Message::user_text("hi", 1));
    assert_eq!(without_timestamp(second.messages[1].clone()), Message::Assistant(call));
    assert_eq!(without_timestamp(second.messages[2].clone()), result);
}

#[tokio::test]
async fn a_failing_tool_and_an_unknown_tool_become_error_results_the_model_sees() {
    let failing = tool_call("c1", json!({"text": "boom", "fail": true}), usage(1, 1));
    let mut unknown = tool_call("c2", json!({}), usage(1, 1));
    unknown.content = vec![Content::ToolCall { id: "c2".into(), name: "nope".into(), arguments: json!({}) }];
    let model = ScriptedModel::new(vec![
        Step::Reply { deltas: vec![], message: failing.clone() },
        Step::Reply { deltas: vec![], message: unknown.clone() },
        Step::Reply { deltas: vec![], message: answer("sorry", usage(1, 1)) },
    ]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    assert!(matches!(&outcome.end, RunEnd::Completed(reply) if reply.text() == "sorry"), "{:?}", outcome.end);
    assert_eq!(
        recorder.transcript(),
        vec![
            Message::Assistant(failing),
            tool_result("c1", "echo", "echo failed: boom", None, true),
            Message::Assistant(unknown),
            tool_result("c2", "nope", "There is no tool named `nope`. Available tools: echo.", None, true),
            Message::Assistant(answer("sorry", usage(1, 1))),
        ]
    );
    let results: Vec<RunEvent> = recorder.events().into_iter().filter(|e| matches!(e, RunEvent::ToolResult { .. })).collect();
    assert_eq!(
        results,
        vec![
            RunEvent::ToolResult {
                tool_call_id: "c1".into(),
                name: "echo".into(),
                is_error: true,
                result: json!({"content": [{"type": "text", "text": "echo failed: boom"}], "details": null}),
            },
            RunEvent::ToolResult {
                tool_call_id: "c2".into(),
                name: "nope".into(),
                is_error: true,
                result: json!({"content": [{"type": "text", "text": "There is no tool named `nope`. Available tools: echo."}], "details": null}),
            },
        ]
    );
}

#[tokio::test]
async fn cancelling_mid_stream_keeps_the_partial_answer_marked_aborted() {
    let model = ScriptedModel::new(vec![Step::StallUntilCancelled { deltas: vec!["Half an ans"] }]);
    let recorder = Recorder::default();
    let tools = tools();
    let cancel = CancellationToken::new();
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cancel.cancel();
        })
    };

    let outcome = run_turn(&model, turn(&tools), &recorder, &cancel).await;
    stopper.await.unwrap();

    assert!(matches!(outcome.end, RunEnd::Aborted), "{:?}", outcome.end);
    assert_eq!(outcome.model_calls, 1);
    assert_eq!(outcome.usage, Usage::default());
    let partial = AssistantMessage {
        content: vec![Content::text("Half an ans")],
        api: String::new(),
        provider: "scripted".into(),
        model: "model-1".into(),
        usage: Usage::default(),
        stop_reason: StopReason::Aborted,
        error_message: None,
        timestamp: 0,
    };
    assert_eq!(recorder.transcript(), vec![Message::Assistant(partial)]);
    assert_eq!(recorder.events(), vec![RunEvent::AssistantStart, RunEvent::AssistantDelta("Half an ans".into())]);
}

#[tokio::test]
async fn cancelling_while_a_tool_runs_stores_its_result_and_stops_before_the_next_model_call() {
    let call = tool_call("c1", json!({"text": "slow", "cancel": true}), usage(1, 1));
    let model = ScriptedModel::new(vec![Step::Reply { deltas: vec![], message: call.clone() }]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    assert!(matches!(outcome.end, RunEnd::Aborted), "{:?}", outcome.end);
    assert_eq!(outcome.model_calls, 1);
    assert_eq!(recorder.transcript(), vec![Message::Assistant(call), tool_result("c1", "echo", "slow", Some(json!({"length": 4})), false)]);
}

#[tokio::test]
async fn a_run_cancelled_before_it_starts_never_calls_the_model() {
    let model = ScriptedModel::new(vec![]);
    let recorder = Recorder::default();
    let tools = tools();
    let cancel = CancellationToken::new();
    cancel.cancel();

    let outcome = run_turn(&model, turn(&tools), &recorder, &cancel).await;

    assert!(matches!(outcome.end, RunEnd::Aborted), "{:?}", outcome.end);
    assert_eq!(outcome.model_calls, 0);
    assert!(model.requests().is_empty());
    assert_eq!(recorder.transcript(), vec![]);
    assert_eq!(recorder.events(), vec![]);
}

#[tokio::test]
async fn a_provider_error_is_recorded_in_the_transcript_and_fails_the_run_with_it() {
    let error = ProviderError::RateLimited { provider: "scripted".into(), retry_after: Some(Duration::from_secs(2)) };
    let model = ScriptedModel::new(vec![Step::Fail { deltas: vec!["Par"], error }]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    match &outcome.end {
        RunEnd::Failed(RunError::Provider(ProviderError::RateLimited { provider, retry_after })) => {
            assert_eq!(provider, "scripted");
            assert_eq!(*retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("expected the provider's rate-limit error, got {other:?}"),
    }
    let failed = AssistantMessage {
        content: vec![Content::text("Par")],
        api: String::new(),
        provider: "scripted".into(),
        model: "model-1".into(),
        usage: Usage::default(),
        stop_reason: StopReason::Error,
        error_message: Some("scripted: rate limited (HTTP 429), retry after 2000 ms".into()),
        timestamp: 0,
    };
    assert_eq!(recorder.transcript(), vec![Message::Assistant(failed)]);
}

#[tokio::test]
async fn a_transcript_that_cannot_be_saved_stops_the_run_before_the_tool_runs() {
    let call = tool_call("c1", json!({"text": "never"}), usage(1, 1));
    let model = ScriptedModel::new(vec![Step::Reply { deltas: vec![], message: call }]);
    let recorder = Recorder { fail_persist_at: Some(0), ..Recorder::default() };
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    match &outcome.end {
        RunEnd::Failed(error @ RunError::Persist(_)) => assert_eq!(error.to_string(), "could not save the transcript: disk full"),
        other => panic!("expected a persist failure, got {other:?}"),
    }
    assert!(!recorder.events().iter().any(|e| matches!(e, RunEvent::ToolStart { .. })), "the tool must not run");
}

#[tokio::test]
async fn the_model_call_limit_ends_a_run_that_keeps_calling_tools() {
    let model = ScriptedModel::new(vec![
        Step::Reply { deltas: vec![], message: tool_call("c1", json!({"text": "a"}), usage(1, 1)) },
        Step::Reply { deltas: vec![], message: tool_call("c2", json!({"text": "b"}), usage(1, 1)) },
    ]);
    let recorder = Recorder::default();
    let tools = tools();
    let mut turn = turn(&tools);
    turn.limits.max_model_calls = 2;

    let outcome = run_turn(&model, turn, &recorder, &CancellationToken::new()).await;

    assert!(matches!(outcome.end, RunEnd::Failed(RunError::TooManyModelCalls(2))), "{:?}", outcome.end);
    assert_eq!(outcome.model_calls, 2);
    assert_eq!(recorder.transcript().len(), 4);
}

#[tokio::test]
async fn arguments_that_are_not_an_object_are_answered_without_running_the_tool() {
    let mut odd = tool_call("c1", json!("{oops"), usage(1, 1));
    odd.content.push(Content::ToolCall { id: "c2".into(), name: "echo".into(), arguments: json!(7) });
    odd.content.push(Content::ToolCall { id: "c3".into(), name: "echo".into(), arguments: Value::Null });
    let model = ScriptedModel::new(vec![
        Step::Reply { deltas: vec![], message: odd.clone() },
        Step::Reply { deltas: vec![], message: answer("ok", usage(1, 1)) },
    ]);
    let recorder = Recorder::default();
    let tools = tools();

    let outcome = run_turn(&model, turn(&tools), &recorder, &CancellationToken::new()).await;

    assert!(matches!(&outcome.end, RunEnd::Completed(reply) if reply.text() == "ok"), "{:?}", outcome.end);
    assert_eq!(
        recorder.transcript(),
        vec![
            Message::Assistant(odd),
            tool_result(
                "c1",
                "echo",
                "The arguments of this `echo` call are not valid JSON, so it was not run. Send a JSON object matching the tool's schema. Received: {oops",
                None,
                true,
            ),
            tool_result("c2", "echo", "The arguments of this `echo` call must be a JSON object, not a number; it was not run.", None, true),
            // No arguments at all is an empty object: the tool runs.
            tool_result("c3", "echo", "", Some(json!({"length": 0})), false),
            Message::Assistant(answer("ok", usage(1, 1))),
        ]
    );
}

#[tokio::test]
async fn repeating_the_same_call_is_refused_then_ends_the_run() {
    let same = || tool_call("c", json!({"text": "again"}), usage(1, 1));
    let model = ScriptedModel::new(vec![
        Step::Reply { deltas: vec![], message: same() },
        Step::Reply { deltas: vec![], message: same() },
        Step::Reply { deltas: vec![], message: same() },
    ]);
    let recorder = Recorder::default();
    let tools = tools();
    let mut turn = turn(&tools);
    turn.limits.max_identical_calls = 1;

    let outcome = run_turn(&model, turn, &recorder, &CancellationToken::new()).await;

    match &outcome.end {
        RunEnd::Failed(RunError::LoopGuard { name }) => assert_eq!(name, "echo"),
        other => panic!("expected the loop guard, got {other:?}"),
    }
    assert_eq!(outcome.model_calls, 3);
    let refused = "Not run: this exact `echo` call was already made 1 times in this turn with the same arguments. Use the earlier results or try something different.";
    assert_eq!(
        recorder.transcript(),
        vec![
            Message::Assistant(same()),
            tool_result("c", "echo", "again", Some(json!({"length": 5})), false),
            Message::Assistant(same()),
            tool_result("c", "echo", refused, None, true),
            Message::Assistant(same()),
            tool_result("c", "echo", refused, None, true),
        ]
    );
}
