//! The HTTP sinks: a webhook receiving each batch as a JSON array of events (the lines
//! exactly as stored), and an OTLP/HTTP collector receiving them as log records (and
//! spans). Any 2xx answer acknowledges the batch; anything else, or no answer, is a
//! failed delivery retried from the same cursor.

use std::time::Duration;

use bytes::Bytes;
use gatehouse_core::config::{UpstreamAuth, UpstreamUrl};
use gatehouse_store::StoredLine;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::otlp;

/// What a poster sends.
#[derive(Debug)]
enum Format {
    /// `[line, line, …]` to the URL.
    Webhook,
    /// OTLP logs to `…/v1/logs`, and spans to `…/v1/traces` when `traces`.
    Otlp { traces: bool },
}

/// POSTs batches to one URL (or OTLP endpoint).
#[derive(Debug)]
pub(super) struct Poster {
    /// Kept for the sink's life: its connections are reused between batches.
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
    auth: Option<UpstreamAuth>,
    format: Format,
}

impl Poster {
    pub(super) fn webhook(url: &UpstreamUrl, auth: Option<UpstreamAuth>) -> Self {
        Self {
            client: client(),
            url: full(url),
            auth,
            format: Format::Webhook,
        }
    }

    pub(super) fn otlp(endpoint: &UpstreamUrl, auth: Option<UpstreamAuth>, traces: bool) -> Self {
        Self {
            client: client(),
            url: full(endpoint),
            auth,
            format: Format::Otlp { traces },
        }
    }

    pub(super) async fn deliver(&self, lines: &[StoredLine]) -> Result<(), String> {
        match self.format {
            Format::Webhook => self.post(&self.url, array(lines)).await,
            Format::Otlp { traces } => {
                let events = otlp::parse(lines);
                let logs = otlp::logs(&events);
                self.post(&format!("{}/v1/logs", self.url), logs).await?;
                if traces {
                    let spans = otlp::spans(&events);
                    self.post(&format!("{}/v1/traces", self.url), spans).await?;
                }
                Ok(())
            }
        }
    }

    async fn post(&self, url: &str, body: String) -> Result<(), String> {
        // The secret is read again for each batch, so a rotated one takes effect.
        let auth = self.auth.as_ref().map(|auth| {
            let secret = auth.source.read().unwrap_or_else(|| auth.secret.clone());
            (
                auth.header.clone(),
                format!("{}{}", auth.prefix, secret.expose()),
            )
        });
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some((name, value)) = &auth {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("cannot build a request to `{url}`: {error}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("`{url}` did not answer within {} s", TIMEOUT.as_secs()))?
            .map_err(|error| format!("`{url}`: {error}"))?;
        let status = response.status();
        // Read to the end, so the connection goes back to the pool.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("`{url}` answered {status}"))
        }
    }
}

/// The longest a delivery waits for its answer before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(30);

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

fn full(url: &UpstreamUrl) -> String {
    format!("http://{}{}", url.authority, url.base_path)
}

/// The lines as one JSON array, without decoding them.
fn array(lines: &[StoredLine]) -> String {
    let size = lines.iter().map(|line| line.line.len() + 1).sum::<usize>() + 2;
    let mut body = String::with_capacity(size);
    body.push('[');
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&line.line);
    }
    body.push(']');
    body
}
