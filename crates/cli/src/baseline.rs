//! `gatehouse baseline show --agent A`: what an agent did over the learning window, per
//! intent: calls and bytes, the busiest hour of day, and the mean calls of each hour of
//! day (UTC) as a 24-character profile. Read from `GET /v1/baselines`.

use anyhow::Context;
use gatehouse_core::baseline::{AgentBaseline, IntentBaseline, MS_PER_HOUR};
use gatehouse_core::clock::UnixTime;
use http::Method;

use crate::control::ControlArgs;
use crate::policy::println_out;
use crate::table::{Align, render};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// One agent's hourly profile and volumes per intent.
    Show {
        #[command(flatten)]
        control: ControlArgs,
        #[arg(long)]
        agent: String,
        /// Days learned over (the gateway's `[baseline] window_days` by default).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Command::Show {
        control,
        agent,
        days,
        format,
    } = &args.command;
    let mut query = format!("agent={}", crate::control::encode(agent));
    if let Some(days) = days {
        query.push_str(&format!("&days={days}"));
    }
    let answer = control.request(Method::GET, &format!("/v1/baselines?{query}"), None)?;
    if *format == Format::Json {
        println_out(&serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let learned: AgentBaseline = serde_json::from_value(answer).context("unexpected answer")?;
    println_out(&table(&learned));
    Ok(())
}

/// The heading line and the table of intents.
fn table(learned: &AgentBaseline) -> String {
    let time = |hour: i64| UnixTime::from_nanos(hour * MS_PER_HOUR * 1_000_000).utc_text();
    let window = &learned.window;
    let mut text = format!(
        "{}: {} calls, {} bytes from {} to {} UTC",
        learned.agent,
        learned.calls,
        learned.bytes,
        time(window.from_hour),
        time(window.to_hour),
    );
    match learned.first_hour {
        Some(first) => text.push_str(&format!(" (first call {})\n", time(first))),
        None => return text + " (no calls)",
    }
    let header = [
        ("intent", Align::Left),
        ("calls", Align::Right),
        ("bytes", Align::Right),
        ("busiest", Align::Right),
        ("max/hour", Align::Right),
        ("00h  mean calls by hour of day  23h", Align::Left),
    ];
    let rows = learned.intents.iter().map(row).collect();
    text + &render(&header, rows)
}

fn row(intent: &IntentBaseline) -> Vec<String> {
    let (busiest, band) = intent
        .hours
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.mean_calls.total_cmp(&b.1.mean_calls))
        .map(|(hour, band)| (hour, *band))
        .unwrap_or_default();
    vec![
        intent.intent.clone(),
        intent.calls.to_string(),
        intent.bytes.to_string(),
        format!("{busiest:02}h"),
        band.max_calls.to_string(),
        profile(intent),
    ]
}

/// Mean calls per hour of day as one block character each, scaled to the busiest hour.
fn profile(intent: &IntentBaseline) -> String {
    const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let peak = intent
        .hours
        .iter()
        .map(|b| b.mean_calls)
        .fold(0.0, f64::max);
    intent
        .hours
        .iter()
        .map(|band| {
            if peak <= 0.0 || band.mean_calls <= 0.0 {
                return '·';
            }
            let level = (band.mean_calls / peak * 8.0).ceil().clamp(1.0, 8.0);
            BLOCKS.get(level as usize).copied().unwrap_or('█')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use gatehouse_core::baseline::{HourCount, Window};

    use super::*;

    #[test]
    fn the_table_shows_each_intents_profile_and_busiest_hour() {
        let day0 = 20_000 * 24;
        let counts: Vec<HourCount> = (0..7 * 24)
            .filter(|hour| (9..17).contains(&(hour % 24)))
            .map(|hour| HourCount {
                agent: "spiffe://acme/agent/bot".to_owned(),
                intent: "ticket.read".to_owned(),
                hour: day0 + hour,
                calls: if hour % 24 == 11 { 6 } else { 2 },
                bytes: 100,
            })
            .collect();
        let window = Window {
            from_hour: day0,
            to_hour: day0 + 7 * 24,
        };
        let learned = AgentBaseline::learn("spiffe://acme/agent/bot", window, &counts);
        let text = table(&learned);
        assert!(
            text.starts_with("spiffe://acme/agent/bot: 140 calls, 5600 bytes"),
            "{text}"
        );
        let row = text
            .lines()
            .find(|line| line.starts_with("ticket.read"))
            .unwrap();
        assert!(row.contains("11h"), "{row}");
        assert!(row.contains("·········▃▃█▃▃▃▃▃·······"), "{row}");
    }
}
