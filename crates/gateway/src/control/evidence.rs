//! `GET /v1/evidence?since=MS`: what an auditor asks for, gathered in one answer (for
//! `gatehouse evidence export`): the policy version in force with each file's hash and
//! the versions approvals were decided under, decisions counted by surface and outcome,
//! refusals by kind, control-plane actions by kind, approvals with their approvers,
//! revocations, quarantines and their changes, playbook runs, and the events' hash chain
//! checked by the same store function as `GET /v1/audit/verify`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::event::{Event, EventFilter, EventKind};
use gatehouse_core::ids::DecisionId;
use gatehouse_store::{ApprovalFilter, MAX_LIMIT};
use http::{Request, Response};
use hyper::body::Incoming;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::body::ResponseBody;
use crate::control::workflows::unavailable;
use crate::control::{ControlError, auth, blocking, ok_json, playbooks};
use crate::state::State;

/// Events read per store query while counting.
const PAGE: u32 = 1000;

pub(super) async fn export(
    state: &Arc<State>,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    auth::require(state, request, &[Role::Auditor, Role::Operator])?;
    let since_ms = since(request.uri().query().unwrap_or(""))?;
    let counts = count_events(state, since_ms).await?;
    let store = Arc::clone(&state.store);
    let check = blocking(move || store.verify_chain(Some(since_ms))).await?;
    let store = Arc::clone(&state.store);
    let now = state.clock.now();
    let revocations = blocking(move || store.revocations(now.secs())).await?;
    let approvals = approvals(state, since_ms).await?;
    let runs = playbooks::runs(state, Some(since_ms)).await?;
    Ok(ok_json(&json!({
        "generated_ms": now.millis(),
        "since_ms": since_ms,
        "policy": policy(state, &approvals),
        "decisions": counts.decisions,
        "refusals": counts.refusals,
        "control_actions": counts.actions,
        "approvals": approvals,
        "revocations": revocations,
        "quarantines": {
            "live": state.quarantines.list(now.millis()),
            "changes": counts.quarantine_changes,
        },
        "playbook_runs": runs,
        "chain": { "unbroken": check.is_unbroken(), "check": check },
    })))
}

/// The one parameter, `since` (Unix milliseconds), required.
fn since(query: &str) -> Result<i64, ControlError> {
    let bad = |reason: String| ControlError::BadRequest { reason };
    let pairs =
        gatehouse_core::form::distinct_pairs(query).map_err(|error| bad(error.to_string()))?;
    let [(key, value)] = pairs.as_slice() else {
        return Err(bad(
            "`since` (Unix milliseconds) is required and the only parameter".to_owned(),
        ));
    };
    if key != "since" {
        return Err(bad(format!("unknown query parameter `{key}`")));
    }
    value
        .parse()
        .map_err(|_| bad(format!("`since` must be Unix milliseconds, not `{value}`")))
}

/// The version in force (the hash approvals record), each policy file's SHA-256, and the
/// versions the window's approvals were decided under.
fn policy(state: &State, approvals: &[Value]) -> Value {
    let files: Vec<Value> = state
        .config
        .policies
        .iter()
        .map(|file| {
            json!({
                "path": file.path.display().to_string(),
                "sha256": hex(&Sha256::digest(file.text.as_bytes())),
            })
        })
        .collect();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for approval in approvals {
        if let Some(version) = approval.get("policy_version").and_then(Value::as_str) {
            *seen.entry(version.to_owned()).or_default() += 1;
        }
    }
    let in_force = state.policy.version();
    let versions: Vec<Value> = seen
        .into_iter()
        .map(|(version, approvals)| {
            json!({ "version": version, "approvals": approvals, "current": *version == *in_force })
        })
        .collect();
    json!({ "version": &*in_force, "files": files, "versions_in_approvals": versions })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[derive(Debug, Default)]
struct Counts {
    /// Surface (`tool`, `mcp`, `token`, …) → outcome → count.
    decisions: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    refusals: BTreeMap<&'static str, u64>,
    /// Control-plane actions by intent (`revoke.agent`, `quarantine.add`, …).
    actions: BTreeMap<String, u64>,
    quarantine_changes: Vec<Value>,
}

impl Counts {
    fn add(&mut self, event: &Event) {
        if event.kind == EventKind::Control {
            let intent = event.intent.as_deref().unwrap_or_default().to_owned();
            if intent.starts_with("quarantine.") {
                self.quarantine_changes.push(json!({
                    "id": event.id.to_string(),
                    "time_ms": event.time_ms,
                    "actor": event.actor,
                    "action": intent,
                    "detail": event.reason,
                }));
            }
            *self.actions.entry(intent).or_default() += 1;
            return;
        }
        *self
            .decisions
            .entry(event.kind.as_str())
            .or_default()
            .entry(event.outcome.as_str())
            .or_default() += 1;
        if let Some(refusal) = event.refusal {
            *self.refusals.entry(refusal.as_str()).or_default() += 1;
        }
    }
}

/// Every event since `since_ms`, read forward by id a page at a time.
async fn count_events(state: &Arc<State>, since_ms: i64) -> Result<Counts, ControlError> {
    let mut counts = Counts::default();
    let mut after = DecisionId::from_u128(0);
    loop {
        let filter = EventFilter {
            since_ms: Some(since_ms),
            after: Some(after),
            limit: Some(PAGE),
            ..EventFilter::default()
        };
        let store = Arc::clone(&state.store);
        let page = blocking(move || store.query_events(&filter)).await?;
        let Some(last) = page.iter().map(|event| event.id).max() else {
            return Ok(counts);
        };
        page.iter().for_each(|event| counts.add(event));
        after = last;
    }
}

/// Approvals and confirmations created in the window, with who decided them.
async fn approvals(state: &State, since_ms: i64) -> Result<Vec<Value>, ControlError> {
    let filter = ApprovalFilter {
        limit: Some(MAX_LIMIT),
        ..ApprovalFilter::default()
    };
    let all = state.approvals.list(filter).await.map_err(unavailable)?;
    let since_secs = since_ms / 1000;
    Ok(all
        .iter()
        .filter(|approval| approval.created_at >= since_secs)
        .map(|approval| {
            json!({
                "id": approval.id,
                "checkpoint": approval.checkpoint,
                "status": approval.status,
                "agent": approval.agent,
                "workflow": approval.workflow,
                "tool": approval.call.tool,
                "intent": approval.call.intent,
                "policies": approval.policies,
                "policy_version": approval.policy_version,
                "required": approval.required,
                "verdicts": approval.verdicts,
                "created_at": approval.created_at,
            })
        })
        .collect())
}
