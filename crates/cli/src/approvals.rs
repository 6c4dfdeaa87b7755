//! `gatehouse approvals` and `gatehouse confirm`: decide on parked calls and confirmations
//! through the control plane.

use gatehouse_core::approval::ApprovalStatus;
use http::Method;

use crate::control::{ControlArgs, encode};
use crate::policy::println_out;
use crate::table::{self, Align};

#[derive(Debug, clap::Args)]
pub(crate) struct ApprovalsArgs {
    #[command(flatten)]
    control: ControlArgs,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ApprovalsCommand {
    /// List approvals, newest first (pending ones by default).
    List {
        /// `pending`, `approved`, `executing`, `done`, `denied`, `expired`, `cancelled`.
        #[arg(long, default_value = "pending")]
        status: ApprovalStatus,
        #[arg(long)]
        json: bool,
    },
    /// Show one approval with the exact call it parked.
    Show { id: String },
    /// Approve a parked call (role `approver`); it runs once enough approvers agreed.
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Deny a parked call (role `approver`).
    Deny {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConfirmArgs {
    #[command(flatten)]
    control: ControlArgs,
    /// The confirmation id the agent received.
    id: String,
    /// Reject instead of confirming.
    #[arg(long)]
    reject: bool,
    #[arg(long, default_value = "")]
    reason: String,
}

pub(crate) fn run(args: &ApprovalsArgs) -> anyhow::Result<()> {
    let control = &args.control;
    let answer = match &args.command {
        ApprovalsCommand::List { status, json } => {
            let listed = control.request(
                Method::GET,
                &format!("/v1/approvals?status={}", status.as_str()),
                None,
            )?;
            if !json {
                println_out(&table(&listed));
                return Ok(());
            }
            listed
        }
        ApprovalsCommand::Show { id } => {
            control.request(Method::GET, &format!("/v1/approvals/{}", encode(id)), None)?
        }
        ApprovalsCommand::Approve { id, reason } => verdict(control, id, "approve", reason)?,
        ApprovalsCommand::Deny { id, reason } => verdict(control, id, "deny", reason)?,
    };
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}

pub(crate) fn confirm(args: &ConfirmArgs) -> anyhow::Result<()> {
    let verb = if args.reject { "reject" } else { "confirm" };
    let path = format!("/v1/confirmations/{}/{verb}", encode(&args.id));
    let body = serde_json::json!({ "reason": args.reason });
    let answer = args.control.request(Method::POST, &path, Some(body))?;
    println_out(&serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn verdict(
    control: &ControlArgs,
    id: &str,
    verb: &str,
    reason: &str,
) -> anyhow::Result<serde_json::Value> {
    let path = format!("/v1/approvals/{}/{verb}", encode(id));
    control.request(
        Method::POST,
        &path,
        Some(serde_json::json!({ "reason": reason })),
    )
}

fn table(listed: &serde_json::Value) -> String {
    let empty = Vec::new();
    let approvals = listed
        .get("approvals")
        .and_then(serde_json::Value::as_array)
        .unwrap_or(&empty);
    let text = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let rows = approvals
        .iter()
        .map(|approval| {
            let call = approval.get("call");
            let verdicts = approval
                .get("verdicts")
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len);
            let required = approval
                .get("required")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
            vec![
                text(approval.get("id")),
                text(approval.get("status")),
                text(approval.get("agent")),
                text(call.and_then(|call| call.get("intent"))),
                text(call.and_then(|call| call.get("tool"))),
                format!(
                    "{} {}",
                    text(call.and_then(|call| call.get("method"))),
                    text(call.and_then(|call| call.get("path")))
                ),
                format!("{verdicts}/{required}"),
            ]
        })
        .collect();
    let left = |name| (name, Align::Left);
    table::render(
        &[
            left("APPROVAL"),
            left("STATUS"),
            left("AGENT"),
            left("INTENT"),
            left("TOOL"),
            left("CALL"),
            left("APPROVERS"),
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Approvals {
        #[command(flatten)]
        args: ApprovalsArgs,
    }

    #[test]
    fn a_status_outside_the_set_is_refused_before_any_request() {
        let listed = Approvals::try_parse_from(["approvals", "list"]).unwrap();
        assert!(matches!(
            listed.args.command,
            ApprovalsCommand::List {
                status: ApprovalStatus::Pending,
                ..
            }
        ));
        let done = Approvals::try_parse_from(["approvals", "list", "--status", "done"]).unwrap();
        assert!(matches!(
            done.args.command,
            ApprovalsCommand::List {
                status: ApprovalStatus::Done,
                ..
            }
        ));
        let error = Approvals::try_parse_from(["approvals", "list", "--status", "Pending"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown approval status `Pending`"),
            "{error}"
        );
    }
}
