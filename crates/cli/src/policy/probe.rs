//! `gatehouse policy check --probe`: launches or connects to each MCP server, as the
//! gateway would on its first call, and compares what it offers with what the config
//! names: a configured tool the server does not offer, or a server that cannot be
//! reached or started, is reported (all of them, then exit 64).

use std::collections::BTreeSet;

use gatehouse_core::config::{Config, McpServer};
use gatehouse_gateway::mcp_upstream::{Upstream, Upstreams};
use gatehouse_gateway::secrets::Secrets;
use gatehouse_gateway::upstream::UpstreamClient;
use serde_json::{Value, json};

/// Listing pages read before giving up on a server that keeps paging.
const MAX_PAGES: usize = 50;

/// Probes every MCP server; the problems found, one line each.
pub(crate) async fn probe(config: &Config) -> Vec<String> {
    let client = UpstreamClient::new(config.gateway.limits.upstream_timeout);
    let upstreams = Upstreams::start(config, &client);
    let secrets = Secrets::from_config(config);
    let mut problems = Vec::new();
    for server in config.mcp_servers.values() {
        let Some(upstream) = upstreams.get(&server.name) else {
            continue;
        };
        match offered_tools(upstream, server, &secrets).await {
            Ok(offered) => problems.extend(missing(server, &offered)),
            Err(error) => problems.push(format!("mcp server `{}`: {error}", server.name)),
        }
    }
    upstreams.shutdown().await;
    problems
}

/// Every tool name the server lists, following its cursor.
async fn offered_tools(
    upstream: &Upstream,
    server: &McpServer,
    secrets: &Secrets,
) -> Result<BTreeSet<String>, String> {
    let secret = secrets.current(&server.name);
    let mut offered = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor.map_or_else(|| json!({}), |cursor| json!({ "cursor": cursor }));
        let page = upstream
            .request("tools/list", params, secret.as_ref(), server.timeout)
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| format!("`tools/list` failed: {}", error.message))?;
        let tools = page.get("tools").and_then(Value::as_array);
        offered.extend(
            tools
                .into_iter()
                .flatten()
                .filter_map(|tool| tool.get("name").and_then(Value::as_str))
                .map(str::to_owned),
        );
        cursor = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            return Ok(offered);
        }
    }
    Err(format!("`tools/list` kept paging past {MAX_PAGES} pages"))
}

fn missing(server: &McpServer, offered: &BTreeSet<String>) -> Vec<String> {
    server
        .tools
        .keys()
        .filter(|tool| !offered.contains(*tool))
        .map(|tool| {
            format!(
                "mcp server `{}`: tool `{tool}` is configured but the server does not offer it",
                server.name
            )
        })
        .collect()
}
