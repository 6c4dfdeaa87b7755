//! `gatehouse quarantine add|list|lift`: temporary denies on a segment, tool, intent or
//! agent, through the control plane. A quarantine wins over every permit, cuts calls in
//! flight and ends by itself.

use anyhow::Context;
use gatehouse_core::clock::UnixTime;
use gatehouse_store::Quarantine;
use http::Method;

use crate::control::{ControlArgs, encode};
use crate::events::parse_age_ms;
use crate::policy::println_out;
use crate::table::{self, Align};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Deny every call reaching one segment, tool (or MCP server), intent or agent.
    Add {
        #[command(flatten)]
        target: Target,
        /// How long: `30s`, `30m`, `2h`, `1d`.
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, for the event and whoever lifts it.
        #[arg(long)]
        reason: String,
    },
    /// The quarantines in force, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// End a quarantine now.
    Lift { id: String },
}

/// Exactly one of the four.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct Target {
    #[arg(long)]
    segment: Option<String>,
    #[arg(long)]
    tool: Option<String>,
    #[arg(long)]
    intent: Option<String>,
    #[arg(long)]
    agent: Option<String>,
}

impl Target {
    fn kind_and_subject(&self) -> Option<(&'static str, &str)> {
        let named = [
            ("segment", &self.segment),
            ("tool", &self.tool),
            ("intent", &self.intent),
            ("agent", &self.agent),
        ];
        named
            .into_iter()
            .find_map(|(kind, subject)| subject.as_deref().map(|subject| (kind, subject)))
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let control = &args.control;
    match &args.command {
        Command::Add {
            target,
            duration,
            reason,
        } => {
            let (kind, subject) = target
                .kind_and_subject()
                .context("name a --segment, --tool, --intent or --agent")?;
            let secs = parse_age_ms(duration)? / 1000;
            let body = serde_json::json!({
                "kind": kind, "subject": subject, "for_secs": secs, "reason": reason,
            });
            let added = control.request(Method::POST, "/v1/quarantines", Some(body))?;
            println_out(&serde_json::to_string_pretty(&added)?);
        }
        Command::List { json } => {
            let listed = control.request(Method::GET, "/v1/quarantines", None)?;
            if *json {
                println_out(&serde_json::to_string_pretty(&listed)?);
            } else {
                let quarantines: Vec<Quarantine> =
                    serde_json::from_value(listed.get("quarantines").cloned().unwrap_or_default())
                        .context("unexpected quarantine format")?;
                println_out(&table(&quarantines));
            }
        }
        Command::Lift { id } => {
            let path = format!("/v1/quarantines/{}", encode(id));
            control.request(Method::DELETE, &path, None)?;
            println_out(&format!("lifted {id}"));
        }
    }
    Ok(())
}

fn table(quarantines: &[Quarantine]) -> String {
    let rows = quarantines
        .iter()
        .map(|quarantine| {
            let until = UnixTime::from_nanos(quarantine.until_ms.saturating_mul(1_000_000));
            vec![
                quarantine.id.clone(),
                quarantine.kind.to_string(),
                quarantine.subject.clone(),
                until.utc_text(),
                quarantine.by.clone(),
                quarantine.reason.clone(),
            ]
        })
        .collect();
    let left = |name| (name, Align::Left);
    table::render(
        &[
            left("ID"),
            left("KIND"),
            left("SUBJECT"),
            left("UNTIL (UTC)"),
            left("BY"),
            left("REASON"),
        ],
        rows,
    )
}
