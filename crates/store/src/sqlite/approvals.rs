//! Approvals in SQLite: one row each, written whole (bodies as BLOBs), and listed
//! through [`Listing`].

mod row;

use gatehouse_core::approval::{Approval, ApprovalStatus, Checkpoint};
use gatehouse_core::ids::ApprovalId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::listing::{Listing, text};
use crate::approval::ApprovalFilter;

/// The columns of every statement, in the order [`row::Encoded::params`] binds them and
/// [`row::decode`] reads them.
macro_rules! columns {
    () => {
        "id, checkpoint, status, decision, agent, workflow, task_class, segment, tier, \
         policies, policy_version, call_method, call_tool, call_intent, call_path, \
         call_query, call_content_type, call_body, call_digest, required, verdicts, \
         created_at, expires_at, response_status, response_content_type, response_body"
    };
}

/// Replaces the whole row: every column comes from the approval, so deleting the old
/// row and inserting the new one (what `REPLACE` does) is an update.
const UPSERT: &str = concat!(
    "INSERT OR REPLACE INTO approvals (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
);

const BY_ID: &str = concat!("SELECT ", columns!(), " FROM approvals WHERE id = ?1");

/// The head of every listing.
const SELECT: &str = concat!("SELECT ", columns!(), " FROM approvals WHERE 1 = 1");

pub(super) fn put(conn: &Connection, approval: &Approval) -> rusqlite::Result<()> {
    let encoded = row::Encoded::new(approval)?;
    conn.prepare_cached(UPSERT)?.execute(encoded.params())?;
    Ok(())
}

/// Compare-and-set in one immediate transaction: the writer lock makes it atomic.
pub(super) fn replace(
    conn: &mut Connection,
    current: &Approval,
    next: &Approval,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if one(&tx, &current.id)?.as_ref() != Some(current) {
        return Ok(false);
    }
    put(&tx, next)?;
    tx.commit()?;
    Ok(true)
}

pub(super) fn one(conn: &Connection, id: &ApprovalId) -> rusqlite::Result<Option<Approval>> {
    conn.prepare_cached(BY_ID)?
        .query_row([id.as_str()], row::decode)
        .optional()
}

pub(super) fn select(
    conn: &Connection,
    filter: &ApprovalFilter,
) -> rusqlite::Result<Vec<Approval>> {
    listing(filter).rows(conn, row::decode)
}

fn listing(filter: &ApprovalFilter) -> Listing {
    let mut listing = Listing::new(SELECT);
    let status = text(filter.status.map(ApprovalStatus::as_str));
    listing.narrow(" AND status = :status", ":status", status);
    let workflow = text(filter.workflow.as_deref());
    listing.narrow(" AND workflow = :workflow", ":workflow", workflow);
    listing.narrow(
        " AND agent = :agent",
        ":agent",
        text(filter.agent.as_deref()),
    );
    let checkpoint = text(filter.checkpoint.map(Checkpoint::as_str));
    listing.narrow(" AND checkpoint = :checkpoint", ":checkpoint", checkpoint);
    listing.newest_first(filter.effective_limit())
}

#[cfg(test)]
mod tests {
    use super::super::migrate::migrated_in_memory;
    use super::*;

    /// Every single filter, and no filter, reads rows in order from an index and stops at
    /// the limit instead of sorting the table; combinations at least use an index.
    #[test]
    fn listings_walk_an_index() {
        let conn = migrated_in_memory();
        let single = [
            ApprovalFilter::default(),
            ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                ..ApprovalFilter::default()
            },
            ApprovalFilter {
                workflow: Some("a".into()),
                ..ApprovalFilter::default()
            },
            ApprovalFilter {
                agent: Some("a".into()),
                ..ApprovalFilter::default()
            },
            ApprovalFilter {
                checkpoint: Some(Checkpoint::Approval),
                ..ApprovalFilter::default()
            },
        ];
        for filter in &single {
            let plan = listing(filter).plan(&conn).unwrap();
            assert!(
                plan.contains("USING INDEX approvals_"),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
        let all = ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            workflow: Some("a".into()),
            agent: Some("a".into()),
            checkpoint: Some(Checkpoint::Approval),
            limit: None,
        };
        let plan = listing(&all).plan(&conn).unwrap();
        assert!(plan.contains("USING INDEX approvals_"), "{plan}");
    }
}
