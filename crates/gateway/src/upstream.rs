//! The one upstream HTTP client: HTTP/1.1, kept alive and pooled per authority, over
//! TLS for `https://` upstreams. HTTP tools, MCP servers, event sinks and the
//! notification webhook all send through it (one pool, one TLS connector per upstream,
//! one timeout); the others address their upstream by an [`Origin`].
//!
//! A connection serves one call at a time. It leaves the pool for a call and travels
//! with the response body ([`LeasedBody`]); a body read to its end puts it back, anything
//! else (an error, a cut, an agent that went away) drops it, which closes it. Closing is
//! the only safe end for an HTTP/1.1 connection whose response was not read through.
//!
//! This replaces hyper-util's general-purpose pooled client on the request path, which
//! per call raced every checkout against a lazily started connect and spawned a task to
//! watch the connection become idle again; here a checkout is a lock and a pop.

use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::ResponseBody;
use crate::config_map::ConfigMap;

mod origin;
mod tls;

pub use origin::Origin;
pub use tls::TlsTarget;

/// Idle connections kept per authority; more are closed when they come back.
const MAX_IDLE_PER_AUTHORITY: usize = 512;
/// An idle connection older than this is closed rather than reused: servers drop idle
/// connections on their own schedule, and a request sent on one they just dropped fails.
/// Housekeeping closes such connections too ([`UpstreamClient::close_expired`]), so a tool
/// no longer called does not keep sockets open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an upstream call got no response head.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to `{authority}`: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    #[error("TLS with `{authority}` failed: {source}")]
    Tls {
        authority: String,
        source: std::io::Error,
    },
    #[error("HTTP/1.1 handshake with `{authority}` failed: {source}")]
    Handshake {
        authority: String,
        source: hyper::Error,
    },
    #[error("TLS to `{authority}` could not be set up (its host is no server name)")]
    TlsUnusable { authority: String },
    #[error("`{authority}` did not accept a connection within {} ms", timeout.as_millis())]
    ConnectTimeout {
        authority: String,
        timeout: Duration,
    },
    #[error("the upstream call failed: {0}")]
    Call(#[source] hyper::Error),
}

/// Pooled HTTP/1.1 connections to upstream tools. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    pool: Arc<Pool>,
    /// Connect, send and response head together; the body streams without it.
    pub timeout: Duration,
}

#[derive(Debug)]
struct Pool {
    /// By the tools' configured authorities.
    idle: Mutex<ConfigMap<Box<str>, Vec<Idle>>>,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<ResponseBody>,
    since: Instant,
}

impl UpstreamClient {
    pub fn new(timeout: Duration) -> Self {
        Self::with_idle_timeout(timeout, IDLE_TIMEOUT)
    }

    fn with_idle_timeout(timeout: Duration, idle_timeout: Duration) -> Self {
        let pool = Pool {
            idle: Mutex::default(),
            idle_timeout,
        };
        Self {
            pool: Arc::new(pool),
            timeout,
        }
    }

    /// Closes idle connections past the idle timeout or already closed by their server.
    pub fn close_expired(&self) {
        let mut idle = self.pool.lock();
        for list in idle.values_mut() {
            list.retain(|entry| self.pool.fresh(entry));
        }
        idle.retain(|_, list| !list.is_empty());
    }

    /// Sends `request` (origin-form URI, `Host` set) to `authority` on an idle
    /// connection, or a new one (over TLS when `tls` is set). A request an idle
    /// connection refused before writing any of it (the server closed it meanwhile) is
    /// sent again on a new connection.
    pub async fn send(
        &self,
        authority: &str,
        tls: Option<&TlsTarget>,
        request: Request<ResponseBody>,
    ) -> Result<Response<LeasedBody>, UpstreamError> {
        let mut request = request;
        let key = tls.map_or(authority, |tls| &tls.pool_key);
        while let Some(mut sender) = self.pool.checkout(key) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.lease(key, sender, response)),
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(UpstreamError::Call(error.into_error())),
                },
            }
        }
        // A new connection is the rare case, and its future (TCP, TLS, the HTTP/1
        // handshake) is most of this one's size: on the heap, so the pooled path's
        // future, nested and moved in every call's, stays small.
        let mut sender = Box::pin(connect(authority, tls, self.timeout)).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(UpstreamError::Call)?;
        Ok(self.lease(key, sender, response))
    }

    /// [`send`](Self::send) to a configured upstream; `request` comes from
    /// [`Origin::request`].
    pub async fn send_to(
        &self,
        origin: &Origin,
        request: Request<ResponseBody>,
    ) -> Result<Response<LeasedBody>, UpstreamError> {
        let tls = origin.tls().map_err(|()| UpstreamError::TlsUnusable {
            authority: origin.authority.to_string(),
        })?;
        self.send(&origin.authority, tls, request).await
    }

    fn lease(
        &self,
        authority: &str,
        sender: SendRequest<ResponseBody>,
        response: Response<Incoming>,
    ) -> Response<LeasedBody> {
        let lease = Lease {
            pool: Arc::downgrade(&self.pool),
            authority: authority.into(),
            sender,
        };
        response.map(|body| LeasedBody {
            body,
            lease: Some(lease),
        })
    }

    /// Idle connections held for `authority`.
    #[cfg(test)]
    fn idle(&self, authority: &str) -> usize {
        self.pool.lock().get(authority).map_or(0, Vec::len)
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConfigMap<Box<str>, Vec<Idle>>> {
        // The map holds no invariant a panicking holder could have broken halfway.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used open connection to `authority`, if any is fresh enough.
    fn checkout(&self, authority: &str) -> Option<SendRequest<ResponseBody>> {
        let mut idle = self.lock();
        let list = idle.get_mut(authority)?;
        while let Some(entry) = list.pop() {
            if self.fresh(&entry) {
                return Some(entry.sender);
            }
        }
        None
    }

    fn fresh(&self, entry: &Idle) -> bool {
        !entry.sender.is_closed() && entry.since.elapsed() < self.idle_timeout
    }

    fn put_back(&self, authority: Box<str>, sender: SendRequest<ResponseBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        let list = idle.entry(authority).or_default();
        if list.len() < MAX_IDLE_PER_AUTHORITY {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// A new connection to `authority`, its HTTP/1.1 state machine running as its own task;
/// connecting, TLS and the HTTP handshake together take at most `timeout`.
async fn connect(
    authority: &str,
    tls: Option<&TlsTarget>,
    timeout: Duration,
) -> Result<SendRequest<ResponseBody>, UpstreamError> {
    tokio::time::timeout(timeout, open(authority, tls))
        .await
        .map_err(|_| UpstreamError::ConnectTimeout {
            authority: authority.to_owned(),
            timeout,
        })?
}

async fn open(
    authority: &str,
    tls: Option<&TlsTarget>,
) -> Result<SendRequest<ResponseBody>, UpstreamError> {
    let connect_error = |source| UpstreamError::Connect {
        authority: authority.to_owned(),
        source,
    };
    let address = with_port(authority, tls.is_some());
    let stream = TcpStream::connect(&*address).await.map_err(connect_error)?;
    stream.set_nodelay(true).map_err(connect_error)?;
    let Some(tls) = tls else {
        return handshake(authority, TokioIo::new(stream)).await;
    };
    let stream = tls
        .handshake(stream)
        .await
        .map_err(|source| UpstreamError::Tls {
            authority: authority.to_owned(),
            source,
        })?;
    handshake(authority, TokioIo::new(stream)).await
}

/// `authority` with the scheme's default port when it names none (`host`, `[v6]`).
fn with_port(authority: &str, tls: bool) -> std::borrow::Cow<'_, str> {
    let has_port = match authority.rsplit_once(']') {
        Some((_, rest)) => rest.starts_with(':'),
        None => authority.contains(':'),
    };
    if has_port {
        return authority.into();
    }
    let port = if tls { 443 } else { 80 };
    format!("{authority}:{port}").into()
}

/// HTTP/1.1 over a connected (and, for `https`, TLS) stream.
async fn handshake<I>(authority: &str, io: I) -> Result<SendRequest<ResponseBody>, UpstreamError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|source| UpstreamError::Handshake {
            authority: authority.to_owned(),
            source,
        })?;
    // With upgrades, a `101 Switching Protocols` hands the connection to whoever asked
    // for it (a WebSocket route's tunnel) instead of ending it.
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// The tool's side of a `101 Switching Protocols`: its connection leaves the pool for
/// good (it now speaks the upgraded protocol) and is the returned upgrade's.
pub fn take_upgrade(response: &mut Response<LeasedBody>) -> hyper::upgrade::OnUpgrade {
    response.body_mut().lease = None;
    hyper::upgrade::on(response)
}

/// A connection out of the pool for one call.
#[derive(Debug)]
struct Lease {
    pool: Weak<Pool>,
    authority: Box<str>,
    sender: SendRequest<ResponseBody>,
}

impl Lease {
    fn give_back(self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.put_back(self.authority, self.sender);
        }
    }
}

/// An upstream response body that gives its connection back once read to its end.
#[derive(Debug)]
pub struct LeasedBody {
    body: Incoming,
    lease: Option<Lease>,
}

impl LeasedBody {
    fn give_back(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.give_back();
        }
    }
}

impl Body for LeasedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        match &frame {
            None => this.give_back(),
            Some(Ok(_)) if this.body.is_end_stream() => this.give_back(),
            // An error leaves the connection in an unknown state: it closes with the lease.
            Some(Err(_)) => this.lease = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for LeasedBody {
    fn drop(&mut self) {
        // A body with nothing to read (HEAD, 204, 304, `Content-Length: 0`) may never be
        // polled at all; its connection is as reusable as one read to the end.
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{Method, StatusCode, header};
    use http_body_util::BodyExt;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    use super::*;
    use crate::body::{empty, full};

    /// A loopback server counting the connections it accepted. `/close` answers with
    /// `Connection: close`; everything else with a body of `size` bytes.
    async fn server(size: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let service = service_fn(move |request: Request<Incoming>| async move {
                    let mut response = Response::new(full(vec![b'x'; size]));
                    if request.uri().path() == "/close" {
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, "close".parse().unwrap());
                    }
                    Ok::<_, std::convert::Infallible>(response)
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (authority, accepted)
    }

    fn get(authority: &str, path: &str) -> Request<ResponseBody> {
        Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::HOST, authority)
            .body(empty())
            .unwrap()
    }

    async fn read_through(client: &UpstreamClient, authority: &str, path: &str) -> Bytes {
        let response = client
            .send(authority, None, get(authority, path))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_gives_the_connection_back() {
        let (authority, accepted) = server(64).await;
        let client = UpstreamClient::new(Duration::from_secs(5));
        for _ in 0..3 {
            assert_eq!(read_through(&client, &authority, "/").await.len(), 64);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(client.idle(&authority), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_unread_closes_its_connection() {
        let (authority, accepted) = server(256 * 1024).await;
        let client = UpstreamClient::new(Duration::from_secs(5));
        let response = client
            .send(&authority, None, get(&authority, "/"))
            .await
            .unwrap();
        drop(response);
        assert_eq!(client.idle(&authority), 0);
        assert_eq!(
            read_through(&client, &authority, "/").await.len(),
            256 * 1024
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_calls_each_get_a_connection() {
        let (authority, accepted) = server(16).await;
        let client = UpstreamClient::new(Duration::from_secs(5));
        let held: Vec<_> = futures_util::future::join_all(
            (0..4).map(|_| client.send(&authority, None, get(&authority, "/"))),
        )
        .await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        for response in held {
            response.unwrap().into_body().collect().await.unwrap();
        }
        assert_eq!(client.idle(&authority), 4);
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_not_reused() {
        let (authority, accepted) = server(8).await;
        let client = UpstreamClient::new(Duration::from_secs(5));
        read_through(&client, &authority, "/close").await;
        // The closed connection may still be in the pool for a moment; a call must not
        // fail on it either way.
        for _ in 0..3 {
            assert_eq!(read_through(&client, &authority, "/").await.len(), 8);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn housekeeping_closes_connections_idle_too_long() {
        let (authority, accepted) = server(8).await;
        let client =
            UpstreamClient::with_idle_timeout(Duration::from_secs(5), Duration::from_millis(500));
        read_through(&client, &authority, "/").await;
        client.close_expired();
        assert_eq!(client.idle(&authority), 1);
        tokio::time::sleep(Duration::from_millis(600)).await;
        client.close_expired();
        assert_eq!(client.idle(&authority), 0);
        read_through(&client, &authority, "/").await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_authority_without_a_port_gets_its_schemes_default() {
        assert_eq!(with_port("example.org", false), "example.org:80");
        assert_eq!(with_port("example.org", true), "example.org:443");
        assert_eq!(with_port("[::1]", true), "[::1]:443");
        assert_eq!(with_port("[::1]:8443", true), "[::1]:8443");
        assert_eq!(with_port("127.0.0.1:9", false), "127.0.0.1:9");
    }

    #[tokio::test]
    async fn a_dead_upstream_is_a_connect_error_naming_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        drop(listener);
        let client = UpstreamClient::new(Duration::from_secs(5));
        let error = client
            .send(&authority, None, get(&authority, "/"))
            .await
            .unwrap_err();
        assert!(matches!(error, UpstreamError::Connect { .. }), "{error}");
        assert!(error.to_string().contains(&authority), "{error}");
    }
}
