//! `gatehouse events tail`: the control plane's live tail (`GET /v1/events/stream`),
//! printed one line per event as it is stored, until Ctrl-C. A dropped stream is opened
//! again after a second with `Last-Event-ID`, so nothing is missed or printed twice.

use std::time::Duration;

use anyhow::{Context, bail};
use gatehouse_core::event::Event;

use crate::control::ControlArgs;
use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
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
    /// Print each event's JSON line instead of a row.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(control: &ControlArgs, args: &TailArgs) -> anyhow::Result<()> {
    let url = control.url(&format!("/v1/events/stream?{}", query(args)));
    let authorization = format!("Bearer {}", control.token()?);
    crate::runtime()?.block_on(async {
        // Ctrl-C ends the tail cleanly, whatever SIGINT's disposition was inherited as
        // (a shell starting the command in the background sets it to ignored).
        tokio::select! {
            followed = follow(&url, &authorization, args.json) => followed,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

fn query(args: &TailArgs) -> String {
    let named = [
        ("agent", &args.agent),
        ("workflow", &args.workflow),
        ("tool", &args.tool),
        ("intent", &args.intent),
        ("decision", &args.decision),
    ];
    named
        .iter()
        .filter_map(|(key, value)| {
            let value = value.as_ref()?;
            Some(format!("{key}={}", crate::control::encode(value)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn follow(url: &str, authorization: &str, json: bool) -> anyhow::Result<()> {
    let mut last: Option<String> = None;
    loop {
        let mut headers = vec![("authorization", authorization)];
        if let Some(last) = &last {
            headers.push(("last-event-id", last.as_str()));
        }
        let mut stream = gatehouse_kit::client::stream(url, &headers).await?;
        if !stream.status.is_success() {
            let mut body = Vec::new();
            while let Some(Ok(chunk)) = stream.chunk().await {
                body.extend_from_slice(&chunk);
            }
            bail!(
                "the control plane answered {}: {}",
                stream.status,
                String::from_utf8_lossy(&body)
            );
        }
        if last.is_none() {
            eprintln!("following new events (Ctrl-C ends)");
        }
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = stream.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if let Some((id, data)) = parse(&frame) {
                    print(data, json)?;
                    last = Some(id.to_owned());
                }
            }
        }
        eprintln!("the event stream ended; opening it again");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// An SSE frame's `id` and `data`; `None` for comments (keep-alives).
fn parse(frame: &str) -> Option<(&str, &str)> {
    let mut id = None;
    let mut data = None;
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value);
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(value);
        }
    }
    Some((id?, data?))
}

fn print(data: &str, json: bool) -> anyhow::Result<()> {
    if json {
        println_out(data);
        return Ok(());
    }
    let event: Event = serde_json::from_str(data).context("unexpected event format")?;
    if let Some(row) = row(&event) {
        println_out(&row);
    }
    Ok(())
}

/// The event as a row of `gatehouse events`' table, its header dropped.
fn row(event: &Event) -> Option<String> {
    let table = super::table(std::slice::from_ref(event));
    table.lines().nth(1).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::EventKind;
    use gatehouse_core::refusal::RefusalKind;

    use super::*;

    #[test]
    fn frames_give_their_id_and_data_and_comments_nothing() {
        assert_eq!(
            parse("id: 4.2\nevent: decision\ndata: {\"a\":1}\n\n"),
            Some(("4.2", "{\"a\":1}"))
        );
        assert_eq!(parse(": keep-alive\n\n"), None);
    }

    #[test]
    fn a_row_is_the_event_without_the_header() {
        let mut event = Event {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            ..Event::blank(
                gatehouse_core::ids::DecisionId::from_u128(7),
                0,
                EventKind::Tool,
            )
        };
        event.refusal = Some(RefusalKind::PolicyDenied);
        let row = row(&event).unwrap_or_default();
        assert!(row.starts_with("1970-01-01 00:00:00"), "{row}");
        assert!(
            row.contains(&event.id.to_string()) && row.contains("deny"),
            "{row}"
        );
        assert!(row.ends_with("policy-denied"), "{row}");
    }
}
