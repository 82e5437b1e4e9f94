//! TypeScript definitions of the wire types, for the UI package `@pincer/protocol`
//! (`packages/protocol/index.ts`).
//!
//! The definitions come from the same structs and serde attributes the gateway and the node host
//! serialize with (ts-rs reads them), so the UI cannot drift from the wire. One file holds them
//! all: the UI imports one module and the staleness test compares one file. The `extra` maps
//! that keep a newer peer's fields on the Rust side are left out (`#[ts(skip)]`): the UI's types
//! name the known fields, so a misspelt one is a type error.
//!
//! Regenerate with `PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript`; without
//! the variable that test fails when the committed file differs from what the types give.

use ts_rs::{Config, TS};

/// Where the generated file lives, relative to the workspace root.
pub const OUTPUT_PATH: &str = "packages/protocol/index.ts";

/// `export type …` of `T` with its doc comment.
fn declaration<T: TS + ?Sized + 'static>(cfg: &Config) -> String {
    let mut out = String::new();
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
    }
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push('\n');
    out
}

macro_rules! declarations {
    ($cfg:expr; $($ty:ty),* $(,)?) => {
        vec![$(declaration::<$ty>($cfg)),*]
    };
}

/// The whole generated file.
pub fn definitions() -> String {
    // JSON numbers are JS numbers: ts-rs would type u64/i64 as `bigint`, which JSON.parse never gives.
    let cfg = Config::new().with_large_int("number");
    let cfg = &cfg;
    use crate::{agent, approvals, chat, config, connect, devices, error, frames, node_commands, nodes, sessions, system};
    let decls: Vec<String> = declarations![cfg;
        serde_json::Value,
        // frames
        frames::Frame, frames::RequestFrame, frames::ResponseFrame, frames::EventFrame, frames::CancelFrame, frames::StateVersion,
        // error
        error::ErrorShape,
        // connect
        connect::ConnectChallenge, connect::Role, connect::ClientInfo, connect::ConnectAuth, connect::DeviceAuth, connect::ConnectParams, connect::ServerInfo, connect::Features, connect::SessionDefaults, connect::Snapshot, connect::HelloAuth, connect::Policy, connect::HelloOk,
        // system
        system::HealthSnapshot, system::StatusResult, system::StatusGateway, system::PresenceEntry, system::PresenceEvent, system::TickEvent, system::ShutdownEvent, system::LogsTailParams, system::LogsTailResult, system::VoicewakeTriggers, system::CommandsListResult, system::QuestionListResult,
        // config
        config::ConfigSnapshot, config::ConfigPatchParams, config::ConfigPatchResult,
        // devices
        devices::DevicePairRequest, devices::DeviceTokenInfo, devices::PairedDevice, devices::PairResolved, devices::PairRequestIdParams, devices::DeviceIdParams, devices::DevicePairListResult, devices::DevicePairApproveResult, devices::DevicePairRejectResult, devices::DeviceRename, devices::DeviceTokenRotateParams, devices::DeviceTokenRotateResult, devices::DeviceTokenRevokeParams, devices::DeviceTokenRevokeResult,
        // nodes
        nodes::NodeInvokeParams, nodes::NodeInvokeRequest, nodes::NodeError, nodes::NodeInvokeResult, nodes::NodeEventParams, nodes::NodeInvokeCancel, nodes::NodeInvokeResponse, nodes::NodeInvokeCancelParams, nodes::NodeInvokeCancelResult, nodes::NodeInvokeResultAck, nodes::NodeEventResult, nodes::NodeIdParams, nodes::NodePairRequest, nodes::PairedNode, nodes::NodePairRequestResult, nodes::NodePairListResult, nodes::NodePairApproveResult, nodes::NodePairRejectResult, nodes::NodePairVerifyParams, nodes::OkResult, nodes::NodeRename, nodes::NodeEntry, nodes::NodeListResult, nodes::NodeRunnerInventoryUpdateParams,
        nodes::NodeRunnerInventoryUpdateResult, nodes::NodeSkillsUpdate, nodes::NodePluginToolsUpdate, nodes::NodeHostStatsEvent, nodes::NodeRunnerInventoryChanged,
        // approvals
        approvals::ExecDecision, approvals::ExecSecurity, approvals::ExecAsk, approvals::AllowlistEntry, approvals::ExecPolicyFields, approvals::ExecApprovalsFile, approvals::ExecApprovalsSnapshot, approvals::ExecApprovalsFileResult, approvals::ExecResolvedDefaults, approvals::ExecApprovalsSetParams, approvals::ExecApprovalRequestParams, approvals::ExecApprovalAccepted, approvals::ExecApprovalResolution, approvals::ExecApprovalIdParams, approvals::ExecApprovalResolveParams, approvals::ExecApprovalSummary, approvals::ExecApprovalDetails, approvals::ExecApprovalResolvedEvent,
        // chat
        chat::ChatAttachment, chat::ChatSendParams, chat::QueuePlacement, chat::ChatSendAck, chat::ChatHistoryParams, chat::ChatHistoryResult, chat::MessageEnvelope, chat::ChatAbortParams, chat::ChatAbortResult, chat::ChatInjectParams, chat::ChatInjectResult, chat::ChatEvent,
        // agent
        agent::AgentParams, agent::AgentAccepted, agent::AgentFinal, agent::AgentRunResult, agent::AgentWaitParams, agent::AgentWaitResult, agent::ThinkingLevelOption, agent::AgentModel, agent::AgentSummary, agent::AgentsListResult, agent::ModelSummary, agent::ModelsListResult, agent::AgentEvent,
        // sessions
        sessions::SessionKeyParams, sessions::SessionsListParams, sessions::SessionEntry, sessions::SessionDefaultsRow, sessions::SessionsListResult, sessions::SessionsPreviewParams, sessions::SessionPreviewItem, sessions::SessionPreview, sessions::SessionsPreviewResult, sessions::SessionsResolveParams, sessions::SessionsResolveResult, sessions::SessionsPatchParams, sessions::SessionUpdated, sessions::SessionsDeleteResult, sessions::SessionsCompactResult, sessions::CompactionCounts, sessions::SessionsDescribeResult, sessions::SessionsSubscribeResult, sessions::SessionsMessagesSubscribeResult, sessions::SessionsChangedEvent, sessions::SessionMessageEvent, sessions::SessionOperationEvent, sessions::SessionToolEvent,
        // node_commands
        node_commands::SystemRunParams, node_commands::SystemRunResult,
        node_commands::EnvOverrideDropped, node_commands::SystemRunPlan, node_commands::SystemRunPrepareResult, node_commands::ExecEvent, node_commands::SystemWhichParams, node_commands::SystemWhichResult, node_commands::SystemNotifyParams, node_commands::SystemNotifyResult, node_commands::ScreenSnapshotParams, node_commands::ImageResult, node_commands::ScreenRecordParams, node_commands::ClipResult, node_commands::CameraDevice, node_commands::CameraListResult, node_commands::CameraSnapParams, node_commands::CameraClipParams, node_commands::LocationGetParams, node_commands::LocationResult, node_commands::HostStats,
    ];
    let mut out = String::from(
        "// Generated from the Rust types in protocol/ by ts-rs: do not edit.\n\
         // Regenerate: PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript\n\n",
    );
    for decl in decls {
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
