//! `gatehouse policy check`: the whole config and its policies, validated against the
//! schema; exit 0 when valid, 64 with every error when not. `--probe` also asks each MCP
//! server what it offers (`policy/probe.rs`). `test` runs the cases shipped with a
//! policy set (`policy/cases.rs`); `apply` and `versions` talk to the running gateway
//! (`policy/apply.rs`).

mod apply;
mod cases;
mod diff;
mod evaluate;
mod probe;

use std::path::PathBuf;

use gatehouse_policy::PolicyEngine;

use crate::Failure;
use crate::serve::load_config;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Validate the config and its policies.
    Check {
        #[arg(long, default_value = "gatehouse.toml")]
        config: PathBuf,
        /// Also print the combined Cedar schema the policies were validated against.
        #[arg(long)]
        print_schema: bool,
        /// Also launch or connect to each MCP server and report configured tools it does
        /// not offer, and servers that cannot be reached or started.
        #[arg(long)]
        probe: bool,
    },
    /// Run the test cases shipped with a policy set (`DIR/tests.toml`; DIR defaults to
    /// the config's policy directory); exit 1 when a case gets another decision.
    Test {
        /// A policy directory: its `*.cedar` files are tested in place of the config's.
        dir: Option<PathBuf>,
        #[arg(long, default_value = "gatehouse.toml")]
        config: PathBuf,
    },
    /// Have the running gateway read its policy files again and put them in force.
    Apply {
        #[command(flatten)]
        control: crate::control::ControlArgs,
        /// Why, kept with the version.
        #[arg(long)]
        message: Option<String>,
    },
    /// The effect of changing the policies in OLD to those in NEW on recorded calls
    /// (fetched from the control plane): each is decided again under both.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, default_value = "gatehouse.toml")]
        config: PathBuf,
        /// Calls newer than this: `30m`, `2h`, `1d`.
        #[arg(long, default_value = "1d")]
        since: String,
        /// At most this many recorded calls, newest first.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[command(flatten)]
        control: crate::control::ControlArgs,
    },
    /// The policy sets the running gateway loaded, newest first (`*` in force).
    Versions {
        #[command(flatten)]
        control: crate::control::ControlArgs,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Check {
            config,
            print_schema,
            probe,
        } => check(config, *print_schema, *probe),
        Command::Test { dir, config } => cases::run(load_config(config)?, dir.as_deref()),
        Command::Apply { control, message } => {
            apply::apply(control, message.as_deref()).map_err(Failure::from)
        }
        Command::Diff {
            old,
            new,
            config,
            since,
            limit,
            control,
        } => {
            let loaded = load_config(config)?;
            let events = crate::events::recorded(control, since, *limit)?;
            println_out(&diff::report(&loaded, old, new, &events)?);
            Ok(())
        }
        Command::Versions { control, json } => {
            apply::versions(control, *json).map_err(Failure::from)
        }
    }
}

fn check(config: &std::path::Path, print_schema: bool, probe: bool) -> Result<(), Failure> {
    let loaded = load_config(config)?;
    let engine = PolicyEngine::build(&loaded)
        .map_err(|errors| Failure::Config(format!("invalid policy:\n{errors}")))?;
    if print_schema {
        println_out(&engine.schema_text());
    }
    println_out(&format!(
        "ok: {} policies, {} agents, {} tools, {} MCP servers, {} intents",
        engine.policy_count(),
        loaded.agents.len(),
        loaded.tools.len(),
        loaded.mcp_servers.len(),
        loaded.intents.len()
    ));
    if probe {
        probe_servers(&loaded)?;
    }
    Ok(())
}

fn probe_servers(config: &gatehouse_core::config::Config) -> Result<(), Failure> {
    let runtime = crate::runtime()?;
    let problems = runtime.block_on(probe::probe(config));
    if problems.is_empty() {
        println_out(&format!(
            "probe: {} MCP servers offer every configured tool",
            config.mcp_servers.len()
        ));
        return Ok(());
    }
    Err(Failure::Config(format!(
        "probe found problems:\n{}",
        problems.join("\n")
    )))
}

/// The CLI's one way to write to standard output.
pub(crate) fn println_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}
