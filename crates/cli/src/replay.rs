//! `gatehouse replay`: what an agent did (`--agent A --since 1h`: its decisions and the
//! resources they touched), and what a candidate policy set would have decided
//! (`--policies DIR --since 24h`: every decision that changes, before → after).
//!
//! Replay runs here, in the CLI, not on the control plane: the candidate policies are
//! files on the operator's machine, validated against the configuration's schema like
//! `policy check` does, and evaluating a day of calls is CPU the gateway's data plane
//! should keep. The CLI reads the recorded events through `GET /v1/events` (paging
//! forward by id) and decides each again with `PolicyEngine::decide`, the function the
//! decide phase calls, on the request rebuilt from the event (`gatehouse_policy::Recorded`).

mod diff;
mod fetch;
mod progress;

use std::path::PathBuf;

use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::event::Event;

use crate::Failure;
use crate::control::ControlArgs;
use crate::events::parse_age_ms;
use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    /// Only this agent's calls.
    #[arg(long)]
    agent: Option<String>,
    /// How far back: `30m`, `1h`, `24h`, `7d`.
    #[arg(long, default_value = "1h")]
    since: String,
    /// A directory of candidate `.cedar` policies: report every recorded decision they
    /// would change.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// The gateway's configuration (its agents, tools, intents and schema), for
    /// `--policies`.
    #[arg(long, default_value = "gatehouse.toml")]
    config: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let now_ms = SystemClock.now().millis();
    let since_ms = now_ms.saturating_sub(parse_age_ms(&args.since)?);
    let window = fetch::Window {
        agent: args.agent.as_deref(),
        since_ms,
        now_ms,
    };
    match &args.policies {
        Some(dir) => {
            let engine = diff::candidate(&args.config, dir)?;
            let report = diff::replay(&engine, fetch::calls(&args.control, &window), &window)?;
            print(args.json, &report, diff::text)
        }
        None => {
            let events = fetch::calls(&args.control, &window).collect_all()?;
            print(args.json, events.as_slice(), list_text)
        }
    }
}

fn print<T: serde::Serialize + ?Sized>(
    json: bool,
    value: &T,
    text: impl Fn(&T) -> String,
) -> Result<(), Failure> {
    let out = if json {
        serde_json::to_string_pretty(value).context("cannot encode the report")?
    } else {
        text(value)
    };
    println_out(&out);
    Ok(())
}

/// An agent's decisions, oldest first, then the resources its allowed calls touched.
fn list_text(events: &[Event]) -> String {
    let mut lines = vec![format!("{} decisions", events.len())];
    lines.extend(events.iter().map(|event| {
        format!(
            "{}  {}  {:<7} {}  {} {}  intent={}  {}",
            crate::events::utc_time(event.time_ms),
            event.id,
            event.outcome.as_str(),
            dash(event.tool.as_deref()),
            event.method,
            event.path,
            dash(event.intent.as_deref()),
            why(event),
        )
    }));
    lines.push("resources touched (allowed calls):".to_owned());
    let mut touched = std::collections::BTreeMap::<(String, String), u64>::new();
    for event in events
        .iter()
        .filter(|event| event.outcome.as_str() == "allow")
    {
        let key = (
            dash(event.tool.as_deref()).to_owned(),
            dash(event.intent.as_deref()).to_owned(),
        );
        *touched.entry(key).or_default() += 1;
    }
    if touched.is_empty() {
        lines.push("  none".to_owned());
    }
    lines.extend(
        touched
            .iter()
            .map(|((tool, intent), count)| format!("  {tool}  {intent}  {count} calls")),
    );
    lines.join("\n")
}

fn why(event: &Event) -> String {
    let policies = if event.policies.is_empty() {
        String::new()
    } else {
        format!(" [{}]", event.policies.join(", "))
    };
    format!(
        "{}{policies}",
        event.refusal.map_or("", |refusal| refusal.as_str())
    )
    .trim()
    .to_owned()
}

fn dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}
