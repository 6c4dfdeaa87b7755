//! One accepted connection: the first-byte wait, TLS, then HTTP/1.1 or HTTP/2 until the
//! client leaves, the connection goes quiet, or the listener drains.
//!
//! Quiet means no byte read or written for a whole idle period. hyper closes an HTTP/1.1
//! connection waiting for its next request's headers by itself (`header_read_timeout`),
//! but has no such timer for HTTP/2: an HTTP/2 client could hold its connection, and a
//! slot under the connection cap, forever without sending a frame. So every connection
//! is watched here: one relaxed store per read or write marks it active, and a timer
//! per connection (not per call) looks once per idle period. A connection quiet for a
//! whole period is shut down gracefully (HTTP/2: `GOAWAY`, open streams still finish;
//! HTTP/1.1: closed after any response in progress), so it closes between one and two
//! idle periods after its last byte.

use std::convert::Infallible;
use std::future::Future;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_rustls::TlsAcceptor;

use crate::body::ResponseBody;
use crate::peer::Peer;

/// One accepted connection, before it is served.
pub(super) struct Connection {
    pub(super) builder: auto::Builder<TokioExecutor>,
    /// Changes when the listener drains; held until the connection ends, so the drain
    /// can wait for every receiver to be gone.
    pub(super) draining: watch::Receiver<()>,
    pub(super) idle_timeout: Duration,
    pub(super) tls: Option<TlsAcceptor>,
}

impl Connection {
    pub(super) async fn serve<H, F>(
        self,
        stream: TcpStream,
        addr: SocketAddr,
        handler: H,
        slot: OwnedSemaphorePermit,
    ) where
        H: Fn(Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<ResponseBody>> + Send + 'static,
    {
        // The slot is held for as long as the connection lives.
        let _slot = slot;
        // A client that connects and never sends a byte would otherwise hold its
        // descriptor forever: hyper's version detection waits without a timer.
        let first = tokio::time::timeout(self.idle_timeout, stream.peek(&mut [0u8; 1])).await;
        if !matches!(first, Ok(Ok(read)) if read > 0) {
            return;
        }
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(addr);
        let Some(acceptor) = self.tls.clone() else {
            let peer = Arc::new(Peer::new(addr, local));
            return self.run(stream, peer, handler).await;
        };
        // The handshake gets the same time as a first request: a client that stalls in
        // it holds a slot no longer than one that stalls before it.
        let stream = match tokio::time::timeout(self.idle_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return tracing::debug!(%addr, %error, "TLS handshake failed");
            }
            Err(_) => return tracing::debug!(%addr, "TLS handshake timed out"),
        };
        let svid = crate::tls::client_svid(stream.get_ref().1);
        let peer = Arc::new(Peer::with_tls(addr, local, true, svid));
        self.run(stream, peer, handler).await;
    }

    async fn run<T, H, F>(self, io: T, peer: Arc<Peer>, handler: H)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: Fn(Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<ResponseBody>> + Send + 'static,
    {
        let service = service_fn(move |request| {
            let response = handler(request, Arc::clone(&peer));
            async move { Ok::<_, Infallible>(response.await) }
        });
        let active = Arc::new(AtomicBool::new(false));
        let io = TokioIo::new(Watched {
            io,
            active: Arc::clone(&active),
        });
        // With upgrades: a WebSocket route's `101` hands the connection to its tunnel.
        let mut connection = pin!(self.builder.serve_connection_with_upgrades(io, service));
        let mut draining = self.draining;
        let period = self.idle_timeout;
        let mut idle = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut closing = false;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(error) = ended {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = draining.changed(), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = idle.tick(), if !closing => {
                    if !active.swap(false, Ordering::Relaxed) {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// A connection's byte stream, marking each read or write that moved bytes.
struct Watched<T> {
    io: T,
    active: Arc<AtomicBool>,
}

impl<T> Watched<T> {
    fn mark<R>(&self, poll: &Poll<std::io::Result<R>>, moved: impl Fn(&R) -> bool) {
        if let Poll::Ready(Ok(result)) = poll
            && moved(result)
        {
            self.active.store(true, Ordering::Relaxed);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.active.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.mark(&poll, |written| *written > 0);
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.mark(&poll, |written| *written > 0);
        poll
    }

    // Forwarded, or hyper would flatten its header and body buffers into one copy.
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
