//! Gatehouse as the MCP client of each configured server, in the session (handshake)
//! era: `initialize` offering 2025-11-25, `notifications/initialized`, then requests.
//!
//! The handshake happens on first use and again, transparently, when the session is
//! lost (an HTTP server forgot it, or a stdio process was relaunched); concurrent first
//! requests share one handshake. Stdio servers are launched lazily, by the first request
//! that needs them, so a server nobody calls costs nothing and start-up never waits on
//! one. Gatehouse numbers its own upstream requests: an agent's ids never reach a server.
//! Requests a server sends back get `{}` for `ping` and "method not found" otherwise
//! (Gatehouse declares no client capabilities). A server's notifications reach the
//! caller only through a [`Relay`] given with the request, and only those that belong
//! to it (see [`relay`]); the rest are dropped.

mod backoff;
mod handshake;
mod http;
mod lines;
mod params;
mod process;
pub mod relay;
mod scan;
mod sse;
mod stdio;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use ::http::HeaderValue;
use gatehouse_core::config::{Config, McpServer, McpTransport, Secret, SecretSource};
use gatehouse_core::model::ToolName;
use serde_json::Value;
use tokio::time::Instant;

use crate::mcp_upstream::http::{Failure, HttpServer, SessionHeaders};
pub use crate::mcp_upstream::params::Params;
use crate::mcp_upstream::process::Process;
pub use crate::mcp_upstream::relay::Relay;
use crate::mcp_upstream::relay::Relaying;
use crate::mcp_upstream::stdio::Supervisor;
use crate::upstream::UpstreamClient;
use gatehouse_core::mcp::jsonrpc::{self, ErrorObject, Id};
use gatehouse_core::mcp::raw::Written;

/// A server's answer to one request: its result, or its JSON-RPC error.
pub type Outcome = Result<Value, ErrorObject>;

/// [`Outcome`] with the result as the server wrote it, checked to be one JSON value and
/// not parsed into a tree, its top members read with it: what a call passes on to its
/// agent.
pub type RawOutcome = Result<Written, ErrorObject>;

/// How long shutdown waits for each server (the closing DELETE, a process's exit).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why a request got no answer from the server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the MCP server is unavailable: {0}")]
    Unavailable(String),
    #[error("the MCP server did not answer in time")]
    Timeout,
    #[error("the MCP server broke the protocol: {0}")]
    Protocol(String),
    #[error("the MCP server's answer exceeds the response size limit")]
    TooLarge,
}

/// What the handshake agreed.
#[derive(Debug, Clone, PartialEq)]
pub struct Handshake {
    /// The revision both sides speak.
    pub protocol_version: &'static str,
    /// The server's whole `initialize` result: capabilities, serverInfo, instructions.
    pub result: Value,
}

/// One client per configured MCP server.
#[derive(Debug)]
pub struct Upstreams {
    servers: BTreeMap<ToolName, Arc<Upstream>>,
}

impl Upstreams {
    /// Builds a client for each server in `config.mcp_servers`. Nothing is launched or
    /// connected yet: that happens on each server's first request.
    pub fn start(config: &Config, client: &UpstreamClient) -> Self {
        let limits = &config.gateway.limits;
        let limit = usize::try_from(limits.max_response_body).unwrap_or(usize::MAX);
        let withheld = secret_variables(config);
        let servers = config
            .mcp_servers
            .values()
            .map(|server| {
                let upstream = Upstream::new(server, client, limit, &withheld);
                (server.name.clone(), Arc::new(upstream))
            })
            .collect();
        Self { servers }
    }

    pub fn get(&self, server: &ToolName) -> Option<&Arc<Upstream>> {
        self.servers.get(server)
    }

    /// Ends every session and stops every process, each within a grace period.
    pub async fn shutdown(&self) {
        let mut stopping = tokio::task::JoinSet::new();
        for upstream in self.servers.values() {
            let upstream = Arc::clone(upstream);
            stopping.spawn(async move {
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, upstream.shutdown()).await;
            });
        }
        while stopping.join_next().await.is_some() {}
    }
}

/// The environment variables holding upstream secrets. A stdio server is someone else's
/// code running with Gatehouse's environment: it must not find the credentials Gatehouse
/// keeps for other upstreams there (its own `env` may still set any of them).
fn secret_variables(config: &Config) -> Arc<[String]> {
    let tools = config.tools.values().filter_map(|tool| tool.auth.as_ref());
    let servers = config
        .mcp_servers
        .values()
        .filter_map(|server| match &server.transport {
            McpTransport::Http { auth, .. } => auth.as_ref(),
            McpTransport::Stdio(_) => None,
        });
    tools
        .chain(servers)
        .filter_map(|auth| match &auth.source {
            SecretSource::Env(variable) => Some(variable.clone()),
            SecretSource::File(_) => None,
        })
        .collect()
}

/// The client of one MCP server.
#[derive(Debug)]
pub struct Upstream {
    name: ToolName,
    transport: Transport,
    /// The current session; its lock is held through a handshake, so concurrent first
    /// requests wait for one handshake instead of making several.
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    /// The same session, read without the lock: every call after the handshake takes
    /// it from here (one atomic load), so concurrent calls do not queue on the mutex.
    current: arc_swap::ArcSwapOption<Session>,
    next_id: AtomicI64,
    handshakes: AtomicU64,
    closed: AtomicBool,
}

#[derive(Debug)]
enum Transport {
    Http(HttpServer),
    Stdio(Supervisor),
}

#[derive(Debug, Clone)]
struct Session {
    handshake: Arc<Handshake>,
    /// HTTP: the `Mcp-Session-Id` the server assigned, if any.
    http_id: Option<HeaderValue>,
    /// HTTP: the secret of the handshake, for the closing DELETE.
    secret: Option<Secret>,
    /// Stdio: the process the handshake was made with; the session dies with it.
    process: Option<Arc<Process>>,
}

impl Session {
    fn headers(&self) -> SessionHeaders<'_> {
        SessionHeaders {
            version: Some(self.handshake.protocol_version),
            id: self.http_id.as_ref(),
        }
    }

    fn usable(&self) -> bool {
        self.process.as_ref().is_none_or(|process| process.alive())
    }
}

impl Upstream {
    fn new(
        server: &McpServer,
        client: &UpstreamClient,
        limit: usize,
        withheld: &Arc<[String]>,
    ) -> Self {
        let name = server.name.clone();
        let transport = match &server.transport {
            McpTransport::Http { url, auth } => Transport::Http(HttpServer::new(
                name.clone(),
                url,
                auth.clone(),
                client.clone(),
                limit,
            )),
            McpTransport::Stdio(command) => Transport::Stdio(Supervisor::new(
                name.clone(),
                command.clone(),
                limit,
                Arc::clone(withheld),
            )),
        };
        Self {
            name,
            transport,
            session: tokio::sync::Mutex::new(None),
            current: arc_swap::ArcSwapOption::empty(),
            next_id: AtomicI64::new(1),
            handshakes: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &ToolName {
        &self.name
    }

    /// One request; returns the server's result or its JSON-RPC error object.
    /// `secret` is the current upstream secret for HTTP servers (sent as their
    /// `UpstreamAuth` says), `None` for stdio. `timeout` bounds everything, a launch or
    /// handshake on the way included.
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        secret: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Outcome, UpstreamError> {
        self.request_relaying(method, params, secret, timeout, None)
            .await
    }

    /// [`Upstream::request`], passing the notifications that belong to this request to
    /// `relay` while it runs: progress reported with the token Gatehouse sends (its own,
    /// one per request) and, over Streamable HTTP, log messages on the request's answer
    /// stream, as far as `relay` wants them.
    pub async fn request_relaying(
        &self,
        method: &str,
        params: Value,
        secret: Option<&Secret>,
        timeout: Duration,
        relay: Option<Relay>,
    ) -> Result<Outcome, UpstreamError> {
        let relaying = self.relaying(relay);
        let params = match &relaying {
            Some(relaying) => relaying.stamp(params),
            None => params,
        };
        let outcome = self
            .timed(method, params.to_string(), secret, timeout, relaying)
            .await?;
        tree(outcome)
    }

    /// [`Upstream::request_relaying`] for params already written as text, answered with
    /// the result as the server wrote it: a gated call's way, which passes the result on
    /// without parsing it into a tree and serialising it again.
    pub async fn call(
        &self,
        method: &str,
        params: Params<'_>,
        secret: Option<&Secret>,
        timeout: Duration,
        relay: Option<Relay>,
    ) -> Result<RawOutcome, UpstreamError> {
        let relaying = self.relaying(relay);
        let progress = relaying.as_ref().and_then(Relaying::token);
        let params = params.text(progress);
        self.timed(method, params, secret, timeout, relaying).await
    }

    /// The relay in use for one request, with a progress token of its own.
    fn relaying(&self, relay: Option<Relay>) -> Option<Relaying> {
        relay.map(|relay| {
            let token = format!("gatehouse-progress-{}", self.id());
            Relaying::new(relay, token, &self.name)
        })
    }

    /// One exchange within `timeout`, a launch or handshake on the way included.
    async fn timed(
        &self,
        method: &str,
        params: String,
        secret: Option<&Secret>,
        timeout: Duration,
        relaying: Option<Relaying>,
    ) -> Result<RawOutcome, UpstreamError> {
        let deadline = Instant::now() + timeout;
        let exchange = self.exchange(method, params, secret, deadline, relaying);
        tokio::time::timeout_at(deadline, exchange)
            .await
            .unwrap_or(Err(UpstreamError::Timeout))
    }

    /// The handshake's agreement, shaking hands first if there is no session.
    pub async fn connect(
        &self,
        secret: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Arc<Handshake>, UpstreamError> {
        let deadline = Instant::now() + timeout;
        let session = self.session(secret, deadline);
        let session = tokio::time::timeout_at(deadline, session)
            .await
            .unwrap_or(Err(UpstreamError::Timeout))?;
        Ok(Arc::clone(&session.handshake))
    }

    /// Handshakes completed so far (one per session).
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Processes launched so far (stdio; always 0 for HTTP).
    pub fn launches(&self) -> u64 {
        match &self.transport {
            Transport::Http(_) => 0,
            Transport::Stdio(supervisor) => supervisor.launches(),
        }
    }

    /// Ends the session (HTTP: `DELETE`, best effort) or stops the process; later
    /// requests fail as unavailable.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.current.store(None);
        let session = self.session.lock().await.take();
        match &self.transport {
            Transport::Http(server) => {
                if let Some(session) = session.filter(|session| session.http_id.is_some()) {
                    server
                        .close(session.headers(), session.secret.as_ref())
                        .await;
                }
            }
            Transport::Stdio(supervisor) => supervisor.shutdown().await,
        }
    }

    /// Sends `params` (the final text, progress token included) in the current session.
    async fn exchange(
        &self,
        method: &str,
        params: String,
        secret: Option<&Secret>,
        deadline: Instant,
        mut relaying: Option<Relaying>,
    ) -> Result<RawOutcome, UpstreamError> {
        let session = self.session(secret, deadline).await?;
        match (&self.transport, &session.process) {
            (Transport::Http(server), _) => {
                let relaying = relaying.as_mut();
                self.http_exchange(server, session, method, params, secret, relaying)
                    .await
            }
            (Transport::Stdio(_), Some(process)) => {
                process
                    .call_relaying(self.id(), method, &params, relaying)
                    .await
            }
            (Transport::Stdio(_), None) => Err(UpstreamError::Unavailable(format!(
                "`{}` has no process",
                self.name
            ))),
        }
    }

    /// Sends over HTTP; a lost session is re-established once and the request resent
    /// (the server did not process it: it refused it for the unknown session).
    async fn http_exchange(
        &self,
        server: &HttpServer,
        session: Arc<Session>,
        method: &str,
        params: String,
        secret: Option<&Secret>,
        mut relaying: Option<&mut Relaying>,
    ) -> Result<RawOutcome, UpstreamError> {
        let first = server
            .call(
                &self.next(),
                method,
                &params,
                session.headers(),
                secret,
                relaying.as_deref_mut(),
            )
            .await;
        let lost = match first {
            Ok(reply) => return Ok(reply.outcome),
            Err(Failure::Failed(error)) => return Err(error),
            Err(Failure::SessionLost) => session,
        };
        tracing::info!(server = %self.name, "MCP session lost; shaking hands again");
        self.forget(&lost).await;
        let session = self.http_session(server, secret).await?;
        let retry = server
            .call(
                &self.next(),
                method,
                &params,
                session.headers(),
                secret,
                relaying,
            )
            .await;
        match retry {
            Ok(reply) => Ok(reply.outcome),
            Err(Failure::Failed(error)) => Err(error),
            Err(Failure::SessionLost) => Err(UpstreamError::Protocol(format!(
                "`{}` lost a session it had just created",
                self.name
            ))),
        }
    }

    /// The current session, made first if there is none (or it died with its process).
    async fn session(
        &self,
        secret: Option<&Secret>,
        deadline: Instant,
    ) -> Result<Arc<Session>, UpstreamError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(UpstreamError::Unavailable(format!(
                "`{}` is shut down",
                self.name
            )));
        }
        match &self.transport {
            Transport::Http(server) => self.http_session(server, secret).await,
            Transport::Stdio(supervisor) => self.stdio_session(supervisor, deadline).await,
        }
    }

    async fn http_session(
        &self,
        server: &HttpServer,
        secret: Option<&Secret>,
    ) -> Result<Arc<Session>, UpstreamError> {
        if let Some(session) = self.current.load_full() {
            return Ok(session);
        }
        // Shaking hands is rare (once, and again after a lost session) and its future
        // (three exchanges) is most of this one's size: on the heap, so the future every
        // call nests and moves stays small.
        Box::pin(self.shake_hands(server, secret)).await
    }

    /// Opens the session `http_session` found none of, unless another call did first.
    async fn shake_hands(
        &self,
        server: &HttpServer,
        secret: Option<&Secret>,
    ) -> Result<Arc<Session>, UpstreamError> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref() {
            return Ok(Arc::clone(session));
        }
        let none = SessionHeaders::default();
        let init = server
            .call(
                &self.next(),
                "initialize",
                &handshake::initialize_params().to_string(),
                none,
                secret,
                None,
            )
            .await
            .map_err(|failure| match failure {
                Failure::Failed(error) => error,
                Failure::SessionLost => UpstreamError::Protocol("`initialize` refused".to_owned()),
            })?;
        let agreed = match tree(init.outcome).and_then(handshake::agree) {
            Ok(agreed) => agreed,
            Err(error) => {
                let abandoned = SessionHeaders {
                    version: None,
                    id: init.session_id.as_ref(),
                };
                if abandoned.id.is_some() {
                    server.close(abandoned, secret).await;
                }
                return Err(error);
            }
        };
        let session = Session {
            handshake: Arc::new(agreed),
            http_id: init.session_id,
            secret: secret.cloned(),
            process: None,
        };
        let initialized = jsonrpc::notification("notifications/initialized", None);
        if let Err(error) = server.notify(&initialized, session.headers(), secret).await {
            server.close(session.headers(), secret).await;
            return Err(error);
        }
        Ok(self.keep(&mut current, session))
    }

    async fn stdio_session(
        &self,
        supervisor: &Supervisor,
        deadline: Instant,
    ) -> Result<Arc<Session>, UpstreamError> {
        let held = self.current.load_full();
        if let Some(session) = held.filter(|session| session.usable()) {
            return Ok(session);
        }
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref().filter(|session| session.usable()) {
            return Ok(Arc::clone(session));
        }
        *current = None;
        self.current.store(None);
        let process = supervisor.running(deadline).await?;
        let handshake = process.handshake(self.id()).await?;
        let session = Session {
            handshake: Arc::new(handshake),
            http_id: None,
            secret: None,
            process: Some(process),
        };
        Ok(self.keep(&mut current, session))
    }

    fn keep(&self, current: &mut Option<Arc<Session>>, session: Session) -> Arc<Session> {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            server = %self.name,
            version = session.handshake.protocol_version,
            "MCP session established"
        );
        let session = Arc::new(session);
        *current = Some(Arc::clone(&session));
        self.current.store(Some(Arc::clone(&session)));
        session
    }

    /// Drops `stale` unless a concurrent request already replaced it.
    async fn forget(&self, stale: &Session) {
        let mut current = self.session.lock().await;
        let same = current
            .as_ref()
            .is_some_and(|session| Arc::ptr_eq(&session.handshake, &stale.handshake));
        if same {
            *current = None;
            self.current.store(None);
        }
    }

    fn id(&self) -> i64 {
        // INVARIANT: ids only grow; 2^63 requests will not happen.
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn next(&self) -> Id {
        Id::Number(self.id())
    }
}

/// An answer as a tree, for the callers that read it.
fn tree(outcome: RawOutcome) -> Result<Outcome, UpstreamError> {
    match outcome {
        Ok(result) => serde_json::from_str(result.get())
            .map(Ok)
            .map_err(|error| UpstreamError::Protocol(format!("unreadable result: {error}"))),
        Err(error) => Ok(Err(error)),
    }
}
