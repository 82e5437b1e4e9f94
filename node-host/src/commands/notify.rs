//! `system.notify {title, body, sound?, priority?}`: a real desktop notification.

use pincer_protocol::node_commands::{SystemNotifyParams, SystemNotifyResult};
use serde_json::Value;

use super::{parse_params, to_result, InvokeContext};
use crate::error::{codes, CommandError};

const MAX_TITLE: usize = 256;
const MAX_BODY: usize = 4_096;

pub async fn notify(params: Value, _ctx: InvokeContext) -> Result<Value, CommandError> {
    let params: SystemNotifyParams = parse_params("system.notify", params)?;
    let title = params.title.unwrap_or_default();
    let body = params.body.unwrap_or_default();
    if title.trim().is_empty() && body.trim().is_empty() {
        return Err(CommandError::invalid_request("system.notify needs a title or a body"));
    }
    let title: String = title.chars().take(MAX_TITLE).collect();
    let body: String = body.chars().take(MAX_BODY).collect();
    let urgency = match params.priority.as_deref() {
        Some("timeSensitive") => notify_rust::Urgency::Critical,
        Some("passive") => notify_rust::Urgency::Low,
        _ => notify_rust::Urgency::Normal,
    };
    let wants_sound = matches!(params.sound, Some(Value::Bool(true)) | Some(Value::String(_)));
    let shown = tokio::task::spawn_blocking(move || {
        let mut n = notify_rust::Notification::new();
        n.summary(if title.is_empty() { "Pincer" } else { &title }).body(&body).appname("Pincer");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(urgency);
            if wants_sound {
                n.sound_name("message-new-instant");
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (urgency, wants_sound);
        n.show().map(|_| ())
    })
    .await
    .map_err(|e| CommandError::new(codes::NOTIFY_UNAVAILABLE, format!("notification task failed: {e}")))?;
    match shown {
        Ok(()) => to_result("system.notify", &SystemNotifyResult { sent: true, extra: Default::default() }),
        Err(e) => Err(CommandError::new(
            codes::NOTIFY_UNAVAILABLE,
            format!("no notification service answered ({e}); on Linux this needs a desktop session bus with a notification daemon"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn empty_notifications_are_rejected() {
        let err = notify(json!({"title": " ", "body": ""}), InvokeContext::detached()).await.unwrap_err();
        assert_eq!(err.code, "INVALID_REQUEST");
    }
}
