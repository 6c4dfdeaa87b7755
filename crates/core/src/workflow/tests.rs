use super::*;

mod crash;
mod pool;
mod props;

const NOW: i64 = 1_000;
const TTL: i64 = 600;

fn budget(calls: u64, writes: u64, bytes: u64) -> Budget {
    Budget {
        calls,
        writes,
        bytes,
    }
}

fn usage(calls: u64, writes: u64, bytes: u64) -> Usage {
    Usage {
        calls,
        writes,
        bytes,
    }
}

fn workflow(limits: Budget) -> Workflow {
    workflow_for(limits, TTL)
}

fn workflow_for(limits: Budget, ttl: i64) -> Workflow {
    Workflow::new(
        WorkflowId::new("wf-1"),
        AgentId::new("spiffe://acme/agent/triage-bot"),
        TaskClassName::new("triage"),
        SegmentName::new("data"),
        limits,
        NOW,
        ttl,
    )
}

fn paused_for(kind: BudgetKind, limits: Budget) -> Workflow {
    let mut wf = workflow(limits);
    wf.pause(kind);
    wf
}

#[test]
fn a_new_workflow_is_active_unspent_and_expires_after_its_ttl() {
    let wf = workflow(budget(3, 1, 100));
    assert_eq!(wf.status, Status::Active);
    assert_eq!(wf.usage, Usage::default());
    assert_eq!((wf.created_at, wf.expires_at), (NOW, NOW + TTL));
    assert_eq!((wf.paused_for, wf.ended_by.as_deref()), (None, None));
    assert!(wf.is_live());
    assert_eq!(wf.remaining(), budget(3, 1, 100));
}

#[test]
fn a_huge_ttl_saturates_instead_of_overflowing() {
    let wf = Workflow::new(
        WorkflowId::new("wf"),
        AgentId::new("a"),
        TaskClassName::new("t"),
        SegmentName::new("s"),
        Budget::default(),
        NOW,
        i64::MAX,
    );
    assert_eq!(wf.expires_at, i64::MAX);
}

#[test]
fn a_budget_of_k_calls_reserves_exactly_k_and_call_k_plus_one_pauses() {
    let mut wf = workflow(budget(2, 5, 100));
    assert_eq!(wf.reserve(NOW, false, 10), Ok(()));
    assert_eq!(wf.reserve(NOW, true, 10), Ok(()));
    assert_eq!(
        wf.status,
        Status::Active,
        "reaching a limit exactly does not pause"
    );
    assert_eq!(wf.usage, usage(2, 1, 20));
    let refusal = wf.reserve(NOW, false, 0);
    let expected = BudgetRefusal::Exhausted {
        kind: BudgetKind::Calls,
        usage: usage(2, 1, 20),
        budget: budget(2, 5, 100),
    };
    assert_eq!(refusal, Err(expected));
    assert_eq!(wf.usage, usage(2, 1, 20), "a refused call counts nothing");
    assert_eq!(
        (wf.status, wf.paused_for),
        (Status::Paused, Some(BudgetKind::Calls))
    );
}

#[test]
fn a_zero_write_budget_refuses_any_write_and_pauses() {
    let mut wf = workflow(budget(5, 0, 100));
    assert_eq!(wf.reserve(NOW, false, 0), Ok(()), "reads are not writes");
    let refusal = wf.reserve(NOW, true, 0);
    assert!(matches!(
        refusal,
        Err(BudgetRefusal::Exhausted {
            kind: BudgetKind::Writes,
            ..
        })
    ));
    assert_eq!(wf.paused_for, Some(BudgetKind::Writes));
    assert_eq!(wf.usage, usage(1, 0, 0));
}

#[test]
fn request_bytes_past_the_limit_pause_for_bytes_without_counting() {
    let mut wf = workflow(budget(5, 5, 100));
    assert_eq!(wf.reserve(NOW, false, 60), Ok(()));
    assert_eq!(wf.reserve(NOW, false, 40), Ok(()), "exactly the limit fits");
    let refusal = wf.reserve(NOW, false, 1);
    assert!(matches!(
        refusal,
        Err(BudgetRefusal::Exhausted {
            kind: BudgetKind::Bytes,
            ..
        })
    ));
    assert_eq!(wf.usage, usage(2, 0, 100));
    assert_eq!(wf.paused_for, Some(BudgetKind::Bytes));
}

#[test]
fn request_bytes_that_would_overflow_are_refused() {
    let mut wf = workflow(budget(5, 5, u64::MAX));
    assert_eq!(wf.reserve(NOW, false, u64::MAX), Ok(()));
    assert!(wf.reserve(NOW, false, 1).is_err());
    assert_eq!(wf.usage.bytes, u64::MAX);
}

#[test]
fn limits_are_checked_in_the_order_calls_writes_bytes() {
    let check = |limits: Budget, expected: BudgetKind| {
        let mut wf = workflow(limits);
        match wf.reserve(NOW, true, 10) {
            Err(BudgetRefusal::Exhausted { kind, .. }) => assert_eq!(kind, expected),
            other => panic!("expected exhausted {expected}, got {other:?}"),
        }
    };
    check(budget(0, 0, 0), BudgetKind::Calls);
    check(budget(1, 0, 0), BudgetKind::Writes);
    check(budget(1, 1, 0), BudgetKind::Bytes);
}

#[test]
fn a_paused_workflow_refuses_calls_and_names_why_it_is_paused() {
    let mut wf = paused_for(BudgetKind::Calls, budget(0, 0, 0));
    let expected = BudgetRefusal::Paused {
        kind: Some(BudgetKind::Calls),
        usage: Usage::default(),
        budget: budget(0, 0, 0),
    };
    assert_eq!(wf.reserve(NOW, false, 0), Err(expected));
    assert_eq!(wf.status, Status::Paused);
}

#[test]
fn ended_and_expired_workflows_refuse_every_call() {
    let mut ended = workflow(budget(9, 9, 900));
    ended.end("alice").unwrap();
    assert_eq!(ended.reserve(NOW, false, 0), Err(BudgetRefusal::Ended));
    let mut expired = workflow(budget(9, 9, 900));
    assert_eq!(
        expired.reserve(NOW + TTL, false, 0),
        Err(BudgetRefusal::Expired),
        "reserve expires a due workflow first"
    );
    assert_eq!(expired.status, Status::Expired);
    assert_eq!(expired.usage, Usage::default());
}

#[test]
fn expiry_happens_at_expires_at_not_before() {
    let mut wf = workflow(budget(1, 1, 1));
    assert!(!wf.expire_if_due(NOW + TTL - 1));
    assert_eq!(wf.status, Status::Active);
    assert!(wf.expire_if_due(NOW + TTL));
    assert_eq!(wf.status, Status::Expired);
    assert!(
        !wf.expire_if_due(NOW + TTL + 1),
        "expiring twice changes nothing"
    );
    assert!(!wf.is_live());
}

#[test]
fn a_paused_workflow_expires_and_forgets_its_pause() {
    let mut wf = paused_for(BudgetKind::Bytes, budget(1, 1, 1));
    assert!(wf.expire_if_due(NOW + TTL + 5));
    assert_eq!((wf.status, wf.paused_for), (Status::Expired, None));
}

#[test]
fn an_ended_workflow_never_expires() {
    let mut wf = workflow(budget(1, 1, 1));
    wf.end("alice").unwrap();
    assert!(!wf.expire_if_due(i64::MAX));
    assert_eq!(wf.status, Status::Ended);
}

#[test]
fn streamed_bytes_that_fit_are_counted() {
    let mut wf = workflow(budget(1, 0, 100));
    assert_eq!(wf.add_bytes(70), Ok(()));
    assert_eq!(wf.add_bytes(30), Ok(()), "exactly the limit fits");
    assert_eq!((wf.usage.bytes, wf.status), (100, Status::Active));
    assert_eq!(wf.add_bytes(0), Ok(()));
}

#[test]
fn streamed_bytes_past_the_limit_are_cut_at_the_limit_and_pause() {
    let mut wf = workflow(budget(1, 0, 100));
    wf.add_bytes(70).unwrap();
    let cut = wf.add_bytes(50).unwrap_err();
    assert_eq!(cut.allowed, 30);
    assert_eq!((cut.usage.bytes, cut.budget.bytes), (100, 100));
    assert_eq!(wf.usage.bytes, 100);
    assert_eq!(
        (wf.status, wf.paused_for),
        (Status::Paused, Some(BudgetKind::Bytes))
    );
    assert_eq!(wf.add_bytes(1).unwrap_err().allowed, 0);
    assert_eq!(wf.usage.bytes, 100);
}

#[test]
fn a_byte_cut_reads_as_an_exhausted_bytes_refusal() {
    let mut wf = workflow(budget(1, 0, 10));
    let cut = wf.add_bytes(11).unwrap_err();
    let expected = BudgetRefusal::Exhausted {
        kind: BudgetKind::Bytes,
        usage: usage(0, 0, 10),
        budget: budget(1, 0, 10),
    };
    assert_eq!(BudgetRefusal::from(cut), expected);
    assert_eq!(
        cut.to_string(),
        "the `bytes` budget is exhausted (10 of 10); 10 more bytes fit"
    );
}

#[test]
fn bytes_of_a_call_in_flight_count_after_the_workflow_ended_but_not_past_the_limit() {
    let mut wf = workflow(budget(1, 0, 100));
    wf.end("alice").unwrap();
    assert_eq!(wf.add_bytes(40), Ok(()));
    assert_eq!(wf.add_bytes(100).unwrap_err().allowed, 60);
    assert_eq!((wf.usage.bytes, wf.status), (100, Status::Ended));
    assert_eq!(wf.paused_for, None);
}

#[test]
fn bytes_past_the_limit_keep_an_existing_pause_reason() {
    let mut wf = paused_for(BudgetKind::Calls, budget(0, 0, 5));
    assert_eq!(wf.add_bytes(9).unwrap_err().allowed, 5);
    assert_eq!(wf.paused_for, Some(BudgetKind::Calls));
}

#[test]
fn resume_with_an_extension_reactivates_a_paused_workflow() {
    let mut wf = workflow(budget(1, 0, 100));
    wf.reserve(NOW, false, 0).unwrap();
    wf.reserve(NOW, false, 0).unwrap_err();
    assert_eq!(wf.resume(NOW, budget(2, 0, 0)), Ok(()));
    assert_eq!((wf.status, wf.paused_for), (Status::Active, None));
    assert_eq!(wf.budget, budget(3, 0, 100));
    assert_eq!(wf.reserve(NOW, false, 0), Ok(()));
}

#[test]
fn resume_without_enough_extension_changes_nothing() {
    let mut wf = workflow(budget(1, 0, 100));
    wf.reserve(NOW, false, 0).unwrap();
    wf.reserve(NOW, false, 0).unwrap_err();
    let before = wf.clone();
    let refused = wf.resume(NOW, budget(0, 5, 500));
    assert_eq!(
        refused,
        Err(TransitionError::StillExhausted {
            kind: BudgetKind::Calls
        })
    );
    assert_eq!(wf, before, "a refused resume keeps the old budget too");
}

#[test]
fn a_workflow_paused_by_a_zero_write_budget_resumes_only_with_writes() {
    let mut wf = workflow(budget(5, 0, 100));
    wf.reserve(NOW, true, 0).unwrap_err();
    assert!(wf.resume(NOW, budget(10, 0, 0)).is_err());
    assert_eq!(wf.resume(NOW, budget(0, 1, 0)), Ok(()));
    assert_eq!(wf.reserve(NOW, true, 0), Ok(()));
}

#[test]
fn resuming_an_active_workflow_just_extends_it() {
    let mut wf = workflow(budget(1, 1, 1));
    assert_eq!(wf.resume(NOW, budget(1, 2, 3)), Ok(()));
    assert_eq!((wf.status, wf.budget), (Status::Active, budget(2, 3, 4)));
}

#[test]
fn extensions_saturate() {
    let mut wf = workflow(budget(u64::MAX - 1, 1, 1));
    wf.resume(NOW, budget(5, u64::MAX, 0)).unwrap();
    assert_eq!(wf.budget, budget(u64::MAX, u64::MAX, 1));
}

#[test]
fn ended_and_expired_workflows_cannot_be_resumed() {
    let mut ended = paused_for(BudgetKind::Calls, budget(0, 0, 0));
    ended.end("alice").unwrap();
    let refused = ended.resume(NOW, budget(9, 9, 9));
    assert_eq!(
        refused,
        Err(TransitionError::Final {
            status: Status::Ended
        })
    );
    let mut due = paused_for(BudgetKind::Calls, budget(0, 0, 0));
    let refused = due.resume(NOW + TTL, budget(9, 9, 9));
    assert_eq!(
        refused,
        Err(TransitionError::Final {
            status: Status::Expired
        })
    );
    assert_eq!((due.status, due.budget), (Status::Expired, budget(0, 0, 0)));
}

#[test]
fn end_records_who_and_clears_a_pause() {
    let mut wf = paused_for(BudgetKind::Writes, budget(0, 0, 0));
    assert_eq!(wf.end("revocation of agent x"), Ok(()));
    assert_eq!(wf.status, Status::Ended);
    assert_eq!(wf.ended_by.as_deref(), Some("revocation of agent x"));
    assert_eq!(wf.paused_for, None);
}

#[test]
fn end_is_idempotent_and_keeps_the_first_ender() {
    let mut wf = workflow(budget(1, 1, 1));
    wf.end("alice").unwrap();
    let once = wf.clone();
    assert_eq!(wf.end("bob"), Ok(()));
    assert_eq!(wf, once);
}

#[test]
fn an_expired_workflow_cannot_be_ended() {
    let mut wf = workflow(budget(1, 1, 1));
    wf.expire_if_due(NOW + TTL);
    assert_eq!(
        wf.end("alice"),
        Err(TransitionError::Final {
            status: Status::Expired
        })
    );
    assert_eq!((wf.status, wf.ended_by.as_deref()), (Status::Expired, None));
}

#[test]
fn remaining_never_goes_negative() {
    let mut wf = workflow(budget(3, 2, 100));
    wf.reserve(NOW, true, 40).unwrap();
    assert_eq!(wf.remaining(), budget(2, 1, 60));
    wf.usage = usage(9, 9, 900);
    assert_eq!(wf.remaining(), Budget::default());
}

#[test]
fn status_names_round_trip_and_match_serde() {
    for status in [
        Status::Active,
        Status::Paused,
        Status::Ended,
        Status::Expired,
    ] {
        assert_eq!(Status::parse(status.as_str()), Some(status));
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{status}\""));
    }
    assert_eq!(Status::parse("Active"), None);
    assert_eq!(Status::parse(""), None);
}

#[test]
fn budget_kind_names_match_serde() {
    for kind in BudgetKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
    }
}

#[test]
fn messages_are_lowercase_and_say_what_ran_out() {
    let exhausted = BudgetRefusal::Exhausted {
        kind: BudgetKind::Calls,
        usage: usage(10, 0, 0),
        budget: budget(10, 0, 0),
    };
    assert_eq!(
        exhausted.to_string(),
        "the `calls` budget is exhausted (10 of 10)"
    );
    let paused = BudgetRefusal::Paused {
        kind: Some(BudgetKind::Writes),
        usage: usage(1, 0, 0),
        budget: budget(10, 0, 0),
    };
    assert_eq!(
        paused.to_string(),
        "the workflow is paused: the `writes` budget is exhausted (0 of 0)"
    );
    let unexplained = BudgetRefusal::Paused {
        kind: None,
        usage: Usage::default(),
        budget: Budget::default(),
    };
    assert_eq!(unexplained.to_string(), "the workflow is paused");
    assert_eq!(BudgetRefusal::Ended.to_string(), "the workflow has ended");
    assert_eq!(
        BudgetRefusal::Expired.to_string(),
        "the workflow has expired"
    );
    let final_state = TransitionError::Final {
        status: Status::Expired,
    };
    assert_eq!(
        final_state.to_string(),
        "the workflow is already expired, which is final"
    );
    let still = TransitionError::StillExhausted {
        kind: BudgetKind::Bytes,
    };
    assert_eq!(
        still.to_string(),
        "the `bytes` budget is still exhausted after the extension"
    );
}
