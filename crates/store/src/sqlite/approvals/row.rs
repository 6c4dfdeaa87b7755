//! One approval as one row: column values in and out, in the column order of the
//! statements in `approvals.rs`. Checkpoint, status and tier are stored as their text
//! names, and a name the type does not know reads back as an error.

use gatehouse_core::approval::{Approval, ParkedCall, StoredResponse, Verdict};
use rusqlite::{Row, ToSql};

use crate::sqlite::column::{closed, decision_id, invalid, string_list, string_list_json};

/// The values of one approval that are not stored as they are.
#[derive(Debug)]
pub(super) struct Encoded<'a> {
    approval: &'a Approval,
    /// The names, as the text they are stored as.
    id: &'a str,
    agent: &'a str,
    workflow: &'a str,
    task_class: &'a str,
    segment: &'a str,
    tool: &'a str,
    intent: &'a str,
    policy_version: &'a str,
    digest: &'a str,
    checkpoint: &'static str,
    tier: &'static str,
    status: &'static str,
    decision: String,
    policies: String,
    verdicts: String,
    response_status: Option<u16>,
    response_content_type: Option<&'a str>,
    response_body: Option<&'a [u8]>,
}

impl<'a> Encoded<'a> {
    pub(super) fn new(approval: &'a Approval) -> rusqlite::Result<Self> {
        let response = approval.response.as_ref();
        Ok(Self {
            approval,
            id: approval.id.as_str(),
            agent: approval.agent.as_str(),
            workflow: approval.workflow.as_str(),
            task_class: approval.task_class.as_str(),
            segment: approval.segment.as_str(),
            tool: approval.call.tool.as_str(),
            intent: approval.call.intent.as_str(),
            policy_version: approval.policy_version.as_str(),
            digest: approval.call.digest.as_str(),
            checkpoint: approval.checkpoint.as_str(),
            tier: approval.tier.as_str(),
            status: approval.status.as_str(),
            decision: approval.decision.to_string(),
            policies: string_list_json(&approval.policies),
            verdicts: verdicts_json(&approval.verdicts)?,
            response_status: response.map(|response| response.status),
            response_content_type: response.and_then(|response| response.content_type.as_deref()),
            response_body: response.map(|response| response.body.as_slice()),
        })
    }

    /// The parameters of `UPSERT`, in column order.
    pub(super) fn params(&self) -> [&dyn ToSql; 26] {
        let approval = self.approval;
        let call = &approval.call;
        [
            &self.id,
            &self.checkpoint,
            &self.status,
            &self.decision,
            &self.agent,
            &self.workflow,
            &self.task_class,
            &self.segment,
            &self.tier,
            &self.policies,
            &self.policy_version,
            &call.method,
            &self.tool,
            &self.intent,
            &call.path,
            &call.query,
            &call.content_type,
            &call.body,
            &self.digest,
            &approval.required,
            &self.verdicts,
            &approval.created_at,
            &approval.expires_at,
            &self.response_status,
            &self.response_content_type,
            &self.response_body,
        ]
    }
}

/// Reads one row in the column order of `approvals.rs`.
pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: name(row, 0)?,
        checkpoint: closed(row, 1)?,
        status: closed(row, 2)?,
        decision: decision_id(row, 3)?,
        agent: name(row, 4)?,
        workflow: name(row, 5)?,
        task_class: name(row, 6)?,
        segment: name(row, 7)?,
        tier: closed(row, 8)?,
        policies: string_list(row, 9)?,
        policy_version: name(row, 10)?,
        call: ParkedCall {
            method: row.get(11)?,
            tool: name(row, 12)?,
            intent: name(row, 13)?,
            path: row.get(14)?,
            query: row.get(15)?,
            content_type: row.get(16)?,
            body: row.get(17)?,
            digest: name(row, 18)?,
        },
        required: row.get(19)?,
        verdicts: verdicts(row, 20)?,
        created_at: row.get(21)?,
        expires_at: row.get(22)?,
        response: response(row, 23)?,
    })
}

/// A name (id, agent, workflow, …) stored as its text.
fn name<T: From<String>>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    row.get::<_, String>(index).map(T::from)
}

fn verdicts_json(verdicts: &[Verdict]) -> rusqlite::Result<String> {
    serde_json::to_string(verdicts)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

fn verdicts(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<Verdict>> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|error| invalid(index, format!("bad verdict list `{text}`: {error}")))
}

/// Reads the response from its three columns starting at `index` (status, content
/// type, body); no status means no response yet.
fn response(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<StoredResponse>> {
    let Some(status) = row.get::<_, Option<u16>>(index)? else {
        return Ok(None);
    };
    Ok(Some(StoredResponse {
        status,
        content_type: row.get(index + 1)?,
        body: row.get(index + 2)?,
    }))
}
