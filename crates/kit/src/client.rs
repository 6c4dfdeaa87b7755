//! A small HTTP/1.1 client for the CLI's control-plane verbs and for tests: one
//! connection per request, `http://` or `https://` (rustls; the server's certificate
//! verified against the built-in web roots, or only against a given CA file).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL `{0}`")]
    Url(String),
    #[error("cannot reach `{url}`: {message}")]
    Unreachable { url: String, message: String },
    #[error("`{url}` did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("cannot use the CA certificates in `{path}`: {message}")]
    Ca { path: String, message: String },
}

/// A response: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole response; `https://` is verified against the
/// built-in web roots.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Reply, ClientError> {
    send_trusting(method, url, headers, body, None).await
}

/// [`send`], an `https://` server's certificate verified only against the CAs in `ca`
/// when given.
pub async fn send_trusting(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
    ca: Option<&Path>,
) -> Result<Reply, ClientError> {
    let timeout = Duration::from_secs(30);
    let exchange = exchange(method, url, headers, body.into(), ca);
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ClientError::Timeout {
            url: url.to_owned(),
            seconds: timeout.as_secs(),
        })?
}

async fn exchange(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    ca: Option<&Path>,
) -> Result<Reply, ClientError> {
    let bad_url = || ClientError::Url(url.to_owned());
    let uri: Uri = url.parse().map_err(|_| bad_url())?;
    let authority = uri.authority().ok_or_else(bad_url)?.clone();
    let tls = match uri.scheme() {
        Some(scheme) if *scheme == Scheme::HTTPS => true,
        Some(scheme) if *scheme == Scheme::HTTP => false,
        _ => return Err(bad_url()),
    };
    let target = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut builder = Request::builder().method(method).uri(target);
    // A caller may name another host (tests of the `Host` checks do).
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(header::HOST, authority.as_str());
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(body)).map_err(|_| bad_url())?;
    let unreachable = |message: String| ClientError::Unreachable {
        url: url.to_owned(),
        message,
    };
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let stream = TcpStream::connect((authority.host(), port))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let response = if tls {
        let connector = connector(ca)?;
        let stream = connector
            .connect(server_name(&authority).ok_or_else(bad_url)?, stream)
            .await
            .map_err(|error| unreachable(format!("TLS: {error}")))?;
        one_request(TokioIo::new(stream), request).await
    } else {
        one_request(TokioIo::new(stream), request).await
    }
    .map_err(|error| unreachable(error.to_string()))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| unreachable(error.to_string()))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// One request on a fresh HTTP/1.1 connection.
async fn one_request<I>(
    io: I,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await
}

/// The name the server's certificate must carry: its DNS name or IP address.
fn server_name(authority: &Authority) -> Option<ServerName<'static>> {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_owned()).ok()
}

fn connector(ca: Option<&Path>) -> Result<TlsConnector, ClientError> {
    let roots = match ca {
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => roots_from(path)?,
    };
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(gatehouse_gateway::tls::provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| ClientError::Url(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn roots_from(path: &Path) -> Result<RootCertStore, ClientError> {
    let failed = |message: String| ClientError::Ca {
        path: path.display().to_string(),
        message,
    };
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| failed(error.to_string()))?;
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(failed("no usable certificate".to_owned()));
    }
    Ok(roots)
}

/// `GET url` with a bearer token.
pub async fn get_with_token(url: &str, token: &str) -> Result<Reply, ClientError> {
    let authorization = format!("Bearer {token}");
    send(
        Method::GET,
        url,
        &[(header::AUTHORIZATION.as_str(), &authorization)],
        Bytes::new(),
    )
    .await
}

/// A response whose body is read as it arrives (an event stream).
#[derive(Debug)]
pub struct Streaming {
    pub status: StatusCode,
    body: hyper::body::Incoming,
}

impl Streaming {
    /// The next piece of the body; `None` once it ended.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(error) => {
                    return Some(Err(ClientError::Unreachable {
                        url: String::new(),
                        message: error.to_string(),
                    }));
                }
            }
        }
    }
}

/// `GET url` whose answer is read as it comes: the status and headers within 30 s, the
/// body for as long as it lasts.
pub async fn stream(url: &str, headers: &[(&str, &str)]) -> Result<Streaming, ClientError> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut builder = Request::builder().method(Method::GET).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::new()))
        .map_err(|_| ClientError::Url(url.to_owned()))?;
    let timeout = Duration::from_secs(30);
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| ClientError::Timeout {
            url: url.to_owned(),
            seconds: timeout.as_secs(),
        })?
        .map_err(|error| ClientError::Unreachable {
            url: url.to_owned(),
            message: error.to_string(),
        })?;
    let (parts, body) = response.into_parts();
    Ok(Streaming {
        status: parts.status,
        body,
    })
}
