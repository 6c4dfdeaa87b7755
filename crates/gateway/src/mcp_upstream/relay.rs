//! The notifications that belong to one request, on their way to whoever made it: the
//! server's progress on that request (matched by the progress token Gatehouse sent with
//! it, never the agent's) and, over Streamable HTTP where they arrive on the request's
//! own answer stream, its log messages. Everything else a server notifies is dropped.
//! At most [`RELAY_LIMIT`] are relayed per request; the rest are dropped too.

use gatehouse_core::model::ToolName;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use gatehouse_core::mcp::jsonrpc;

/// Notifications relayed per request at most; a server that sends more is cut off.
pub const RELAY_LIMIT: usize = 1000;

/// Log levels of RFC 5424, as MCP names them, least severe first.
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

const PROGRESS: &str = "notifications/progress";
const MESSAGE: &str = "notifications/message";

/// Where the notifications of one request go, and which are wanted. Made with nothing
/// wanted; [`Relay::progress`] and [`Relay::logs_from`] add what the caller asked for.
#[derive(Debug)]
pub struct Relay {
    sender: mpsc::Sender<Value>,
    progress: bool,
    /// Log messages at or above this index of [`LOG_LEVELS`] are wanted; `None`: none.
    logs: Option<usize>,
}

impl Relay {
    /// Relays nothing yet. Each notification sent on `sender` is a whole JSON-RPC
    /// notification; a full or closed channel drops it (a size of [`RELAY_LIMIT`] is
    /// never full).
    pub fn new(sender: mpsc::Sender<Value>) -> Self {
        Self {
            sender,
            progress: false,
            logs: None,
        }
    }

    /// Also the server's progress: Gatehouse sends its own `progressToken` with the
    /// request, and relays `notifications/progress` carrying that token, unchanged (the
    /// receiver puts its own token back).
    #[must_use]
    pub fn progress(mut self) -> Self {
        self.progress = true;
        self
    }

    /// Also the request's log messages at `level` or above (a level not in
    /// [`LOG_LEVELS`] means all of them). Only Streamable HTTP ties a log message to a
    /// request; a stdio server's are never relayed.
    #[must_use]
    pub fn logs_from(mut self, level: &str) -> Self {
        self.logs = Some(severity(level).unwrap_or(0));
        self
    }
}

/// A notification's params as a tree, for relaying (a relayed notification is re-sent
/// with the agent's own progress token); `None` when they do not parse as one.
pub(super) fn params(raw: Option<&RawValue>) -> Option<Map<String, Value>> {
    match raw {
        Some(raw) => serde_json::from_str(raw.get()).ok(),
        None => Some(Map::new()),
    }
}

/// The index of `level` in [`LOG_LEVELS`].
pub fn severity(level: &str) -> Option<usize> {
    LOG_LEVELS.iter().position(|known| *known == level)
}

/// A relay in use for one request: its progress token, if progress is wanted, and how
/// many notifications it may still pass.
#[derive(Debug)]
pub(super) struct Relaying {
    relay: Relay,
    token: Option<String>,
    left: usize,
    server: ToolName,
}

impl Relaying {
    /// `token` is Gatehouse's progress token for this request (used only when progress
    /// is wanted).
    pub(super) fn new(relay: Relay, token: String, server: &ToolName) -> Self {
        let token = relay.progress.then_some(token);
        Self {
            relay,
            token,
            left: RELAY_LIMIT,
            server: server.clone(),
        }
    }

    /// The progress token the server is sent, when progress is wanted.
    pub(super) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `params` with the progress token in `_meta`, when progress is wanted.
    pub(super) fn stamp(&self, params: Value) -> Value {
        match (&self.token, params) {
            (Some(token), Value::Object(mut params)) => {
                let meta = params
                    .entry("_meta")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !meta.is_object() {
                    *meta = Value::Object(Map::new());
                }
                if let Value::Object(meta) = meta {
                    meta.insert("progressToken".to_owned(), Value::from(token.as_str()));
                }
                Value::Object(params)
            }
            (_, params) => params,
        }
    }

    /// A notification the server sent about this request: relayed when wanted and
    /// within the bound, dropped otherwise.
    pub(super) fn offer(&mut self, method: &str, params: Map<String, Value>) {
        if !self.wants(method, &params) {
            tracing::debug!(server = %self.server, %method, "server notification not relayed");
            return;
        }
        if self.left == 0 {
            tracing::debug!(
                server = %self.server,
                %method,
                "server notification dropped: {RELAY_LIMIT} already relayed for this request"
            );
            return;
        }
        self.left -= 1;
        let notification = jsonrpc::notification(method, Some(Value::Object(params)));
        match self.relay.sender.try_send(notification) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                tracing::debug!(server = %self.server, %method, "server notification dropped: the receiver is not keeping up");
            }
        }
    }

    fn wants(&self, method: &str, params: &Map<String, Value>) -> bool {
        match method {
            PROGRESS => {
                let sent = params.get("progressToken").and_then(Value::as_str);
                sent.is_some() && sent == self.token()
            }
            MESSAGE => {
                let level = params.get("level").and_then(Value::as_str);
                let at = level.and_then(severity).unwrap_or(LOG_LEVELS.len() - 1);
                self.relay.logs.is_some_and(|from| at >= from)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn relaying(relay: Relay) -> Relaying {
        Relaying::new(relay, "gatehouse-7".to_owned(), &ToolName::new("s"))
    }

    fn params(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn drain(receiver: &mut mpsc::Receiver<Value>) -> Vec<Value> {
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    #[test]
    fn only_progress_with_gatehouses_token_and_wanted_log_levels_pass() {
        let (sender, mut receiver) = mpsc::channel(RELAY_LIMIT);
        let mut relay = relaying(Relay::new(sender).progress().logs_from("warning"));
        relay.offer(
            PROGRESS,
            params(json!({"progressToken": "gatehouse-7", "progress": 1})),
        );
        relay.offer(
            PROGRESS,
            params(json!({"progressToken": "agent-token", "progress": 2})),
        );
        relay.offer(PROGRESS, params(json!({"progress": 3})));
        relay.offer(MESSAGE, params(json!({"level": "info", "data": "quiet"})));
        relay.offer(MESSAGE, params(json!({"level": "error", "data": "loud"})));
        relay.offer(
            "notifications/resources/updated",
            params(json!({"uri": "x"})),
        );
        let relayed = drain(&mut receiver);
        assert_eq!(relayed.len(), 2, "{relayed:?}");
        assert_eq!(relayed[0]["params"]["progress"], 1);
        assert_eq!(relayed[0]["method"], PROGRESS);
        assert_eq!(relayed[1]["params"]["data"], "loud");
    }

    #[test]
    fn nothing_is_relayed_unless_asked_for_and_no_token_is_sent() {
        let (sender, mut receiver) = mpsc::channel(RELAY_LIMIT);
        let mut relay = relaying(Relay::new(sender));
        assert_eq!(relay.token(), None);
        assert_eq!(relay.stamp(json!({"name": "x"})), json!({"name": "x"}));
        relay.offer(
            PROGRESS,
            params(json!({"progressToken": "gatehouse-7", "progress": 1})),
        );
        relay.offer(MESSAGE, params(json!({"level": "emergency", "data": "x"})));
        assert!(drain(&mut receiver).is_empty());
    }

    #[test]
    fn the_token_goes_in_meta_and_the_count_is_bounded() {
        let (sender, mut receiver) = mpsc::channel(RELAY_LIMIT);
        let mut relay = relaying(Relay::new(sender).progress());
        assert_eq!(
            relay.stamp(json!({"name": "x", "_meta": {"other": 1}})),
            json!({"name": "x", "_meta": {"other": 1, "progressToken": "gatehouse-7"}})
        );
        for progress in 0..RELAY_LIMIT + 5 {
            let note = json!({"progressToken": "gatehouse-7", "progress": progress});
            relay.offer(PROGRESS, params(note));
        }
        assert_eq!(drain(&mut receiver).len(), RELAY_LIMIT);
    }
}
