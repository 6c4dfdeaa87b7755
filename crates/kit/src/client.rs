//! A small HTTP/1.1 client for the CLI's control-plane verbs and for tests.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL `{0}`")]
    Url(String),
    #[error("cannot reach `{url}`: {message}")]
    Unreachable { url: String, message: String },
    #[error("`{url}` did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
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

/// Sends one request and reads the whole response.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Reply, ClientError> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(body.into()))
        .map_err(|_| ClientError::Url(url.to_owned()))?;
    let unreachable = |message: String| ClientError::Unreachable {
        url: url.to_owned(),
        message,
    };
    let timeout = Duration::from_secs(30);
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| ClientError::Timeout {
            url: url.to_owned(),
            seconds: timeout.as_secs(),
        })?
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
