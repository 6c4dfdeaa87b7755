//! `gatehouse inventory`: what agents can reach and what they used. One row per route of
//! each tool (and per mapping of each MCP server) from the configuration: segment,
//! method and path, intent, data class, tier, access, whether it is observed, and the
//! agents that called it in the window, from the recorded events. Then the unmapped
//! routes agents asked for: calls refused `no-route`, or forwarded by a discovering tool
//! (`discover = true`), their paths folded into templates
//! (numbers, UUIDs and long hex as `{id}`). `inventory suggest` prints those as route
//! config that, added to the tool, classifies the same calls.

mod fold;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use gatehouse_core::config::Config;
use gatehouse_core::event::Event;
use gatehouse_core::event::EventKind;
use serde::Serialize;

use crate::Failure;
use crate::control::ControlArgs;
use crate::policy::println_out;
use crate::serve::load_config;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[arg(long, default_value = "gatehouse.toml", global = true)]
    config: PathBuf,
    /// The window of recorded calls: `1h`, `7d`.
    #[arg(long, default_value = "7d", global = true)]
    since: String,
    /// At most this many recorded calls, newest first (the control plane's cap is 1000).
    #[arg(long, default_value_t = 1000, global = true)]
    limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
    Md,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print route config (TOML) for the unmapped routes agents called.
    Suggest,
}

/// One reachable route (or MCP mapping).
#[derive(Debug, Serialize)]
struct Row {
    tool: String,
    segment: String,
    method: String,
    path: String,
    intent: String,
    data_class: String,
    tier: String,
    access: String,
    observed: bool,
    calls: usize,
    agents: BTreeSet<String>,
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let events = crate::events::recorded(&args.control, &args.since, args.limit)?;
    let unmapped = fold::unmapped(&config, &events);
    if matches!(args.command, Some(Command::Suggest)) {
        println_out(&fold::suggest(&unmapped));
        return Ok(());
    }
    let rows = rows(&config, &events);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&serde_json::json!({
            "routes": rows,
            "unmapped": unmapped,
        }))
        .map_err(anyhow::Error::from)?,
        Format::Csv => separated(&rows, &unmapped, ",", false),
        Format::Md => separated(&rows, &unmapped, " | ", true),
        Format::Table => separated(&rows, &unmapped, "  ", false),
    };
    println_out(&text);
    Ok(())
}

fn rows(config: &Config, events: &[Event]) -> Vec<Row> {
    let mut used: BTreeMap<(&str, &str), (usize, BTreeSet<String>)> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|event| event.kind == EventKind::Tool || event.kind == EventKind::Mcp)
    {
        let (Some(tool), Some(intent), Some(agent)) = (&event.tool, &event.intent, &event.agent)
        else {
            continue;
        };
        let entry = used.entry((tool.as_str(), intent.as_str())).or_default();
        entry.0 += 1;
        entry.1.insert(agent.to_string());
    }
    let observed = |tool: &str, segment: &str| {
        let set = &config.observe;
        set.tools.iter().any(|name| name.as_str() == tool)
            || set.segments.iter().any(|name| name.as_str() == segment)
    };
    let mut rows = Vec::new();
    for tool in config.tools.values() {
        for route in &tool.routes {
            let (calls, agents) = used
                .get(&(tool.name.as_str(), route.intent.as_str()))
                .cloned()
                .unwrap_or_default();
            rows.push(Row {
                tool: tool.name.to_string(),
                segment: tool.segment.to_string(),
                method: route.method.clone(),
                path: route.template.as_str().to_owned(),
                intent: route.intent.to_string(),
                data_class: route.data_class.to_string(),
                tier: route.tier.as_str().to_owned(),
                access: access(route.access),
                observed: observed(tool.name.as_str(), tool.segment.as_str()),
                calls,
                agents,
            });
        }
    }
    for server in config.mcp_servers.values() {
        let mappings = server
            .tools
            .iter()
            .map(|(name, mapping)| (name.as_str(), mapping));
        let features = [
            ("resources", &server.resources),
            ("prompts", &server.prompts),
        ];
        let features = features
            .into_iter()
            .filter_map(|(name, mapping)| Some((name, mapping.as_ref()?)));
        for (name, mapping) in mappings.chain(features) {
            let (calls, agents) = used
                .get(&(server.name.as_str(), mapping.intent.as_str()))
                .cloned()
                .unwrap_or_default();
            rows.push(Row {
                tool: server.name.to_string(),
                segment: server.segment.to_string(),
                method: "MCP".to_owned(),
                path: name.to_owned(),
                intent: mapping.intent.to_string(),
                data_class: mapping.data_class.to_string(),
                tier: mapping.tier.as_str().to_owned(),
                access: access(mapping.access),
                observed: false,
                calls,
                agents,
            });
        }
    }
    rows
}

fn access(access: gatehouse_core::model::Access) -> String {
    match access {
        gatehouse_core::model::Access::Read => "read",
        gatehouse_core::model::Access::Write => "write",
    }
    .to_owned()
}

/// The rows and the unmapped routes as text: a table, CSV or Markdown.
fn separated(rows: &[Row], unmapped: &[fold::Unmapped], gap: &str, markdown: bool) -> String {
    let header = [
        "tool",
        "segment",
        "method",
        "path",
        "intent",
        "data_class",
        "tier",
        "access",
        "observed",
        "calls",
        "agents",
    ];
    let mut lines = vec![line(&header.map(str::to_owned), gap, markdown)];
    if markdown {
        lines.push(line(&header.map(|_| "---".to_owned()), gap, true));
    }
    for row in rows {
        let agents: Vec<&str> = row.agents.iter().map(String::as_str).collect();
        let cells = [
            row.tool.clone(),
            row.segment.clone(),
            row.method.clone(),
            row.path.clone(),
            row.intent.clone(),
            row.data_class.clone(),
            row.tier.clone(),
            row.access.clone(),
            row.observed.to_string(),
            row.calls.to_string(),
            agents.join(" "),
        ];
        lines.push(line(&cells, gap, markdown));
    }
    lines.push(String::new());
    lines.push(format!("unmapped routes called ({}):", unmapped.len()));
    for found in unmapped {
        let agents: Vec<&str> = found.agents.iter().map(String::as_str).collect();
        lines.push(format!(
            "{}{gap}{}{gap}{}{gap}{}{gap}{} discovered{gap}{}",
            found.tool,
            found.method,
            found.path,
            found.calls,
            found.discovered,
            agents.join(" ")
        ));
    }
    lines.join("\n")
}

fn line(cells: &[String], gap: &str, markdown: bool) -> String {
    let joined = cells.join(gap);
    if markdown {
        format!("| {joined} |")
    } else {
        joined
    }
}
