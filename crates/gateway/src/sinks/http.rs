//! The HTTP sinks: a webhook receiving each batch as a JSON array of events (the lines
//! exactly as stored), and an OTLP/HTTP collector receiving them as log records (and
//! spans). Any 2xx answer acknowledges the batch; anything else, or no answer, is a
//! failed delivery retried from the same cursor. Both send through the shared upstream
//! client, `https://` verified like any upstream (the web roots, or the sink's `ca_file`).

use std::time::Duration;

use gatehouse_core::config::{UpstreamAuth, UpstreamUrl};
use gatehouse_store::StoredLine;
use http::Method;
use http_body_util::BodyExt;

use super::otlp;
use crate::body::full;
use crate::problem::error_chain;
use crate::upstream::{Origin, UpstreamClient};

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
    /// The shared client: the sink's connections are reused between batches.
    client: UpstreamClient,
    origin: Origin,
    auth: Option<UpstreamAuth>,
    format: Format,
}

impl Poster {
    pub(super) fn webhook(
        url: &UpstreamUrl,
        auth: Option<UpstreamAuth>,
        client: &UpstreamClient,
    ) -> Self {
        Self {
            client: client.clone(),
            origin: Origin::new(url),
            auth,
            format: Format::Webhook,
        }
    }

    pub(super) fn otlp(
        endpoint: &UpstreamUrl,
        auth: Option<UpstreamAuth>,
        traces: bool,
        client: &UpstreamClient,
    ) -> Self {
        Self {
            client: client.clone(),
            origin: Origin::new(endpoint),
            auth,
            format: Format::Otlp { traces },
        }
    }

    pub(super) async fn deliver(&self, lines: &[StoredLine]) -> Result<(), String> {
        match self.format {
            Format::Webhook => self.post("", array(lines)).await,
            Format::Otlp { traces } => {
                let events = otlp::parse(lines);
                let logs = otlp::logs(&events);
                self.post("/v1/logs", logs).await?;
                if traces {
                    let spans = otlp::spans(&events);
                    self.post("/v1/traces", spans).await?;
                }
                Ok(())
            }
        }
    }

    /// POSTs `body` to the base path followed by `suffix`.
    async fn post(&self, suffix: &str, body: String) -> Result<(), String> {
        let url = format!("{}{suffix}", self.origin.url());
        // The secret is read again for each batch, so a rotated one takes effect.
        let auth = self.auth.as_ref().map(|auth| {
            let secret = auth.source.read().unwrap_or_else(|| auth.secret.clone());
            (
                auth.header.clone(),
                format!("{}{}", auth.prefix, secret.expose()),
            )
        });
        let mut request = self
            .origin
            .request(Method::POST, suffix)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some((name, value)) = &auth {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(full(body))
            .map_err(|error| format!("cannot build a request to `{url}`: {error}"))?;
        let sent = self.client.send_to(&self.origin, request);
        let response = tokio::time::timeout(TIMEOUT, sent)
            .await
            .map_err(|_| format!("`{url}` did not answer within {} s", TIMEOUT.as_secs()))?
            .map_err(|error| format!("`{url}`: {}", error_chain(&error)))?;
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
