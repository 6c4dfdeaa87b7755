//! Property tests: random operation sequences against a model of the state machine, with
//! the invariants checked after every step.

use proptest::prelude::*;

use super::{NOW, TTL, budget, workflow, workflow_for};
use crate::workflow::{
    Budget, BudgetKind, BudgetRefusal, BytesCut, Status, TransitionError, Workflow,
};

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        write: bool,
        bytes: u64,
    },
    AddBytes(u64),
    Resume(Budget),
    End(&'static str),
    Advance(i64),
    /// Moves time to `expires_at + offset` (never backwards), to hit the boundary.
    NearExpiry(i64),
    Expire,
}

/// What the operations have spent so far, counted by the test, not by the workflow.
#[derive(Debug, Default)]
struct Ledger {
    now: i64,
    reserved: u64,
    reserved_writes: u64,
    reserved_bytes: u128,
    streamed_bytes: u128,
}

fn limit() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..6u64, 1 => Just(u64::MAX)]
}

fn byte_limit() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..300u64, 1 => Just(u64::MAX)]
}

fn budgets() -> impl Strategy<Value = Budget> {
    (limit(), limit(), byte_limit()).prop_map(|(calls, writes, bytes)| budget(calls, writes, bytes))
}

fn extensions() -> impl Strategy<Value = Budget> {
    let small = || prop_oneof![8 => 0..4u64, 1 => Just(u64::MAX)];
    let bytes = prop_oneof![8 => 0..200u64, 1 => Just(u64::MAX)];
    (small(), small(), bytes).prop_map(|(calls, writes, bytes)| budget(calls, writes, bytes))
}

fn ops() -> impl Strategy<Value = Op> {
    let bytes = prop_oneof![10 => 0..80u64, 1 => Just(u64::MAX)];
    prop_oneof![
        8 => (any::<bool>(), bytes.clone()).prop_map(|(write, bytes)| Op::Reserve { write, bytes }),
        3 => bytes.prop_map(Op::AddBytes),
        3 => extensions().prop_map(Op::Resume),
        1 => prop::sample::select(vec!["alice", "bob"]).prop_map(Op::End),
        2 => (0..40i64).prop_map(Op::Advance),
        1 => (-1..=0i64).prop_map(Op::NearExpiry),
        1 => Just(Op::Expire),
    ]
}

/// Whether `used + more` passes `limit`, computed without the workflow's own arithmetic.
fn passes(used: u64, more: u64, limit: u64) -> bool {
    u128::from(used) + u128::from(more) > u128::from(limit)
}

fn first_overrun(wf: &Workflow, write: bool, bytes: u64) -> Option<BudgetKind> {
    let (usage, limits) = (wf.usage, wf.budget);
    if passes(usage.calls, 1, limits.calls) {
        Some(BudgetKind::Calls)
    } else if write && passes(usage.writes, 1, limits.writes) {
        Some(BudgetKind::Writes)
    } else if passes(usage.bytes, bytes, limits.bytes) {
        Some(BudgetKind::Bytes)
    } else {
        None
    }
}

fn due(wf: &Workflow, now: i64) -> bool {
    wf.is_live() && now >= wf.expires_at
}

/// `before` as it looks once expired, as every `now`-taking operation first does.
fn expired(before: &Workflow) -> Workflow {
    let mut after = before.clone();
    after.status = Status::Expired;
    after.paused_for = None;
    after
}

fn check_reserve(
    before: &Workflow,
    wf: &mut Workflow,
    ledger: &mut Ledger,
    write: bool,
    bytes: u64,
) {
    let result = wf.reserve(ledger.now, write, bytes);
    if due(before, ledger.now) {
        assert_eq!(result, Err(BudgetRefusal::Expired));
        assert_eq!(*wf, expired(before));
        return;
    }
    let overrun = first_overrun(before, write, bytes);
    let succeeded = result.is_ok();
    assert_eq!(
        succeeded,
        before.status == Status::Active && overrun.is_none(),
        "a reserve succeeds iff the workflow is active and the call fits: {result:?}"
    );
    match (before.status, overrun) {
        (Status::Active, None) => {
            ledger.reserved += 1;
            ledger.reserved_writes += u64::from(write);
            ledger.reserved_bytes += u128::from(bytes);
        }
        (Status::Active, Some(kind)) => {
            let refusal = BudgetRefusal::Exhausted {
                kind,
                usage: before.usage,
                budget: before.budget,
            };
            assert_eq!(result, Err(refusal));
            assert_eq!(
                (wf.status, wf.paused_for, wf.usage),
                (Status::Paused, Some(kind), before.usage)
            );
        }
        (Status::Paused, _) => {
            let refusal = BudgetRefusal::Paused {
                kind: before.paused_for,
                usage: before.usage,
                budget: before.budget,
            };
            assert_eq!((result, &*wf), (Err(refusal), before));
        }
        (Status::Ended, _) => assert_eq!((result, &*wf), (Err(BudgetRefusal::Ended), before)),
        (Status::Expired, _) => assert_eq!((result, &*wf), (Err(BudgetRefusal::Expired), before)),
    }
}

fn check_add_bytes(before: &Workflow, wf: &mut Workflow, ledger: &mut Ledger, bytes: u64) {
    let result = wf.add_bytes(bytes);
    let room = before.budget.bytes - before.usage.bytes;
    if bytes <= room {
        assert_eq!(result, Ok(()));
        assert_eq!(wf.usage.bytes, before.usage.bytes + bytes);
        assert_eq!(
            (wf.status, wf.paused_for),
            (before.status, before.paused_for)
        );
        ledger.streamed_bytes += u128::from(bytes);
        return;
    }
    let cut = BytesCut {
        allowed: room,
        usage: wf.usage,
        budget: before.budget,
    };
    assert_eq!(result, Err(cut));
    assert_eq!(
        wf.usage.bytes, before.budget.bytes,
        "a cut stops exactly at the limit"
    );
    ledger.streamed_bytes += u128::from(room);
    if before.status == Status::Active {
        assert_eq!(
            (wf.status, wf.paused_for),
            (Status::Paused, Some(BudgetKind::Bytes))
        );
    } else {
        assert_eq!(
            (wf.status, wf.paused_for),
            (before.status, before.paused_for)
        );
    }
}

fn check_resume(before: &Workflow, wf: &mut Workflow, now: i64, extension: Budget) {
    let result = wf.resume(now, extension);
    if due(before, now) {
        assert_eq!(
            result,
            Err(TransitionError::Final {
                status: Status::Expired
            })
        );
        assert_eq!(*wf, expired(before));
        return;
    }
    if !before.is_live() {
        assert_eq!(
            (result, &*wf),
            (
                Err(TransitionError::Final {
                    status: before.status
                }),
                before
            )
        );
        return;
    }
    let extended = before.budget.extended_by(extension);
    let still = before
        .paused_for
        .filter(|&kind| before.usage.of(kind) >= extended.of(kind));
    match (before.status, still) {
        (Status::Paused, Some(kind)) => {
            assert_eq!(
                (result, &*wf),
                (Err(TransitionError::StillExhausted { kind }), before)
            );
        }
        _ => {
            assert_eq!(result, Ok(()));
            assert_eq!(
                (wf.status, wf.paused_for, wf.budget),
                (Status::Active, None, extended)
            );
        }
    }
}

fn check_end(before: &Workflow, wf: &mut Workflow, by: &str) {
    let result = wf.end(by);
    match before.status {
        Status::Active | Status::Paused => {
            assert_eq!(result, Ok(()));
            assert_eq!(
                (wf.status, wf.ended_by.as_deref()),
                (Status::Ended, Some(by))
            );
        }
        Status::Ended => assert_eq!((result, &*wf), (Ok(()), before), "end is idempotent"),
        Status::Expired => {
            let refused = Err(TransitionError::Final {
                status: Status::Expired,
            });
            assert_eq!((result, &*wf), (refused, before));
        }
    }
}

fn check_expire(before: &Workflow, wf: &mut Workflow, now: i64) {
    let changed = wf.expire_if_due(now);
    assert_eq!(
        changed,
        due(before, now),
        "expiry happens exactly when now >= expires_at"
    );
    if changed {
        assert_eq!(*wf, expired(before));
    } else {
        assert_eq!(wf, before);
    }
}

fn apply(wf: &mut Workflow, ledger: &mut Ledger, op: &Op) {
    let before = wf.clone();
    match *op {
        Op::Reserve { write, bytes } => check_reserve(&before, wf, ledger, write, bytes),
        Op::AddBytes(bytes) => check_add_bytes(&before, wf, ledger, bytes),
        Op::Resume(extension) => check_resume(&before, wf, ledger.now, extension),
        Op::End(by) => check_end(&before, wf, by),
        Op::Advance(secs) => ledger.now += secs,
        Op::NearExpiry(offset) => ledger.now = ledger.now.max(wf.expires_at + offset),
        Op::Expire => check_expire(&before, wf, ledger.now),
    }
    check_invariants(&before, wf, ledger);
}

fn check_invariants(before: &Workflow, wf: &Workflow, ledger: &Ledger) {
    for kind in BudgetKind::ALL {
        assert!(
            wf.usage.of(kind) <= wf.budget.of(kind),
            "overspent {kind}: {wf:?}"
        );
        assert!(
            wf.usage.of(kind) >= before.usage.of(kind),
            "usage of {kind} went down"
        );
        assert!(
            wf.budget.of(kind) >= before.budget.of(kind),
            "budget of {kind} went down"
        );
    }
    assert!(ledger.reserved <= wf.budget.calls && ledger.reserved_writes <= wf.budget.writes);
    assert_eq!(
        (wf.usage.calls, wf.usage.writes),
        (ledger.reserved, ledger.reserved_writes)
    );
    assert_eq!(
        u128::from(wf.usage.bytes),
        ledger.reserved_bytes + ledger.streamed_bytes
    );
    assert_eq!(
        wf.paused_for.is_some(),
        wf.status == Status::Paused,
        "paused_for iff paused"
    );
    assert_eq!(
        wf.ended_by.is_some(),
        wf.status == Status::Ended,
        "ended_by iff ended"
    );
    if !before.is_live() {
        assert_eq!(
            wf.status, before.status,
            "no resurrection, no change of final state"
        );
    }
    if wf.status == Status::Expired && before.status != Status::Expired {
        assert!(ledger.now >= wf.expires_at, "expired early");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operation_sequences_keep_every_invariant(
        limits in budgets(),
        ttl in 0..200i64,
        ops in prop::collection::vec(ops(), 1..80),
    ) {
        let mut wf = workflow_for(limits, ttl);
        let mut ledger = Ledger { now: NOW, ..Ledger::default() };
        for op in &ops {
            apply(&mut wf, &mut ledger, op);
        }
    }

    #[test]
    fn once_final_every_operation_leaves_it_final_and_refuses_calls(
        limits in budgets(),
        expire in any::<bool>(),
        ops in prop::collection::vec(ops(), 1..40),
    ) {
        let mut wf = workflow(limits);
        let mut ledger = Ledger { now: NOW, ..Ledger::default() };
        if expire {
            ledger.now = NOW + TTL;
            wf.expire_if_due(ledger.now);
        } else {
            wf.end("alice").unwrap();
        }
        let status = wf.status;
        for op in &ops {
            apply(&mut wf, &mut ledger, op);
            prop_assert_eq!(wf.status, status);
            prop_assert!(wf.reserve(ledger.now, false, 0).is_err());
        }
    }

    #[test]
    fn a_budget_of_k_calls_lets_exactly_the_first_k_calls_through(
        k in 0..40u64,
        attempts in 0..80usize,
    ) {
        let mut wf = workflow(budget(k, u64::MAX, u64::MAX));
        let results: Vec<_> = (0..attempts).map(|_| wf.reserve(NOW, false, 0)).collect();
        let allowed = results.iter().take_while(|result| result.is_ok()).count();
        prop_assert_eq!(allowed as u64, k.min(attempts as u64));
        prop_assert_eq!(results.iter().filter(|result| result.is_ok()).count(), allowed);
        if let Some(first_refusal) = results.get(allowed) {
            let refused_as_exhausted = matches!(
                first_refusal,
                Err(BudgetRefusal::Exhausted { kind: BudgetKind::Calls, .. })
            );
            prop_assert!(refused_as_exhausted);
            prop_assert_eq!(wf.status, Status::Paused);
        }
        for later in results.iter().skip(allowed + 1) {
            let refused_as_paused = matches!(later, Err(BudgetRefusal::Paused { .. }));
            prop_assert!(refused_as_paused);
        }
    }

    #[test]
    fn a_stream_cut_lets_through_exactly_what_fits(
        limit in 0..500u64,
        spent in 0..500u64,
        chunks in prop::collection::vec(0..120u64, 0..20),
    ) {
        let mut wf = workflow(budget(1, 0, limit));
        wf.usage.bytes = spent.min(limit);
        let room = limit - wf.usage.bytes;
        let mut through = 0;
        for chunk in &chunks {
            through += match wf.add_bytes(*chunk) {
                Ok(()) => *chunk,
                Err(cut) => cut.allowed,
            };
        }
        prop_assert_eq!(through, room.min(chunks.iter().sum()));
        prop_assert_eq!(wf.usage.bytes, wf.budget.bytes.min(limit - room + chunks.iter().sum::<u64>()));
        let crossed = chunks.iter().sum::<u64>() > room;
        prop_assert_eq!(wf.status == Status::Paused, crossed);
    }
}
