//! `gatehouse inventory`: what agents can reach and what they used. One row per route of
//! each tool (and per mapping of each MCP server) from the configuration: segment,
//! method and path, intent, data class, tier, access, whether it is observed, and the
//! agents that called it in the window, from the recorded events. Then the unmapped
//! routes agents asked for: calls refused `no-route`, or forwarded by a discovering tool
//! (`discover = true`), their paths folded into templates
//! (numbers, UUIDs and long hex as `{id}`). `inventory suggest` prints those as route
//! config that, added to the tool, classifies the same calls. The inventory itself is
//! computed by `gatehouse_core::inventory` (the console's inventory page uses it too);
//! this file reads the events and formats it.

mod suggest;

use std::path::PathBuf;

use gatehouse_core::inventory::{Inventory, RouteUse, Unmapped};

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

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    let events = crate::events::recorded(&args.control, &args.since, args.limit)?;
    let Inventory {
        routes: rows,
        unmapped,
    } = Inventory::new(&config, &config.observe, &events);
    if matches!(args.command, Some(Command::Suggest)) {
        println_out(&suggest::suggest(&unmapped));
        return Ok(());
    }
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

/// The rows and the unmapped routes as text: a table, CSV or Markdown.
fn separated(rows: &[RouteUse], unmapped: &[Unmapped], gap: &str, markdown: bool) -> String {
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
