//! Workflows and their budgets as a pure state machine (ARCHITECTURE.md, "Crates"): a workflow is one
//! autonomous run, `active → paused → active … → ended` (or `expired`), with a budget of
//! calls, writes and bytes. Exhausting any part pauses it; an operator may extend the
//! budget and resume it; ended and expired are final.
//!
//! No clock is read here: callers pass `now`, so tests move time instead of sleeping.
//!
//! Budget semantics, in one place:
//! - a limit is a count of what may be spent: with `calls = k` exactly `k` calls are
//!   reserved; call `k + 1` is refused and pauses the workflow. Reaching a limit exactly
//!   does not pause; only the attempt to go past it does, so the refusal names a call.
//! - `writes = 0` means "no writes allowed": a write call is refused as exhausted `writes`
//!   and pauses the workflow, like any exhausted limit; resuming it takes a `writes`
//!   extension, as resuming a workflow paused for `calls` takes a `calls` extension.
//! - bytes are counted twice over a call's life: the request body at [`Workflow::reserve`],
//!   streamed bytes at [`Workflow::add_bytes`], which cuts the stream at the limit.
//! - nothing is ever counted past a limit: a refused reservation counts nothing.
//! - what survives a crash is a durable lease of budget slices ([`Lease`]): after a
//!   restart usage is at least the lease, so a crash may under-spend, never over-spend.

mod error;
mod lease;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{AgentId, SegmentName, TaskClassName, WorkflowId};

pub use error::{BudgetRefusal, BytesCut, TransitionError};
pub use lease::{Lease, SLICES, slice};

/// Budget limits, or an extension to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Budget {
    pub calls: u64,
    pub writes: u64,
    /// Request plus response bytes.
    pub bytes: u64,
}

/// What a workflow has spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub calls: u64,
    pub writes: u64,
    pub bytes: u64,
}

/// Which part of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetKind {
    Calls,
    Writes,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// A budget was exhausted; an operator may extend and resume.
    Paused,
    /// Ended by an operator or by the agent's revocation; final.
    Ended,
    /// Past its expiry; final.
    Expired,
}

/// One workflow, as stored and as held in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub agent: AgentId,
    pub task_class: TaskClassName,
    pub segment: SegmentName,
    pub status: Status,
    pub budget: Budget,
    pub usage: Usage,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; at or after this the workflow is expired.
    pub expires_at: i64,
    /// The budget whose exhaustion paused it, while paused.
    pub paused_for: Option<BudgetKind>,
    /// Who ended it (an operator name, or `revocation of agent X`), once ended.
    pub ended_by: Option<String>,
}

impl Workflow {
    /// A new active workflow with zero usage, expiring at `now_secs + ttl_secs`.
    pub fn new(
        id: WorkflowId,
        agent: AgentId,
        task_class: TaskClassName,
        segment: SegmentName,
        budget: Budget,
        now_secs: i64,
        ttl_secs: i64,
    ) -> Self {
        Self {
            id,
            agent,
            task_class,
            segment,
            status: Status::Active,
            budget,
            usage: Usage::default(),
            created_at: now_secs,
            expires_at: now_secs.saturating_add(ttl_secs),
            paused_for: None,
            ended_by: None,
        }
    }

    /// Moves an active or paused workflow at or past its expiry to `Expired`; returns
    /// whether it changed. Ended workflows stay ended: the first final state wins.
    pub fn expire_if_due(&mut self, now_secs: i64) -> bool {
        if !self.is_live() || now_secs < self.expires_at {
            return false;
        }
        self.status = Status::Expired;
        self.paused_for = None;
        true
    }

    /// Reserves one call before it is forwarded: the call, the write if `write`, and
    /// `request_bytes` of the byte budget. Expires the workflow first if it is due.
    ///
    /// A call that would go past any limit (checked in the order calls, writes, bytes)
    /// pauses the workflow for that limit and is refused with
    /// [`BudgetRefusal::Exhausted`], counting nothing. A call that reaches a limit exactly
    /// is reserved and leaves the workflow active: the next one is refused.
    pub fn reserve(
        &mut self,
        now_secs: i64,
        write: bool,
        request_bytes: u64,
    ) -> Result<(), BudgetRefusal> {
        self.expire_if_due(now_secs);
        self.ensure_active()?;
        if let Some(kind) = self.overrun(write, request_bytes) {
            self.pause(kind);
            return Err(BudgetRefusal::Exhausted {
                kind,
                usage: self.usage,
                budget: self.budget,
            });
        }
        // INVARIANT: `overrun` found no limit passed, so every sum below stays within its
        // limit (and cannot overflow).
        self.usage.calls = self.usage.calls.saturating_add(1);
        self.usage.writes = self.usage.writes.saturating_add(u64::from(write));
        self.usage.bytes = self.usage.bytes.saturating_add(request_bytes);
        Ok(())
    }

    /// Counts streamed bytes (the response, or request body beyond what
    /// [`reserve`](Self::reserve) counted). `Ok` when all of them fit.
    ///
    /// When they do not, usage reaches exactly the byte limit, an active workflow pauses
    /// for `bytes`, and the [`BytesCut`] says how many of `bytes` fit: the caller forwards
    /// that many and cuts the stream. Bytes are counted whatever the status, since the
    /// bytes of a call in flight when the workflow was paused or ended still happened;
    /// but never past the limit.
    pub fn add_bytes(&mut self, bytes: u64) -> Result<(), BytesCut> {
        let room = self.budget.bytes.saturating_sub(self.usage.bytes);
        if bytes <= room {
            // INVARIANT: `bytes <= room`, so usage stays within the limit.
            self.usage.bytes = self.usage.bytes.saturating_add(bytes);
            return Ok(());
        }
        // `max` keeps usage monotone should a stored workflow already be past its limit.
        self.usage.bytes = self.usage.bytes.max(self.budget.bytes);
        if self.status == Status::Active {
            self.pause(BudgetKind::Bytes);
        }
        Err(BytesCut {
            allowed: room,
            usage: self.usage,
            budget: self.budget,
        })
    }

    /// Operator resume: adds `extension` to the budget (saturating) and moves a paused
    /// workflow back to active; an active workflow is just extended. Expires the workflow
    /// first if it is due.
    ///
    /// All or nothing: when the extended budget would leave the workflow exhausted (usage
    /// at or past the limit that paused it, or past any limit) it is refused with
    /// [`TransitionError::StillExhausted`] and neither budget nor status changes, so an
    /// operator can retry with a larger extension without the first one counting twice.
    pub fn resume(&mut self, now_secs: i64, extension: Budget) -> Result<(), TransitionError> {
        self.expire_if_due(now_secs);
        if !self.is_live() {
            return Err(TransitionError::Final {
                status: self.status,
            });
        }
        let budget = self.budget.extended_by(extension);
        if self.status == Status::Paused
            && let Some(kind) = self.exhausted_under(budget)
        {
            return Err(TransitionError::StillExhausted { kind });
        }
        self.budget = budget;
        self.status = Status::Active;
        self.paused_for = None;
        Ok(())
    }

    /// Operator end, or the revocation of its agent: an active or paused workflow becomes
    /// ended, remembering `by`. Idempotent: ending an ended workflow is `Ok` and keeps the
    /// first `ended_by`. An expired workflow stays expired.
    pub fn end(&mut self, by: &str) -> Result<(), TransitionError> {
        match self.status {
            Status::Active | Status::Paused => {
                self.status = Status::Ended;
                self.ended_by = Some(by.to_owned());
                self.paused_for = None;
                Ok(())
            }
            Status::Ended => Ok(()),
            Status::Expired => Err(TransitionError::Final {
                status: Status::Expired,
            }),
        }
    }

    /// Active or paused. The credentials of an ended or expired workflow are dead.
    pub fn is_live(&self) -> bool {
        matches!(self.status, Status::Active | Status::Paused)
    }

    /// What is left of each limit (never negative).
    pub fn remaining(&self) -> Budget {
        Budget {
            calls: self.budget.calls.saturating_sub(self.usage.calls),
            writes: self.budget.writes.saturating_sub(self.usage.writes),
            bytes: self.budget.bytes.saturating_sub(self.usage.bytes),
        }
    }

    /// `Ok` while the workflow is active: paused, ended and expired ones are refused as
    /// [`reserve`](Self::reserve) would refuse them, without counting anything.
    pub fn ensure_active(&self) -> Result<(), BudgetRefusal> {
        match self.status {
            Status::Active => Ok(()),
            Status::Paused => Err(BudgetRefusal::Paused {
                kind: self.paused_for,
                usage: self.usage,
                budget: self.budget,
            }),
            Status::Ended => Err(BudgetRefusal::Ended),
            Status::Expired => Err(BudgetRefusal::Expired),
        }
    }

    /// The first limit (calls, writes, bytes) this call would go past, if any.
    fn overrun(&self, write: bool, request_bytes: u64) -> Option<BudgetKind> {
        let past = |used: u64, more: u64, limit: u64| {
            used.checked_add(more).is_none_or(|total| total > limit)
        };
        if past(self.usage.calls, 1, self.budget.calls) {
            Some(BudgetKind::Calls)
        } else if write && past(self.usage.writes, 1, self.budget.writes) {
            Some(BudgetKind::Writes)
        } else if past(self.usage.bytes, request_bytes, self.budget.bytes) {
            Some(BudgetKind::Bytes)
        } else {
            None
        }
    }

    /// The limit that would still hold this workflow paused under `budget`.
    fn exhausted_under(&self, budget: Budget) -> Option<BudgetKind> {
        let paused_for = self
            .paused_for
            .filter(|&kind| self.usage.of(kind) >= budget.of(kind));
        paused_for.or_else(|| {
            BudgetKind::ALL
                .into_iter()
                .find(|&kind| self.usage.of(kind) > budget.of(kind))
        })
    }

    fn pause(&mut self, kind: BudgetKind) {
        self.status = Status::Paused;
        self.paused_for = Some(kind);
    }
}

impl Budget {
    /// The limit for one kind.
    pub fn of(self, kind: BudgetKind) -> u64 {
        match kind {
            BudgetKind::Calls => self.calls,
            BudgetKind::Writes => self.writes,
            BudgetKind::Bytes => self.bytes,
        }
    }

    /// This budget plus `extension`, saturating at `u64::MAX` in each kind.
    #[must_use]
    pub fn extended_by(self, extension: Budget) -> Budget {
        Budget {
            calls: self.calls.saturating_add(extension.calls),
            writes: self.writes.saturating_add(extension.writes),
            bytes: self.bytes.saturating_add(extension.bytes),
        }
    }
}

impl Usage {
    /// What was spent of one kind.
    pub fn of(self, kind: BudgetKind) -> u64 {
        match kind {
            BudgetKind::Calls => self.calls,
            BudgetKind::Writes => self.writes,
            BudgetKind::Bytes => self.bytes,
        }
    }
}

impl BudgetKind {
    /// Every kind, in the order limits are checked.
    pub const ALL: [BudgetKind; 3] = [Self::Calls, Self::Writes, Self::Bytes];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Writes => "writes",
            Self::Bytes => "bytes",
        }
    }
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
            Self::Expired => "expired",
        }
    }

    /// The inverse of [`as_str`](Self::as_str), e.g. for a stored status column.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "active" => Self::Active,
            "paused" => Self::Paused,
            "ended" => Self::Ended,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
