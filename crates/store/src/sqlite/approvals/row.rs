//! One approval as one row: column values in and out, in the column order of the
//! statements in `approvals.rs`, and the text stored for checkpoint and status.

use gatehouse_core::approval::{
    Approval, ApprovalStatus, Checkpoint, ParkedCall, StoredResponse, Verdict,
};
use gatehouse_core::model::Tier;
use rusqlite::{Row, ToSql};

use crate::sqlite::column::{decision_id, invalid, string_list, string_list_json};

/// The values of one approval that are not stored as they are.
#[derive(Debug)]
pub(super) struct Encoded<'a> {
    approval: &'a Approval,
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
            checkpoint: checkpoint_text(approval.checkpoint),
            tier: approval.tier.as_str(),
            status: status_text(approval.status),
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
            &approval.id,
            &self.checkpoint,
            &self.status,
            &self.decision,
            &approval.agent,
            &approval.workflow,
            &approval.task_class,
            &approval.segment,
            &self.tier,
            &self.policies,
            &approval.policy_version,
            &call.method,
            &call.tool,
            &call.intent,
            &call.path,
            &call.query,
            &call.content_type,
            &call.body,
            &call.digest,
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
        id: row.get(0)?,
        checkpoint: checkpoint(row, 1)?,
        status: status(row, 2)?,
        decision: decision_id(row, 3)?,
        agent: row.get(4)?,
        workflow: row.get(5)?,
        task_class: row.get(6)?,
        segment: row.get(7)?,
        tier: tier(row, 8)?,
        policies: string_list(row, 9)?,
        policy_version: row.get(10)?,
        call: ParkedCall {
            method: row.get(11)?,
            tool: row.get(12)?,
            intent: row.get(13)?,
            path: row.get(14)?,
            query: row.get(15)?,
            content_type: row.get(16)?,
            body: row.get(17)?,
            digest: row.get(18)?,
        },
        required: row.get(19)?,
        verdicts: verdicts(row, 20)?,
        created_at: row.get(21)?,
        expires_at: row.get(22)?,
        response: response(row, 23)?,
    })
}

/// The stored text of a status: its serde name, so the column reads like the API.
pub(super) fn status_text(status: ApprovalStatus) -> &'static str {
    match status {
        ApprovalStatus::Pending => "pending",
        ApprovalStatus::Approved => "approved",
        ApprovalStatus::Executing => "executing",
        ApprovalStatus::Done => "done",
        ApprovalStatus::Denied => "denied",
        ApprovalStatus::Expired => "expired",
        ApprovalStatus::Cancelled => "cancelled",
    }
}

/// The stored text of a checkpoint: its serde name.
pub(super) fn checkpoint_text(checkpoint: Checkpoint) -> &'static str {
    match checkpoint {
        Checkpoint::Confirmation => "confirmation",
        Checkpoint::Approval => "approval",
    }
}

fn status(row: &Row<'_>, index: usize) -> rusqlite::Result<ApprovalStatus> {
    let text: String = row.get(index)?;
    let status = match text.as_str() {
        "pending" => ApprovalStatus::Pending,
        "approved" => ApprovalStatus::Approved,
        "executing" => ApprovalStatus::Executing,
        "done" => ApprovalStatus::Done,
        "denied" => ApprovalStatus::Denied,
        "expired" => ApprovalStatus::Expired,
        "cancelled" => ApprovalStatus::Cancelled,
        _ => return Err(invalid(index, format!("unknown approval status `{text}`"))),
    };
    Ok(status)
}

fn tier(row: &Row<'_>, index: usize) -> rusqlite::Result<Tier> {
    let text: String = row.get(index)?;
    match text.as_str() {
        "low" => Ok(Tier::Low),
        "medium" => Ok(Tier::Medium),
        "high" => Ok(Tier::High),
        _ => Err(invalid(index, format!("unknown tier `{text}`"))),
    }
}

fn checkpoint(row: &Row<'_>, index: usize) -> rusqlite::Result<Checkpoint> {
    let text: String = row.get(index)?;
    match text.as_str() {
        "confirmation" => Ok(Checkpoint::Confirmation),
        "approval" => Ok(Checkpoint::Approval),
        _ => Err(invalid(index, format!("unknown checkpoint `{text}`"))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_name<T: serde::Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn stored_names_are_the_serde_names() {
        for status in [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Executing,
            ApprovalStatus::Done,
            ApprovalStatus::Denied,
            ApprovalStatus::Expired,
            ApprovalStatus::Cancelled,
        ] {
            assert_eq!(status_text(status), serde_name(status));
        }
        for checkpoint in [Checkpoint::Confirmation, Checkpoint::Approval] {
            assert_eq!(checkpoint_text(checkpoint), serde_name(checkpoint));
        }
    }
}
