//! Listeners and lifecycle: builds the runtime state, binds the data and control planes,
//! serves HTTP/1.1 and HTTP/2 (prior knowledge) on each, and shuts down gracefully —
//! stop accepting, let in-flight calls finish (bounded), then drain the event queue.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::clock::SharedClock;
use gatehouse_core::config::{Config, GatewaySettings, ListenerTls, StoreLocation};
use gatehouse_policy::{PolicyEngine, PolicyErrors};
use gatehouse_store::{PostgresStore, Store, StoreError};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::blocking::store_call;
use crate::body::ResponseBody;
use crate::events::{EventSink, EventWriter};
use crate::journal::{Journal, Recovered};
use crate::keys::{KeyError, KeyRing};
use crate::peer::Peer;
use crate::revocations::Revocations;
use crate::sinks::SinkTasks;
use crate::state::{Parts, State};
use crate::tls::Tls;

mod connection;
mod maintain;

use connection::Connection;
use maintain::maintain;

/// How long in-flight calls may run on after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sinks may go on delivering at shutdown, once every event is stored.
const SINK_GRACE: Duration = Duration::from_secs(2);

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("policy is invalid:\n{0}")]
    Policy(#[from] PolicyErrors),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot open the journal of forwarded calls in `{dir}`: {source}")]
    Journal {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS on the {listener} listener: {source}")]
    Tls {
        listener: &'static str,
        source: crate::tls::TlsError,
    },
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the configured store off the async workers (the PostgreSQL client runs a
/// runtime of its own, which must not start on one): the data directory's SQLite file,
/// verified (`datadir`), or the shared PostgreSQL database.
async fn open_store(
    location: StoreLocation,
    data_dir: PathBuf,
) -> Result<Arc<dyn Store>, StartError> {
    let opened = tokio::task::spawn_blocking(move || match &location {
        StoreLocation::Sqlite(_) => crate::datadir::open(&data_dir)
            .map(|store| Arc::new(store) as Arc<dyn Store>)
            .map_err(StartError::from),
        StoreLocation::Postgres(url) => PostgresStore::open(url.expose())
            .map(|store| Arc::new(store) as Arc<dyn Store>)
            .map_err(StartError::from),
    })
    .await;
    opened.map_err(|error| {
        StartError::Store(StoreError::Unavailable {
            location: "store".to_owned(),
            detail: error.to_string(),
        })
    })?
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    state: Arc<State>,
    data_addr: SocketAddr,
    control_addr: SocketAddr,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    maintenance: JoinHandle<()>,
    /// Applies other replicas' changes, on a shared store.
    follower: Option<JoinHandle<()>>,
    /// Reloads the policy files when they change (`policy.watch_ms`).
    policy_watcher: Option<JoinHandle<()>>,
    writer: EventWriter,
    /// Deliver stored events to the configured sinks.
    sinks: SinkTasks,
}

impl Gateway {
    /// Builds everything, then binds both listeners.
    pub async fn start(config: Config, clock: SharedClock) -> Result<Self, StartError> {
        let policy = PolicyEngine::build(&config)?;
        let data_dir = config.gateway.data_dir.clone();
        let store = open_store(config.gateway.store.clone(), data_dir.clone()).await?;
        let keys = KeyRing::load_or_generate(
            &data_dir.join("keys"),
            config.segments.keys(),
            clock.now().secs(),
        )?;
        let journal = open_journal(&data_dir.join("journal"), &store)?;
        let (sink, writer) = EventWriter::spawn(
            Arc::clone(&store),
            config.gateway.events_file.clone(),
            Some(Arc::clone(&journal.0)),
            config.gateway.limits.max_queued_events,
        );
        record_recovered(&sink, journal.1);
        let data_listen = config.gateway.data_listen;
        let control_listen = config.gateway.control_listen;
        let limits = &config.gateway.limits;
        let data_listening = Listening {
            max_header: limits.max_header_bytes,
            idle_timeout: limits.idle_timeout,
            max_connections: limits.max_data_connections,
        };
        let control_listening = Listening {
            max_connections: limits.max_control_connections,
            ..data_listening
        };
        let now = clock.now();
        let revocations_store = Arc::clone(&store);
        let (stored, quarantined) = store_call("revocations and quarantines", move || {
            let revoked = revocations_store.revocations(now.secs())?;
            Ok((revoked, revocations_store.quarantines(now.millis())?))
        })
        .await?;
        let state = Arc::new(State::new(Parts {
            config,
            policy,
            keys,
            store,
            events: sink,
            clock,
            revocations: Revocations::new(stored),
        }));
        state.quarantines.restore(quarantined);
        state.baselines.restore(now.millis()).await?;
        let (data_tls, control_tls) = load_tls(&state.config.gateway)?;
        crate::approved::install_runner(&state);
        let files = state.config.policies.len();
        let version = state.policy.version();
        crate::policy_reload::store_version(
            &state,
            &version,
            files,
            &crate::policy_reload::AtStart,
        )
        .await?;
        // Sets shared before this start are not followed: a replica starts on its own files.
        crate::policy_reload::mark_shared_seen(&state).await?;
        let data = bind(data_listen).await?;
        let control = bind(control_listen).await?;
        let (stop, stopped) = watch::channel(false);
        let (data_addr, control_addr) = (
            local_addr(&data, data_listen)?,
            local_addr(&control, control_listen)?,
        );
        let data_state = Arc::clone(&state);
        let control_state = Arc::clone(&state);
        let maintenance = tokio::spawn(maintain(Arc::clone(&state), stopped.clone()));
        let follower = crate::replicas::follow(&state)?;
        let policy_watcher = crate::policy_reload::spawn_watcher(&state, stopped.clone());
        let sinks = SinkTasks::spawn(
            &state.config.sinks,
            &state.sinks,
            &state.store,
            &state.events.stored(),
            &state.upstream,
        );
        warn_plaintext(&state, data_addr, data_tls.is_some(), "data");
        warn_plaintext(&state, control_addr, control_tls.is_some(), "control");
        let acceptors = (
            data_tls.as_ref().map(|tls| tls.acceptor()),
            control_tls.as_ref().map(|tls| tls.acceptor()),
        );
        let watched = [data_tls, control_tls].into_iter().flatten().collect();
        let servers = vec![
            tokio::spawn(serve_tls(
                data,
                stopped.clone(),
                data_listening,
                acceptors.0,
                move |request, peer| crate::router::handle(Arc::clone(&data_state), request, peer),
            )),
            tokio::spawn(serve_tls(
                control,
                stopped.clone(),
                control_listening,
                acceptors.1,
                move |request, _| crate::control::handle(Arc::clone(&control_state), request),
            )),
            tokio::spawn(crate::tls::watch(watched, tls_recorder(&state), stopped)),
        ];
        tracing::info!(%data_addr, %control_addr, "gatehouse listening");
        Ok(Self {
            state,
            data_addr,
            control_addr,
            stop,
            servers,
            maintenance,
            follower,
            policy_watcher,
            writer,
            sinks,
        })
    }

    pub fn data_addr(&self) -> SocketAddr {
        self.data_addr
    }

    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Stops accepting, waits for in-flight calls, then writes every queued event.
    pub async fn shutdown(self) {
        self.shutdown_within(DRAIN_TIMEOUT).await;
    }

    /// [`shutdown`](Self::shutdown), waiting `drain` for in-flight calls before cutting
    /// them (each still records its event).
    pub async fn shutdown_within(self, drain: Duration) {
        // Live tails never end by themselves; the control listener's drain must not wait.
        self.state.tails.close();
        let _ = self.stop.send(true);
        let mut servers = Box::pin(join_servers(self.servers));
        if tokio::time::timeout(drain, &mut servers).await.is_err() {
            // Calls still streaming are cut now, each recording its event as cut by
            // shutdown, so none is lost when the process exits.
            tracing::warn!("cutting calls still in flight after the drain timeout");
            self.state.stopping.send_replace(true);
            servers.await;
        }
        // A connection that outlived a listener's own drain is cut now too: its body ends,
        // recording its event, and lets go of the state the event writer waits on.
        self.state.stopping.send_replace(true);
        if let Err(error) = self.maintenance.await {
            tracing::error!(%error, "maintenance task failed");
        }
        // It holds the state, which must be dropped below for the event writer to end.
        for task in [self.follower, self.policy_watcher].into_iter().flatten() {
            task.abort();
            let _ = task.await;
        }
        if let Err(error) = self.state.workflows.flush_and_release().await {
            tracing::error!(%error, "workflow state could not be written at shutdown");
        }
        if let Err(error) = self.state.baselines.flush().await {
            tracing::error!(%error, "baseline counts could not be written at shutdown");
        }
        self.state.mcp.upstreams.shutdown().await;
        // The state holds the last event sink; once it is gone the writer drains and ends.
        drop(self.state);
        if tokio::time::timeout(DRAIN_TIMEOUT, self.writer.drained())
            .await
            .is_err()
        {
            tracing::error!("events still queued at shutdown could not all be written");
        }
        // What the sinks cannot deliver now waits in the store for the next start.
        self.sinks.stop(SINK_GRACE).await;
    }
}

/// Waits for every listener task, logging any that failed.
async fn join_servers(servers: Vec<JoinHandle<()>>) {
    for server in servers {
        if let Err(error) = server.await {
            tracing::error!(%error, "listener task failed");
        }
    }
}

/// Opens the journal of forwarded calls, finding the calls an earlier run forwarded
/// without recording their events.
fn open_journal(
    dir: &std::path::Path,
    store: &Arc<dyn Store>,
) -> Result<(Arc<Journal>, Recovered), StartError> {
    let recorded = |event: &gatehouse_core::event::Event| {
        store
            .event(event.id)
            .map(|found| found.is_some())
            .map_err(std::io::Error::other)
    };
    let (journal, recovered) =
        Journal::open(dir, recorded).map_err(|source| StartError::Journal {
            dir: dir.to_owned(),
            source,
        })?;
    Ok((Arc::new(journal), recovered))
}

/// Records the calls an earlier run was stopped in the middle of.
fn record_recovered(sink: &EventSink, recovered: Recovered) {
    if !recovered.events.is_empty() {
        tracing::warn!(
            calls = recovered.events.len(),
            "the last run stopped with forwarded calls unrecorded; recording them now"
        );
    }
    for (event, ticket) in recovered.events {
        sink.emit_journaled(event, ticket);
    }
}

/// A listener's TLS, if it has any.
type MaybeTls = Option<Arc<Tls>>;

/// Each listener's TLS, loaded before any port is bound so a bad file stops start-up.
fn load_tls(settings: &GatewaySettings) -> Result<(MaybeTls, MaybeTls), StartError> {
    let load = |listener: &'static str, files: Option<&ListenerTls>| {
        files
            .map(|files| Tls::load(listener, files).map(Arc::new))
            .transpose()
            .map_err(|source| StartError::Tls { listener, source })
    };
    Ok((
        load("data", settings.data_tls.as_ref())?,
        load("control", settings.control_tls.as_ref())?,
    ))
}

/// Plain HTTP is the quickstart's default on loopback; anywhere else it carries
/// credentials in clear, so it is said loudly, in the log and as an event.
fn warn_plaintext(state: &State, addr: SocketAddr, tls: bool, listener: &'static str) {
    if tls || addr.ip().is_loopback() {
        return;
    }
    tracing::warn!(
        %addr,
        listener,
        "the {listener} listener serves plain HTTP on a non-loopback address: credentials \
         and call content cross the network in clear; configure `gateway.{listener}_tls`"
    );
    crate::audit::record(
        state,
        crate::audit::Action {
            actor: "gatehouse",
            method: &http::Method::GET,
            uri: &http::Uri::from_static("/"),
            intent: "listener.plaintext",
            agent: None,
            workflow: None,
            detail: format!(
                "the {listener} listener on `{addr}` serves plain HTTP on a non-loopback address"
            ),
        },
    );
}

/// Records a TLS certificate reload (or a refused one) as an audit event.
fn tls_recorder(state: &Arc<State>) -> impl Fn(&'static str, String) + Send + use<> {
    let state = Arc::clone(state);
    move |intent, detail| {
        crate::audit::record(
            &state,
            crate::audit::Action {
                actor: "gatehouse",
                method: &http::Method::GET,
                uri: &http::Uri::from_static("/"),
                intent,
                agent: None,
                workflow: None,
                detail,
            },
        );
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

/// How one listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    /// Largest request header section (hyper's own cap is set well above it).
    pub max_header: usize,
    /// A connection that sends no byte of its first request, or of its next request's
    /// headers, for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections; past this a new connection is closed at once.
    pub max_connections: usize,
}

/// Serves `handler` on every connection of `listener` until `stop` turns true; the
/// handler learns each request's [`Peer`].
pub async fn serve<H, F>(
    listener: TcpListener,
    stop: watch::Receiver<bool>,
    listening: Listening,
    handler: H,
) where
    H: Fn(Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ResponseBody>> + Send + 'static,
{
    serve_tls(listener, stop, listening, None, handler).await;
}

/// [`serve`], over TLS when `tls` is set (every connection's handshake first).
pub async fn serve_tls<H, F>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    listening: Listening,
    tls: Option<TlsAcceptor>,
    handler: H,
) where
    H: Fn(Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ResponseBody>> + Send + 'static,
{
    // Every connection holds a receiver until it ends: sending asks them to finish, and
    // the sender's `closed` is the drain's end.
    let (drain, _) = watch::channel(());
    let builder = connection_builder(&listening);
    let slots = Arc::new(Semaphore::new(listening.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, addr)) = accepted else { continue };
                // Past the cap the connection is closed at once: its descriptor comes
                // back, and the other listener (with its own cap) keeps answering.
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::debug!(%addr, "connection cap reached; closing a new connection");
                    continue;
                };
                let connection = Connection {
                    builder: builder.clone(),
                    draining: drain.subscribe(),
                    idle_timeout: listening.idle_timeout,
                    tls: tls.clone(),
                };
                tokio::spawn(connection.serve(stream, addr, handler.clone(), slot));
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = drain.send(());
    if tokio::time::timeout(DRAIN_TIMEOUT, drain.closed())
        .await
        .is_err()
    {
        tracing::warn!("in-flight connections did not finish in time");
    }
}

fn connection_builder(listening: &Listening) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own cap sits well above ours so oversize headers reach the gateway's
    // check and get a problem document and an event, not a bare 431.
    let buffer = (listening.max_header * 4).max(16 * 1024);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listening.idle_timeout)
        .max_buf_size(buffer);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(buffer).unwrap_or(u32::MAX));
    builder
}

/// Spawns a server for `handler` on `addr`; for the bundled example tool and tests.
pub async fn spawn_server<H, F>(
    addr: SocketAddr,
    handler: H,
) -> std::io::Result<(SocketAddr, watch::Sender<bool>, JoinHandle<()>)>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ResponseBody>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let listening = Listening {
        max_header: 64 * 1024,
        idle_timeout: Duration::from_secs(10),
        max_connections: 1024,
    };
    let task = tokio::spawn(serve(listener, stopped, listening, move |request, _| {
        handler(request)
    }));
    Ok((local, stop, task))
}
