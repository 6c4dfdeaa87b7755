//! `gatehouse evidence export --since 30d --out FILE`: the control plane's evidence
//! (`GET /v1/evidence`: policy versions and hashes, decision counts, approvals with their
//! approvers, revocations, quarantines, playbook runs, the hash chain's check) written
//! as JSON to FILE and as a readable report to FILE.html (`evidence/html.rs`).

mod html;

use std::path::PathBuf;

use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use http::Method;

use crate::control::ControlArgs;
use crate::events::parse_age_ms;
use crate::policy::println_out;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write the evidence of a period as JSON (FILE) and HTML (FILE.html).
    Export {
        /// How far back: `24h`, `30d`.
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Command::Export { since, out } = &args.command;
    let since_ms = SystemClock
        .now()
        .millis()
        .saturating_sub(parse_age_ms(since)?);
    let path = format!("/v1/evidence?since={since_ms}");
    let evidence = args.control.request(Method::GET, &path, None)?;
    let json = serde_json::to_string_pretty(&evidence)?;
    std::fs::write(out, json + "\n")
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    let mut html_path = out.clone().into_os_string();
    html_path.push(".html");
    let html_path = PathBuf::from(html_path);
    std::fs::write(&html_path, html::report(&evidence))
        .with_context(|| format!("cannot write `{}`", html_path.display()))?;
    let unbroken = evidence
        .pointer("/chain/unbroken")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    println_out(&format!(
        "wrote `{}` and `{}`; event chain {}",
        out.display(),
        html_path.display(),
        if unbroken { "unbroken" } else { "BROKEN" }
    ));
    Ok(())
}
