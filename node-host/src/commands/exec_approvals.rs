//! `system.execApprovals.get` / `.set`: the node's approvals file, for the gateway's
//! `exec.approvals.node.get|set` (the gateway blocks raw `node.invoke` of these).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{parse_params, InvokeContext};
use crate::approvals::ExecGate;
use crate::error::CommandError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetParams {
    file: Value,
    #[serde(default)]
    base_hash: Option<String>,
}

pub async fn get(gate: Arc<ExecGate>, _params: Value, _ctx: InvokeContext) -> Result<Value, CommandError> {
    let snapshot = gate.snapshot().map_err(|e| e.to_command_error())?;
    serde_json::to_value(snapshot).map_err(|e| CommandError::unavailable(e.to_string()))
}

pub async fn set(gate: Arc<ExecGate>, params: Value, _ctx: InvokeContext) -> Result<Value, CommandError> {
    let params: SetParams = parse_params("system.execApprovals.set", params)?;
    let (snapshot, warnings) = gate.set_with_warnings(params.file, params.base_hash.as_deref()).map_err(|e| e.to_command_error())?;
    let mut result = serde_json::to_value(snapshot).map_err(|e| CommandError::unavailable(e.to_string()))?;
    // Extra field, only when there is something to say: OpenClaw clients read the snapshot
    // fields they know and ignore the rest.
    if let (false, Some(obj)) = (warnings.is_empty(), result.as_object_mut()) {
        obj.insert("warnings".into(), Value::from(warnings));
    }
    Ok(result)
}
