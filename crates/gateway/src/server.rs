//! Listeners and lifecycle: builds the runtime state, binds the data and control planes,
//! serves HTTP/1.1 and HTTP/2 (prior knowledge) on each, and shuts down gracefully —
//! stop accepting, let in-flight calls finish (bounded), then drain the event queue.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::clock::SharedClock;
use gatehouse_core::config::Config;
use gatehouse_policy::{PolicyEngine, PolicyErrors};
use gatehouse_store::{SqliteStore, Store, StoreError};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::body::ResponseBody;
use crate::events::EventWriter;
use crate::keys::{KeyError, KeyRing};
use crate::revocations::Revocations;
use crate::state::{Parts, State};

/// How long in-flight calls may run on after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often changed workflow state is written to the store.
const WORKFLOW_FLUSH: Duration = Duration::from_millis(200);
/// How often keys and revocations are tidied.
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// Time allowed for a client to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("policy is invalid:\n{0}")]
    Policy(#[from] PolicyErrors),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
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
    writer: EventWriter,
}

impl Gateway {
    /// Builds everything, then binds both listeners.
    pub async fn start(config: Config, clock: SharedClock) -> Result<Self, StartError> {
        let policy = PolicyEngine::build(&config)?;
        let data_dir = config.gateway.data_dir.clone();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&data_dir.join("gatehouse.db"))?);
        let keys = KeyRing::load_or_generate(
            &data_dir.join("keys"),
            config.segments.keys(),
            clock.now().secs(),
        )?;
        let (sink, writer) =
            EventWriter::spawn(Arc::clone(&store), config.gateway.events_file.clone());
        let data_listen = config.gateway.data_listen;
        let control_listen = config.gateway.control_listen;
        let max_header = config.gateway.limits.max_header_bytes;
        let stored = store.revocations(clock.now().secs())?;
        let state = Arc::new(State::new(Parts {
            config,
            policy,
            keys,
            store,
            events: sink,
            clock,
            revocations: Revocations::new(stored),
        }));
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
        let servers = vec![
            tokio::spawn(serve(data, stopped.clone(), max_header, move |request| {
                crate::dataplane::handle(Arc::clone(&data_state), request)
            })),
            tokio::spawn(serve(control, stopped, max_header, move |request| {
                crate::control::handle(Arc::clone(&control_state), request)
            })),
        ];
        tracing::info!(%data_addr, %control_addr, "gatehouse listening");
        Ok(Self {
            state,
            data_addr,
            control_addr,
            stop,
            servers,
            maintenance,
            writer,
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
        let _ = self.stop.send(true);
        for server in self.servers {
            if let Err(error) = server.await {
                tracing::error!(%error, "listener task failed");
            }
        }
        if let Err(error) = self.maintenance.await {
            tracing::error!(%error, "maintenance task failed");
        }
        if let Err(error) = self.state.workflows.flush().await {
            tracing::error!(%error, "workflow state could not be written at shutdown");
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
    }
}

/// Background upkeep: writes changed workflows behind, re-reads upstream secrets,
/// retires old segment keys, forgets revocations of expired credentials and closes
/// upstream connections idle too long.
async fn maintain(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut flush = tokio::time::interval(WORKFLOW_FLUSH);
    let mut reload = tokio::time::interval(state.config.gateway.secrets_reload);
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    let mut retention = tokio::time::interval(crate::retention::EVERY);
    loop {
        tokio::select! {
            _ = retention.tick() => {
                crate::retention::prune(&state).await;
            }
            _ = flush.tick() => {
                if let Err(error) = state.workflows.flush().await {
                    tracing::error!(%error, "cannot write workflow state; will retry");
                }
            }
            _ = reload.tick() => state.secrets.reload(&state.config),
            _ = housekeeping.tick() => {
                let now = state.clock.now().secs();
                state.keys.retire_due(now);
                state.revocations.forget_expired(now);
                state.upstream.close_expired();
                state.anonymous.summarise_due(&state);
                match state.approvals.expire_due(now).await {
                    Ok(expired) => crate::approvals::record_settled(&state, &expired, "approval.expire"),
                    Err(error) => tracing::error!(%error, "cannot expire approvals; will retry"),
                }
            }
            _ = stop.changed() => break,
        }
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

/// Serves `handler` on every connection of `listener` until `stop` turns true.
pub async fn serve<H, F>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    max_header: usize,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ResponseBody>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let builder = connection_builder(max_header);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let service = service_fn(move |request| {
                    let response = handler(request);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight connections did not finish in time");
    }
}

fn connection_builder(max_header: usize) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own cap sits well above ours so oversize headers reach the gateway's
    // check and get a problem document and an event, not a bare 431.
    let buffer = (max_header * 4).max(16 * 1024);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
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
    let task = tokio::spawn(serve(listener, stopped, 64 * 1024, handler));
    Ok((local, stop, task))
}
