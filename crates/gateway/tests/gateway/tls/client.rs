//! A TLS client for the tests: rustls (ring) trusting the test CA, with chosen ALPN
//! protocols, protocol versions and client certificate, speaking HTTP/1.1 or HTTP/2 as
//! negotiated, over one connection the test may reuse.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::pki::Pair;

/// What a client offers.
pub(crate) struct Offer<'a> {
    pub(crate) ca: &'a Path,
    pub(crate) alpn: &'a [&'a [u8]],
    pub(crate) versions: &'a [&'static SupportedProtocolVersion],
    pub(crate) identity: Option<&'a Pair>,
}

impl<'a> Offer<'a> {
    pub(crate) fn new(ca: &'a Path) -> Self {
        Self {
            ca,
            alpn: &[b"http/1.1"],
            versions: rustls::DEFAULT_VERSIONS,
            identity: None,
        }
    }
}

#[expect(deprecated, reason = "the gateway's own provider, ring, on both ends")]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn config(offer: &Offer<'_>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(offer.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(offer.versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match offer.identity {
        Some(pair) => {
            let chain = CertificateDer::pem_file_iter(&pair.cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = offer.alpn.iter().map(|alpn| alpn.to_vec()).collect();
    Arc::new(config)
}

/// One open TLS connection and what it negotiated.
pub(crate) struct Connection {
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) version: Option<ProtocolVersion>,
    /// The leaf certificate the server presented.
    pub(crate) server_cert: Vec<u8>,
    sender: Sender,
}

enum Sender {
    One(http1::SendRequest<Full<Bytes>>),
    Two(http2::SendRequest<Full<Bytes>>),
}

/// An answer, read whole.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Connects and handshakes; the error is the TLS failure, as text.
pub(crate) async fn connect(addr: SocketAddr, offer: &Offer<'_>) -> Result<Connection, String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = TlsConnector::from(config(offer))
        .connect(name, tcp)
        .await
        .map_err(|error| error.to_string())?;
    let session = stream.get_ref().1;
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let version = session.protocol_version();
    let server_cert = session.peer_certificates().unwrap()[0].to_vec();
    let io = TokioIo::new(stream);
    let sender = if alpn.as_deref() == Some(b"h2") {
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        Sender::Two(sender)
    } else {
        let (sender, connection) = http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        Sender::One(sender)
    };
    Ok(Connection {
        alpn,
        version,
        server_cert,
        sender,
    })
}

impl Connection {
    /// Sends one request on this connection.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if matches!(self.sender, Sender::One(_)) {
            request = request.header("host", "127.0.0.1");
        } else {
            request = request.uri(format!("https://127.0.0.1{path}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = match &mut self.sender {
            Sender::One(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await.unwrap()
            }
            Sender::Two(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await.unwrap()
            }
        };
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }
}

/// Connects, sends one request and returns its answer.
pub(crate) async fn request(
    addr: SocketAddr,
    offer: &Offer<'_>,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut connection = connect(addr, offer).await.unwrap();
    connection.send(method, path, headers, body).await
}
