// Generated from the Rust types in protocol/ by ts-rs: do not edit.
// Regenerate: PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One JSON text frame on the WebSocket.
 */
export type Frame = { "type": "req" } & RequestFrame | { "type": "res" } & ResponseFrame | { "type": "event" } & EventFrame | { "type": "cancel" } & CancelFrame;

export type RequestFrame = { id: string, method: string, params?: JsonValue, };

export type ResponseFrame = { id: string, ok: boolean, payload?: JsonValue, error?: ErrorShape, };

export type EventFrame = { event: string, payload?: JsonValue, 
/**
 * Per-connection monotonic counter of broadcast events.
 */
seq?: number, stateVersion?: StateVersion, };

export type CancelFrame = { id: string, };

/**
 * Versions of the shared state snapshots, bumped when they change.
 */
export type StateVersion = { presence: number, health: number, };

/**
 * `{code, message, details?, retryable?, retryAfterMs?}`.
 */
export type ErrorShape = { code: string, message: string, details?: JsonValue, retryable?: boolean, retryAfterMs?: number, };

/**
 * Payload of the `connect.challenge` event the server sends first on every socket.
 */
export type ConnectChallenge = { nonce: string, ts: number, };

export type Role = "operator" | "node";

export type ClientInfo = { id: string, version: string, platform: string, mode: string, displayName?: string, deviceFamily?: string, modelIdentifier?: string, instanceId?: string, };

/**
 * Credentials a client may present.
 */
export type ConnectAuth = { token?: string, bootstrapToken?: string, deviceToken?: string, password?: string, };

/**
 * The signed device block of `connect`.
 */
export type DeviceAuth = { id: string, publicKey: string, signature: string, signedAt: number, nonce?: string, };

export type ConnectParams = { minProtocol: number, maxProtocol: number, client: ClientInfo, role?: string, scopes?: Array<string>, caps?: Array<string>, commands?: Array<string>, permissions?: { [key in string]: JsonValue }, pathEnv?: string, auth?: ConnectAuth, device?: DeviceAuth, locale?: string, userAgent?: string, };

export type ServerInfo = { version: string, connId: string, };

export type Features = { methods: Array<string>, events: Array<string>, capabilities?: Array<string>, };

export type SessionDefaults = { defaultAgentId: string, mainKey: string, mainSessionKey: string, scope: string, };

export type Snapshot = { presence: Array<JsonValue>, health: JsonValue, stateVersion: StateVersion, uptimeMs: number, sessionDefaults: SessionDefaults, };

export type HelloAuth = { method?: string, role: string, scopes: Array<string>, deviceToken?: string, issuedAtMs?: number, };

export type Policy = { maxPayload: number, maxBufferedBytes: number, tickIntervalMs: number, };

/**
 * The `res.payload` of a successful `connect`.
 */
export type HelloOk = { 
/**
 * Always `"hello-ok"`.
 */
type: string, protocol: number, server: ServerInfo, features: Features, snapshot: Snapshot, auth: HelloAuth, policy: Policy, };

/**
 * The `health` result and `health` event payload (also `hello-ok.snapshot.health`). Pincer fills
 * the fields the OpenClaw CLI reads; the rest of OpenClaw's report passes through `extra`.
 */
export type HealthSnapshot = { ok: boolean, ts: number, durationMs?: number, uptimeMs?: number, version?: string, defaultAgentId?: string, agents?: Array<JsonValue>, sessions?: JsonValue, nodes?: JsonValue, connections?: number, };

/**
 * The `status` result: what runs where. Sub-reports OpenClaw's clients read are kept as JSON.
 */
export type StatusResult = { runtimeVersion: string, pid?: number, uptimeMs?: number, gateway?: StatusGateway, connections?: number, };

/**
 * `status.gateway`.
 */
export type StatusGateway = { port: number, 
/**
 * `loopback` or `lan`.
 */
bind: string, authMode: string, 
/**
 * The state directory, or `[redacted]` without `operator.admin`.
 */
stateDir: string, };

/**
 * One `system-presence` row / `presence` event entry: the gateway itself (`mode: "gateway"`,
 * `reason: "self"`) or a connected device.
 */
export type PresenceEntry = { host: string, ip?: string, clientId?: string, version?: string, platform?: string, deviceFamily?: string, mode?: string, deviceId?: string, roles?: Array<string>, scopes?: Array<string>, instanceId?: string, reason?: string, text?: string, ts: number, };

/**
 * `presence` event payload: the whole list.
 */
export type PresenceEvent = { presence: Array<PresenceEntry>, };

/**
 * `tick` event payload.
 */
export type TickEvent = { ts: number, };

/**
 * `shutdown` event payload, sent before the close with 1012.
 */
export type ShutdownEvent = { reason: string, restartExpectedMs?: number, };

/**
 * `logs.tail` params; every field optional.
 */
export type LogsTailParams = { 
/**
 * Byte offset to resume from (the previous result's `cursor`).
 */
cursor?: number, 
/**
 * 1..=5000 lines, default 500.
 */
limit?: number, 
/**
 * 1..=1,000,000 bytes, default 250,000.
 */
maxBytes?: number, };

/**
 * `logs.tail` result.
 */
export type LogsTailResult = { file: string, cursor: number, size: number, lines: Array<string>, truncated: boolean, reset: boolean, skippedBytes?: number, };

/**
 * `voicewake.set` params, `voicewake.get` / `voicewake.set` result and `voicewake.changed` payload.
 */
export type VoicewakeTriggers = { triggers: Array<string>, };

/**
 * `commands.list` result (Pincer has no slash commands yet: always empty).
 */
export type CommandsListResult = { commands: Array<JsonValue>, };

/**
 * `question.list` result (no agent questions yet: always empty).
 */
export type QuestionListResult = { questions: Array<JsonValue>, };

/**
 * `config.get` result: the config file as written and as resolved, secrets redacted. `raw` is
 * `null` when the file is missing or its text could not be provably redacted.
 */
export type ConfigSnapshot = { path: string, includedPaths: Array<string>, includeProvenance: Array<JsonValue>, exists: boolean, raw: string | null, parsed: JsonValue, sourceConfig: JsonValue, resolved: JsonValue, valid: boolean, runtimeConfig: JsonValue, config: JsonValue, hash: string, issues: Array<JsonValue>, warnings: Array<JsonValue>, legacyIssues: Array<JsonValue>, };

/**
 * `config.patch` params: an RFC 7386 merge patch as JSON5 text (`raw`, OpenClaw's form) or as
 * an object (`patch`, Pincer's). `baseHash` is the `hash` of the `config.get` it was made from.
 */
export type ConfigPatchParams = { raw?: string, patch?: JsonValue, baseHash?: string, 
/**
 * Accepted and ignored: arrays are always replaced whole.
 */
replacePaths?: Array<string>, sessionKey?: string, note?: string, };

/**
 * `config.patch` result: `{ok, path, hash, config, changedPaths}`, or `{ok, noop: true,
 * changedPaths: [], path, config}` when the patch changed nothing.
 */
export type ConfigPatchResult = { ok: boolean, noop?: boolean, changedPaths?: Array<string>, path: string, hash?: string, config: JsonValue, };

/**
 * A pending device pairing request (`device.pair.list` pending[], `device.pair.requested`).
 */
export type DevicePairRequest = { requestId: string, deviceId: string, publicKey: string, displayName?: string, platform?: string, deviceFamily?: string, clientId?: string, clientMode?: string, role?: string, roles: Array<string>, scopes: Array<string>, remoteIp?: string, silent: boolean, isRepair: boolean, ts: number, };

/**
 * Metadata of one role token of a paired device (never the token itself).
 */
export type DeviceTokenInfo = { role: string, scopes: Array<string>, createdAtMs: number, rotatedAtMs?: number, revokedAtMs?: number, lastUsedAtMs?: number, };

/**
 * A paired device (`device.pair.list` paired[], `device.pair.approve` device).
 */
export type PairedDevice = { deviceId: string, publicKey: string, displayName?: string, platform?: string, deviceFamily?: string, clientId?: string, clientMode?: string, role?: string, roles: Array<string>, scopes: Array<string>, approvedVia?: string, createdAtMs: number, approvedAtMs: number, lastSeenAtMs?: number, lastSeenReason?: string, connected?: boolean, tokens: Array<DeviceTokenInfo>, };

/**
 * `device.pair.resolved` / `node.pair.resolved` payload.
 */
export type PairResolved = { requestId: string, deviceId?: string, nodeId?: string, 
/**
 * `approved`, `rejected` or `expired`.
 */
decision: string, ts: number, };

/**
 * Params naming one pairing request: `device.pair.approve`, `device.pair.reject`,
 * `node.pair.approve`, `node.pair.reject`.
 */
export type PairRequestIdParams = { requestId: string, };

/**
 * Params naming one device: `device.pair.remove`.
 */
export type DeviceIdParams = { deviceId: string, };

/**
 * `device.pair.list` result.
 */
export type DevicePairListResult = { pending: Array<DevicePairRequest>, paired: Array<PairedDevice>, };

/**
 * `device.pair.approve` result.
 */
export type DevicePairApproveResult = { requestId: string, device: PairedDevice, };

/**
 * `device.pair.reject` result.
 */
export type DevicePairRejectResult = { requestId: string, deviceId: string, };

/**
 * `device.pair.rename` params and result (`label` trimmed, at most 64 characters; empty clears).
 */
export type DeviceRename = { deviceId: string, label: string, };

/**
 * `device.token.rotate` params. Without `scopes` the device's approved scopes are used.
 */
export type DeviceTokenRotateParams = { deviceId: string, 
/**
 * `operator` or `node`.
 */
role: string, scopes?: Array<string>, };

/**
 * `device.token.rotate` result. `token` is present only when the device rotated its own token
 * (`tokenDelivery: "in-band"`); otherwise it is `withheld-cross-device`.
 */
export type DeviceTokenRotateResult = { deviceId: string, role: string, scopes: Array<string>, rotatedAtMs: number, tokenDelivery: string, token?: string, };

/**
 * `device.token.revoke` params.
 */
export type DeviceTokenRevokeParams = { deviceId: string, role: string, };

/**
 * `device.token.revoke` result.
 */
export type DeviceTokenRevokeResult = { deviceId: string, role: string, revokedAtMs: number, };

/**
 * Params of the operator method `node.invoke`.
 */
export type NodeInvokeParams = { nodeId: string, command: string, params?: JsonValue, timeoutMs?: number, idempotencyKey: string, sessionKey?: string, };

/**
 * Payload of the `node.invoke.request` event a gateway sends to a node. v4 gateways send
 * `paramsJSON`; v3 sent `params`. Both are accepted.
 */
export type NodeInvokeRequest = { id: string, nodeId: string, command: string, paramsJSON?: string, params?: JsonValue, timeoutMs?: number, idempotencyKey?: string, sessionKey?: string, };

/**
 * `{code, message}` of a failed node command.
 */
export type NodeError = { code: string, message: string, };

/**
 * Params of the node method `node.invoke.result`: `payload` or `payloadJSON`.
 */
export type NodeInvokeResult = { id: string, nodeId: string, ok: boolean, payload?: JsonValue, payloadJSON?: string, error?: NodeError, };

/**
 * Params of `node.event` (node → gateway).
 */
export type NodeEventParams = { event: string, payload?: JsonValue, payloadJSON?: string, };

/**
 * `node.invoke.cancel` event payload (gateway → node).
 */
export type NodeInvokeCancel = { invokeId: string, nodeId: string, };

/**
 * `node.invoke` result: the node's answer, inline and as `payloadJSON` (OpenClaw sends both).
 */
export type NodeInvokeResponse = { ok: boolean, nodeId: string, command: string, payload?: JsonValue, payloadJSON?: string, };

/**
 * `node.invoke.cancel` params (operator): `invokeId`, or `id` as older clients send it.
 */
export type NodeInvokeCancelParams = { invokeId?: string, id?: string, };

/**
 * `node.invoke.cancel` result.
 */
export type NodeInvokeCancelResult = { ok: boolean, cancelled: boolean, };

/**
 * `node.invoke.result` result: `ignored` when no invoke was waiting for it (late or unknown id).
 */
export type NodeInvokeResultAck = { ok: boolean, ignored?: boolean, };

/**
 * `node.event` result. OpenClaw answers `{ok}`; Pincer adds what it did with the event.
 */
export type NodeEventResult = { ok: boolean, event?: string, handled?: boolean, reason?: string, };

/**
 * Params naming one node: `node.describe`, `node.pair.remove`, `exec.approvals.node.get`.
 */
export type NodeIdParams = { nodeId: string, };

/**
 * A node's declared surface as a pairing request records it (`node.pair.list` pending[],
 * `node.pair.requested`, `node.pair.request` params and result).
 */
export type NodePairRequest = { requestId?: string, nodeId: string, clientId?: string, clientMode?: string, displayName?: string, platform?: string, version?: string, deviceFamily?: string, caps?: Array<string>, commands?: Array<string>, permissions?: { [key in string]: JsonValue }, remoteIp?: string, 
/**
 * The operator scopes approving this surface needs (`operator.admin` for `system.run`).
 */
requiredApproveScopes?: Array<string>, silent?: boolean, ts?: number, };

/**
 * An approved node surface (`node.pair.list` paired[], `node.pair.approve` node).
 */
export type PairedNode = { nodeId: string, clientId?: string, clientMode?: string, displayName?: string, platform?: string, version?: string, deviceFamily?: string, caps?: Array<string>, commands?: Array<string>, permissions?: { [key in string]: JsonValue }, createdAtMs?: number, approvedAtMs?: number, lastSeenAtMs?: number, lastSeenReason?: string, };

/**
 * `node.pair.request` result.
 */
export type NodePairRequestResult = { 
/**
 * Always `pending`.
 */
status: string, request: NodePairRequest, 
/**
 * `false` when an identical request was already pending.
 */
created: boolean, };

/**
 * `node.pair.list` result.
 */
export type NodePairListResult = { pending: Array<NodePairRequest>, paired: Array<PairedNode>, };

/**
 * `node.pair.approve` result.
 */
export type NodePairApproveResult = { requestId: string, node: PairedNode, };

/**
 * `node.pair.reject` result.
 */
export type NodePairRejectResult = { requestId: string, nodeId: string, };

/**
 * `node.pair.verify` params.
 */
export type NodePairVerifyParams = { nodeId: string, token: string, };

/**
 * `{ok}`: `node.pair.verify`, `exec.approval.resolve`.
 */
export type OkResult = { ok: boolean, };

/**
 * `node.rename` params and result.
 */
export type NodeRename = { nodeId: string, displayName: string, };

/**
 * One node as `node.list` / `node.describe` show it: approved record, live session, approval state.
 */
export type NodeEntry = { nodeId: string, displayName?: string, platform?: string, version?: string, clientId?: string, clientMode?: string, deviceFamily?: string, remoteIp?: string, caps?: Array<string>, 
/**
 * The commands callable now: declared and approved.
 */
commands?: Array<string>, permissions?: { [key in string]: JsonValue }, pathEnv?: string, hostStats?: HostStats, sessionHost?: boolean, nodePluginTools?: Array<JsonValue>, connectedAtMs?: number, lastConnectedAtMs?: number, lastSeenAtMs?: number, lastSeenReason?: string, 
/**
 * `approved`, `pending-approval`, `pending-reapproval` or `unapproved`.
 */
approvalState?: string, pendingRequestId?: string, pendingDeclaredCommands?: Array<string>, pendingDeclaredCaps?: Array<string>, approvedAtMs?: number, paired?: boolean, connected?: boolean, 
/**
 * `node.describe` only: when the answer was made.
 */
ts?: number, };

/**
 * `node.list` result.
 */
export type NodeListResult = { ts: number, nodes: Array<NodeEntry>, };

/**
 * Params of the node-only `node.runnerInventory.update` (OpenClaw 2026.9 node hosts send it
 * after connecting; Pincer answers without using them).
 */
export type NodeRunnerInventoryUpdateParams = { protocolFeatures?: Array<string>, workerHost?: JsonValue, };

/**
 * Result of the node-only `node.runnerInventory.update` (when the surface is approved).
 */
export type NodeRunnerInventoryUpdateResult = { nodeId: string, };

/**
 * `node.skills.update` params (`skills`) and result (`nodeId`, `skills`).
 */
export type NodeSkillsUpdate = { nodeId?: string, skills: Array<JsonValue>, };

/**
 * `node.pluginTools.update` params (`tools`) and result (`nodeId`, `tools`).
 */
export type NodePluginToolsUpdate = { nodeId?: string, tools: Array<JsonValue>, };

/**
 * `node.hostStats` event payload: the node's last `node.host.stats` report.
 */
export type NodeHostStatsEvent = { nodeId: string, hostStats: HostStats, };

/**
 * `node.runnerInventory.changed` event payload.
 */
export type NodeRunnerInventoryChanged = { nodeId: string, };

/**
 * What a person (or the fallback) decided about one exec request.
 */
export type ExecDecision = "allow-once" | "allow-always" | "deny";

/**
 * `security`: deny > allowlist > full in strictness.
 */
export type ExecSecurity = "deny" | "allowlist" | "full";

/**
 * `ask`: always > on-miss > off in strictness.
 */
export type ExecAsk = "off" | "on-miss" | "always";

/**
 * One allowlist entry: a case-insensitive glob on the resolved binary path.
 */
export type AllowlistEntry = { id?: string, pattern: string, source?: string, };

/**
 * Policy fields shared by `defaults` and each agent entry.
 */
export type ExecPolicyFields = { security?: ExecSecurity, ask?: ExecAsk, askFallback?: ExecSecurity, allowlist?: Array<AllowlistEntry>, };

/**
 * `exec-approvals.json`, version 1. Unknown keys are kept.
 */
export type ExecApprovalsFile = { version: number, defaults?: ExecPolicyFields, agents?: { [key in string]: ExecPolicyFields }, };

/**
 * Result of `exec.approvals.get` / `system.execApprovals.get`: `{path, exists, hash, file}`.
 */
export type ExecApprovalsSnapshot = { path: string, exists: boolean, hash: string, file: JsonValue, };

/**
 * `exec.approvals.get` result: [`ExecApprovalsSnapshot`] plus the defaults in force where the
 * file says nothing.
 */
export type ExecApprovalsFileResult = { path: string, exists: boolean, hash: string, file: JsonValue, resolvedDefaults?: ExecResolvedDefaults, };

/**
 * `resolvedDefaults` of an approvals snapshot.
 */
export type ExecResolvedDefaults = { security: ExecSecurity, ask: ExecAsk, askFallback: ExecSecurity, };

/**
 * `exec.approvals.set` / `exec.approvals.node.set` / `system.execApprovals.set` params: the new
 * file, guarded by the `hash` it was edited from. `nodeId` only for `exec.approvals.node.set`.
 */
export type ExecApprovalsSetParams = { nodeId?: string, file?: JsonValue, baseHash?: string, };

/**
 * `exec.approval.request` params. The request is kept as sent (minus `id`, `timeoutMs`,
 * `twoPhase`, `requireDeliveryRoute`) and shown to the approving person, so unknown fields matter.
 */
export type ExecApprovalRequestParams = { id?: string, 
/**
 * The command line as text (or `systemRunPlan.commandText`).
 */
command?: string, 
/**
 * `gateway` (default) or `node`.
 */
host?: string, nodeId?: string, systemRunPlan?: JsonValue, agentId?: string, cwd?: string, ask?: ExecAsk, timeoutMs?: number, 
/**
 * Answer at once with [`ExecApprovalAccepted`]; the decision comes from `waitDecision`.
 */
twoPhase?: boolean, 
/**
 * Default true: with no approval client connected the request expires at once.
 */
requireDeliveryRoute?: boolean, };

/**
 * First answer of a two-phase `exec.approval.request`.
 */
export type ExecApprovalAccepted = { 
/**
 * Always `accepted`.
 */
status: string, id: string, createdAtMs: number, expiresAtMs: number, 
/**
 * `approval-client` or `none`.
 */
deliveryRoute: string, };

/**
 * How an approval ended: `exec.approval.request` (one-phase), `exec.approval.waitDecision`.
 * `decision` is `null` when nobody decided (then `effectiveDecision` is the fallback's).
 */
export type ExecApprovalResolution = { id: string, decision: ExecDecision | null, effectiveDecision: ExecDecision, createdAtMs: number, expiresAtMs: number, 
/**
 * `expired`, `no-approval-route`, ... when the approval ended without a person's answer.
 */
terminalReason?: string, };

/**
 * Params naming one approval: `exec.approval.get`, `exec.approval.waitDecision`.
 */
export type ExecApprovalIdParams = { id: string, };

/**
 * `exec.approval.resolve` params.
 */
export type ExecApprovalResolveParams = { id: string, decision: ExecDecision, };

/**
 * A pending approval: `exec.approval.list` entries and the `exec.approval.requested` payload.
 */
export type ExecApprovalSummary = { id: string, 
/**
 * The request as asked (see [`ExecApprovalRequestParams`]) plus `requestedBy`.
 */
request: JsonValue, createdAtMs: number, expiresAtMs: number, 
/**
 * Always `exec`.
 */
approvalKind?: string, };

/**
 * `exec.approval.get` result: the request and the decisions the person may give.
 */
export type ExecApprovalDetails = { id: string, commandText: string | null, commandPreview: string | null, allowedDecisions: Array<ExecDecision>, host: string | null, nodeId: string | null, agentId: string | null, cwd: string | null, request: JsonValue, createdAtMs: number, expiresAtMs: number, };

/**
 * `exec.approval.resolved` event payload.
 */
export type ExecApprovalResolvedEvent = { id: string, decision: ExecDecision, resolvedBy: string | null, ts: number, request: JsonValue, };

/**
 * One attachment of `chat.send` / `agent`: base64 `content` of an image (or text) file.
 */
export type ChatAttachment = { type?: string, mimeType?: string, fileName?: string, content?: string, };

/**
 * `chat.send` params. `idempotencyKey` becomes the run id.
 */
export type ChatSendParams = { sessionKey: string, message?: string, attachments?: Array<ChatAttachment>, timeoutMs?: number, 
/**
 * `off`, `minimal`, `low`, `medium`, `high` or `xhigh`.
 */
thinking?: JsonValue, idempotencyKey: string, };

/**
 * Where a run waits when the session is busy (`queue` of an ack).
 */
export type QueuePlacement = { mode: string, position: number, };

/**
 * `chat.send` result: the ack of a started (or queued) run, or the state of the run an
 * `idempotencyKey` already named (`in_flight`, `ok`, `error`, ...).
 */
export type ChatSendAck = { runId: string, status: string, queue?: QueuePlacement, interruptedActiveRun?: boolean, error?: string, queueDisposition?: string, 
/**
 * The run that answers this message (`collect` merged it into another).
 */
mergedInto?: string, };

/**
 * `chat.history` params.
 */
export type ChatHistoryParams = { sessionKey: string, 
/**
 * 1..=1000, default 200.
 */
limit?: number, maxChars?: number, };

/**
 * `chat.history` result: transcript messages, oldest first, each with its `__openclaw` envelope.
 */
export type ChatHistoryResult = { sessionKey: string, sessionId?: string, messages: Array<JsonValue>, thinkingLevel?: JsonValue, };

/**
 * The `__openclaw` envelope of a transcript message: its id, place and run.
 */
export type MessageEnvelope = { id: string, seq: number, runId?: string, };

/**
 * `chat.abort` params: every run of the session, or only `runId`.
 */
export type ChatAbortParams = { sessionKey: string, runId?: string, };

/**
 * `chat.abort` result.
 */
export type ChatAbortResult = { ok: boolean, aborted: boolean, runIds: Array<string>, };

/**
 * `chat.inject` params: an assistant message written into the transcript without a model.
 */
export type ChatInjectParams = { sessionKey: string, message: string, label?: string, };

/**
 * `chat.inject` result.
 */
export type ChatInjectResult = { ok: boolean, messageId: string, };

/**
 * `chat` event payload. `state` is `delta`, `final`, `error` or `aborted`; the other fields
 * depend on it (`message` and `deltaText` for deltas, `usage` and `stopReason` for `final`,
 * `errorMessage`/`errorKind` for `error`).
 */
export type ChatEvent = { runId: string, sessionKey: string, agentId?: string, seq: number, state: string, message?: JsonValue, deltaText?: string, usage?: JsonValue, stopReason?: string, errorMessage?: string, errorKind?: string, 
/**
 * The run that answers this one (`stopReason: "merged"`).
 */
mergedInto?: string, 
/**
 * What the queue did with the message: `merged` or `dropped`.
 */
queueDisposition?: string, };

/**
 * `agent` params. `idempotencyKey` becomes the run id; `timeout` is in seconds.
 */
export type AgentParams = { message: string, idempotencyKey: string, 
/**
 * Default: the main session.
 */
sessionKey?: string, extraSystemPrompt?: string, thinking?: JsonValue, attachments?: Array<ChatAttachment>, timeout?: number, };

/**
 * The first answer of `agent` (its final result follows as a second `res` with the same id).
 */
export type AgentAccepted = { runId: string, sessionKey: string, agentId: string, 
/**
 * Always `accepted`.
 */
status: string, acceptedAt: number, queue?: QueuePlacement, interruptedActiveRun?: boolean, };

/**
 * The final answer of `agent`: `status` `ok` or `error`, the reply in `result.payloads`.
 */
export type AgentFinal = { runId: string, status: string, summary: string, result: AgentRunResult, stopReason?: string, };

/**
 * `result` of [`AgentFinal`].
 */
export type AgentRunResult = { 
/**
 * `{text, mediaUrl}` items of the reply.
 */
payloads: Array<JsonValue>, 
/**
 * Duration, usage, model and stop reason of the run.
 */
meta: JsonValue, };

/**
 * `agent.wait` params. `timeoutMs` defaults to 30 s.
 */
export type AgentWaitParams = { runId: string, timeoutMs?: number, };

/**
 * `agent.wait` result: `status` `ok`, `error` or `timeout` (then no times).
 */
export type AgentWaitResult = { runId: string, status: string, startedAt?: number, endedAt?: number, error?: string, };

/**
 * A thinking level as offered to a picker.
 */
export type ThinkingLevelOption = { id: string, label: string, };

/**
 * `model` of an agent: `primary` and `fallbacks` as `provider/model`.
 */
export type AgentModel = { primary?: string, fallbacks?: Array<string>, };

/**
 * One agent of `agents.list`.
 */
export type AgentSummary = { id: string, workspace?: string, workspaceGit?: boolean, model?: AgentModel, thinkingLevels?: Array<ThinkingLevelOption>, thinkingOptions?: Array<string>, thinkingDefault?: string, };

/**
 * `agents.list` result.
 */
export type AgentsListResult = { defaultId: string, ownership?: string, selectionRequired?: boolean, mainKey?: string, scope?: string, agents: Array<AgentSummary>, };

/**
 * One model of `models.list`.
 */
export type ModelSummary = { id: string, name: string, provider: string, contextWindow?: number, reasoning?: boolean, 
/**
 * Input kinds: `text`, `image`.
 */
input?: Array<string>, 
/**
 * `default`, `fallback`.
 */
tags: Array<string>, 
/**
 * A key is configured, or the provider is local and needs none.
 */
available?: boolean, };

/**
 * `models.list` result.
 */
export type ModelsListResult = { models: Array<ModelSummary>, };

/**
 * `agent` event payload: one item of a run's `stream` (`lifecycle`, `assistant`, `thinking`,
 * `tool`); `data` depends on the stream (`phase` for lifecycle and tool).
 */
export type AgentEvent = { runId: string, stream: string, data: JsonValue, sessionKey: string, agentId?: string, sessionId?: string, seq: number, ts: number, isHeartbeat?: boolean, };

/**
 * Params naming one session: `key` (or `sessionKey`). `sessions.reset`, `sessions.delete`,
 * `sessions.compact`, `sessions.describe`, `sessions.messages.(un)subscribe`.
 */
export type SessionKeyParams = { key?: string, sessionKey?: string, 
/**
 * `sessions.messages.subscribe` only; not supported by Pincer (must not be true).
 */
includeApprovals?: boolean, };

/**
 * `sessions.list` params (also `sessions.subscribe`, which lists when given any).
 */
export type SessionsListParams = { limit?: number, };

/**
 * One session row: `sessions.list`, `sessions.patch`/`reset` `entry`, `sessions.describe`
 * (with the describe-only fields) and the `session` of session events.
 */
export type SessionEntry = { key: string, 
/**
 * `direct` or `group`.
 */
kind: string, sessionId: string, updatedAt: number, createdAt: number, messageCount: number, inputTokens: JsonValue, outputTokens: JsonValue, totalTokens: JsonValue, modelProvider?: string, model?: string, contextTokens?: number, label?: string, thinkingLevel?: string, verboseLevel?: string, compactionCount?: number, lastMessagePreview?: string, agentId?: string, isMain?: boolean, chatType?: string, thinkingLevels?: Array<ThinkingLevelOption>, thinkingOptions?: Array<string>, thinkingDefault?: string, snapshotAt?: number, };

/**
 * `defaults` of `sessions.list`: the configured primary model (empty without one).
 */
export type SessionDefaultsRow = { modelProvider?: string, model?: string, contextTokens?: number, };

/**
 * `sessions.list` result.
 */
export type SessionsListResult = { ts: number, count: number, defaults: SessionDefaultsRow, sessions: Array<SessionEntry>, };

/**
 * `sessions.preview` params.
 */
export type SessionsPreviewParams = { keys: Array<string>, 
/**
 * 1..=50 items per session, default 6.
 */
limit?: number, };

/**
 * One item of a session preview.
 */
export type SessionPreviewItem = { role: string, text: string, };

/**
 * One session of `sessions.preview`: `status` `ok`, `empty` or `missing`.
 */
export type SessionPreview = { key: string, status: string, items: Array<SessionPreviewItem>, };

/**
 * `sessions.preview` result.
 */
export type SessionsPreviewResult = { ts: number, previews: Array<SessionPreview>, };

/**
 * `sessions.resolve` params: by `sessionId`, by `label`, or by `key`.
 */
export type SessionsResolveParams = { sessionId?: string, label?: string, key?: string, sessionKey?: string, 
/**
 * Answer `{ok: false, key}` instead of an error for an unknown key.
 */
allowMissing?: boolean, };

/**
 * `sessions.resolve` result.
 */
export type SessionsResolveResult = { ok: boolean, key: string, agentId?: string, };

/**
 * `sessions.patch` params: each field set to a non-empty string, `null` to clear, absent to keep.
 * `Some(Value::Null)` is the clear, so these are JSON values, not strings.
 */
export type SessionsPatchParams = { key?: string, sessionKey?: string, label?: JsonValue, 
/**
 * `provider/model`.
 */
model?: JsonValue, thinkingLevel?: JsonValue, verboseLevel?: JsonValue, };

/**
 * `sessions.patch` / `sessions.reset` result.
 */
export type SessionUpdated = { ok: boolean, key: string, entry: SessionEntry, };

/**
 * `sessions.delete` result.
 */
export type SessionsDeleteResult = { ok: boolean, key: string, deleted: boolean, };

/**
 * `sessions.compact` result: `compacted` with the `result` counts, or not with the `reason`.
 */
export type SessionsCompactResult = { ok: boolean, key: string, compacted: boolean, reason?: string, result?: CompactionCounts, };

/**
 * What a compaction did.
 */
export type CompactionCounts = { summary?: string, tokensBefore?: number, tokensAfter?: number, messagesBefore: number, messagesAfter: number, };

/**
 * `sessions.describe` result (`session: null` for an unknown key).
 */
export type SessionsDescribeResult = { session: SessionEntry | null, };

/**
 * `sessions.subscribe` result (`list` when list params were given).
 */
export type SessionsSubscribeResult = { subscribed: boolean, list?: SessionsListResult, };

/**
 * `sessions.messages.subscribe` / `unsubscribe` result.
 */
export type SessionsMessagesSubscribeResult = { subscribed: boolean, key: string, };

/**
 * `sessions.changed` event payload. `reason`: `patch`, `reset`, `delete`, `compact`, ...
 */
export type SessionsChangedEvent = { sessionKey: string, agentId: string, sessionId: string, reason: string, ts: number, };

/**
 * `session.message` event payload: a message added to a transcript, with the session's row
 * as `session` (and its fields repeated at the top level, kept in `extra`).
 */
export type SessionMessageEvent = { sessionKey: string, agentId: string, message: JsonValue, messageId: string, messageSeq: number, runId?: string, session?: SessionEntry, };

/**
 * `session.operation` event payload: a long operation (`compact`) started or ended.
 */
export type SessionOperationEvent = { operationId: string, operation: string, sessionKey: string, agentId: string, ts: number, 
/**
 * `start` or `end`.
 */
phase: string, completed?: boolean, reason?: string, };

/**
 * `session.tool` event payload: a run's `agent` tool event (see [`crate::agent::AgentEvent`])
 * with the session's row.
 */
export type SessionToolEvent = { runId: string, 
/**
 * Always `tool`.
 */
stream: string, data: JsonValue, sessionKey: string, agentId?: string, sessionId?: string, seq: number, ts: number, session?: SessionEntry, };

/**
 * `system.run` / `system.run.prepare` params.
 */
export type SystemRunParams = { 
/**
 * argv; the first word is looked up on the node's PATH.
 */
command: Array<string>, 
/**
 * How the command is shown; must describe the same command as argv.
 */
rawCommand?: string, cwd?: string, env?: { [key in string]: string }, timeoutMs?: number, agentId?: string, sessionKey?: string, 
/**
 * Set by the gateway after a person approved the run.
 */
approved?: boolean, approvalDecision?: string, runId?: string, };

/**
 * `system.run` result. `exitCode` is `null` when the process did not exit by itself (not
 * started, killed); `error` is `null` when nothing went wrong.
 */
export type SystemRunResult = { exitCode: number | null, timedOut: boolean, success: boolean, stdout: string, stderr: string, error: string | null, 
/**
 * Output beyond the cap was dropped (Pincer always says; OpenClaw's node host does not).
 */
truncated?: boolean, durationMs?: number, 
/**
 * Environment overrides the node refused, with why (only when there were any).
 */
envDropped?: Array<EnvOverrideDropped>, };

/**
 * One `env` override of `system.run` the node did not pass on.
 */
export type EnvOverrideDropped = { key: string, reason: string, };

/**
 * The canonical plan of a run (`system.run.prepare`), shown to the approving person.
 */
export type SystemRunPlan = { argv: Array<string>, cwd: string | null, commandText: string, commandPreview: string, agentId: string, sessionKey: string | null, };

/**
 * `system.run.prepare` result.
 */
export type SystemRunPrepareResult = { cmdText: string, plan: SystemRunPlan, };

/**
 * Payload of the `exec.started`, `exec.denied` (with `reason`) and `exec.finished` (with the
 * outcome and the first 2,000 characters of stdout) node events.
 */
export type ExecEvent = { sessionKey: string | null, runId: string, 
/**
 * Always `node`.
 */
host: string, command: string, reason?: string, 
/**
 * `exec.finished` only; `null` when the process did not exit by itself.
 */
exitCode?: number | null, timedOut?: boolean, success?: boolean, output?: string, };

/**
 * `system.which` params: bare program names.
 */
export type SystemWhichParams = { bins: Array<string>, };

/**
 * `system.which` result: name → absolute path; names not found are left out.
 */
export type SystemWhichResult = { bins: { [key in string]: string }, };

/**
 * `system.notify` params (a title or a body is required).
 */
export type SystemNotifyParams = { title?: string, body?: string, 
/**
 * `true` or a sound name.
 */
sound?: JsonValue, 
/**
 * `passive`, `active` or `timeSensitive`.
 */
priority?: string, };

/**
 * `system.notify` result.
 */
export type SystemNotifyResult = { sent: boolean, };

/**
 * `screen.snapshot` params.
 */
export type ScreenSnapshotParams = { 
/**
 * `png` (default) or `jpeg`.
 */
format?: string, maxWidth?: number, 
/**
 * `0..=1` or `1..=100`.
 */
quality?: number, screenIndex?: number, };

/**
 * A still image: `screen.snapshot` (`png`/`jpeg`) and `camera.snap` (`jpg`) result.
 */
export type ImageResult = { format: string, base64: string, width: number, height: number, };

/**
 * `screen.record` params.
 */
export type ScreenRecordParams = { screenIndex?: number, 
/**
 * Default 10,000, at most 60,000.
 */
durationMs?: number, 
/**
 * Default 5, 1..=30.
 */
fps?: number, 
/**
 * `avi` or `mp4` (answered as MJPEG AVI).
 */
format?: string, 
/**
 * Accepted; audio is not captured.
 */
includeAudio?: boolean, maxWidth?: number, quality?: number, };

/**
 * A video clip: `screen.record` (with `screenIndex`) and `camera.clip` (with `deviceId`) result.
 */
export type ClipResult = { 
/**
 * Always `avi` (MJPEG).
 */
format: string, base64: string, durationMs: number, fps: number, hasAudio: boolean, width: number, height: number, 
/**
 * The size cap cut the clip short.
 */
truncated?: boolean, screenIndex?: number, deviceId?: string, };

/**
 * One camera of `camera.list`.
 */
export type CameraDevice = { 
/**
 * Stable within a run: pass it back as `deviceId`.
 */
id: string, name: string, 
/**
 * `front`, `back` or `unspecified` (desktop webcams do not know which way they face).
 */
position: string, deviceType: string, };

/**
 * `camera.list` result.
 */
export type CameraListResult = { devices: Array<CameraDevice>, };

/**
 * `camera.snap` params.
 */
export type CameraSnapParams = { 
/**
 * `front` or `back`.
 */
facing?: string, maxWidth?: number, quality?: number, 
/**
 * Only `jpg`.
 */
format?: string, delayMs?: number, deviceId?: string, };

/**
 * `camera.clip` params.
 */
export type CameraClipParams = { facing?: string, 
/**
 * Default 3,000, at most 60,000.
 */
durationMs?: number, includeAudio?: boolean, format?: string, deviceId?: string, fps?: number, maxWidth?: number, quality?: number, };

/**
 * `location.get` params.
 */
export type LocationGetParams = { 
/**
 * Default 10,000, at most 120,000.
 */
timeoutMs?: number, 
/**
 * Default 15,000.
 */
maxAgeMs?: number, 
/**
 * `coarse`, `balanced` (default) or `precise`.
 */
desiredAccuracy?: string, };

/**
 * `location.get` result. `timestamp` is RFC 3339 UTC with milliseconds.
 */
export type LocationResult = { lat: number, lon: number, accuracyMeters: number, timestamp: string, isPrecise: boolean, source: string, altitudeMeters?: number, speedMps?: number, headingDeg?: number, };

/**
 * The `node.host.stats` node event payload (and `hostStats` of `node.list` / `node.hostStats`).
 */
export type HostStats = { cpuCount?: number, loadAverage?: Array<number>, memoryTotalBytes?: number, memoryFreeBytes?: number, diskTotalBytes?: number, diskAvailableBytes?: number, 
/**
 * Set by the gateway when it stores the report.
 */
updatedAtMs?: number, };

