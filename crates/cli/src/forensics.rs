//! `gatehouse forensics on|off|list` (record an agent's or a workflow's tool calls whole)
//! and `gatehouse recordings list|show ID` (print a recorded call as it crossed the
//! gateway), as clients of `/v1/forensics` and `/v1/recordings`.

use anyhow::Context;
use http::Method;
use serde_json::{Value, json};

use crate::control::{ControlArgs, encode};
use crate::events::parse_age_ms;
use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: Command,
}

/// Whose calls: one agent or one workflow.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct Subject {
    #[arg(long)]
    agent: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
}

impl Subject {
    fn pair(&self) -> (&'static str, &str) {
        match (&self.agent, &self.workflow) {
            (Some(agent), _) => ("agent", agent),
            (None, Some(workflow)) => ("workflow", workflow),
            (None, None) => ("agent", ""),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Record every tool call of an agent or workflow, whole.
    On {
        #[command(flatten)]
        subject: Subject,
        /// How long (`30m`, `2h`); without it, until `forensics off`.
        #[arg(long = "for")]
        hold: Option<String>,
        /// A JSON field or header name whose values are redacted (repeatable).
        #[arg(long)]
        redact: Vec<String>,
    },
    /// Stop recording an agent or workflow.
    Off {
        #[command(flatten)]
        subject: Subject,
    },
    /// The agents and workflows being recorded.
    List,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let control = &args.control;
    let answer = match &args.command {
        Command::On {
            subject,
            hold,
            redact,
        } => {
            let (kind, name) = subject.pair();
            let for_secs = hold
                .as_deref()
                .map(parse_age_ms)
                .transpose()?
                .map(|ms| ms / 1000);
            let body =
                json!({ "kind": kind, "subject": name, "for_secs": for_secs, "redact": redact });
            control.request(Method::POST, "/v1/forensics", Some(body))?
        }
        Command::Off { subject } => {
            let (kind, name) = subject.pair();
            let body = json!({ "kind": kind, "subject": name });
            control.request(Method::POST, "/v1/forensics/off", Some(body))?
        }
        Command::List => control.request(Method::GET, "/v1/forensics", None)?,
    };
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct RecordingsArgs {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: RecordingsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RecordingsCommand {
    /// Recorded calls, newest first.
    List {
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One recorded call, as it crossed the gateway.
    Show { id: String },
}

pub(crate) fn recordings(args: &RecordingsArgs) -> anyhow::Result<()> {
    match &args.command {
        RecordingsCommand::List { agent, limit } => {
            let mut path = format!("/v1/recordings?limit={limit}");
            if let Some(agent) = agent {
                path.push_str(&format!("&agent={}", encode(agent)));
            }
            let listed = args.control.request(Method::GET, &path, None)?;
            let rows = listed
                .get("recordings")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for row in rows {
                let field = |name: &str| {
                    row.get(name)
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .to_owned()
                };
                let first = field("request")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let time = row.get("time_ms").and_then(Value::as_i64).unwrap_or(0);
                println_out(&format!(
                    "{}  {}  {}  {}  {first}",
                    crate::events::utc_time(time),
                    field("id"),
                    field("agent"),
                    field("tool"),
                ));
            }
        }
        RecordingsCommand::Show { id } => {
            let path = format!("/v1/recordings/{}", encode(id));
            let found = args.control.request(Method::GET, &path, None)?;
            let text = |name: &str| {
                found
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .context("unexpected recording format")
            };
            println_out(&format!(
                "# call {id} by {} on {}\n## request\n{}\n## response\n{}",
                text("agent")?,
                text("tool")?,
                text("request")?,
                text("response")?
            ));
        }
    }
    Ok(())
}
