//! `gatehouse events`: query the control plane's event store; a table by default,
//! JSON with `--json`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::event::Event;

use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The control plane's base URL.
    #[arg(
        long,
        env = "GATEHOUSE_CONTROL_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    control: String,
    /// A file holding the operator token.
    #[arg(long, env = "GATEHOUSE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
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

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let token = operator_token(args)?;
    let url = format!(
        "{}/v1/events?{}",
        args.control.trim_end_matches('/'),
        query(args)?
    );
    let reply =
        crate::runtime()?.block_on(gatehouse_gateway::client::get_with_token(&url, &token))?;
    if !reply.status.is_success() {
        bail!(
            "the control plane answered {}: {}",
            reply.status,
            reply.text()
        );
    }
    let body = reply
        .json()
        .context("the control plane's answer is not JSON")?;
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

fn operator_token(args: &Args) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("GATEHOUSE_TOKEN")
        && !token.is_empty()
    {
        return Ok(token);
    }
    let Some(path) = &args.token_file else {
        bail!("no operator token: set GATEHOUSE_TOKEN or pass --token-file FILE");
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(text.trim().to_owned())
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
        let since_ms = SystemClock.now().millis() - parse_age_ms(since)?;
        pairs.push(("since".to_owned(), since_ms.to_string()));
    }
    Ok(pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&"))
}

fn parse_age_ms(text: &str) -> anyhow::Result<i64> {
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .with_context(|| format!("`{text}` is not an age like `15m`"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("`{text}` is not an age like `30s`, `15m`, `2h` or `1d`"),
    };
    Ok(number.saturating_mul(unit_ms))
}

fn encode(value: &str) -> String {
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

/// A fixed-width table, newest first.
pub(crate) fn table(events: &[Event]) -> String {
    let mut rows = vec![[
        "TIME (UTC)".to_owned(),
        "DECISION ID".to_owned(),
        "OUTCOME".to_owned(),
        "STATUS".to_owned(),
        "AGENT".to_owned(),
        "TOOL".to_owned(),
        "INTENT".to_owned(),
        "WHY".to_owned(),
    ]];
    rows.extend(events.iter().map(row));
    let widths: Vec<usize> = (0..8)
        .map(|column| {
            rows.iter()
                .map(|row| row.get(column).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn row(event: &Event) -> [String; 8] {
    let why = match (&event.refusal, event.policies.is_empty()) {
        (Some(refusal), true) => refusal.clone(),
        (Some(refusal), false) => format!("{refusal} [{}]", event.policies.join(", ")),
        (None, false) => format!("[{}]", event.policies.join(", ")),
        (None, true) => String::new(),
    };
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    [
        utc_time(event.time_ms),
        event.id.to_string(),
        event.outcome.as_str().to_owned(),
        event.status.to_string(),
        dash(&event.agent),
        dash(&event.tool),
        dash(&event.intent),
        why,
    ]
}

/// `YYYY-MM-DD HH:MM:SS` for Unix milliseconds (civil-from-days, proleptic Gregorian).
fn utc_time(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_764_110_096_000), "2025-11-25 22:34:56");
    }

    #[test]
    fn parses_ages() {
        assert_eq!(parse_age_ms("15m").unwrap(), 900_000);
        assert!(parse_age_ms("15x").is_err());
    }
}
