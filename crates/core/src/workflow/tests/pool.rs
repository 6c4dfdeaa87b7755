//! Property tests of the shared budget pool: replicas spending from slices of one pool,
//! with crashes, settlements and extensions, never spend together past a limit, and,
//! when each keeps calling until refused, spend all of it.

use proptest::prelude::*;

use crate::workflow::{Ask, Budget, Pool, Share, Usage};

const REPLICAS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// A call on replica `at`: a write or not, with request bytes.
    Call {
        at: usize,
        write: bool,
        bytes: u64,
    },
    /// Response bytes streamed on replica `at`.
    Stream {
        at: usize,
        bytes: u64,
    },
    /// Replica `at` is killed: its share is lost, unsettled.
    Crash {
        at: usize,
    },
    /// Replica `at` shuts down cleanly: it settles its unspent part.
    Settle {
        at: usize,
    },
    Extend(Budget),
}

/// The replicas and the pool, as the gateway drives them.
#[derive(Debug)]
struct World {
    pool: Pool,
    shares: [Share; REPLICAS],
    /// Spent by every replica, crashed ones included, counted by the test.
    spent: Usage,
    /// Held unspent by replicas when they were killed: still reserved, never spent.
    lost: Usage,
}

impl World {
    fn new(limit: Budget) -> Self {
        Self {
            pool: Pool::new(limit, Usage::default()),
            shares: [Share::default(); REPLICAS],
            spent: Usage::default(),
            lost: Usage::default(),
        }
    }

    /// A call as `LiveWorkflow::reserve` makes it: from the share, claiming once when
    /// short; true when it went upstream.
    fn call(&mut self, at: usize, write: bool, bytes: u64) -> bool {
        let cost = Share::cost(write, 1, bytes);
        let share = &mut self.shares[at];
        if !share.covers(cost) {
            let ask = Ask {
                need: share.shortfall(cost),
                partial_bytes: false,
            };
            match self.pool.claim(ask).granted {
                Some(grant) => share.granted(grant),
                None => return false,
            }
        }
        assert!(share.covers(cost), "a granted claim covers the call");
        share.spend(cost);
        self.spent.calls += 1;
        self.spent.writes += u64::from(write);
        self.spent.bytes += bytes;
        true
    }

    /// Streamed bytes as `LiveWorkflow::add_bytes` counts them: what fits goes through.
    fn stream(&mut self, at: usize, bytes: u64) -> u64 {
        let cost = Share::cost(false, 0, bytes);
        let share = &mut self.shares[at];
        if !share.covers(cost) {
            let ask = Ask {
                need: share.shortfall(cost),
                partial_bytes: true,
            };
            if let Some(grant) = self.pool.claim(ask).granted {
                share.granted(grant);
            }
        }
        let allowed = bytes.min(share.unspent().bytes);
        share.spend(Share::cost(false, 0, allowed));
        self.spent.bytes += allowed;
        allowed
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Call { at, write, bytes } => {
                self.call(at, write, bytes);
            }
            Op::Stream { at, bytes } => {
                self.stream(at, bytes);
            }
            Op::Crash { at } => {
                let unspent = self.shares[at].unspent();
                self.lost.calls += unspent.calls;
                self.lost.writes += unspent.writes;
                self.lost.bytes += unspent.bytes;
                self.shares[at] = Share::default();
            }
            Op::Settle { at } => {
                self.pool.settle(self.shares[at].unspent());
                self.shares[at] = Share::default();
            }
            Op::Extend(extension) => self.pool.extend(extension),
        }
    }

    fn check(&self) {
        let limit = self.pool.limit;
        assert!(self.spent.calls <= limit.calls, "{self:?}");
        assert!(self.spent.writes <= limit.writes, "{self:?}");
        assert!(self.spent.bytes <= limit.bytes, "{self:?}");
        assert!(self.pool.reserved.calls <= limit.calls, "{self:?}");
        assert!(self.pool.reserved.writes <= limit.writes, "{self:?}");
        assert!(self.pool.reserved.bytes <= limit.bytes, "{self:?}");
        // Reserved is exactly what was spent, what the live shares hold unspent, and what
        // killed replicas held: nothing reserved is ever forgotten.
        let held = |of: fn(Usage) -> u64| {
            self.shares
                .iter()
                .map(|share| of(share.unspent()))
                .sum::<u64>()
        };
        let reserved = self.pool.reserved;
        assert_eq!(
            reserved.calls,
            self.spent.calls + held(|u| u.calls) + self.lost.calls
        );
        assert_eq!(
            reserved.writes,
            self.spent.writes + held(|u| u.writes) + self.lost.writes
        );
        assert_eq!(
            reserved.bytes,
            self.spent.bytes + held(|u| u.bytes) + self.lost.bytes
        );
    }
}

fn budgets() -> impl Strategy<Value = Budget> {
    (0..200u64, 0..50u64, 0..5_000u64).prop_map(|(calls, writes, bytes)| Budget {
        calls,
        writes,
        bytes,
    })
}

fn ops() -> impl Strategy<Value = Op> {
    let at = 0..REPLICAS;
    prop_oneof![
        20 => (at.clone(), any::<bool>(), 0..40u64)
            .prop_map(|(at, write, bytes)| Op::Call { at, write, bytes }),
        5 => (at.clone(), 0..400u64).prop_map(|(at, bytes)| Op::Stream { at, bytes }),
        1 => at.clone().prop_map(|at| Op::Crash { at }),
        1 => at.prop_map(|at| Op::Settle { at }),
        1 => (0..20u64, 0..5u64, 0..500u64)
            .prop_map(|(calls, writes, bytes)| Op::Extend(Budget { calls, writes, bytes })),
    ]
}

proptest! {
    #[test]
    fn replicas_never_spend_past_a_limit(limit in budgets(), ops in prop::collection::vec(ops(), 0..300)) {
        let mut world = World::new(limit);
        for op in &ops {
            world.apply(op);
            world.check();
        }
    }

    #[test]
    fn replicas_calling_until_refused_spend_the_whole_budget(
        calls in 0..500u64,
        spread in prop::collection::vec(0..REPLICAS, 1..2_000),
    ) {
        let limit = Budget { calls, writes: 0, bytes: u64::MAX };
        let mut world = World::new(limit);
        // Calls arrive spread over the replicas, then each replica drains what it holds.
        for &at in &spread {
            world.call(at, false, 0);
        }
        for at in 0..REPLICAS {
            while world.call(at, false, 0) {}
        }
        prop_assert_eq!(world.spent.calls, calls);
        world.check();
    }
}

#[test]
fn near_the_end_claims_take_one_call_at_a_time() {
    let mut pool = Pool::new(
        Budget {
            calls: 100,
            writes: 0,
            bytes: 0,
        },
        Usage {
            calls: 97,
            writes: 0,
            bytes: 0,
        },
    );
    let ask = Ask {
        need: Share::cost(false, 1, 0),
        partial_bytes: false,
    };
    for _ in 0..3 {
        assert_eq!(pool.claim(ask).granted.map(|grant| grant.calls), Some(1));
    }
    assert_eq!(pool.claim(ask).granted, None);
    assert_eq!(pool.reserved.calls, 100);
}

#[test]
fn a_claim_is_a_bounded_slice_while_much_is_left() {
    let mut pool = Pool::new(
        Budget {
            calls: 1_600,
            writes: 16,
            bytes: 0,
        },
        Usage::default(),
    );
    let ask = Ask {
        need: Share::cost(false, 1, 0),
        partial_bytes: false,
    };
    let granted = pool.claim(ask).granted.unwrap();
    assert_eq!(
        granted.calls,
        1 + 100,
        "the need plus one slice (1/16 of the limit)"
    );
    assert_eq!(
        granted.writes, 1,
        "a quarter of what is left, at most a slice"
    );
}

#[test]
fn streamed_bytes_get_what_is_left() {
    let mut pool = Pool::new(
        Budget {
            calls: 1,
            writes: 0,
            bytes: 100,
        },
        Usage {
            calls: 0,
            writes: 0,
            bytes: 90,
        },
    );
    let ask = Ask {
        need: Share::cost(false, 0, 50),
        partial_bytes: true,
    };
    assert_eq!(pool.claim(ask).granted.map(|grant| grant.bytes), Some(10));
    assert_eq!(pool.reserved.bytes, 100);
}

#[test]
fn an_unmet_need_reserves_nothing() {
    let mut pool = Pool::new(
        Budget {
            calls: 10,
            writes: 0,
            bytes: 100,
        },
        Usage::default(),
    );
    let before = pool;
    let ask = Ask {
        need: Share::cost(true, 1, 0),
        partial_bytes: false,
    };
    assert_eq!(pool.claim(ask).granted, None);
    assert_eq!(pool, before);
}
