use super::*;

mod props;

const NOW: i64 = 1_000;
const TTL: i64 = 300;
const AGENT: &str = "spiffe://acme/agent/triage-bot";
const WORKFLOW: &str = "wf-1";
const OWNER: &str = "olivia";
const ID: &str = "0123456789abcdef0123456789abcdef";

fn call() -> ParkedCall {
    ParkedCall::new(CallToPark {
        method: "POST".to_owned(),
        tool: "tickets".into(),
        intent: "ticket.delete".into(),
        path: "/tickets/42".to_owned(),
        query: Some("force=true".to_owned()),
        content_type: Some("application/json".to_owned()),
        body: b"{\"why\":\"dup\"}".to_vec(),
    })
}

fn checkpoint(kind: Checkpoint, required: u8) -> Approval {
    checkpoint_for(kind, required, TTL)
}

fn checkpoint_for(kind: Checkpoint, required: u8, ttl: i64) -> Approval {
    Approval::new(NewApproval {
        id: ID.into(),
        checkpoint: kind,
        decision: DecisionId::from_u128(7),
        agent: AGENT.into(),
        workflow: WORKFLOW.into(),
        task_class: "remediation".into(),
        segment: "control".into(),
        tier: Tier::High,
        policies: vec!["raise-delete".into()],
        policy_version: "policy-v1".into(),
        call: call(),
        required,
        now_secs: NOW,
        ttl_secs: ttl,
    })
}

fn approval(required: u8) -> Approval {
    checkpoint(Checkpoint::Approval, required)
}

fn confirmation() -> Approval {
    checkpoint(Checkpoint::Confirmation, 1)
}

fn rules() -> Rules {
    Rules {
        forbid_owner: true,
        owner: Some(OWNER.into()),
    }
}

fn approved(kind: Checkpoint) -> Approval {
    let mut a = checkpoint(kind, 1);
    assert_eq!(
        a.approve(&"alice".into(), "ok", &rules(), NOW),
        Ok(ApprovalStatus::Approved)
    );
    a
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 204,
        content_type: None,
        body: Vec::new(),
    }
}

fn not_pending(status: ApprovalStatus) -> ApprovalError {
    ApprovalError::NotPending {
        id: ID.into(),
        status,
    }
}

fn not_approved(status: ApprovalStatus) -> ApprovalError {
    ApprovalError::NotApproved {
        id: ID.into(),
        status,
    }
}

fn expired() -> ApprovalError {
    ApprovalError::Expired { id: ID.into() }
}

fn with_status(mut a: Approval, status: ApprovalStatus) -> Approval {
    a.status = status;
    a
}

#[test]
fn a_new_checkpoint_is_pending_without_verdicts_and_expires_after_its_ttl() {
    let a = approval(2);
    assert_eq!(a.status, ApprovalStatus::Pending);
    assert!(a.verdicts.is_empty() && a.response.is_none());
    assert_eq!((a.created_at, a.expires_at), (NOW, NOW + TTL));
    assert_eq!((a.required, a.approvals()), (2, 0));
    assert!(!a.is_final());
    assert_eq!(a.call.digest, a.call.computed_digest());
}

#[test]
fn required_is_clamped_to_one_or_two_approvers() {
    let required = |n| approval(n).required;
    assert_eq!(
        (required(0), required(1), required(2), required(9)),
        (1, 1, 2, 2)
    );
}

#[test]
fn a_huge_ttl_saturates_instead_of_overflowing() {
    let a = checkpoint_for(Checkpoint::Approval, 1, i64::MAX);
    assert_eq!(a.expires_at, i64::MAX);
}

#[test]
fn one_yes_approves_a_single_approver_checkpoint_and_records_the_verdict() {
    let mut a = approval(1);
    let status = a.approve(&"alice".into(), "looks right", &rules(), NOW + 5);
    assert_eq!(status, Ok(ApprovalStatus::Approved));
    let verdict = Verdict {
        by: "alice".into(),
        approve: true,
        reason: "looks right".to_owned(),
        at: NOW + 5,
    };
    assert_eq!(a.verdicts, vec![verdict]);
    assert_eq!(a.approvals(), 1);
}

#[test]
fn two_required_approvers_must_be_different_people() {
    let mut a = approval(2);
    assert_eq!(
        a.approve(&"alice".into(), "ok", &rules(), NOW),
        Ok(ApprovalStatus::Pending)
    );
    let again = a.approve(&"alice".into(), "really", &rules(), NOW);
    assert_eq!(
        again,
        Err(ApprovalError::AlreadyDecided { by: "alice".into() })
    );
    assert_eq!((a.status, a.verdicts.len()), (ApprovalStatus::Pending, 1));
    assert_eq!(
        a.approve(&"bob".into(), "ok", &rules(), NOW),
        Ok(ApprovalStatus::Approved)
    );
    assert_eq!(a.approvals(), 2);
}

#[test]
fn one_no_denies_even_after_a_yes() {
    let mut a = approval(2);
    a.approve(&"alice".into(), "ok", &rules(), NOW).unwrap();
    assert_eq!(
        a.deny(&"bob".into(), "too risky", &rules(), NOW),
        Ok(ApprovalStatus::Denied)
    );
    assert!(a.is_final());
    assert_eq!(
        a.approve(&"carol".into(), "ok", &rules(), NOW),
        Err(not_pending(ApprovalStatus::Denied))
    );
    assert_eq!(a.status, ApprovalStatus::Denied);
}

#[test]
fn an_approver_who_approved_cannot_then_deny() {
    let mut a = approval(2);
    a.approve(&"alice".into(), "ok", &rules(), NOW).unwrap();
    let before = a.clone();
    let refused = a.deny(&"alice".into(), "changed my mind", &rules(), NOW);
    assert_eq!(
        refused,
        Err(ApprovalError::AlreadyDecided { by: "alice".into() })
    );
    assert_eq!(a, before);
}

#[test]
fn the_agent_may_neither_approve_nor_deny_its_own_call() {
    let mut a = approval(1);
    let before = a.clone();
    let refusal = ApprovalError::SelfApproval { by: AGENT.into() };
    assert_eq!(
        a.approve(&AGENT.into(), "me", &rules(), NOW),
        Err(refusal.clone())
    );
    assert_eq!(
        a.deny(&AGENT.into(), "me", &Rules::default(), NOW),
        Err(refusal)
    );
    assert_eq!(a, before);
}

#[test]
fn the_owner_is_refused_only_when_the_rules_forbid_it() {
    let mut a = approval(1);
    let before = a.clone();
    let refusal = ApprovalError::OwnerApproval { by: OWNER.into() };
    assert_eq!(
        a.approve(&OWNER.into(), "mine", &rules(), NOW),
        Err(refusal.clone())
    );
    assert_eq!(a.deny(&OWNER.into(), "mine", &rules(), NOW), Err(refusal));
    assert_eq!(a, before);
    let allowed = Rules {
        forbid_owner: false,
        ..rules()
    };
    assert_eq!(
        a.approve(&OWNER.into(), "mine", &allowed, NOW),
        Ok(ApprovalStatus::Approved)
    );
}

#[test]
fn forbidding_an_unknown_owner_refuses_nobody() {
    let mut a = approval(1);
    let unknown = Rules {
        forbid_owner: true,
        owner: None,
    };
    assert_eq!(
        a.approve(&OWNER.into(), "ok", &unknown, NOW),
        Ok(ApprovalStatus::Approved)
    );
}

#[test]
fn verdicts_after_approval_are_refused() {
    let mut a = approved(Checkpoint::Approval);
    let before = a.clone();
    assert_eq!(
        a.approve(&"bob".into(), "ok", &rules(), NOW),
        Err(not_pending(ApprovalStatus::Approved))
    );
    assert_eq!(
        a.deny(&"bob".into(), "no", &rules(), NOW),
        Err(not_pending(ApprovalStatus::Approved))
    );
    assert_eq!(a, before);
}

#[test]
fn a_pending_checkpoint_expires_exactly_at_its_expiry() {
    let mut a = approval(1);
    assert!(!a.expire_if_due(NOW + TTL - 1));
    assert_eq!(a.status, ApprovalStatus::Pending);
    assert!(a.expire_if_due(NOW + TTL));
    assert_eq!(a.status, ApprovalStatus::Expired);
    assert!(!a.expire_if_due(NOW + TTL + 1), "expires once");
}

#[test]
fn a_verdict_at_expiry_is_refused_and_expires_the_checkpoint() {
    let mut a = approval(1);
    assert_eq!(
        a.approve(&"alice".into(), "late", &rules(), NOW + TTL),
        Err(expired())
    );
    assert_eq!(a.status, ApprovalStatus::Expired);
    assert!(a.verdicts.is_empty());
    assert_eq!(
        a.deny(&"bob".into(), "late", &rules(), NOW + TTL),
        Err(expired())
    );
}

#[test]
fn an_approved_but_unused_checkpoint_expires_too() {
    for kind in [Checkpoint::Approval, Checkpoint::Confirmation] {
        let mut a = approved(kind);
        assert!(a.expire_if_due(NOW + TTL));
        assert_eq!(a.status, ApprovalStatus::Expired);
    }
}

#[test]
fn executing_and_final_checkpoints_never_expire() {
    use ApprovalStatus::{Cancelled, Denied, Done, Executing, Expired};
    for status in [Executing, Done, Denied, Expired, Cancelled] {
        let mut a = with_status(approval(1), status);
        assert!(!a.expire_if_due(i64::MAX));
        assert_eq!(a.status, status);
    }
}

#[test]
fn cancel_ends_pending_and_approved_checkpoints_only() {
    use ApprovalStatus::{Approved, Cancelled, Denied, Done, Executing, Expired, Pending};
    for status in [Pending, Approved] {
        let mut a = with_status(approval(1), status);
        assert!(a.cancel());
        assert_eq!(a.status, Cancelled);
    }
    for status in [Executing, Done, Denied, Expired, Cancelled] {
        let mut a = with_status(approval(1), status);
        assert!(!a.cancel());
        assert_eq!(a.status, status, "{status} stays");
    }
}

#[test]
fn an_approved_approval_executes_once_and_keeps_the_response() {
    let mut a = approved(Checkpoint::Approval);
    assert_eq!(a.begin_execution(NOW + 1), Ok(()));
    assert_eq!(a.status, ApprovalStatus::Executing);
    assert_eq!(
        a.begin_execution(NOW + 1),
        Err(not_approved(ApprovalStatus::Executing))
    );
    assert!(!a.cancel(), "a running call is not cancelled");
    assert_eq!(a.finish_execution(response()), Ok(()));
    assert_eq!(
        (a.status, a.response.clone()),
        (ApprovalStatus::Done, Some(response()))
    );
    assert_eq!(
        a.begin_execution(NOW + 1),
        Err(not_approved(ApprovalStatus::Done))
    );
}

#[test]
fn an_execution_that_began_before_expiry_still_finishes() {
    let mut a = approved(Checkpoint::Approval);
    a.begin_execution(NOW + TTL - 1).unwrap();
    assert!(!a.expire_if_due(NOW + TTL + 100));
    assert_eq!(a.finish_execution(response()), Ok(()));
}

#[test]
fn a_pending_or_expired_approval_does_not_execute() {
    let mut pending = approval(2);
    pending
        .approve(&"alice".into(), "ok", &rules(), NOW)
        .unwrap();
    assert_eq!(
        pending.begin_execution(NOW),
        Err(not_approved(ApprovalStatus::Pending))
    );
    let mut late = approved(Checkpoint::Approval);
    assert_eq!(late.begin_execution(NOW + TTL), Err(expired()));
    assert_eq!(late.status, ApprovalStatus::Expired);
}

#[test]
fn finishing_an_execution_that_is_not_running_is_refused() {
    let mut a = approved(Checkpoint::Approval);
    let refusal = ApprovalError::NotExecuting {
        id: ID.into(),
        status: ApprovalStatus::Approved,
    };
    assert_eq!(a.finish_execution(response()), Err(refusal));
    assert_eq!(
        (a.status, a.response.as_ref()),
        (ApprovalStatus::Approved, None)
    );
}

#[test]
fn a_confirmation_is_never_executed_and_an_approval_never_re_sent() {
    let mut confirmed = approved(Checkpoint::Confirmation);
    let before = confirmed.clone();
    let wrong = |checkpoint| ApprovalError::WrongCheckpoint {
        id: ID.into(),
        checkpoint,
    };
    assert_eq!(
        confirmed.begin_execution(NOW),
        Err(wrong(Checkpoint::Confirmation))
    );
    assert_eq!(
        confirmed.finish_execution(response()),
        Err(wrong(Checkpoint::Confirmation))
    );
    assert_eq!(confirmed, before);
    let mut approved = approved(Checkpoint::Approval);
    let digest = approved.call.digest.clone();
    assert_eq!(
        approved.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW),
        Err(wrong(Checkpoint::Approval))
    );
    assert_eq!(approved.status, ApprovalStatus::Approved);
}

#[test]
fn a_confirmation_is_used_once_by_the_same_call() {
    let mut a = approved(Checkpoint::Confirmation);
    let digest = a.call.digest.clone();
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW + 1),
        Ok(())
    );
    assert_eq!(a.status, ApprovalStatus::Done);
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW + 2),
        Err(not_approved(ApprovalStatus::Done))
    );
}

#[test]
fn a_confirmation_for_another_call_is_refused_and_stays_usable() {
    let mut a = approved(Checkpoint::Confirmation);
    let before = a.clone();
    let other = call_digest("POST", "tickets", "/tickets/43", Some("force=true"), b"");
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &other, NOW),
        Err(ApprovalError::DigestMismatch { id: ID.into() })
    );
    assert_eq!(a, before);
    let digest = a.call.digest.clone();
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW),
        Ok(())
    );
}

#[test]
fn a_confirmation_is_refused_to_another_agent_or_workflow() {
    let mut a = approved(Checkpoint::Confirmation);
    let before = a.clone();
    let digest = a.call.digest.clone();
    let refusal = Err(ApprovalError::WrongCaller { id: ID.into() });
    assert_eq!(
        a.use_confirmation(
            &"spiffe://acme/agent/other".into(),
            &WORKFLOW.into(),
            &digest,
            NOW
        ),
        refusal
    );
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &"wf-2".into(), &digest, NOW),
        refusal
    );
    assert_eq!(
        a.use_confirmation(&AGENT.into(), &"wf-2".into(), &"not-a-digest".into(), NOW),
        refusal,
        "the caller is checked before the digest"
    );
    assert_eq!(a, before);
}

#[test]
fn a_confirmation_must_be_confirmed_and_fresh_to_be_used() {
    let mut pending = confirmation();
    let digest = pending.call.digest.clone();
    assert_eq!(
        pending.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW),
        Err(not_approved(ApprovalStatus::Pending))
    );
    let mut late = approved(Checkpoint::Confirmation);
    assert_eq!(
        late.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW + TTL),
        Err(expired())
    );
    assert_eq!(late.status, ApprovalStatus::Expired);
    let mut denied = confirmation();
    denied.deny(&"alice".into(), "no", &rules(), NOW).unwrap();
    assert_eq!(
        denied.use_confirmation(&AGENT.into(), &WORKFLOW.into(), &digest, NOW),
        Err(not_approved(ApprovalStatus::Denied))
    );
}

#[test]
fn a_cancelled_checkpoint_refuses_everything() {
    let mut a = approved(Checkpoint::Approval);
    assert!(a.cancel());
    assert_eq!(
        a.begin_execution(NOW),
        Err(not_approved(ApprovalStatus::Cancelled))
    );
    assert_eq!(
        a.approve(&"bob".into(), "ok", &rules(), NOW),
        Err(not_pending(ApprovalStatus::Cancelled))
    );
    assert!(!a.expire_if_due(NOW + TTL));
    assert_eq!(a.status, ApprovalStatus::Cancelled);
}

#[test]
fn approvals_count_different_approving_people_only() {
    let mut a = approval(2);
    let verdict = |by: &str, approve| Verdict {
        by: by.into(),
        approve,
        reason: String::new(),
        at: NOW,
    };
    a.verdicts = vec![
        verdict("alice", true),
        verdict("alice", true),
        verdict("bob", false),
        verdict("carol", true),
    ];
    assert_eq!(a.approvals(), 2);
}

#[test]
fn status_and_checkpoint_names_round_trip_and_match_serde() {
    use ApprovalStatus::{Approved, Cancelled, Denied, Done, Executing, Expired, Pending};
    for status in [
        Pending, Approved, Executing, Done, Denied, Expired, Cancelled,
    ] {
        assert_eq!(status.as_str().parse::<ApprovalStatus>(), Ok(status));
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{status}\""));
        assert_eq!(
            status.is_final(),
            with_status(approval(1), status).is_final()
        );
    }
    for kind in [Checkpoint::Confirmation, Checkpoint::Approval] {
        assert_eq!(kind.as_str().parse::<Checkpoint>(), Ok(kind));
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
    }
    let unknown = "Pending".parse::<ApprovalStatus>().unwrap_err();
    assert!(
        unknown
            .to_string()
            .starts_with("unknown approval status `Pending`")
    );
    assert_eq!(
        "high".parse::<Checkpoint>(),
        Err(UnknownCheckpoint("high".to_owned()))
    );
}

#[test]
fn an_approval_survives_a_json_round_trip() {
    let mut a = approved(Checkpoint::Approval);
    a.begin_execution(NOW).unwrap();
    a.finish_execution(response()).unwrap();
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Approval>(&json).unwrap(), a);
}

#[test]
fn the_digest_is_hex_sha256_and_stable() {
    let digest = call_digest("POST", "tickets", "/t/1", None, b"{}");
    assert_eq!(digest.len(), 64);
    assert!(
        digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(digest, call_digest("post", "tickets", "/t/1", None, b"{}"));
    assert_eq!(call().digest, call().computed_digest());
}

#[test]
fn the_digest_does_not_collide_by_concatenation() {
    let digest = |tool, path, query| call_digest("GET", tool, path, query, b"");
    assert_ne!(digest("ab", "/c", None), digest("a", "b/c", None));
    assert_ne!(digest("t", "/p", Some("")), digest("t", "/p", None));
    assert_ne!(digest("t", "/p?x", None), digest("t", "/p", Some("x")));
    assert_ne!(
        call_digest("GET", "t", "/p", Some("a"), b"b"),
        call_digest("GET", "t", "/p", Some("ab"), b"")
    );
}

#[test]
fn messages_are_lowercase_and_name_who_or_which() {
    let id = || ApprovalId::from("c1");
    let cases = [
        (
            ApprovalError::NotPending {
                id: id(),
                status: ApprovalStatus::Denied,
            },
            "checkpoint `c1` is denied, not pending",
        ),
        (
            ApprovalError::NotApproved {
                id: id(),
                status: ApprovalStatus::Done,
            },
            "checkpoint `c1` is done, not approved",
        ),
        (
            ApprovalError::NotExecuting {
                id: id(),
                status: ApprovalStatus::Approved,
            },
            "checkpoint `c1` is approved, not executing",
        ),
        (
            ApprovalError::SelfApproval { by: "bot".into() },
            "`bot` made the call and may not decide on it",
        ),
        (
            ApprovalError::OwnerApproval {
                by: "olivia".into(),
            },
            "`olivia` owns the calling agent and may not decide on its calls",
        ),
        (
            ApprovalError::AlreadyDecided { by: "alice".into() },
            "`alice` has already given a verdict",
        ),
        (
            ApprovalError::WrongCheckpoint {
                id: id(),
                checkpoint: Checkpoint::Confirmation,
            },
            "checkpoint `c1` is a confirmation, which this operation does not apply to",
        ),
        (
            ApprovalError::DigestMismatch { id: id() },
            "confirmation `c1` was given for a different call",
        ),
        (
            ApprovalError::WrongCaller { id: id() },
            "confirmation `c1` belongs to another agent or workflow",
        ),
        (
            ApprovalError::Expired { id: id() },
            "checkpoint `c1` has expired",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
