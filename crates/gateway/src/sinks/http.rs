//! The HTTP sinks: a webhook receiving each batch as a JSON array of events (the lines
//! exactly as stored), and an OTLP/HTTP collector receiving them as log records (and
//! spans). Any 2xx answer acknowledges the batch; anything else, or no answer, is a
//! failed delivery retried from the same cursor.

use gatehouse_core::config::{UpstreamAuth, UpstreamUrl};
use gatehouse_store::StoredLine;
use http::Method;

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
    url: String,
    auth: Option<UpstreamAuth>,
    format: Format,
}

impl Poster {
    pub(super) fn webhook(url: &UpstreamUrl, auth: Option<UpstreamAuth>) -> Self {
        Self {
            url: full(url),
            auth,
            format: Format::Webhook,
        }
    }

    pub(super) fn otlp(endpoint: &UpstreamUrl, auth: Option<UpstreamAuth>, traces: bool) -> Self {
        Self {
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
        let mut headers = vec![("content-type", "application/json")];
        if let Some((name, value)) = &auth {
            headers.push((name.as_str(), value.as_str()));
        }
        let reply = crate::client::send(Method::POST, url, &headers, body)
            .await
            .map_err(|error| error.to_string())?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(format!("`{url}` answered {}", reply.status))
        }
    }
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
