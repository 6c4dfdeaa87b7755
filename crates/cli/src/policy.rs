//! `gatehouse policy check`: the whole config and its policies, validated against the
//! schema; exit 0 when valid, 64 with every error when not. `--probe` also asks each MCP
//! server what it offers (`policy/probe.rs`).

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
}

pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    let Command::Check {
        config,
        print_schema,
        probe,
    } = command;
    let loaded = load_config(config)?;
    let engine = PolicyEngine::build(&loaded)
        .map_err(|errors| Failure::Config(format!("invalid policy:\n{errors}")))?;
    if *print_schema {
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
    if *probe {
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
