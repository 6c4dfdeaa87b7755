//! The CLI as a client of the control plane: where it is, the operator token, and one
//! request helper that turns problem documents into readable errors.

use std::path::PathBuf;

use anyhow::{Context, bail};
use http::Method;

/// Where the control plane is and how to authenticate to it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ControlArgs {
    /// The control plane's base URL.
    #[arg(
        long,
        env = "GATEHOUSE_CONTROL_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    control: String,
    /// PEM CA certificates to verify an `https://` control plane against (instead of
    /// the built-in web roots).
    #[arg(long, env = "GATEHOUSE_CA_FILE", global = true)]
    ca: Option<PathBuf>,
    /// A file holding the operator token (or set GATEHOUSE_TOKEN).
    #[arg(long, env = "GATEHOUSE_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
}

impl ControlArgs {
    /// The full URL of `path` on the control plane.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.control.trim_end_matches('/'))
    }

    pub(crate) fn token(&self) -> anyhow::Result<String> {
        if let Ok(token) = std::env::var("GATEHOUSE_TOKEN")
            && !token.is_empty()
        {
            return Ok(token);
        }
        let Some(path) = &self.token_file else {
            bail!("no operator token: set GATEHOUSE_TOKEN or pass --token-file FILE");
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        Ok(text.trim().to_owned())
    }

    /// Sends one request; a non-2xx answer becomes an error with the problem's title.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let token = self.token()?;
        let url = format!("{}{path}", self.control.trim_end_matches('/'));
        let authorization = format!("Bearer {token}");
        let bytes = body.map(|body| body.to_string()).unwrap_or_default();
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        let reply = crate::runtime()?.block_on(gatehouse_kit::client::send_trusting(
            method,
            &url,
            &headers,
            bytes,
            self.ca.as_deref(),
        ))?;
        let json = reply.json();
        if !reply.status.is_success() {
            let title = json
                .as_ref()
                .and_then(|json| json.get("title"))
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| reply.text(), str::to_owned);
            bail!("the control plane answered {}: {title}", reply.status);
        }
        json.context("the control plane's answer is not JSON")
    }
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
