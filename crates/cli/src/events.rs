//! `gatehouse events`: query the control plane's event store; a table by default,
//! JSON with `--json`. `gatehouse events tail` follows new events live (`events/tail.rs`).

mod tail;

use anyhow::{Context, anyhow};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::event::Event;

use crate::control::ControlArgs;
use crate::policy::println_out;
use crate::table::{self, Align};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    control: ControlArgs,
    #[arg(long)]
    agent: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    #[arg(long)]
    tool: Option<String>,
    #[arg(long)]
    intent: Option<String>,
    /// `allow`, `deny` or `error`.
    #[arg(long)]
    decision: Option<String>,
    /// Only events newer than this: `30s`, `15m`, `2h`, `1d`.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print new events as they are stored, until Ctrl-C.
    Tail(tail::TailArgs),
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(Command::Tail(tail)) = &args.command {
        return tail::run(&args.control, tail);
    }
    let path = format!("/v1/events?{}", query(args)?);
    let body = args.control.request(http::Method::GET, &path, None)?;
    let events: Vec<Event> =
        serde_json::from_value(body.get("events").cloned().unwrap_or_default())
            .context("unexpected event format")?;
    if args.json {
        println_out(&serde_json::to_string_pretty(&events)?);
    } else {
        println_out(&table(&events));
    }
    Ok(())
}

/// Recorded events newer than `since`, newest first, from the control plane.
pub(crate) fn recorded(
    control: &ControlArgs,
    since: &str,
    limit: u32,
) -> anyhow::Result<Vec<Event>> {
    let since_ms = SystemClock
        .now()
        .millis()
        .saturating_sub(parse_age_ms(since)?);
    let path = format!("/v1/events?since={since_ms}&limit={limit}");
    let body = control.request(http::Method::GET, &path, None)?;
    let events = body.get("events").cloned().unwrap_or_default();
    serde_json::from_value(events).context("unexpected event format")
}

fn query(args: &Args) -> anyhow::Result<String> {
    let mut pairs = vec![("limit".to_owned(), args.limit.to_string())];
    let named = [
        ("agent", &args.agent),
        ("workflow", &args.workflow),
        ("tool", &args.tool),
        ("intent", &args.intent),
        ("decision", &args.decision),
    ];
    for (key, value) in named {
        if let Some(value) = value {
            pairs.push((key.to_owned(), value.clone()));
        }
    }
    if let Some(since) = &args.since {
        let since_ms = SystemClock
            .now()
            .millis()
            .saturating_sub(parse_age_ms(since)?);
        pairs.push(("since".to_owned(), since_ms.to_string()));
    }
    Ok(pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", crate::control::encode(value)))
        .collect::<Vec<_>>()
        .join("&"))
}

/// An age like `30s`, `15m`, `2h`, `7d` or `1h30m`: groups of ASCII digits and a unit,
/// read byte by byte so no input (multi-byte characters included) can split a char.
pub(crate) fn parse_age_ms(text: &str) -> anyhow::Result<i64> {
    let refuse = || anyhow!("`{text}` is not an age like `30s`, `15m`, `2h`, `7d` or `1h30m`");
    // humantime reads a bare number as seconds nowhere, but accepts spaces and fractions
    // of units nowhere either: an age is whole units, written as the help shows.
    if !text
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_digit())
        || !text
            .bytes()
            .last()
            .is_some_and(|byte| byte.is_ascii_alphabetic())
    {
        return Err(refuse());
    }
    let age = humantime::parse_duration(text).map_err(|_| refuse())?;
    i64::try_from(age.as_millis()).map_err(|_| refuse())
}

/// A table, newest first.
pub(crate) fn table(events: &[Event]) -> String {
    let header = [
        "TIME (UTC)",
        "DECISION ID",
        "OUTCOME",
        "STATUS",
        "AGENT",
        "TOOL",
        "INTENT",
        "WHY",
    ]
    .map(|name| (name, Align::Left));
    table::render(
        &header,
        events.iter().map(|event| row(event).to_vec()).collect(),
    )
}

fn row(event: &Event) -> [String; 8] {
    let why = match (&event.refusal, event.policies.is_empty()) {
        (Some(refusal), true) => refusal.to_string(),
        (Some(refusal), false) => format!("{refusal} [{}]", event.policies.join(", ")),
        (None, false) => format!("[{}]", event.policies.join(", ")),
        (None, true) => String::new(),
    };
    let dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
    [
        utc_time(event.time_ms),
        event.id.to_string(),
        outcome(event),
        event.status.to_string(),
        dash(event.agent.as_deref()),
        dash(event.tool.as_deref()),
        dash(event.intent.as_deref()),
        why,
    ]
}

/// The outcome; a call in observe mode says so, with what enforcing would have done:
/// `allow (observed: would-deny:policy-denied)`.
fn outcome(event: &Event) -> String {
    match &event.observed {
        Some(observed) => format!("{} (observed: {observed})", event.outcome.as_str()),
        None => event.outcome.as_str().to_owned(),
    }
}

pub(crate) fn utc_time(millis: i64) -> String {
    gatehouse_core::clock::UnixTime::from_nanos(millis.saturating_mul(1_000_000)).utc_text()
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::EventKind;

    use super::*;

    #[test]
    fn an_observed_call_says_so_in_its_outcome() {
        let mut event = Event {
            method: "DELETE".to_owned(),
            path: "/tools/tickets/tickets/7".to_owned(),
            ..Event::blank(
                gatehouse_core::ids::DecisionId::from_u128(1),
                0,
                EventKind::Tool,
            )
        };
        event.outcome = gatehouse_core::event::Outcome::Allow;
        assert_eq!(outcome(&event), "allow");
        event.observed = Some("would-deny:policy-denied".parse().unwrap());
        assert_eq!(
            outcome(&event),
            "allow (observed: would-deny:policy-denied)"
        );
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_764_110_096_000), "2025-11-25 22:34:56");
    }

    #[test]
    fn parses_ages() {
        assert_eq!(parse_age_ms("15m").unwrap(), 900_000);
        assert!(parse_age_ms("15x").is_err());
        assert_eq!(parse_age_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_age_ms("7d").unwrap(), 604_800_000);
        // humantime's grammar: spaces between parts and fractions are fine.
        assert_eq!(parse_age_ms("1h 30m").unwrap(), 5_400_000);
        assert_eq!(parse_age_ms("1.5h").unwrap(), 5_400_000);
        for bad in [
            "",
            "1\u{e9}",
            "\u{e9}",
            "15",
            "m",
            "-5m",
            "99999999999999999999d",
        ] {
            assert!(parse_age_ms(bad).is_err(), "{bad}");
        }
    }
}
