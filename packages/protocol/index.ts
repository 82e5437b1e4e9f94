// Generated from the Rust types in protocol/ by ts-rs: do not edit.
// Regenerate: PINCER_WRITE_TS=1 cargo test -p pincer-protocol --test typescript

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One JSON text frame on the WebSocket.
 */
export type Frame = { "type": "req" } & RequestFrame | { "type": "res" } & ResponseFrame | { "type": "event" } & EventFrame | { "type": "cancel" } & CancelFrame;

export type RequestFrame = { id: string, method: string, params?: JsonValue | null, };

export type ResponseFrame = { id: string, ok: boolean, payload?: JsonValue | null, error?: ErrorShape | null, };

export type EventFrame = { event: string, payload?: JsonValue | null, 
/**
 * Per-connection monotonic counter of broadcast events.
 */
seq?: number | null, stateVersion?: StateVersion | null, };

export type CancelFrame = { id: string, };

/**
 * Versions of the shared state snapshots, bumped when they change.
 */
export type StateVersion = { presence: number, health: number, };

/**
 * `{code, message, details?, retryable?, retryAfterMs?}`.
 */
export type ErrorShape = { code: string, message: string, details?: JsonValue | null, retryable?: boolean | null, retryAfterMs?: number | null, };

/**
 * Payload of the `connect.challenge` event the server sends first on every socket.
 */
export type ConnectChallenge = { nonce: string, ts: number, };

export type Role = "operator" | "node";

export type ClientInfo = { id: string, version: string, platform: string, mode: string, displayName?: string | null, deviceFamily?: string | null, modelIdentifier?: string | null, instanceId?: string | null, };

/**
 * Credentials a client may present.
 */
export type ConnectAuth = { token?: string | null, bootstrapToken?: string | null, deviceToken?: string | null, password?: string | null, };

/**
 * The signed device block of `connect`.
 */
export type DeviceAuth = { id: string, publicKey: string, signature: string, signedAt: number, nonce?: string | null, };

export type ConnectParams = { minProtocol: number, maxProtocol: number, client: ClientInfo, role?: string | null, scopes?: Array<string> | null, caps?: Array<string> | null, commands?: Array<string> | null, permissions?: { [key in string]: JsonValue } | null, pathEnv?: string | null, auth?: ConnectAuth | null, device?: DeviceAuth | null, locale?: string | null, userAgent?: string | null, };

export type ServerInfo = { version: string, connId: string, };

export type Features = { methods: Array<string>, events: Array<string>, capabilities?: Array<string>, };

export type SessionDefaults = { defaultAgentId: string, mainKey: string, mainSessionKey: string, scope: string, };

export type Snapshot = { presence: Array<JsonValue>, health: JsonValue, stateVersion: StateVersion, uptimeMs: number, sessionDefaults: SessionDefaults, };

export type HelloAuth = { method?: string | null, role: string, scopes: Array<string>, deviceToken?: string | null, issuedAtMs?: number | null, };

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
export type HealthSnapshot = { ok: boolean, ts: number, durationMs?: number | null, uptimeMs?: number | null, version?: string | null, defaultAgentId?: string | null, agents?: Array<JsonValue> | null, sessions?: JsonValue | null, nodes?: JsonValue | null, connections?: number | null, };

/**
 * The `status` result: what runs where. Sub-reports OpenClaw's clients read are kept as JSON.
 */
export type StatusResult = { runtimeVersion: string, pid?: number | null, uptimeMs?: number | null, gateway?: StatusGateway | null, connections?: number | null, };

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
export type PresenceEntry = { host: string, ip?: string | null, clientId?: string | null, version?: string | null, platform?: string | null, deviceFamily?: string | null, mode?: string | null, deviceId?: string | null, roles?: Array<string> | null, scopes?: Array<string> | null, instanceId?: string | null, reason?: string | null, text?: string | null, ts: number, };

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
export type ShutdownEvent = { reason: string, restartExpectedMs?: number | null, };

/**
 * `logs.tail` params; every field optional.
 */
export type LogsTailParams = { 
/**
 * Byte offset to resume from (the previous result's `cursor`).
 */
cursor?: number | null, 
/**
 * 1..=5000 lines, default 500.
 */
limit?: number | null, 
/**
 * 1..=1,000,000 bytes, default 250,000.
 */
maxBytes?: number | null, };

/**
 * `logs.tail` result.
 */
export type LogsTailResult = { file: string, cursor: number, size: number, lines: Array<string>, truncated: boolean, reset: boolean, skippedBytes?: number | null, };

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
export type ConfigPatchParams = { raw?: string | null, patch?: JsonValue | null, baseHash?: string | null, 
/**
 * Accepted and ignored: arrays are always replaced whole.
 */
replacePaths?: Array<string> | null, sessionKey?: string | null, note?: string | null, };

/**
 * `config.patch` result: `{ok, path, hash, config, changedPaths}`, or `{ok, noop: true,
 * changedPaths: [], path, config}` when the patch changed nothing.
 */
export type ConfigPatchResult = { ok: boolean, noop?: boolean | null, changedPaths?: Array<string> | null, path: string, hash?: string | null, config: JsonValue, };

/**
 * A pending device pairing request (`device.pair.list` pending[], `device.pair.requested`).
 */
export type DevicePairRequest = { requestId: string, deviceId: string, publicKey: string, displayName?: string | null, platform?: string | null, deviceFamily?: string | null, clientId?: string | null, clientMode?: string | null, role?: string | null, roles: Array<string>, scopes: Array<string>, remoteIp?: string | null, silent: boolean, isRepair: boolean, ts: number, };

/**
 * Metadata of one role token of a paired device (never the token itself).
 */
export type DeviceTokenInfo = { role: string, scopes: Array<string>, createdAtMs: number, rotatedAtMs?: number | null, revokedAtMs?: number | null, lastUsedAtMs?: number | null, };

/**
 * A paired device (`device.pair.list` paired[], `device.pair.approve` device).
 */
export type PairedDevice = { deviceId: string, publicKey: string, displayName?: string | null, platform?: string | null, deviceFamily?: string | null, clientId?: string | null, clientMode?: string | null, role?: string | null, roles: Array<string>, scopes: Array<string>, approvedVia?: string | null, createdAtMs: number, approvedAtMs: number, lastSeenAtMs?: number | null, lastSeenReason?: string | null, connected?: boolean | null, tokens: Array<DeviceTokenInfo>, };

/**
 * `device.pair.resolved` / `node.pair.resolved` payload.
 */
export type PairResolved = { requestId: string, deviceId?: string | null, nodeId?: string | null, 
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
role: string, scopes?: Array<string> | null, };

/**
 * `device.token.rotate` result. `token` is present only when the device rotated its own token
 * (`tokenDelivery: "in-band"`); otherwise it is `withheld-cross-device`.
 */
export type DeviceTokenRotateResult = { deviceId: string, role: string, scopes: Array<string>, rotatedAtMs: number, tokenDelivery: string, token?: string | null, };

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
export type NodeInvokeParams = { nodeId: string, command: string, params?: JsonValue | null, timeoutMs?: number | null, idempotencyKey: string, sessionKey?: string | null, };

/**
 * Payload of the `node.invoke.request` event a gateway sends to a node. v4 gateways send
 * `paramsJSON`; v3 sent `params`. Both are accepted.
 */
export type NodeInvokeRequest = { id: string, nodeId: string, command: string, paramsJSON?: string | null, params?: JsonValue | null, timeoutMs?: number | null, idempotencyKey?: string | null, sessionKey?: string | null, };

/**
 * `{code, message}` of a failed node command.
 */
export type NodeError = { code: string, message: string, };

/**
 * Params of the node method `node.invoke.result`: `payload` or `payloadJSON`.
 */
export type NodeInvokeResult = { id: string, nodeId: string, ok: boolean, payload?: JsonValue | null, payloadJSON?: string | null, error?: NodeError | null, };

/**
 * Params of `node.event` (node → gateway).
 */
export type NodeEventParams = { event: string, payload?: JsonValue | null, payloadJSON?: string | null, };

/**
 * `node.invoke.cancel` event payload (gateway → node).
 */
export type NodeInvokeCancel = { invokeId: string, nodeId: string, };

/**
 * `node.invoke` result: the node's answer, inline and as `payloadJSON` (OpenClaw sends both).
 */
export type NodeInvokeResponse = { ok: boolean, nodeId: string, command: string, payload?: JsonValue | null, payloadJSON?: string | null, };

/**
 * `node.invoke.cancel` params (operator): `invokeId`, or `id` as older clients send it.
 */
export type NodeInvokeCancelParams = { invokeId?: string | null, id?: string | null, };

/**
 * `node.invoke.cancel` result.
 */
export type NodeInvokeCancelResult = { ok: boolean, cancelled: boolean, };

/**
 * `node.invoke.result` result: `ignored` when no invoke was waiting for it (late or unknown id).
 */
export type NodeInvokeResultAck = { ok: boolean, ignored?: boolean | null, };

/**
 * `node.event` result. OpenClaw answers `{ok}`; Pincer adds what it did with the event.
 */
export type NodeEventResult = { ok: boolean, event?: string | null, handled?: boolean | null, reason?: string | null, };

/**
 * Params naming one node: `node.describe`, `node.pair.remove`, `exec.approvals.node.get`.
 */
export type NodeIdParams = { nodeId: string, };

/**
 * A node's declared surface as a pairing request records it (`node.pair.list` pending[],
 * `node.pair.requested`, `node.pair.request` params and result).
 */
export type NodePairRequest = { requestId?: string | null, nodeId: string, clientId?: string | null, clientMode?: string | null, displayName?: string | null, platform?: string | null, version?: string | null, deviceFamily?: string | null, caps?: Array<string> | null, commands?: Array<string> | null, permissions?: { [key in string]: JsonValue } | null, remoteIp?: string | null, 
/**
 * The operator scopes approving this surface needs (`operator.admin` for `system.run`).
 */
requiredApproveScopes?: Array<string> | null, silent?: boolean | null, ts?: number | null, };

/**
 * An approved node surface (`node.pair.list` paired[], `node.pair.approve` node).
 */
export type PairedNode = { nodeId: string, clientId?: string | null, clientMode?: string | null, displayName?: string | null, platform?: string | null, version?: string | null, deviceFamily?: string | null, caps?: Array<string> | null, commands?: Array<string> | null, permissions?: { [key in string]: JsonValue } | null, createdAtMs?: number | null, approvedAtMs?: number | null, lastSeenAtMs?: number | null, lastSeenReason?: string | null, };

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
export type NodeEntry = { nodeId: string, displayName?: string | null, platform?: string | null, version?: string | null, clientId?: string | null, clientMode?: string | null, deviceFamily?: string | null, remoteIp?: string | null, caps?: Array<string> | null, 
/**
 * The commands callable now: declared and approved.
 */
commands?: Array<string> | null, permissions?: { [key in string]: JsonValue } | null, pathEnv?: string | null, hostStats?: HostStats | null, sessionHost?: boolean | null, nodePluginTools?: Array<JsonValue> | null, connectedAtMs?: number | null, lastConnectedAtMs?: number | null, lastSeenAtMs?: number | null, lastSeenReason?: string | null, 
/**
 * `approved`, `pending-approval`, `pending-reapproval` or `unapproved`.
 */
approvalState?: string | null, pendingRequestId?: string | null, pendingDeclaredCommands?: Array<string> | null, pendingDeclaredCaps?: Array<string> | null, approvedAtMs?: number | null, paired?: boolean | null, connected?: boolean | null, 
/**
 * `node.describe` only: when the answer was made.
 */
ts?: number | null, };

/**
 * `node.list` result.
 */
export type NodeListResult = { ts: number, nodes: Array<NodeEntry>, };

/**
 * Params of the node-only `node.runnerInventory.update` (OpenClaw 2026.9 node hosts send it
 * after connecting; Pincer answers without using them).
 */
export type NodeRunnerInventoryUpdateParams = { protocolFeatures?: Array<string> | null, workerHost?: JsonValue | null, };

/**
 * Result of the node-only `node.runnerInventory.update` (when the surface is approved).
 */
export type NodeRunnerInventoryUpdateResult = { nodeId: string, };

/**
 * `node.skills.update` params (`skills`) and result (`nodeId`, `skills`).
 */
export type NodeSkillsUpdate = { nodeId?: string | null, skills: Array<JsonValue>, };

/**
 * `node.pluginTools.update` params (`tools`) and result (`nodeId`, `tools`).
 */
export type NodePluginToolsUpdate = { nodeId?: string | null, tools: Array<JsonValue>, };

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
export type AllowlistEntry = { id?: string | null, pattern: string, source?: string | null, };

/**
 * Policy fields shared by `defaults` and each agent entry.
 */
export type ExecPolicyFields = { security?: ExecSecurity | null, ask?: ExecAsk | null, askFallback?: ExecSecurity | null, allowlist?: Array<AllowlistEntry> | null, };

/**
 * `exec-approvals.json`, version 1. Unknown keys are kept.
 */
export type ExecApprovalsFile = { version: number, defaults?: ExecPolicyFields | null, agents?: { [key in string]: ExecPolicyFields } | null, };

/**
 * Result of `exec.approvals.get` / `system.execApprovals.get`: `{path, exists, hash, file}`.
 */
export type ExecApprovalsSnapshot = { path: string, exists: boolean, hash: string, file: JsonValue, };

/**
 * `exec.approvals.get` result: [`ExecApprovalsSnapshot`] plus the defaults in force where the
 * file says nothing.
 */
export type ExecApprovalsFileResult = { path: string, exists: boolean, hash: string, file: JsonValue, resolvedDefaults?: ExecResolvedDefaults | null, };

/**
 * `resolvedDefaults` of an approvals snapshot.
 */
export type ExecResolvedDefaults = { security: ExecSecurity, ask: ExecAsk, askFallback: ExecSecurity, };

/**
 * `exec.approvals.set` / `exec.approvals.node.set` / `system.execApprovals.set` params: the new
 * file, guarded by the `hash` it was edited from. `nodeId` only for `exec.approvals.node.set`.
 */
export type ExecApprovalsSetParams = { nodeId?: string | null, file?: JsonValue | null, baseHash?: string | null, };

/**
 * `exec.approval.request` params. The request is kept as sent (minus `id`, `timeoutMs`,
 * `twoPhase`, `requireDeliveryRoute`) and shown to the approving person, so unknown fields matter.
 */
export type ExecApprovalRequestParams = { id?: string | null, 
/**
 * The command line as text (or `systemRunPlan.commandText`).
 */
command?: string | null, 
/**
 * `gateway` (default) or `node`.
 */
host?: string | null, nodeId?: string | null, systemRunPlan?: JsonValue | null, agentId?: string | null, cwd?: string | null, ask?: ExecAsk | null, timeoutMs?: number | null, 
/**
 * Answer at once with [`ExecApprovalAccepted`]; the decision comes from `waitDecision`.
 */
twoPhase?: boolean | null, 
/**
 * Default true: with no approval client connected the request expires at once.
 */
requireDeliveryRoute?: boolean | null, };

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
terminalReason?: string | null, };

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
approvalKind?: string | null, };

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
export type ChatAttachment = { type?: string | null, mimeType?: string | null, fileName?: string | null, content?: string | null, };

/**
 * `chat.send` params. `idempotencyKey` becomes the run id.
 */
export type ChatSendParams = { sessionKey: string, message?: string | null, attachments?: Array<ChatAttachment>, timeoutMs?: number | null, 
/**
 * `off`, `minimal`, `low`, `medium`, `high` or `xhigh`.
 */
thinking?: JsonValue | null, idempotencyKey: string, };

/**
 * Where a run waits when the session is busy (`queue` of an ack).
 */
export type QueuePlacement = { mode: string, position: number, };

/**
 * `chat.send` result: the ack of a started (or queued) run, or the state of the run an
 * `idempotencyKey` already named (`in_flight`, `ok`, `error`, ...).
 */
export type ChatSendAck = { runId: string, status: string, queue?: QueuePlacement | null, interruptedActiveRun?: boolean | null, error?: string | null, queueDisposition?: string | null, 
/**
 * The run that answers this message (`collect` merged it into another).
 */
mergedInto?: string | null, };

/**
 * `chat.history` params.
 */
export type ChatHistoryParams = { sessionKey: string, 
/**
 * 1..=1000, default 200.
 */
limit?: number | null, maxChars?: number | null, };

/**
 * `chat.history` result: transcript messages, oldest first, each with its `__openclaw` envelope.
 */
export type ChatHistoryResult = { sessionKey: string, sessionId?: string | null, messages: Array<JsonValue>, thinkingLevel?: JsonValue | null, };

/**
 * The `__openclaw` envelope of a transcript message: its id, place and run.
 */
export type MessageEnvelope = { id: string, seq: number, runId?: string | null, };

/**
 * `chat.abort` params: every run of the session, or only `runId`.
 */
export type ChatAbortParams = { sessionKey: string, runId?: string | null, };

/**
 * `chat.abort` result.
 */
export type ChatAbortResult = { ok: boolean, aborted: boolean, runIds: Array<string>, };

/**
 * `chat.inject` params: an assistant message written into the transcript without a model.
 */
export type ChatInjectParams = { sessionKey: string, message: string, label?: string | null, };

/**
 * `chat.inject` result.
 */
export type ChatInjectResult = { ok: boolean, messageId: string, };

/**
 * `chat` event payload. `state` is `delta`, `final`, `error` or `aborted`; the other fields
 * depend on it (`message` and `deltaText` for deltas, `usage` and `stopReason` for `final`,
 * `errorMessage`/`errorKind` for `error`).
 */
export type ChatEvent = { runId: string, sessionKey: string, agentId?: string | null, seq: number, state: string, message?: JsonValue | null, deltaText?: string | null, usage?: JsonValue | null, stopReason?: string | null, errorMessage?: string | null, errorKind?: string | null, 
/**
 * The run that answers this one (`stopReason: "merged"`).
 */
mergedInto?: string | null, 
/**
 * What the queue did with the message: `merged` or `dropped`.
 */
queueDisposition?: string | null, };

/**
 * `agent` params. `idempotencyKey` becomes the run id; `timeout` is in seconds.
 */
export type AgentParams = { message: string, idempotencyKey: string, 
/**
 * Default: the main session.
 */
sessionKey?: string | null, extraSystemPrompt?: string | null, thinking?: JsonValue | null, attachments?: Array<ChatAttachment> | null, timeout?: number | null, };

/**
 * The first answer of `agent` (its final result follows as a second `res` with the same id).
 */
export type AgentAccepted = { runId: string, sessionKey: string, agentId: string, 
/**
 * Always `accepted`.
 */
status: string, acceptedAt: number, queue?: QueuePlacement | null, interruptedActiveRun?: boolean | null, };

/**
 * The final answer of `agent`: `status` `ok` or `error`, the reply in `result.payloads`.
 */
export type AgentFinal = { runId: string, status: string, summary: string, result: AgentRunResult, stopReason?: string | null, };

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
export type AgentWaitParams = { runId: string, timeoutMs?: number | null, };

/**
 * `agent.wait` result: `status` `ok`, `error` or `timeout` (then no times).
 */
export type AgentWaitResult = { runId: string, status: string, startedAt?: number | null, endedAt?: number | null, error?: string | null, };

/**
 * A thinking level as offered to a picker.
 */
export type ThinkingLevelOption = { id: string, label: string, };

/**
 * `model` of an agent: `primary` and `fallbacks` as `provider/model`.
 */
export type AgentModel = { primary?: string | null, fallbacks?: Array<string> | null, };

/**
 * One agent of `agents.list`.
 */
export type AgentSummary = { id: string, workspace?: string | null, workspaceGit?: boolean | null, model?: AgentModel | null, thinkingLevels?: Array<ThinkingLevelOption> | null, thinkingOptions?: Array<string> | null, thinkingDefault?: string | null, };

/**
 * `agents.list` result.
 */
export type AgentsListResult = { defaultId: string, ownership?: string | null, selectionRequired?: boolean | null, mainKey?: string | null, scope?: string | null, agents: Array<AgentSummary>, };

/**
 * One model of `models.list`.
 */
export type ModelSummary = { id: string, name: string, provider: string, contextWindow?: number | null, reasoning?: boolean | null, 
/**
 * Input kinds: `text`, `image`.
 */
input?: Array<string> | null, 
/**
 * `default`, `fallback`.
 */
tags: Array<string>, 
/**
 * A key is configured, or the provider is local and needs none.
 */
available?: boolean | null, };

/**
 * `models.list` result.
 */
export type ModelsListResult = { models: Array<ModelSummary>, };

/**
 * `agent` event payload: one item of a run's `stream` (`lifecycle`, `assistant`, `thinking`,
 * `tool`); `data` depends on the stream (`phase` for lifecycle and tool).
 */
export type AgentEvent = { runId: string, stream: string, data: JsonValue, sessionKey: string, agentId?: string | null, sessionId?: string | null, seq: number, ts: number, isHeartbeat?: boolean | null, };

/**
 * Params naming one session: `key` (or `sessionKey`). `sessions.reset`, `sessions.delete`,
 * `sessions.compact`, `sessions.describe`, `sessions.messages.(un)subscribe`.
 */
export type SessionKeyParams = { key?: string | null, sessionKey?: string | null, 
/**
 * `sessions.messages.subscribe` only; not supported by Pincer (must not be true).
 */
includeApprovals?: boolean | null, };

/**
 * `sessions.list` params (also `sessions.subscribe`, which lists when given any).
 */
export type SessionsListParams = { limit?: number | null, };

/**
 * One session row: `sessions.list`, `sessions.patch`/`reset` `entry`, `sessions.describe`
 * (with the describe-only fields) and the `session` of session events.
 */
export type SessionEntry = { key: string, 
/**
 * `direct` or `group`.
 */
kind: string, sessionId: string, updatedAt: number, createdAt: number, messageCount: number, inputTokens: JsonValue, outputTokens: JsonValue, totalTokens: JsonValue, modelProvider?: string | null, model?: string | null, contextTokens?: number | null, label?: string | null, thinkingLevel?: string | null, verboseLevel?: string | null, compactionCount?: number | null, lastMessagePreview?: string | null, agentId?: string | null, isMain?: boolean | null, chatType?: string | null, thinkingLevels?: Array<ThinkingLevelOption> | null, thinkingOptions?: Array<string> | null, thinkingDefault?: string | null, snapshotAt?: number | null, };

/**
 * `defaults` of `sessions.list`: the configured primary model (empty without one).
 */
export type SessionDefaultsRow = { modelProvider?: string | null, model?: string | null, contextTokens?: number | null, };

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
limit?: number | null, };

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
export type SessionsResolveParams = { sessionId?: string | null, label?: string | null, key?: string | null, sessionKey?: string | null, 
/**
 * Answer `{ok: false, key}` instead of an error for an unknown key.
 */
allowMissing?: boolean | null, };

/**
 * `sessions.resolve` result.
 */
export type SessionsResolveResult = { ok: boolean, key: string, agentId?: string | null, };

/**
 * `sessions.patch` params: each field set to a non-empty string, `null` to clear, absent to keep.
 * `Some(Value::Null)` is the clear, so these are JSON values, not strings.
 */
export type SessionsPatchParams = { key?: string | null, sessionKey?: string | null, label?: JsonValue | null, 
/**
 * `provider/model`.
 */
model?: JsonValue | null, thinkingLevel?: JsonValue | null, verboseLevel?: JsonValue | null, };

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
export type SessionsCompactResult = { ok: boolean, key: string, compacted: boolean, reason?: string | null, result?: CompactionCounts | null, };

/**
 * What a compaction did.
 */
export type CompactionCounts = { summary?: string | null, tokensBefore?: number | null, tokensAfter?: number | null, messagesBefore: number, messagesAfter: number, };

/**
 * `sessions.describe` result (`session: null` for an unknown key).
 */
export type SessionsDescribeResult = { session: SessionEntry | null, };

/**
 * `sessions.subscribe` result (`list` when list params were given).
 */
export type SessionsSubscribeResult = { subscribed: boolean, list?: SessionsListResult | null, };

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
export type SessionMessageEvent = { sessionKey: string, agentId: string, message: JsonValue, messageId: string, messageSeq: number, runId?: string | null, session?: SessionEntry | null, };

/**
 * `session.operation` event payload: a long operation (`compact`) started or ended.
 */
export type SessionOperationEvent = { operationId: string, operation: string, sessionKey: string, agentId: string, ts: number, 
/**
 * `start` or `end`.
 */
phase: string, completed?: boolean | null, reason?: string | null, };

/**
 * `session.tool` event payload: a run's `agent` tool event (see [`crate::agent::AgentEvent`])
 * with the session's row.
 */
export type SessionToolEvent = { runId: string, 
/**
 * Always `tool`.
 */
stream: string, data: JsonValue, sessionKey: string, agentId?: string | null, sessionId?: string | null, seq: number, ts: number, session?: SessionEntry | null, };

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
rawCommand?: string | null, cwd?: string | null, env?: { [key in string]: string } | null, timeoutMs?: number | null, agentId?: string | null, sessionKey?: string | null, 
/**
 * Set by the gateway after a person approved the run.
 */
approved?: boolean | null, approvalDecision?: string | null, runId?: string | null, };

/**
 * `system.run` result. `exitCode` is `null` when the process did not exit by itself (not
 * started, killed); `error` is `null` when nothing went wrong.
 */
export type SystemRunResult = { exitCode: number | null, timedOut: boolean, success: boolean, stdout: string, stderr: string, error: string | null, 
/**
 * Output beyond the cap was dropped (Pincer always says; OpenClaw's node host does not).
 */
truncated?: boolean | null, durationMs?: number | null, 
/**
 * Environment overrides the node refused, with why (only when there were any).
 */
envDropped?: Array<EnvOverrideDropped> | null, };

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
host: string, command: string, reason?: string | null, 
/**
 * `exec.finished` only; `null` when the process did not exit by itself.
 */
exitCode?: number | null | null, timedOut?: boolean | null, success?: boolean | null, output?: string | null, };

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
export type SystemNotifyParams = { title?: string | null, body?: string | null, 
/**
 * `true` or a sound name.
 */
sound?: JsonValue | null, 
/**
 * `passive`, `active` or `timeSensitive`.
 */
priority?: string | null, };

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
format?: string | null, maxWidth?: number | null, 
/**
 * `0..=1` or `1..=100`.
 */
quality?: number | null, screenIndex?: number | null, };

/**
 * A still image: `screen.snapshot` (`png`/`jpeg`) and `camera.snap` (`jpg`) result.
 */
export type ImageResult = { format: string, base64: string, width: number, height: number, };

/**
 * `screen.record` params.
 */
export type ScreenRecordParams = { screenIndex?: number | null, 
/**
 * Default 10,000, at most 60,000.
 */
durationMs?: number | null, 
/**
 * Default 5, 1..=30.
 */
fps?: number | null, 
/**
 * `avi` or `mp4` (answered as MJPEG AVI).
 */
format?: string | null, 
/**
 * Accepted; audio is not captured.
 */
includeAudio?: boolean | null, maxWidth?: number | null, quality?: number | null, };

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
truncated?: boolean | null, screenIndex?: number | null, deviceId?: string | null, };

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
facing?: string | null, maxWidth?: number | null, quality?: number | null, 
/**
 * Only `jpg`.
 */
format?: string | null, delayMs?: number | null, deviceId?: string | null, };

/**
 * `camera.clip` params.
 */
export type CameraClipParams = { facing?: string | null, 
/**
 * Default 3,000, at most 60,000.
 */
durationMs?: number | null, includeAudio?: boolean | null, format?: string | null, deviceId?: string | null, fps?: number | null, maxWidth?: number | null, quality?: number | null, };

/**
 * `location.get` params.
 */
export type LocationGetParams = { 
/**
 * Default 10,000, at most 120,000.
 */
timeoutMs?: number | null, 
/**
 * Default 15,000.
 */
maxAgeMs?: number | null, 
/**
 * `coarse`, `balanced` (default) or `precise`.
 */
desiredAccuracy?: string | null, };

/**
 * `location.get` result. `timestamp` is RFC 3339 UTC with milliseconds.
 */
export type LocationResult = { lat: number, lon: number, accuracyMeters: number, timestamp: string, isPrecise: boolean, source: string, altitudeMeters?: number | null, speedMps?: number | null, headingDeg?: number | null, };

/**
 * The `node.host.stats` node event payload (and `hostStats` of `node.list` / `node.hostStats`).
 */
export type HostStats = { cpuCount?: number | null, loadAverage?: Array<number> | null, memoryTotalBytes?: number | null, memoryFreeBytes?: number | null, diskTotalBytes?: number | null, diskAvailableBytes?: number | null, 
/**
 * Set by the gateway when it stores the report.
 */
updatedAtMs?: number | null, };

