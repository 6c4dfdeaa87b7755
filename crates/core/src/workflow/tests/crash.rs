//! Property tests of budgets across crashes: random sequences of reservations, streamed
//! bytes, write-behind flushes, resumes, crashes and clean restarts, against a ledger of
//! what really reached the upstream over every life of the process. A call reaches the
//! upstream only once a durable lease covers it, as the gateway does.

use proptest::prelude::*;

use super::{NOW, budget, workflow};
use crate::workflow::{Budget, BudgetKind, Lease, Usage, Workflow, slice};

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        write: bool,
        bytes: u64,
    },
    AddBytes(u64),
    /// The write-behind of the workflow row (usage, budget, status).
    Flush,
    Resume(Budget),
    /// `kill -9`: memory is lost; the store keeps the last flush and the leases.
    Crash,
    /// A clean shutdown: flush, then release the leases.
    Restart,
}

/// The store's view of one workflow, and the process's.
#[derive(Debug)]
struct World {
    stored: Workflow,
    stored_lease: Usage,
    live: Workflow,
    lease: Lease,
    /// What reached the upstream, over every life.
    upstream: Usage,
    /// The largest budget ever granted: what spending is held against.
    granted: Budget,
    lease_writes: u64,
}

impl World {
    fn new(limits: Budget) -> Self {
        let live = workflow(limits);
        Self {
            stored: live.clone(),
            stored_lease: Usage::default(),
            lease: Lease::held(&live),
            live,
            upstream: Usage::default(),
            granted: limits,
            lease_writes: 0,
        }
    }

    /// Writes a lease covering the live usage when it is not, as the gateway does before
    /// forwarding.
    fn lease_for_call(&mut self) {
        if self.lease.covers(self.live.usage) {
            return;
        }
        let next = self.lease.next(self.live.usage, self.live.budget);
        self.stored_lease = max(self.stored_lease, next);
        self.lease.granted(next);
        self.lease_writes += 1;
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Reserve { write, bytes } => {
                if self.live.reserve(NOW, write, bytes).is_ok() {
                    self.lease_for_call();
                    assert!(self.lease.covers(self.live.usage));
                    self.upstream.calls += 1;
                    self.upstream.writes += u64::from(write);
                    self.upstream.bytes += bytes;
                }
            }
            Op::AddBytes(bytes) => {
                let admitted = match self.live.add_bytes(bytes) {
                    Ok(()) => bytes,
                    Err(cut) => cut.allowed,
                };
                self.lease_for_call();
                assert!(self.lease.covers(self.live.usage));
                self.upstream.bytes += admitted;
            }
            Op::Flush => self.stored = self.live.clone(),
            Op::Resume(extension) => {
                if self.live.resume(NOW, extension).is_ok() {
                    self.granted = self.granted.extended_by(extension);
                }
            }
            Op::Crash => self.reload(),
            Op::Restart => {
                self.stored = self.live.clone();
                self.stored_lease = Usage::default();
                self.reload();
            }
        }
    }

    /// A new process reads the workflow: usage at least the lease, which is durable.
    fn reload(&mut self) {
        let mut live = self.stored.clone();
        live.recover(self.stored_lease);
        self.lease = Lease::held(&live);
        self.live = live;
    }

    fn check(&self) {
        for kind in BudgetKind::ALL {
            let (spent, limit) = (self.upstream.of(kind), self.granted.of(kind));
            assert!(spent <= limit, "{kind} overspent: {spent} > {limit}");
            let believed = self.live.usage.of(kind);
            assert!(
                spent <= believed,
                "{kind}: upstream saw {spent}, the workflow believes {believed}"
            );
        }
        assert!(self.lease.durable().calls <= self.live.budget.calls.max(self.live.usage.calls));
    }
}

fn max(a: Usage, b: Usage) -> Usage {
    Usage {
        calls: a.calls.max(b.calls),
        writes: a.writes.max(b.writes),
        bytes: a.bytes.max(b.bytes),
    }
}

fn ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (any::<bool>(), 0..40u64).prop_map(|(write, bytes)| Op::Reserve { write, bytes }),
        4 => (0..120u64).prop_map(Op::AddBytes),
        3 => Just(Op::Flush),
        1 => (0..8u64, 0..4u64, 0..200u64)
            .prop_map(|(calls, writes, bytes)| Op::Resume(budget(calls, writes, bytes))),
        2 => Just(Op::Crash),
        1 => Just(Op::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_sequence_of_calls_crashes_and_restarts_overspends(
        calls in 0..60u64,
        writes in 0..20u64,
        bytes in 0..2_000u64,
        ops in prop::collection::vec(ops(), 1..200),
    ) {
        let mut world = World::new(budget(calls, writes, bytes));
        for op in &ops {
            world.apply(op);
            world.check();
        }
    }
}

#[test]
fn a_lease_is_written_once_per_slice_not_per_call() {
    let mut world = World::new(budget(160, 160, 1 << 20));
    for _ in 0..160 {
        world.apply(&Op::Reserve {
            write: false,
            bytes: 0,
        });
    }
    assert_eq!(world.upstream.calls, 160);
    assert!(world.lease_writes <= 160_u64.div_ceil(slice(160)));
    assert!(world.lease_writes > 1);
}

#[test]
fn a_crash_forfeits_at_most_one_slice() {
    let mut world = World::new(budget(160, 0, 0));
    for _ in 0..5 {
        world.apply(&Op::Reserve {
            write: false,
            bytes: 0,
        });
    }
    world.apply(&Op::Crash);
    let recovered = world.live.usage.calls;
    assert!((5..=5 + slice(160)).contains(&recovered), "{recovered}");
    let mut forwarded = 0;
    for _ in 0..200 {
        if world.live.reserve(NOW, false, 0).is_ok() {
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, 160 - recovered);
}

#[test]
fn a_lease_never_goes_past_the_limit() {
    let lease = Lease::default();
    let next = lease.next(
        Usage {
            calls: 3,
            writes: 0,
            bytes: 10,
        },
        budget(4, 0, 10),
    );
    assert_eq!(
        next,
        Usage {
            calls: 4,
            writes: 0,
            bytes: 10
        }
    );
}

#[test]
fn a_lease_written_for_a_call_also_covers_the_next_slice_of_bytes() {
    let mut world = World::new(budget(160, 16, 1600));
    world.apply(&Op::Reserve {
        write: false,
        bytes: 0,
    });
    assert_eq!(world.lease_writes, 1);
    world.apply(&Op::AddBytes(slice(1600)));
    assert_eq!(
        world.lease_writes, 1,
        "the response's bytes needed a write of their own"
    );
    assert_eq!(world.lease.durable().writes, slice(16));
}
