//! Property tests: random operation sequences against a model of the state machine, with
//! the invariants checked after every step; and the digest's sensitivity to every field.

use proptest::prelude::*;

use super::{AGENT, NOW, OWNER, WORKFLOW, call, checkpoint_for};
use crate::approval::{
    Approval, ApprovalError, ApprovalStatus, CallDigest, Checkpoint, ParkedCall, Rules,
    StoredResponse, Verdict, call_digest,
};
use crate::model::{AgentId, OperatorName, WorkflowId};

/// Who tries to decide: the agent and its owner are always among them.
const APPROVERS: [&str; 5] = [AGENT, OWNER, "alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Op {
    Approve(usize),
    Deny(usize),
    Advance(i64),
    /// Moves time to `expires_at + offset` (never backwards), to hit the boundary.
    NearExpiry(i64),
    Expire,
    Cancel,
    Begin,
    Finish(u16),
    /// A re-send; each flag says whether that part matches the parked call.
    Use {
        agent: bool,
        workflow: bool,
        digest: bool,
    },
}

/// What happened so far, counted by the test, not by the checkpoint.
#[derive(Debug)]
struct Ledger {
    now: i64,
    call: ParkedCall,
    begun: u32,
    finished: u32,
    used: u32,
}

fn ops() -> impl Strategy<Value = Op> {
    let who = || 0..APPROVERS.len();
    prop_oneof![
        6 => who().prop_map(Op::Approve),
        1 => who().prop_map(Op::Deny),
        2 => (0..30i64).prop_map(Op::Advance),
        1 => (-1..=1i64).prop_map(Op::NearExpiry),
        1 => Just(Op::Expire),
        1 => Just(Op::Cancel),
        3 => Just(Op::Begin),
        2 => (100..600u16).prop_map(Op::Finish),
        4 => (prop::bool::weighted(0.8), prop::bool::weighted(0.8), prop::bool::weighted(0.7))
            .prop_map(|(agent, workflow, digest)| Op::Use { agent, workflow, digest }),
    ]
}

fn kinds() -> impl Strategy<Value = Checkpoint> {
    prop_oneof![Just(Checkpoint::Approval), Just(Checkpoint::Confirmation)]
}

fn rules_for(forbid_owner: bool, owner_known: bool) -> Rules {
    Rules {
        forbid_owner,
        owner: owner_known.then(|| OWNER.into()),
    }
}

/// Pending or approved at or past expiry: the next `now`-taking operation expires it.
fn due(before: &Approval, now: i64) -> bool {
    let waiting = matches!(
        before.status,
        ApprovalStatus::Pending | ApprovalStatus::Approved
    );
    waiting && now >= before.expires_at
}

/// `before` as every `now`-taking operation first leaves it.
fn settled(before: &Approval, now: i64) -> Approval {
    let mut after = before.clone();
    if due(before, now) {
        after.status = ApprovalStatus::Expired;
    }
    after
}

fn expired_refusal(before: &Approval) -> ApprovalError {
    ApprovalError::Expired {
        id: before.id.clone(),
    }
}

/// The model of who may give a verdict, written apart from the checkpoint's own checks.
fn verdict_refusal(
    before: &Approval,
    by: &OperatorName,
    rules: &Rules,
    now: i64,
) -> Option<ApprovalError> {
    let status = settled(before, now).status;
    let by_owned = by.clone();
    Some(match status {
        ApprovalStatus::Expired => expired_refusal(before),
        ApprovalStatus::Pending if by.as_str() == AGENT => {
            ApprovalError::SelfApproval { by: by_owned }
        }
        ApprovalStatus::Pending if rules.forbid_owner && rules.owner.as_ref() == Some(by) => {
            ApprovalError::OwnerApproval { by: by_owned }
        }
        ApprovalStatus::Pending if before.verdicts.iter().any(|v| v.by == *by) => {
            ApprovalError::AlreadyDecided { by: by_owned }
        }
        ApprovalStatus::Pending => return None,
        status => ApprovalError::NotPending {
            id: before.id.clone(),
            status,
        },
    })
}

fn check_verdict(before: &Approval, a: &mut Approval, ledger: &Ledger, rules: &Rules, op: &Op) {
    let (who, approve) = match *op {
        Op::Approve(who) => (who, true),
        Op::Deny(who) => (who, false),
        _ => unreachable!("only verdicts"),
    };
    let by = OperatorName::from(APPROVERS[who]);
    let now = ledger.now;
    let result = if approve {
        a.approve(&by, "because", rules, now)
    } else {
        a.deny(&by, "because", rules, now)
    };
    if let Some(refusal) = verdict_refusal(before, &by, rules, now) {
        assert_eq!(result, Err(refusal));
        assert_eq!(
            *a,
            settled(before, now),
            "a refused verdict changes nothing"
        );
        return;
    }
    let mut verdicts = before.verdicts.clone();
    verdicts.push(Verdict {
        by,
        approve,
        reason: "because".to_owned(),
        at: now,
    });
    let yes = verdicts.iter().filter(|v| v.approve).count();
    let status = match (approve, yes >= usize::from(before.required)) {
        (false, _) => ApprovalStatus::Denied,
        (true, true) => ApprovalStatus::Approved,
        (true, false) => ApprovalStatus::Pending,
    };
    assert_eq!(result, Ok(status));
    assert_eq!((a.status, &a.verdicts), (status, &verdicts));
}

fn check_cancel(before: &Approval, a: &mut Approval) {
    let waiting = matches!(
        before.status,
        ApprovalStatus::Pending | ApprovalStatus::Approved
    );
    assert_eq!(a.cancel(), waiting);
    let mut expected = before.clone();
    if waiting {
        expected.status = ApprovalStatus::Cancelled;
    }
    assert_eq!(*a, expected);
}

fn check_expire(before: &Approval, a: &mut Approval, now: i64) {
    assert_eq!(a.expire_if_due(now), due(before, now));
    assert_eq!(*a, settled(before, now));
}

fn wrong_checkpoint(before: &Approval) -> ApprovalError {
    ApprovalError::WrongCheckpoint {
        id: before.id.clone(),
        checkpoint: before.checkpoint,
    }
}

/// The refusal of an operation that needs an approved checkpoint of kind `wanted`.
fn approved_refusal(before: &Approval, wanted: Checkpoint, now: i64) -> Option<ApprovalError> {
    if before.checkpoint != wanted {
        return Some(wrong_checkpoint(before));
    }
    match settled(before, now).status {
        ApprovalStatus::Approved => None,
        ApprovalStatus::Expired => Some(expired_refusal(before)),
        status => Some(ApprovalError::NotApproved {
            id: before.id.clone(),
            status,
        }),
    }
}

fn check_begin(before: &Approval, a: &mut Approval, ledger: &mut Ledger) {
    let now = ledger.now;
    let result = a.begin_execution(now);
    match approved_refusal(before, Checkpoint::Approval, now) {
        Some(refusal @ ApprovalError::WrongCheckpoint { .. }) => {
            assert_eq!((result, &*a), (Err(refusal), before));
        }
        Some(refusal) => assert_eq!((result, &*a), (Err(refusal), &settled(before, now))),
        None => {
            assert_eq!(result, Ok(()));
            let mut expected = before.clone();
            expected.status = ApprovalStatus::Executing;
            assert_eq!(*a, expected);
            ledger.begun += 1;
        }
    }
}

fn check_finish(before: &Approval, a: &mut Approval, ledger: &mut Ledger, status: u16) {
    let response = StoredResponse {
        status,
        content_type: None,
        body: status.to_be_bytes().to_vec(),
    };
    let result = a.finish_execution(response.clone());
    let refusal = match (before.checkpoint, before.status) {
        (Checkpoint::Confirmation, _) => Some(wrong_checkpoint(before)),
        (Checkpoint::Approval, ApprovalStatus::Executing) => None,
        (Checkpoint::Approval, status) => Some(ApprovalError::NotExecuting {
            id: before.id.clone(),
            status,
        }),
    };
    if let Some(refusal) = refusal {
        assert_eq!((result, &*a), (Err(refusal), before));
        return;
    }
    assert_eq!(result, Ok(()));
    let mut expected = before.clone();
    expected.status = ApprovalStatus::Done;
    expected.response = Some(response);
    assert_eq!(*a, expected);
    ledger.finished += 1;
}

fn check_use(before: &Approval, a: &mut Approval, ledger: &mut Ledger, op: &Op) {
    let Op::Use {
        agent,
        workflow,
        digest,
    } = *op
    else {
        unreachable!("only re-sends")
    };
    let now = ledger.now;
    let other_digest = call_digest("GET", "tickets", "/tickets/42", None, b"");
    let result = a.use_confirmation(
        &AgentId::from(if agent {
            AGENT
        } else {
            "spiffe://acme/agent/other"
        }),
        &WorkflowId::from(if workflow { WORKFLOW } else { "wf-other" }),
        if digest {
            &ledger.call.digest
        } else {
            &other_digest
        },
        now,
    );
    let id = before.id.clone();
    let refusal = match approved_refusal(before, Checkpoint::Confirmation, now) {
        Some(refusal) => Some(refusal),
        None if !(agent && workflow) => Some(ApprovalError::WrongCaller { id }),
        None if !digest => Some(ApprovalError::DigestMismatch { id }),
        None => None,
    };
    match refusal {
        Some(refusal @ ApprovalError::WrongCheckpoint { .. }) => {
            assert_eq!((result, &*a), (Err(refusal), before));
        }
        Some(refusal) => assert_eq!((result, &*a), (Err(refusal), &settled(before, now))),
        None => {
            assert_eq!(result, Ok(()));
            let mut expected = before.clone();
            expected.status = ApprovalStatus::Done;
            assert_eq!(*a, expected);
            ledger.used += 1;
        }
    }
}

fn apply(a: &mut Approval, ledger: &mut Ledger, rules: &Rules, op: &Op) {
    let before = a.clone();
    match *op {
        Op::Approve(_) | Op::Deny(_) => check_verdict(&before, a, ledger, rules, op),
        Op::Advance(secs) => ledger.now += secs,
        Op::NearExpiry(offset) => ledger.now = ledger.now.max(a.expires_at + offset),
        Op::Expire => check_expire(&before, a, ledger.now),
        Op::Cancel => check_cancel(&before, a),
        Op::Begin => check_begin(&before, a, ledger),
        Op::Finish(status) => check_finish(&before, a, ledger, status),
        Op::Use { .. } => check_use(&before, a, ledger, op),
    }
    check_invariants(&before, a, ledger, rules);
}

fn check_invariants(before: &Approval, a: &Approval, ledger: &Ledger, rules: &Rules) {
    if before.is_final() {
        assert_eq!(a, before, "a final state never changes");
    }
    assert_eq!(a.call, ledger.call, "what runs is what was parked");
    assert!(
        a.verdicts.starts_with(&before.verdicts),
        "verdicts are append-only"
    );
    assert!(ledger.begun <= 1, "an approval runs once");
    assert!(ledger.finished <= ledger.begun, "only what began finishes");
    assert!(ledger.used <= 1, "a confirmation is used once");
    assert!(ledger.finished + ledger.used <= 1, "done at most once");
    assert_eq!(
        a.status == ApprovalStatus::Done,
        ledger.finished + ledger.used == 1
    );
    assert_eq!(a.response.is_some(), ledger.finished == 1);
    check_quorum(a, rules);
    check_expiry(before, a, ledger.now);
    if a.verdicts.iter().any(|v| !v.approve) {
        assert_eq!(a.status, ApprovalStatus::Denied, "one no denies, for good");
    }
    if matches!(a.status, ApprovalStatus::Executing) || ledger.finished > 0 {
        assert_eq!(a.checkpoint, Checkpoint::Approval);
    }
    if ledger.used > 0 {
        assert_eq!(a.checkpoint, Checkpoint::Confirmation);
    }
}

/// Approved, executing or done implies enough independent approvers.
fn check_quorum(a: &Approval, rules: &Rules) {
    let decided = matches!(
        a.status,
        ApprovalStatus::Approved | ApprovalStatus::Executing | ApprovalStatus::Done
    );
    if !decided {
        return;
    }
    let yes: Vec<&str> = a
        .verdicts
        .iter()
        .filter(|v| v.approve)
        .map(|v| v.by.as_str())
        .collect();
    let mut distinct = yes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= usize::from(a.required), "quorum: {a:?}");
    assert_eq!(distinct.len(), yes.len(), "each approver counted once");
    assert!(!yes.contains(&AGENT), "the agent approved its own call");
    if rules.forbid_owner && rules.owner.is_some() {
        assert!(!yes.contains(&OWNER), "the forbidden owner approved");
    }
}

/// Past expiry nothing starts running or gets used; a running execution may finish.
fn check_expiry(before: &Approval, a: &Approval, now: i64) {
    let running = matches!(a.status, ApprovalStatus::Executing | ApprovalStatus::Done);
    if running && now >= a.expires_at {
        assert!(
            matches!(
                before.status,
                ApprovalStatus::Executing | ApprovalStatus::Done
            ),
            "{} became {} after expiry",
            before.status,
            a.status
        );
    }
    if a.status == ApprovalStatus::Expired && before.status != ApprovalStatus::Expired {
        assert!(now >= a.expires_at, "expired early");
    }
}

/// Which one field of a call a mutation changes.
#[derive(Debug, Clone, Copy)]
enum Field {
    Method,
    Tool,
    Path,
    Query,
    Body,
}

type CallFields = (String, String, String, Option<String>, Vec<u8>);

fn call_fields() -> impl Strategy<Value = CallFields> {
    (
        "[A-Z]{1,7}",
        "[a-z]{0,6}",
        "(/[a-z0-9%.]{0,4}){0,3}",
        prop::option::of("[a-z=&]{0,6}"),
        prop::collection::vec(any::<u8>(), 0..16),
    )
}

fn digest_of(fields: &CallFields) -> CallDigest {
    let (method, tool, path, query, body) = fields;
    call_digest(method, tool, path, query.as_deref(), body)
}

/// `fields` with `field` changed to something else.
fn mutated(mut fields: CallFields, field: Field, extra: &str) -> CallFields {
    match field {
        Field::Method => fields.0.push('X'),
        Field::Tool => fields.1.push_str(extra),
        Field::Path => fields.2.push_str(extra),
        Field::Query => {
            fields.3 = match fields.3 {
                None => Some(String::new()),
                Some(query) if query.is_empty() => None,
                Some(query) => Some(query + extra),
            }
        }
        Field::Body => fields.4.push(0),
    }
    fields
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operation_sequences_keep_every_invariant(
        kind in kinds(),
        required in 0..4u8,
        forbid_owner in any::<bool>(),
        owner_known in any::<bool>(),
        ttl in 1..120i64,
        ops in prop::collection::vec(ops(), 1..50),
    ) {
        let mut a = checkpoint_for(kind, required, ttl);
        let rules = rules_for(forbid_owner, owner_known);
        let mut ledger = Ledger { now: NOW, call: call(), begun: 0, finished: 0, used: 0 };
        for op in &ops {
            apply(&mut a, &mut ledger, &rules, op);
        }
    }

    #[test]
    fn an_approval_approved_by_enough_people_runs_exactly_once(
        required in 1..=2u8,
        attempts in 1..6usize,
    ) {
        let mut a = checkpoint_for(Checkpoint::Approval, required, 60);
        let rules = rules_for(true, true);
        for by in ["alice", "bob"].into_iter().take(usize::from(required)) {
            a.approve(&by.into(), "ok", &rules, NOW).unwrap();
        }
        let begun = (0..attempts).filter(|_| a.begin_execution(NOW).is_ok()).count();
        prop_assert_eq!(begun, 1);
    }

    #[test]
    fn the_digest_changes_with_any_one_field(
        fields in call_fields(),
        field in prop_oneof![
            Just(Field::Method), Just(Field::Tool), Just(Field::Path),
            Just(Field::Query), Just(Field::Body),
        ],
        extra in "[a-z/]{1,3}",
    ) {
        let digest = digest_of(&fields);
        prop_assert_eq!(&digest, &digest_of(&fields.clone()), "stable");
        prop_assert_eq!(digest.len(), 64);
        prop_assert_ne!(digest, digest_of(&mutated(fields, field, &extra)));
    }

    #[test]
    fn the_digest_ignores_the_case_of_the_method_only(fields in call_fields()) {
        let mut lower = fields.clone();
        lower.0 = lower.0.to_ascii_lowercase();
        prop_assert_eq!(digest_of(&fields), digest_of(&lower));
        let mut upper_tool = fields.clone();
        upper_tool.1 = upper_tool.1.to_ascii_uppercase();
        prop_assert_eq!(digest_of(&fields) == digest_of(&upper_tool), fields.1 == upper_tool.1);
    }

    #[test]
    fn moving_bytes_between_adjacent_fields_changes_the_digest(
        tool in "[a-z]{0,6}",
        path in "[a-z/]{0,6}",
        cut in 0..6usize,
    ) {
        let joined = format!("{tool}{path}");
        let cut = cut.min(joined.len());
        let (left, right) = joined.split_at(cut);
        let original = call_digest("GET", &tool, &path, None, b"");
        let shifted = call_digest("GET", left, right, None, b"");
        prop_assert_eq!(original == shifted, left == tool);
    }
}
