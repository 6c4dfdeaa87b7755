//! `gatehouse playbook run NAME --agent A [--set k=v] [--dry-run]`: an incident playbook
//! from `playbooks/` (TOML, `playbook/spec.rs`), run step by step through the control
//! plane. Each step's changes are read just before it runs and printed; `--dry-run`
//! prints them and changes nothing. Every step run is reported to
//! `POST /v1/playbook-runs/{run}/steps`, an event tied to the run's id.

mod plan;
mod spec;

use std::path::PathBuf;

use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::ids::IdGenerator;
use http::Method;
use serde::Serialize;
use serde_json::json;

use crate::control::ControlArgs;
use crate::policy::println_out;
use plan::Change;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a playbook (or, with `--dry-run`, print what it would change).
    Run {
        /// The playbook's name: `playbooks/NAME.toml`.
        name: String,
        /// The agent the incident is about (`$agent` in the playbook).
        #[arg(long)]
        agent: Option<String>,
        /// A parameter the playbook declares: `--set window=15m`.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Print exactly what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where playbooks are.
        #[arg(long, env = "GATEHOUSE_PLAYBOOKS", default_value = "playbooks")]
        dir: PathBuf,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A run's record: its id and each step's changes.
#[derive(Debug, Serialize)]
struct Run {
    run: String,
    playbook: String,
    agent: Option<String>,
    dry_run: bool,
    steps: Vec<StepReport>,
}

#[derive(Debug, Serialize)]
struct StepReport {
    index: usize,
    kind: &'static str,
    changes: Vec<Change>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Command::Run {
        name,
        agent,
        set,
        dry_run,
        dir,
        json,
    } = &args.command;
    let playbook = spec::load(dir, name, agent.as_deref(), set)?;
    let mut run = Run {
        run: IdGenerator::default().next(SystemClock.now()).to_string(),
        playbook: playbook.name.clone(),
        agent: playbook.agent.clone(),
        dry_run: *dry_run,
        steps: Vec::new(),
    };
    if !*json {
        println_out(&header(&run, &playbook.description));
    }
    for (index, step) in playbook.steps.iter().enumerate() {
        let changes = plan::plan(&args.control, step)?;
        let report = StepReport {
            index: index + 1,
            kind: step.kind(),
            changes,
        };
        if !*dry_run {
            carry_out(&args.control, &run, &report)?;
        }
        if !*json {
            for change in &report.changes {
                println_out(&format!(
                    "step {} {}: {}",
                    report.index,
                    report.kind,
                    change.text(!*dry_run)
                ));
            }
        }
        run.steps.push(report);
    }
    if *json {
        println_out(&serde_json::to_string_pretty(&run)?);
    }
    Ok(())
}

fn header(run: &Run, description: &str) -> String {
    let agent = run
        .agent
        .as_deref()
        .map_or_else(String::new, |agent| format!(" for agent `{agent}`"));
    let mode = if run.dry_run {
        " (dry run: nothing is changed)"
    } else {
        ""
    };
    format!(
        "playbook `{}` run `{}`{agent}{mode}\n{description}",
        run.playbook, run.run
    )
}

/// Makes a step's changes, then records the step against the run.
fn carry_out(control: &ControlArgs, run: &Run, step: &StepReport) -> anyhow::Result<()> {
    let so_far = serde_json::to_value(run)?;
    for change in &step.changes {
        plan::apply(control, change, &so_far)?;
    }
    let detail = step
        .changes
        .iter()
        .map(|change| change.text(true))
        .collect::<Vec<_>>()
        .join("; ");
    let body = json!({
        "playbook": run.playbook,
        "index": step.index,
        "step": step.kind,
        "agent": run.agent,
        "detail": detail,
    });
    let path = format!("/v1/playbook-runs/{}/steps", run.run);
    control.request(Method::POST, &path, Some(body))?;
    Ok(())
}
