//! `gatehouse audit verify [--since 24h] [--json]`: asks the control plane to walk the
//! events' hash chain. Prints the chain's head when it holds (keep it: a later check
//! that still reaches it proves nothing before it changed) and exits 0; names the first
//! broken link and exits 1 when it does not.

use anyhow::{Context, bail};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_store::ChainCheck;
use http::Method;

use crate::control::ControlArgs;
use crate::events::parse_age_ms;
use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Recompute every event's link and name the first broken one.
    Verify {
        /// Only blocks holding events newer than this (`30s`, `15m`, `2h`, `1d`); the
        /// link before the first of them is trusted.
        #[arg(long)]
        since: Option<String>,
        /// Print the check as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Command::Verify { since, json } = &args.command;
    let path = match since {
        Some(age) => format!(
            "/v1/audit/verify?since={}",
            SystemClock.now().millis() - parse_age_ms(age)?
        ),
        None => "/v1/audit/verify".to_owned(),
    };
    let answer = args.control.request(Method::GET, &path, None)?;
    let check: ChainCheck =
        serde_json::from_value(answer.clone()).context("unexpected answer to verify")?;
    if *json {
        println_out(&serde_json::to_string_pretty(&answer)?);
    }
    match &check.first_break {
        None => {
            if !*json {
                println_out(&summary(&check));
            }
            Ok(())
        }
        Some(found) => bail!(
            "the event chain is broken at block {}, position {}{}: {} ({} events verified before it)",
            found.block,
            found.position,
            found
                .event
                .as_ref()
                .map_or_else(String::new, |id| format!(", event {id}")),
            found.kind.describe(),
            check.events,
        ),
    }
}

fn summary(check: &ChainCheck) -> String {
    match &check.head {
        Some(head) => format!(
            "the event chain is unbroken: {} events in {} blocks from block {}; head {head}",
            check.events,
            check.blocks,
            check.from_block.unwrap_or(1),
        ),
        None => "the event chain is unbroken: no events to check".to_owned(),
    }
}
