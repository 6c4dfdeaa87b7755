//! What each step would change, read from the control plane just before it runs (or,
//! for `--dry-run`, instead of running), and carrying it out.

use std::collections::BTreeSet;

use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::event::EventKind;
use gatehouse_core::event::{Event, Outcome};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::control::{ControlArgs, encode};
use crate::playbook::spec::{Step, Target};

/// One change a step makes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub(crate) enum Change {
    RevokeAgent {
        agent: String,
        reason: String,
        /// The live workflows the revocation ends with it.
        ends: Vec<String>,
    },
    EndWorkflow {
        workflow: String,
        reason: String,
    },
    Quarantine {
        target: &'static str,
        subject: String,
        for_secs: u64,
        reason: String,
    },
    /// Already covered by a live quarantine: nothing to change.
    AlreadyQuarantined {
        target: &'static str,
        subject: String,
    },
    ForensicsOn {
        agent: String,
        for_secs: u64,
        redact: Vec<String>,
    },
    Notify {
        url: String,
    },
    Nothing {
        why: String,
    },
}

impl Change {
    /// The change as one line of the report.
    pub(crate) fn text(&self, done: bool) -> String {
        let verb = |will: &str, did: &str| {
            if done {
                did.to_owned()
            } else {
                will.to_owned()
            }
        };
        match self {
            Self::RevokeAgent { agent, ends, .. } => format!(
                "{} agent `{agent}`{}",
                verb("revoke", "revoked"),
                if ends.is_empty() {
                    String::new()
                } else {
                    format!(", ending its live workflows {}", quoted(ends))
                }
            ),
            Self::EndWorkflow { workflow, .. } => {
                format!("{} workflow `{workflow}`", verb("end", "ended"))
            }
            Self::Quarantine {
                target,
                subject,
                for_secs,
                reason,
            } => format!(
                "{} {target} `{subject}` for {for_secs}s: {reason}",
                verb("quarantine", "quarantined")
            ),
            Self::AlreadyQuarantined { target, subject } => {
                format!("{target} `{subject}` is already quarantined: no change")
            }
            Self::ForensicsOn {
                agent, for_secs, ..
            } => format!(
                "{} forensics recording of agent `{agent}` for {for_secs}s",
                verb("turn on", "turned on")
            ),
            Self::Notify { url } => format!("{} the run to `{url}`", verb("post", "posted")),
            Self::Nothing { why } => format!("no change: {why}"),
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The changes `step` would make now.
pub(crate) fn plan(control: &ControlArgs, step: &Step) -> anyhow::Result<Vec<Change>> {
    Ok(match step {
        Step::RevokeAgent { agent, reason } => vec![Change::RevokeAgent {
            agent: agent.clone(),
            reason: reason.clone(),
            ends: live_workflows(control, agent)?,
        }],
        Step::EndWorkflows { agent, reason } => {
            let changes: Vec<Change> = live_workflows(control, agent)?
                .into_iter()
                .map(|workflow| Change::EndWorkflow {
                    workflow,
                    reason: reason.clone(),
                })
                .collect();
            or_nothing(changes, format!("agent `{agent}` has no live workflow"))
        }
        Step::QuarantineTouched {
            agent,
            target,
            within_ms,
            hold_secs,
            reason,
        } => {
            let touched = touched(control, agent, *target, *within_ms)?;
            let changes = quarantines(control, *target, touched, *hold_secs, reason)?;
            or_nothing(
                changes,
                format!("agent `{agent}` touched no {} lately", target.as_str()),
            )
        }
        Step::Quarantine {
            target,
            subject,
            hold_secs,
            reason,
        } => {
            let subjects = BTreeSet::from([subject.clone()]);
            quarantines(control, *target, subjects, *hold_secs, reason)?
        }
        Step::ForensicsOn {
            agent,
            hold_secs,
            redact,
        } => vec![Change::ForensicsOn {
            agent: agent.clone(),
            for_secs: *hold_secs,
            redact: redact.clone(),
        }],
        Step::Notify { url } => vec![match url {
            Some(url) => Change::Notify { url: url.clone() },
            None => Change::Nothing {
                why: "no webhook given".to_owned(),
            },
        }],
    })
}

fn or_nothing(changes: Vec<Change>, why: String) -> Vec<Change> {
    if changes.is_empty() {
        vec![Change::Nothing { why }]
    } else {
        changes
    }
}

/// The agent's workflows that are active or paused.
fn live_workflows(control: &ControlArgs, agent: &str) -> anyhow::Result<Vec<String>> {
    let path = format!("/v1/workflows?agent={}", encode(agent));
    let listed = control.request(Method::GET, &path, None)?;
    let workflows = listed
        .get("workflows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(workflows
        .iter()
        .filter(|workflow| {
            matches!(
                workflow.get("status").and_then(Value::as_str),
                Some("active" | "paused")
            )
        })
        .filter_map(|workflow| {
            workflow
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

/// The tools or segments the agent's calls reached within the last `within_ms` (calls
/// refused before the tool do not count: they touched nothing).
fn touched(
    control: &ControlArgs,
    agent: &str,
    target: Target,
    within_ms: i64,
) -> anyhow::Result<BTreeSet<String>> {
    let since = SystemClock.now().millis().saturating_sub(within_ms);
    let path = format!(
        "/v1/events?agent={}&since={since}&limit=1000",
        encode(agent)
    );
    let body = control.request(Method::GET, &path, None)?;
    let events: Vec<Event> =
        serde_json::from_value(body.get("events").cloned().unwrap_or_default())
            .context("unexpected event format")?;
    Ok(events
        .iter()
        .filter(|event| {
            (event.kind == EventKind::Tool || event.kind == EventKind::Mcp)
                && event.outcome != Outcome::Deny
        })
        .filter_map(|event| match target {
            Target::Segment => event.segment.as_deref().map(str::to_owned),
            _ => event.tool.as_deref().map(str::to_owned),
        })
        .collect())
}

fn quarantines(
    control: &ControlArgs,
    target: Target,
    subjects: BTreeSet<String>,
    for_secs: u64,
    reason: &str,
) -> anyhow::Result<Vec<Change>> {
    let live = control.request(Method::GET, "/v1/quarantines", None)?;
    let live = live
        .get("quarantines")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let held = |subject: &str| {
        live.iter().any(|q| {
            q.get("kind").and_then(Value::as_str) == Some(target.as_str())
                && q.get("subject").and_then(Value::as_str) == Some(subject)
        })
    };
    Ok(subjects
        .into_iter()
        .map(|subject| {
            if held(&subject) {
                Change::AlreadyQuarantined {
                    target: target.as_str(),
                    subject,
                }
            } else {
                Change::Quarantine {
                    target: target.as_str(),
                    subject,
                    for_secs,
                    reason: reason.to_owned(),
                }
            }
        })
        .collect())
}

/// Makes `change`; `report` is what a notification carries.
pub(crate) fn apply(control: &ControlArgs, change: &Change, report: &Value) -> anyhow::Result<()> {
    match change {
        Change::RevokeAgent { agent, reason, .. } => {
            let body = json!({ "kind": "agent", "subject": agent, "reason": reason });
            control.request(Method::POST, "/v1/revocations", Some(body))?;
        }
        Change::EndWorkflow { workflow, reason } => {
            let path = format!("/v1/workflows/{}/end", encode(workflow));
            control.request(Method::POST, &path, Some(json!({ "reason": reason })))?;
        }
        Change::Quarantine {
            target,
            subject,
            for_secs,
            reason,
        } => {
            let body = json!({ "kind": target, "subject": subject, "for_secs": for_secs, "reason": reason });
            control.request(Method::POST, "/v1/quarantines", Some(body))?;
        }
        Change::ForensicsOn {
            agent,
            for_secs,
            redact,
        } => {
            let body = json!({ "kind": "agent", "subject": agent, "for_secs": for_secs, "redact": redact });
            control.request(Method::POST, "/v1/forensics", Some(body))?;
        }
        Change::Notify { url } => notify(url, report)?,
        Change::AlreadyQuarantined { .. } | Change::Nothing { .. } => {}
    }
    Ok(())
}

fn notify(url: &str, report: &Value) -> anyhow::Result<()> {
    let reply = crate::runtime()?.block_on(gatehouse_kit::client::send(
        Method::POST,
        url,
        &[("content-type", "application/json")],
        report.to_string(),
    ))?;
    if !reply.status.is_success() {
        anyhow::bail!("the webhook `{url}` answered {}", reply.status);
    }
    Ok(())
}
