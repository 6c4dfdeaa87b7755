//! One call's recording: the request's head and the first [`MAX_BODY`] bytes of its body
//! as they go to the tool, the response's head and body as they go to the agent. Bodies
//! are teed while they stream, so recording changes no byte and waits for nothing; the
//! recording is stored when its last part is dropped (the response body ended, or the
//! call failed before there was one).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use gatehouse_core::config::{Config, RecordingPolicy};
use gatehouse_core::refusal::Refusal;
use gatehouse_store::{Recording, Store};
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::MAX_BODY;
use crate::body::{BoxError, ResponseBody};
use crate::forensics::Tap;
use crate::pipeline::record::EventDraft;
use crate::secrets::Secrets;

const REDACTED: &str = "[redacted]";

/// Headers whose values are credentials whatever the tool.
const SENSITIVE: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Records one call; stored when dropped.
#[derive(Debug)]
pub struct Recorder {
    /// The tools' secrets, redacted from what is stored.
    secrets: Arc<Secrets>,
    store: Arc<dyn Store>,
    recording: Recording,
    redact: Vec<String>,
    /// The tool's segment says `recording = "required"`: the call proceeds only once
    /// its recording has been written (see [`Recorder::ensure_written`]).
    required: bool,
    capture: Arc<Mutex<Capture>>,
}

#[derive(Debug, Default)]
struct Capture {
    request: Side,
    response: Side,
}

#[derive(Debug, Default)]
struct Side {
    head: String,
    kept: Vec<u8>,
    total: u64,
}

impl Recorder {
    pub(super) fn new(
        tap: Tap<'_>,
        draft: &EventDraft,
        agent: &str,
        workflow: &str,
        tool: &str,
        redact: Vec<String>,
    ) -> Self {
        let recording = Recording {
            id: draft.id().to_string(),
            time_ms: draft.time_ms(),
            agent: agent.to_owned(),
            workflow: workflow.to_owned(),
            tool: tool.to_owned(),
            request: String::new(),
            response: String::new(),
        };
        let required = segment_of(tap.config, tool).is_some_and(|segment| {
            tap.config
                .segments
                .get(segment)
                .is_some_and(|segment| segment.recording == RecordingPolicy::Required)
        });
        Self {
            secrets: Arc::clone(tap.secrets),
            store: Arc::clone(tap.store),
            recording,
            redact,
            required,
            capture: Arc::default(),
        }
    }

    /// For a segment requiring recordings: writes what is recorded so far (the request's
    /// head) before the call goes on, and refuses the call when the store cannot take it.
    /// The whole recording replaces it when the call ends.
    pub async fn ensure_written(&self) -> Result<(), Refusal> {
        if !self.required {
            return Ok(());
        }
        let mut provisional = self.recording.clone();
        provisional.request = self.with(|capture| self.side_text(&capture.request));
        provisional.response = "(the call is in progress)".to_owned();
        self.secrets.redact(&mut provisional.request);
        let store = Arc::clone(&self.store);
        crate::blocking::store_call("recordings", move || store.put_recording(&provisional))
            .await
            .map_err(|error| Refusal::Internal {
                reason: format!(
                    "the segment requires a forensic recording and it cannot be written: {error}"
                ),
            })
    }

    /// The request as it goes to the tool: its head now, its body as it streams.
    pub fn request(&self, request: Request<ResponseBody>) -> Request<ResponseBody> {
        let (parts, body) = request.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |target| target.as_str());
        let head = format!(
            "{} {target} HTTP/1.1\r\n{}",
            parts.method,
            self.headers(&parts.headers)
        );
        self.with(|capture| capture.request.head = head);
        let tee = Tee {
            inner: body,
            capture: Arc::clone(&self.capture),
            response: false,
            _recorder: None,
        };
        Request::from_parts(parts, tee.boxed())
    }

    /// The response as it goes to the agent; the recording is stored when its body ends.
    pub fn response(self, response: Response<ResponseBody>) -> Response<ResponseBody> {
        let (parts, body) = response.into_parts();
        let head = format!(
            "HTTP/1.1 {}\r\n{}",
            parts.status,
            self.headers(&parts.headers)
        );
        self.with(|capture| capture.response.head = head);
        let tee = Tee {
            inner: body,
            capture: Arc::clone(&self.capture),
            response: true,
            _recorder: Some(self),
        };
        Response::from_parts(parts, tee.boxed())
    }

    /// An MCP request as sent to the server: the JSON-RPC method and params.
    pub fn mcp_request(&self, method: &str, params: &serde_json::Value) {
        let message = serde_json::json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.with(|capture| keep(&mut capture.request, message.to_string()));
    }

    /// The server's answer (a JSON-RPC `result` or `error` member); stores the recording.
    pub fn mcp_reply(self, reply: serde_json::Value) {
        self.with(|capture| keep(&mut capture.response, reply.to_string()));
    }

    fn with<T>(&self, change: impl FnOnce(&mut Capture) -> T) -> T {
        change(&mut self.capture.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn headers(&self, headers: &HeaderMap) -> String {
        let mut text = String::new();
        for (name, value) in headers {
            let hidden = value.is_sensitive()
                || SENSITIVE.contains(&name.as_str())
                || self
                    .redact
                    .iter()
                    .any(|field| field.eq_ignore_ascii_case(name.as_str()));
            let shown = if hidden {
                REDACTED.into()
            } else {
                String::from_utf8_lossy(value.as_bytes())
            };
            text.push_str(&format!("{name}: {shown}\r\n"));
        }
        text
    }

    fn side_text(&self, side: &Side) -> String {
        let body = String::from_utf8_lossy(&side.kept);
        let mut body = redact_json(&body, &self.redact).unwrap_or_else(|| body.into_owned());
        if side.total > side.kept.len() as u64 {
            body.push_str(&format!(
                "\n[recording cut at {} of {} bytes]",
                side.kept.len(),
                side.total
            ));
        }
        if side.head.is_empty() {
            return body;
        }
        format!("{}\r\n{body}", side.head)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let capture =
            std::mem::take(&mut *self.capture.lock().unwrap_or_else(PoisonError::into_inner));
        let mut recording = self.recording.clone();
        recording.request = self.side_text(&capture.request);
        recording.response = if capture.response.head.is_empty() && capture.response.total == 0 {
            "(no response: the call failed before the tool answered)".to_owned()
        } else {
            self.side_text(&capture.response)
        };
        self.secrets.redact(&mut recording.request);
        self.secrets.redact(&mut recording.response);
        let store = Arc::clone(&self.store);
        let write = move || {
            if let Err(error) = store.put_recording(&recording) {
                tracing::warn!(id = %recording.id, %error, "cannot store a forensic recording");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(write)),
            Err(_) => write(),
        }
    }
}

fn keep(side: &mut Side, text: String) {
    side.total = text.len() as u64;
    let mut bytes = text.into_bytes();
    bytes.truncate(MAX_BODY);
    side.kept = bytes;
}

/// The segment of a tool or MCP server.
fn segment_of<'a>(
    config: &'a Config,
    tool: &str,
) -> Option<&'a gatehouse_core::model::SegmentName> {
    match config.tools.get(tool) {
        Some(found) => Some(&found.segment),
        None => config.mcp_servers.get(tool).map(|server| &server.segment),
    }
}

/// `text` with the values of the `fields` replaced, at any depth, if it is JSON and
/// there is something to redact; `None` leaves it exactly as it was.
fn redact_json(text: &str, fields: &[String]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    redact_value(&mut value, fields);
    serde_json::to_string(&value).ok()
}

fn redact_value(value: &mut serde_json::Value, fields: &[String]) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if fields.iter().any(|field| field == key) {
                    *inner = REDACTED.into();
                } else {
                    redact_value(inner, fields);
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|item| redact_value(item, fields));
        }
        _ => {}
    }
}

/// A body passed through unchanged while its first bytes are kept.
struct Tee {
    inner: ResponseBody,
    capture: Arc<Mutex<Capture>>,
    response: bool,
    /// Held (never read) by the response's tee: dropping the body drops it, which stores
    /// the recording.
    _recorder: Option<Recorder>,
}

impl Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut capture = self.capture.lock().unwrap_or_else(PoisonError::into_inner);
            let side = if self.response {
                &mut capture.response
            } else {
                &mut capture.request
            };
            side.total += data.len() as u64;
            let room = MAX_BODY.saturating_sub(side.kept.len());
            side.kept
                .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
