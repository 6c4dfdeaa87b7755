//! A budget shared by several replicas: the *pool* (one row in the shared store per
//! workflow: the limits and what every replica together has reserved) and each replica's
//! *share* of it (what it reserved and what of that it spent).
//!
//! A replica spends only from slices it reserved in the pool, and a slice is reserved
//! atomically in the store (never past the limit), so however calls are spread over
//! replicas the sum of their spending never passes the limit. Reserved counts as spent
//! until a replica settles (returns) what it did not spend: a replica killed with a slice
//! outstanding leaves that slice spent, so a crash under-spends, never over-spends.
//!
//! Slices adapt to what is left: a claim takes what the call needs plus a quarter of what
//! remains after it (at most one [`slice`] of the limit), so near the end claims take
//! one unit at a time and the last calls are exact, whichever replica they reach.

use super::{Budget, BudgetKind, Usage, slice};

/// How much of what remains one claim may take beyond its need: a quarter, so a replica
/// never strands much of a nearly spent budget.
const SHARE_OF_REMAINDER: u64 = 4;

/// The budget pool of one workflow, as the shared store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pool {
    pub limit: Budget,
    /// Reserved by every replica together: spent, or held in an unspent slice.
    pub reserved: Usage,
}

/// What a claim asks for: the units the call in hand needs (all or nothing), except
/// for streamed bytes, which take what is left when less than asked remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ask {
    pub need: Usage,
    /// Grant `need.bytes` partially rather than not at all (a response body's bytes: the
    /// stream is cut where the budget ends).
    pub partial_bytes: bool,
}

/// The answer to a claim: what was granted (`None` when the pool cannot meet the need)
/// and the pool after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub granted: Option<Usage>,
    pub pool: Pool,
}

impl Pool {
    /// A pool for a workflow with this budget and usage (its first claim).
    pub fn new(limit: Budget, spent: Usage) -> Self {
        Self {
            limit,
            reserved: spent,
        }
    }

    /// What is left to reserve of one kind.
    pub fn free(&self, kind: BudgetKind) -> u64 {
        self.limit.of(kind).saturating_sub(self.reserved.of(kind))
    }

    /// Reserves what `ask` needs plus an adaptive slice of each kind, or nothing at all
    /// when some need cannot be met. Never reserves past a limit.
    pub fn claim(&mut self, ask: Ask) -> Claim {
        let mut grant = [0_u64; 3];
        for (slot, kind) in grant.iter_mut().zip(BudgetKind::ALL) {
            let free = self.free(kind);
            let mut need = ask.need.of(kind);
            if kind == BudgetKind::Bytes && ask.partial_bytes {
                need = need.min(free);
            }
            if need > free {
                return Claim {
                    granted: None,
                    pool: *self,
                };
            }
            let rest = free - need;
            let extra = (rest / SHARE_OF_REMAINDER).min(slice(self.limit.of(kind)));
            *slot = need + extra;
        }
        let [calls, writes, bytes] = grant;
        let granted = Usage {
            calls,
            writes,
            bytes,
        };
        self.reserved = self.reserved.plus(granted);
        Claim {
            granted: Some(granted),
            pool: *self,
        }
    }

    /// Returns what a replica reserved and did not spend.
    pub fn settle(&mut self, unspent: Usage) {
        self.reserved = self.reserved.minus(unspent);
    }

    /// An operator's extension of the budget (a resume).
    pub fn extend(&mut self, extension: Budget) {
        self.limit = self.limit.extended_by(extension);
    }
}

/// One replica's share of a pool: what it reserved there and what of that it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Share {
    granted: Usage,
    spent: Usage,
}

impl Share {
    /// What one call (or a run of streamed bytes) costs.
    pub fn cost(write: bool, calls: u64, bytes: u64) -> Usage {
        Usage {
            calls,
            writes: u64::from(write),
            bytes,
        }
    }

    /// Reserved here and not spent yet.
    pub fn unspent(&self) -> Usage {
        self.granted.minus(self.spent)
    }

    /// Whether `cost` fits in what this replica holds unspent.
    pub fn covers(&self, cost: Usage) -> bool {
        let unspent = self.unspent();
        BudgetKind::ALL
            .into_iter()
            .all(|kind| cost.of(kind) <= unspent.of(kind))
    }

    /// What a claim must ask for so that `cost` fits.
    pub fn shortfall(&self, cost: Usage) -> Usage {
        cost.minus(self.unspent())
    }

    /// Adds a grant from the pool.
    pub fn granted(&mut self, grant: Usage) {
        self.granted = self.granted.plus(grant);
    }

    /// Spends `cost`; the caller checked [`covers`](Self::covers) (what does not fit is
    /// not counted past what was granted).
    pub fn spend(&mut self, cost: Usage) {
        self.spent = self.spent.plus(cost).min_each(self.granted);
    }

    /// After settling: what was unspent went back to the pool.
    pub fn settled(&mut self) {
        self.granted = self.spent;
    }

    /// This replica's view of the workflow's usage: what every other replica reserved
    /// (as of `pool`, read at the last claim) plus what it spent itself. The room this
    /// leaves under the limit is the pool's free part plus this share's unspent part.
    pub fn usage_view(&self, pool: &Pool) -> Usage {
        pool.reserved.minus(self.granted).plus(self.spent)
    }
}

impl Usage {
    fn plus(self, other: Usage) -> Usage {
        Usage {
            calls: self.calls.saturating_add(other.calls),
            writes: self.writes.saturating_add(other.writes),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }

    fn minus(self, other: Usage) -> Usage {
        Usage {
            calls: self.calls.saturating_sub(other.calls),
            writes: self.writes.saturating_sub(other.writes),
            bytes: self.bytes.saturating_sub(other.bytes),
        }
    }

    fn min_each(self, other: Usage) -> Usage {
        Usage {
            calls: self.calls.min(other.calls),
            writes: self.writes.min(other.writes),
            bytes: self.bytes.min(other.bytes),
        }
    }
}
