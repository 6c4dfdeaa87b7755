//! Streamable HTTP as a client (MCP 2025-11-25, "Transports"): every message is a POST
//! to the server's one endpoint, answered by one JSON message or by an event stream that
//! carries the response among the server's own notifications and requests. The
//! notifications on a request's stream are that request's: they go to its relay, if any.

use std::time::Duration;

use bytes::Bytes;
use gatehouse_core::config::{Secret, UpstreamAuth, UpstreamUrl};
use gatehouse_core::model::ToolName;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::body::{ResponseBody, full};
use crate::mcp_upstream::relay::{self, Relaying};
use crate::mcp_upstream::sse::EventStream;
use crate::mcp_upstream::{RawOutcome, UpstreamError, handshake};
use crate::problem::error_chain;
use crate::upstream::{LeasedBody, Origin, UpstreamClient};
use gatehouse_core::mcp::jsonrpc::{self, Id};
use gatehouse_core::mcp::raw::{self, RawMessage};

const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// The closing DELETE is a courtesy; shutdown does not wait longer for it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a message carries of the session: nothing before the handshake.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SessionHeaders<'a> {
    pub(super) version: Option<&'static str>,
    pub(super) id: Option<&'a HeaderValue>,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The server no longer knows the session and did not process the request: shake
    /// hands again and resend.
    SessionLost,
    Failed(UpstreamError),
}

impl From<UpstreamError> for Failure {
    fn from(error: UpstreamError) -> Self {
        Self::Failed(error)
    }
}

/// The answer to one request, with the session id the server assigned, if any.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) outcome: RawOutcome,
    pub(super) session_id: Option<HeaderValue>,
}

/// One Streamable HTTP server.
#[derive(Debug)]
pub(super) struct HttpServer {
    server: ToolName,
    client: UpstreamClient,
    origin: Origin,
    auth: Option<UpstreamAuth>,
    /// `auth`'s header name, parsed once: `None` when it is not a header name.
    auth_name: Option<HeaderName>,
    limit: usize,
}

impl HttpServer {
    pub(super) fn new(
        server: ToolName,
        url: &UpstreamUrl,
        auth: Option<UpstreamAuth>,
        client: UpstreamClient,
        limit: usize,
    ) -> Self {
        let auth_name = auth
            .as_ref()
            .and_then(|auth| HeaderName::from_bytes(auth.header.as_bytes()).ok());
        Self {
            server,
            client,
            origin: Origin::new(url),
            auth,
            auth_name,
            limit,
        }
    }

    /// Sends one request and reads its answer, passing the notifications on its answer
    /// stream to `relaying`.
    /// `params` is the params object as JSON text, serialised once by the caller (a
    /// request resent after a lost session reuses it).
    pub(super) async fn call(
        &self,
        id: &Id,
        method: &str,
        params: &str,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
        relaying: Option<&mut Relaying>,
    ) -> Result<Reply, Failure> {
        let message = Bytes::from(jsonrpc::request_text(id, method, params));
        let response = self.post(message, session, secret).await?;
        let session_id = response.headers().get(SESSION_ID).cloned();
        let outcome = self.answer(response, id, session, secret, relaying).await?;
        Ok(Reply {
            outcome,
            session_id,
        })
    }

    /// Sends a notification; the server acknowledges it with an empty 2xx.
    pub(super) async fn notify(
        &self,
        message: &Value,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
    ) -> Result<(), UpstreamError> {
        let message = Bytes::from(message.to_string());
        let response = self.post(message, session, secret).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = collect(response.into_body(), self.limit)
            .await
            .unwrap_or_default();
        Err(self.http_error(status, &body))
    }

    /// Ends the session, best effort: the server may have forgotten it already.
    pub(super) async fn close(&self, session: SessionHeaders<'_>, secret: Option<&Secret>) {
        let Ok(request) = self.request(Method::DELETE, Bytes::new(), session, secret) else {
            return;
        };
        let sent =
            tokio::time::timeout(CLOSE_TIMEOUT, self.client.send_to(&self.origin, request)).await;
        if let Ok(Ok(response)) = sent {
            tracing::debug!(server = %self.server, status = %response.status(), "MCP session closed");
        }
    }

    async fn post(
        &self,
        body: Bytes,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
    ) -> Result<Response<LeasedBody>, UpstreamError> {
        let request = self.request(Method::POST, body, session, secret)?;
        self.client
            .send_to(&self.origin, request)
            .await
            .map_err(|error| {
                UpstreamError::Unavailable(format!(
                    "cannot reach `{}`: {}",
                    self.origin.url(),
                    error_chain(&error)
                ))
            })
    }

    fn request(
        &self,
        method: Method,
        body: Bytes,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
    ) -> Result<Request<ResponseBody>, UpstreamError> {
        let has_body = !body.is_empty();
        let mut request = self
            .origin
            .base_request(method, full(body))
            .ok_or_else(|| unbuildable("the server's URL is not a request target"))?;
        let headers = request.headers_mut();
        let accept = HeaderValue::from_static("application/json, text/event-stream");
        headers.insert(header::ACCEPT, accept);
        if has_body {
            let json = HeaderValue::from_static("application/json");
            headers.insert(header::CONTENT_TYPE, json);
        }
        if let Some(version) = session.version {
            let version = HeaderValue::from_str(version)
                .map_err(|_| unbuildable("the protocol version is not a header value"))?;
            headers.insert(PROTOCOL_VERSION, version);
        }
        if let Some(id) = session.id {
            headers.insert(SESSION_ID, id.clone());
        }
        if let (Some(auth), Some(secret)) = (&self.auth, secret) {
            let name = self
                .auth_name
                .clone()
                .ok_or_else(|| unbuildable("the secret's header is not a valid header name"))?;
            let value = [auth.prefix.as_str(), secret.expose()].concat();
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| unbuildable("the secret is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(request)
    }

    /// Reads the answer to request `id`: one JSON message or an event stream.
    async fn answer(
        &self,
        response: Response<LeasedBody>,
        id: &Id,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
        relaying: Option<&mut Relaying>,
    ) -> Result<RawOutcome, Failure> {
        let status = response.status();
        if !status.is_success() {
            let body = collect(response.into_body(), self.limit)
                .await
                .unwrap_or_default();
            return Err(self.refusal(status, &body, session));
        }
        let media_type = media_type(&response);
        match media_type.as_str() {
            "application/json" => {
                let body = collect(response.into_body(), self.limit).await?;
                Ok(self.single(&body, id)?)
            }
            "text/event-stream" => Ok(self
                .stream(response.into_body(), id, session, secret, relaying)
                .await?),
            _ => Err(Failure::Failed(UpstreamError::Protocol(format!(
                "`{}` answered HTTP {status} with content type `{media_type}`, not JSON or an event stream",
                self.server
            )))),
        }
    }

    /// A request refused by status. 404 to a request carrying a session id means the
    /// session is gone (the spec's signal); so does a 400 that says so, which is what the
    /// TypeScript SDK's example servers (server-everything among them) send instead.
    fn refusal(&self, status: StatusCode, body: &[u8], session: SessionHeaders<'_>) -> Failure {
        let says_session = || {
            String::from_utf8_lossy(body)
                .to_ascii_lowercase()
                .contains("session")
        };
        let forgotten = status == StatusCode::NOT_FOUND
            || (status == StatusCode::BAD_REQUEST && says_session());
        if session.id.is_some() && forgotten {
            return Failure::SessionLost;
        }
        Failure::Failed(self.http_error(status, body))
    }

    fn http_error(&self, status: StatusCode, body: &[u8]) -> UpstreamError {
        UpstreamError::Unavailable(format!(
            "`{}` answered HTTP {status}: {}",
            self.server,
            excerpt(body)
        ))
    }

    /// The answer to `id` in a JSON body, its result kept as the server wrote it.
    fn single(&self, body: &[u8], id: &Id) -> Result<RawOutcome, UpstreamError> {
        match raw::from_server(body) {
            Ok(RawMessage::Response {
                id: answered,
                outcome,
            }) if answered == *id => Ok(outcome),
            Ok(RawMessage::Response { id: answered, .. }) => Err(UpstreamError::Protocol(format!(
                "`{}` answered request {id} with id {answered}",
                self.server
            ))),
            Ok(_) => Err(UpstreamError::Protocol(format!(
                "`{}` answered a request with a request or notification",
                self.server
            ))),
            Err(error) => Err(UpstreamError::Protocol(format!(
                "`{}` answered with an invalid JSON-RPC message: {}",
                self.server, error.message
            ))),
        }
    }

    /// Reads events until the response to `id`; the total is bounded by the limit.
    async fn stream(
        &self,
        mut body: LeasedBody,
        id: &Id,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
        mut relaying: Option<&mut Relaying>,
    ) -> Result<RawOutcome, UpstreamError> {
        let mut events = EventStream::default();
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                UpstreamError::Unavailable(format!("the event stream broke off: {error}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            total = total.saturating_add(data.len());
            if total > self.limit {
                return Err(UpstreamError::TooLarge);
            }
            for event in events.feed(&data) {
                let relaying = relaying.as_deref_mut();
                if let Some(outcome) = self.event(&event, id, session, secret, relaying) {
                    return Ok(outcome);
                }
            }
        }
        Err(UpstreamError::Protocol(format!(
            "`{}` ended the event stream without answering request {id}",
            self.server
        )))
    }

    /// One event: the response to `id`, or something read past.
    fn event(
        &self,
        data: &[u8],
        id: &Id,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
        relaying: Option<&mut Relaying>,
    ) -> Option<RawOutcome> {
        // Priming events (an event id, empty data) only serve resumption.
        if data.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        match raw::from_server(data) {
            Ok(RawMessage::Response {
                id: answered,
                outcome,
            }) if answered == *id => return Some(outcome),
            Ok(RawMessage::Response { id: answered, .. }) => {
                tracing::warn!(server = %self.server, %answered, "response to an unknown request id dropped");
            }
            Ok(RawMessage::Request { id, method, .. }) => {
                self.reply_to_server(&id, &method, session, secret);
            }
            Ok(RawMessage::Notification { method, params }) => match relaying {
                Some(relaying) => match relay::params(params) {
                    Some(params) => relaying.offer(&method, params),
                    None => {
                        tracing::warn!(server = %self.server, %method, "unreadable notification dropped")
                    }
                },
                None => {
                    tracing::debug!(server = %self.server, %method, "server notification not relayed");
                }
            },
            Err(error) => {
                tracing::warn!(server = %self.server, error = %error.message, "invalid event dropped");
            }
        }
        None
    }

    /// Answers a request the server sent mid-stream, in the background: the answer is
    /// its own POST, and the stream we are reading waits for it.
    fn reply_to_server(
        &self,
        id: &Id,
        method: &str,
        session: SessionHeaders<'_>,
        secret: Option<&Secret>,
    ) {
        let reply = match handshake::answer(method) {
            Ok(result) => jsonrpc::result(id, result),
            Err(error) => jsonrpc::error(Some(id), &error),
        };
        let Ok(request) = self.request(
            Method::POST,
            Bytes::from(reply.to_string()),
            session,
            secret,
        ) else {
            return;
        };
        let client = self.client.clone();
        let origin = self.origin.clone();
        let server = self.server.clone();
        let method = method.to_owned();
        tokio::spawn(async move {
            match client.send_to(&origin, request).await {
                // Read to the end, so the connection goes back to the pool.
                Ok(response) => drop(response.into_body().collect().await),
                Err(error) => {
                    tracing::debug!(%server, %method, %error, "answer to a server request not delivered");
                }
            }
        });
    }
}

/// Reads a whole body, failing past `limit` bytes.
async fn collect(mut body: LeasedBody, limit: usize) -> Result<Vec<u8>, UpstreamError> {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if body.size_hint().lower() > limit_u64 {
        return Err(UpstreamError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            UpstreamError::Unavailable(format!("the response broke off: {error}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len().saturating_add(data.len()) > limit {
                return Err(UpstreamError::TooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The response's media type, lowercase, without parameters.
fn media_type<B>(response: &Response<B>) -> String {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The start of an error body, printable, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().is_empty() {
        "(no body)".to_owned()
    } else {
        text
    }
}

fn unbuildable(why: &str) -> UpstreamError {
    UpstreamError::Unavailable(format!("cannot build the upstream request: {why}"))
}
