//! `gatehouse workflows` and `gatehouse revoke`: operate on workflows, credentials and
//! agents through the control plane.

use anyhow::Context;
use http::Method;

use crate::control::{ControlArgs, encode};
use crate::policy::println_out;
use crate::table::{self, Align};

#[derive(Debug, clap::Args)]
pub(crate) struct WorkflowsArgs {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: WorkflowsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WorkflowsCommand {
    /// List workflows, newest first.
    List {
        #[arg(long)]
        agent: Option<String>,
        /// `active`, `paused`, `ended` or `expired`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one workflow with its budget and usage.
    Show { id: String },
    /// End a workflow: every credential it holds stops working, streams are cut.
    End {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Resume a paused workflow, optionally extending its budget.
    Resume {
        id: String,
        #[arg(long, default_value_t = 0)]
        calls: u64,
        #[arg(long, default_value_t = 0)]
        writes: u64,
        #[arg(long, default_value_t = 0)]
        bytes: u64,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    control: ControlArgs,
    /// `token` (a jti or the credential itself), `workflow` or `agent`.
    #[arg(value_parser = ["token", "workflow", "agent"])]
    kind: String,
    subject: String,
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReinstateArgs {
    #[command(flatten)]
    control: ControlArgs,
    /// The agent id to let obtain credentials again.
    agent: String,
}

pub(crate) fn run(args: &WorkflowsArgs) -> anyhow::Result<()> {
    let control = &args.control;
    let answer = match &args.command {
        WorkflowsCommand::List {
            agent,
            status,
            json,
        } => {
            let mut query = vec![];
            if let Some(agent) = agent {
                query.push(format!("agent={}", encode(agent)));
            }
            if let Some(status) = status {
                query.push(format!("status={}", encode(status)));
            }
            let listed = control.request(
                Method::GET,
                &format!("/v1/workflows?{}", query.join("&")),
                None,
            )?;
            if !json {
                println_out(&table(&listed));
                return Ok(());
            }
            listed
        }
        WorkflowsCommand::Show { id } => {
            control.request(Method::GET, &format!("/v1/workflows/{}", encode(id)), None)?
        }
        WorkflowsCommand::End { id, reason } => {
            let body = serde_json::json!({ "reason": reason });
            control.request(
                Method::POST,
                &format!("/v1/workflows/{}/end", encode(id)),
                Some(body),
            )?
        }
        WorkflowsCommand::Resume {
            id,
            calls,
            writes,
            bytes,
        } => {
            let body = serde_json::json!({ "extend": { "calls": calls, "writes": writes, "bytes": bytes } });
            control.request(
                Method::POST,
                &format!("/v1/workflows/{}/resume", encode(id)),
                Some(body),
            )?
        }
    };
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}

pub(crate) fn revoke(args: &RevokeArgs) -> anyhow::Result<()> {
    let body =
        serde_json::json!({ "kind": args.kind, "subject": args.subject, "reason": args.reason });
    let answer = args
        .control
        .request(Method::POST, "/v1/revocations", Some(body))?;
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}

pub(crate) fn reinstate(args: &ReinstateArgs) -> anyhow::Result<()> {
    let path = format!("/v1/revocations/agent/{}", encode(&args.agent));
    args.control.request(Method::DELETE, &path, None)?;
    println_out(&format!("reinstated {}", args.agent));
    Ok(())
}

fn table(listed: &serde_json::Value) -> String {
    let empty = Vec::new();
    let workflows = listed
        .get("workflows")
        .and_then(serde_json::Value::as_array)
        .unwrap_or(&empty);
    let rows = workflows
        .iter()
        .map(|workflow| {
            let text = |key: &str| {
                workflow
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("-")
                    .to_owned()
            };
            let used = |kind: &str| {
                let of = |part: &str| {
                    workflow
                        .get(part)
                        .and_then(|value| value.get(kind))
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0)
                };
                format!("{}/{}", of("usage"), of("budget"))
            };
            vec![
                text("id"),
                text("status"),
                text("agent"),
                text("task_class"),
                used("calls"),
                used("writes"),
                used("bytes"),
            ]
        })
        .collect();
    table::render(
        &[
            ("WORKFLOW", Align::Left),
            ("STATUS", Align::Left),
            ("AGENT", Align::Left),
            ("TASK CLASS", Align::Left),
            ("CALLS", Align::Right),
            ("WRITES", Align::Right),
            ("BYTES", Align::Right),
        ],
        rows,
    )
}

/// `gatehouse keys rotate` lives with the other control-plane verbs.
pub(crate) fn rotate(control: &ControlArgs, segment: &str) -> anyhow::Result<()> {
    let path = format!("/v1/keys/{}/rotate", encode(segment));
    let answer = control
        .request(Method::POST, &path, None)
        .context("rotation failed")?;
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}
