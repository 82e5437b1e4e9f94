//! The four frame envelopes: `req`, `res`, `event`, `cancel`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::error::ErrorShape;

/// One JSON text frame on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type")]
pub enum Frame {
    #[serde(rename = "req")]
    Req(RequestFrame),
    #[serde(rename = "res")]
    Res(ResponseFrame),
    #[serde(rename = "event")]
    Event(EventFrame),
    /// A client gives up on a pending request (additive; old servers ignore it).
    #[serde(rename = "cancel")]
    Cancel(CancelFrame),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RequestFrame {
    pub id: String,
    pub method: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ResponseFrame {
    pub id: String,
    pub ok: bool,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EventFrame {
    pub event: String,
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Per-connection monotonic counter of broadcast events.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[ts(optional)]
    #[serde(default, rename = "stateVersion", skip_serializing_if = "Option::is_none")]
    pub state_version: Option<StateVersion>,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CancelFrame {
    pub id: String,
    #[ts(skip)]
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Versions of the shared state snapshots, bumped when they change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StateVersion {
    pub presence: u64,
    pub health: u64,
}

/// Why a text frame could not be turned into a [`Frame`].
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("frame must be a JSON object")]
    NotAnObject,
    #[error("frame has no \"type\"")]
    MissingType,
    #[error("unknown frame type \"{0}\"")]
    UnknownType(String),
    #[error("invalid {kind} frame: {source}")]
    Shape {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Frame {
    /// Parse one text frame, telling apart bad JSON, unknown types and bad shapes so each
    /// can be answered with its own error.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(FrameError::Json)?;
        Frame::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let Value::Object(map) = value else {
            return Err(FrameError::NotAnObject);
        };
        let kind = match map.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(_) | None => return Err(FrameError::MissingType),
        };
        let value = Value::Object(map);
        let shape = |kind: &'static str| move |source| FrameError::Shape { kind, source };
        match kind.as_str() {
            "req" => serde_json::from_value(value).map(Frame::Req).map_err(shape("req")),
            "res" => serde_json::from_value(value).map(Frame::Res).map_err(shape("res")),
            "event" => serde_json::from_value(value).map(Frame::Event).map_err(shape("event")),
            "cancel" => serde_json::from_value(value).map(Frame::Cancel).map_err(shape("cancel")),
            other => Err(FrameError::UnknownType(other.to_string())),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every field is a JSON value already.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl RequestFrame {
    pub fn new(id: impl Into<String>, method: impl Into<String>, params: Value) -> Self {
        RequestFrame { id: id.into(), method: method.into(), params: Some(params), extra: Map::new() }
    }

    /// The params as an object, `{}` when absent or null.
    pub fn params_or_empty(&self) -> Value {
        match &self.params {
            Some(Value::Null) | None => Value::Object(Map::new()),
            Some(v) => v.clone(),
        }
    }
}

impl ResponseFrame {
    pub fn ok(id: impl Into<String>, payload: Value) -> Self {
        ResponseFrame { id: id.into(), ok: true, payload: Some(payload), error: None, extra: Map::new() }
    }

    pub fn err(id: impl Into<String>, error: ErrorShape) -> Self {
        ResponseFrame { id: id.into(), ok: false, payload: None, error: Some(error), extra: Map::new() }
    }
}

impl EventFrame {
    pub fn new(event: impl Into<String>, payload: Value) -> Self {
        EventFrame { event: event.into(), payload: Some(payload), seq: None, state_version: None, extra: Map::new() }
    }
}
