//! Durable leases of budget slices: what makes a budget survive `kill -9` without a store
//! write per call.
//!
//! Usage lives in memory and is written behind; a crash loses whatever was not written.
//! So before a call may spend past what the store already holds, the gateway writes a
//! larger *lease* (a slice of each limit) and waits for it. After a crash, a workflow's
//! usage is at least its lease ([`Workflow::recover`]): a leased slice not spent counts as
//! spent. Under-spending after a crash is allowed; over-spending never is: every unit a
//! call spends is covered by a lease that was durable before the call went upstream.
//!
//! One store write covers a slice of `limit / SLICES` (at least 1) of each limit, so the
//! write is amortised over many calls, and a lease never goes past the limit.

use super::{Budget, BudgetKind, Usage, Workflow};

/// How many slices a limit is leased in: the most a crash can forfeit is one slice.
pub const SLICES: u64 = 16;

/// What the store durably holds as spent-or-leased for one workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lease {
    durable: Usage,
}

impl Lease {
    /// The lease of a workflow just read from the store: its usage there is durable.
    pub fn held(workflow: &Workflow) -> Self {
        Self {
            durable: workflow.usage,
        }
    }

    /// What the store holds as durable.
    pub fn durable(self) -> Usage {
        self.durable
    }

    /// Whether `usage` is within what the store holds, so the call that spent it may go
    /// upstream.
    pub fn covers(self, usage: Usage) -> bool {
        BudgetKind::ALL
            .into_iter()
            .all(|kind| usage.of(kind) <= self.durable.of(kind))
    }

    /// The lease to write so that `usage` is covered: every kind is leased a slice past
    /// what it spent (never past its limit, nor below what is spent or already leased).
    /// Kinds that did not run out are topped up too, so the one write also covers the
    /// bytes a response is about to stream.
    pub fn next(self, usage: Usage, budget: Budget) -> Usage {
        let grow = |kind: BudgetKind| {
            let (used, held, limit) = (usage.of(kind), self.durable.of(kind), budget.of(kind));
            used.saturating_add(slice(limit))
                .min(limit)
                .max(used)
                .max(held)
        };
        Usage {
            calls: grow(BudgetKind::Calls),
            writes: grow(BudgetKind::Writes),
            bytes: grow(BudgetKind::Bytes),
        }
    }

    /// Records that `lease` is now durable. Leases only grow.
    pub fn granted(&mut self, lease: Usage) {
        self.durable = max(self.durable, lease);
    }
}

impl Workflow {
    /// After a restart: usage is at least the durable `lease`, since calls covered by it
    /// may have reached the upstream before the crash.
    pub fn recover(&mut self, lease: Usage) {
        self.usage = max(self.usage, lease);
    }
}

/// One slice of `limit`.
pub fn slice(limit: u64) -> u64 {
    (limit / SLICES).max(1)
}

fn max(a: Usage, b: Usage) -> Usage {
    Usage {
        calls: a.calls.max(b.calls),
        writes: a.writes.max(b.writes),
        bytes: a.bytes.max(b.bytes),
    }
}
