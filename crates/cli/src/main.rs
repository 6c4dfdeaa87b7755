//! The `gatehouse` binary: local verbs (`serve`, `quickstart`, `policy check`, `keys`,
//! `agent assertion`, `store init`) and clients of the control plane (`events`).

mod agent;
mod approvals;
mod audit;
mod baseline;
mod control;
mod events;
mod evidence;
mod forensics;
mod inventory;
mod keys;
mod logging;
mod playbook;
mod policy;
mod quarantine;
mod quickstart;
mod replay;
mod serve;
mod store;
mod table;
mod workflows;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the C library's allocator: a call allocates and frees a few
/// dozen small blocks (headers, the decision, the event) across tasks, and glibc's
/// malloc spent about a tenth of the serving core on that; mimalloc's thread-local free
/// lists made the proxied call about 9 % faster (docs/benchmarks.md).
///
/// Built with `no_thp` (the workspace's Cargo.toml): otherwise mimalloc asks for
/// transparent huge pages on its arenas, and each page it later purges and reuses
/// faults back in as a whole 2 MiB page the kernel clears first. Under MCP load that
/// clearing took 0.5–1.7 % of the serving core; with 4 KiB pages the faults cost
/// under 0.1 %.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a configuration the user must fix (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Zero-trust access gateway for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written to stderr (filter them with `GATEHOUSE_LOG`, e.g.
    /// `info`, `warn,gatehouse::access=info`).
    #[arg(long, global = true, value_enum, default_value_t)]
    log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(serve::Args),
    /// Write a complete example (when absent) and run it with its example tools.
    Quickstart(quickstart::Args),
    /// Check or inspect the policy of a configuration.
    #[command(subcommand)]
    Policy(policy::Command),
    /// Generate agent or segment keys.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Agent-side helpers for demos and tests (real agents sign their own assertions).
    #[command(subcommand)]
    Agent(agent::Command),
    /// Initialise the store: required after damage, or when it is missing where
    /// Gatehouse ran before.
    #[command(subcommand)]
    Store(store::Command),
    /// Query events on the control plane.
    Events(events::Args),
    /// List, show, end and resume workflows.
    Workflows(workflows::WorkflowsArgs),
    /// Revoke a credential, a workflow or an agent.
    Revoke(workflows::RevokeArgs),
    /// Let a revoked agent obtain credentials again.
    Reinstate(workflows::ReinstateArgs),
    /// List, show, approve and deny parked high-tier calls.
    Approvals(approvals::ApprovalsArgs),
    /// Confirm (or reject) a medium-tier call as the workflow's confirmer.
    Confirm(approvals::ConfirmArgs),
    /// Prove the event log's hash chain unbroken.
    Audit(audit::Args),
    /// Add, list and lift temporary denies on a segment, tool, intent or agent.
    Quarantine(quarantine::Args),
    /// What agents can reach and what they used; `inventory suggest` for unmapped routes.
    Inventory(inventory::Args),
    /// An agent's learned call pattern per intent (`baseline show --agent A`).
    Baseline(baseline::Args),
    /// List an agent's recent decisions, or decide recorded calls again under candidate
    /// policies and report what would change.
    Replay(replay::Args),
    /// Run an incident playbook (revoke, end workflows, quarantine, notify), or dry-run it.
    Playbook(playbook::Args),
    /// Export the evidence of a period (JSON and HTML) for auditors.
    Evidence(evidence::Args),
    /// Record an agent's or a workflow's tool calls whole (on, off, list).
    Forensics(forensics::Args),
    /// List and show recorded calls.
    Recordings(forensics::RecordingsArgs),
}

/// A failure with its exit code; config problems exit 64 before any port is bound.
#[derive(Debug)]
enum Failure {
    Config(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Other(error)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = logging::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args),
        Command::Quickstart(args) => quickstart::run(&args),
        Command::Policy(command) => policy::run(&command),
        Command::Keys(command) => keys::run(&command).map_err(Failure::from),
        Command::Agent(command) => agent::run(&command).map_err(Failure::from),
        Command::Store(command) => store::run(&command),
        Command::Events(args) => events::run(&args).map_err(Failure::from),
        Command::Workflows(args) => workflows::run(&args).map_err(Failure::from),
        Command::Revoke(args) => workflows::revoke(&args).map_err(Failure::from),
        Command::Reinstate(args) => workflows::reinstate(&args).map_err(Failure::from),
        Command::Approvals(args) => approvals::run(&args).map_err(Failure::from),
        Command::Confirm(args) => approvals::confirm(&args).map_err(Failure::from),
        Command::Audit(args) => audit::run(&args).map_err(Failure::from),
        Command::Quarantine(args) => quarantine::run(&args).map_err(Failure::from),
        Command::Inventory(args) => inventory::run(&args),
        Command::Baseline(args) => baseline::run(&args).map_err(Failure::from),
        Command::Replay(args) => replay::run(&args),
        Command::Playbook(args) => playbook::run(&args).map_err(Failure::from),
        Command::Evidence(args) => evidence::run(&args).map_err(Failure::from),
        Command::Forensics(args) => forensics::run(&args).map_err(Failure::from),
        Command::Recordings(args) => forensics::recordings(&args).map_err(Failure::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(message)) => {
            eprintln!("{message}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Failure::Other(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A multi-threaded runtime for the verbs that need one.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
