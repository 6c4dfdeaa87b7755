//! Conformance of approval storage: every field survives (bodies byte for byte, however
//! large), `put` replaces, and listings filter, order and limit.

use std::cmp::Reverse;

use gatehouse_core::approval::{
    Approval, ApprovalStatus, Checkpoint, ParkedCall, StoredResponse, Verdict,
};
use gatehouse_store::{ApprovalFilter, DEFAULT_LIMIT, MAX_LIMIT, Store};

use crate::sample::id_at;

/// 2023-11-14T22:13:20Z, in Unix seconds.
const BASE_SECS: i64 = 1_700_000_000;

const STATUSES: [ApprovalStatus; 7] = [
    ApprovalStatus::Pending,
    ApprovalStatus::Approved,
    ApprovalStatus::Executing,
    ApprovalStatus::Done,
    ApprovalStatus::Denied,
    ApprovalStatus::Expired,
    ApprovalStatus::Cancelled,
];

/// Bytes that are not UTF-8 (a lone continuation byte, an overlong NUL, 0xFF), with a NUL
/// inside.
const NOT_UTF8: &[u8] = &[0x80, b'a', 0x00, 0xC0, 0x80, 0xFF, 0xFE, b'{'];

/// Approval number `seq`. Three in a row share a creation second, and ids do not sort
/// like `seq`, so ordering by insertion, or by id alone, shows in listings.
pub(crate) fn sample(seq: u64) -> Approval {
    let created_at = BASE_SECS + i64::try_from(seq / 3).unwrap();
    let status = STATUSES[(seq % 7) as usize];
    let done = status == ApprovalStatus::Done;
    Approval {
        id: format!("{:016x}{seq:016x}", seq * 7919 % 10_007).into(),
        checkpoint: [Checkpoint::Approval, Checkpoint::Confirmation][(seq % 2) as usize],
        status,
        decision: id_at(BASE_SECS * 1000, seq),
        agent: format!("spiffe://acme/agent/bot-{}", seq % 3).into(),
        workflow: format!("wf-{}", seq % 4).into(),
        task_class: "remediation".into(),
        segment: "control".into(),
        tier: gatehouse_core::model::Tier::High,
        policies: vec![format!("policy{}", seq % 5).into(), "raise-tier".into()],
        policy_version: format!("sha256:{seq:064x}").into(),
        call: call(seq),
        required: 1 + (seq % 2) as u8,
        verdicts: verdicts(status, created_at),
        created_at,
        expires_at: created_at + 900,
        response: done.then(|| StoredResponse {
            status: 201,
            content_type: Some("application/json".to_owned()),
            body: format!("{{\"ticket\":{seq}}}").into_bytes(),
        }),
    }
}

fn call(seq: u64) -> ParkedCall {
    ParkedCall {
        method: "DELETE".to_owned(),
        tool: "tickets".into(),
        intent: "ticket.delete".into(),
        path: format!("/api/tickets/{seq}"),
        query: Some(format!("force=true&n={seq}")),
        content_type: Some("application/octet-stream".to_owned()),
        body: [NOT_UTF8, &seq.to_be_bytes()].concat(),
        digest: format!("{seq:064x}").into(),
    }
}

fn verdicts(status: ApprovalStatus, at: i64) -> Vec<Verdict> {
    let verdict = |by: &str, approve| Verdict {
        by: by.into(),
        approve,
        reason: format!("{by} looked at it"),
        at: at + 60,
    };
    match status {
        ApprovalStatus::Pending | ApprovalStatus::Expired | ApprovalStatus::Cancelled => Vec::new(),
        ApprovalStatus::Denied => vec![verdict("bob", false)],
        _ => vec![verdict("alice", true), verdict("bob", true)],
    }
}

fn samples(range: std::ops::Range<u64>) -> Vec<Approval> {
    range.map(sample).collect()
}

/// Puts `approvals` in an order unlike both their ids and their creation times.
fn put_scrambled(store: &dyn Store, approvals: &[Approval]) {
    let n = approvals.len();
    for i in 0..n {
        store.put_approval(&approvals[i * 7919 % n]).unwrap();
    }
}

/// What the store should list for `filter` over `stored`: its own reading of the
/// `ApprovalFilter` contract.
fn expected(stored: &[Approval], filter: &ApprovalFilter) -> Vec<Approval> {
    let wants = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
    let mut found: Vec<Approval> = stored
        .iter()
        .filter(|a| filter.status.is_none_or(|s| s == a.status))
        .filter(|a| wants(filter.workflow.as_deref(), &a.workflow))
        .filter(|a| wants(filter.agent.as_deref(), &a.agent))
        .filter(|a| filter.checkpoint.is_none_or(|c| c == a.checkpoint))
        .cloned()
        .collect();
    found.sort_by_key(|a| (Reverse(a.created_at), Reverse(a.id.clone())));
    found.truncate(filter.effective_limit() as usize);
    found
}

/// Reads `approval` back by id and checks it is exactly what was written (without
/// printing both on failure: a body may be a mebibyte).
fn assert_reads_back(store: &dyn Store, approval: &Approval) {
    let back = store.approval(&approval.id).unwrap();
    assert!(
        back.as_ref() == Some(approval),
        "approval `{}` changed",
        approval.id
    );
}

/// An approval with every optional field empty and every text awkward.
fn odd() -> Approval {
    Approval {
        id: "id 'quoted' ü".into(),
        policies: Vec::new(),
        call: ParkedCall {
            path: "/a/%2e%2E/ü?x='1';--".to_owned(),
            query: None,
            content_type: None,
            body: Vec::new(),
            ..call(9)
        },
        required: u8::MAX,
        verdicts: vec![Verdict {
            by: "carol \"c\"".into(),
            approve: false,
            reason: "no\nline two".to_owned(),
            at: -1,
        }],
        created_at: -5,
        expires_at: 0,
        response: Some(StoredResponse {
            status: u16::MAX,
            content_type: None,
            body: Vec::new(),
        }),
        ..sample(3)
    }
}

pub(crate) fn an_approval_reads_back_every_field(store: &dyn Store) {
    let binary_response = Approval {
        response: Some(StoredResponse {
            status: 200,
            content_type: Some("image/png".to_owned()),
            body: NOT_UTF8.repeat(3),
        }),
        ..sample(10)
    };
    let written: Vec<Approval> = samples(0..7)
        .into_iter()
        .chain([odd(), binary_response])
        .collect();
    for approval in &written {
        store.put_approval(approval).unwrap();
    }
    for approval in &written {
        assert_reads_back(store, approval);
    }
}

pub(crate) fn a_one_mib_body_reads_back_byte_for_byte(store: &dyn Store) {
    let mib: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 % 251) as u8).collect();
    let mut big = sample(3);
    big.call.body = mib.clone();
    big.response = Some(StoredResponse {
        status: 200,
        content_type: None,
        body: mib.into_iter().rev().collect(),
    });
    store.put_approval(&big).unwrap();
    assert_reads_back(store, &big);
    let listed = store.list_approvals(&ApprovalFilter::default()).unwrap();
    assert!(listed == [big], "listing changed the approval");
}

pub(crate) fn an_unknown_id_is_none(store: &dyn Store) {
    store.put_approval(&sample(0)).unwrap();
    assert_eq!(store.approval(&"no-such-approval".into()).unwrap(), None);
    assert_eq!(store.approval(&"".into()).unwrap(), None);
}

pub(crate) fn put_replaces_status_verdicts_and_response(store: &dyn Store) {
    let pending = sample(0);
    assert_eq!(pending.status, ApprovalStatus::Pending);
    store.put_approval(&pending).unwrap();
    let approved = Approval {
        status: ApprovalStatus::Approved,
        verdicts: verdicts(ApprovalStatus::Approved, pending.created_at),
        ..pending.clone()
    };
    let done = Approval {
        status: ApprovalStatus::Done,
        response: Some(StoredResponse {
            status: 204,
            content_type: None,
            body: NOT_UTF8.to_vec(),
        }),
        ..approved.clone()
    };
    // A later put may also take a response away again; every field is replaced.
    let reset = Approval {
        id: pending.id.clone(),
        ..odd()
    };
    for next in [&approved, &done, &reset, &pending] {
        store.put_approval(next).unwrap();
        assert_reads_back(store, next);
    }
    let listed = store.list_approvals(&ApprovalFilter::default()).unwrap();
    assert_eq!(listed, [pending]);
}

pub(crate) fn listing_filters_by_status_workflow_agent_and_checkpoint(store: &dyn Store) {
    let stored = samples(0..84);
    put_scrambled(store, &stored);
    let mut filters: Vec<ApprovalFilter> = STATUSES
        .into_iter()
        .map(|status| ApprovalFilter {
            status: Some(status),
            ..ApprovalFilter::default()
        })
        .collect();
    filters.extend([
        ApprovalFilter {
            workflow: Some("wf-2".into()),
            ..ApprovalFilter::default()
        },
        ApprovalFilter {
            agent: Some("spiffe://acme/agent/bot-1".into()),
            ..ApprovalFilter::default()
        },
        ApprovalFilter {
            checkpoint: Some(Checkpoint::Confirmation),
            ..ApprovalFilter::default()
        },
        ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            checkpoint: Some(Checkpoint::Approval),
            ..ApprovalFilter::default()
        },
        ApprovalFilter {
            workflow: Some("wf-0".into()),
            agent: Some("spiffe://acme/agent/bot-2".into()),
            limit: Some(2),
            ..ApprovalFilter::default()
        },
    ]);
    for filter in &filters {
        let found = store.list_approvals(filter).unwrap();
        assert!(
            !found.is_empty() && found.len() < stored.len(),
            "{filter:?}"
        );
        assert_eq!(found, expected(&stored, filter), "{filter:?}");
    }
    let nobody = ApprovalFilter {
        agent: Some("nobody".into()),
        ..ApprovalFilter::default()
    };
    assert!(store.list_approvals(&nobody).unwrap().is_empty());
}

pub(crate) fn listing_is_newest_first_with_ids_breaking_ties(store: &dyn Store) {
    let stored = samples(0..30);
    put_scrambled(store, &stored);
    let found = store.list_approvals(&ApprovalFilter::default()).unwrap();
    assert_eq!(found, expected(&stored, &ApprovalFilter::default()));
    assert!(found.windows(2).all(|pair| {
        let key = |a: &Approval| (a.created_at, a.id.clone());
        key(&pair[0]) > key(&pair[1])
    }));
    // Three share the newest second; the greatest id of those comes first.
    assert_eq!(found[0].created_at, found[2].created_at);
}

pub(crate) fn listing_limit_defaults_to_100_and_is_capped_at_1000(store: &dyn Store) {
    let stored = samples(0..1100);
    for approval in &stored {
        store.put_approval(approval).unwrap();
    }
    let count = |limit| {
        let filter = ApprovalFilter {
            limit,
            ..ApprovalFilter::default()
        };
        store.list_approvals(&filter).unwrap().len()
    };
    assert_eq!(count(None), DEFAULT_LIMIT as usize);
    assert_eq!(count(Some(0)), 0);
    assert_eq!(count(Some(7)), 7);
    assert_eq!(count(Some(1000)), 1000);
    assert_eq!(count(Some(5000)), MAX_LIMIT as usize);
    let newest = ApprovalFilter {
        limit: Some(5),
        ..ApprovalFilter::default()
    };
    assert_eq!(
        store.list_approvals(&newest).unwrap(),
        expected(&stored, &newest)
    );
}

pub(crate) fn replace_changes_only_what_was_read(store: &dyn Store) {
    let read = sample(0);
    assert_eq!(read.status, ApprovalStatus::Pending);
    store.put_approval(&read).unwrap();
    let mut approved = read.clone();
    approved.status = ApprovalStatus::Approved;
    approved.verdicts = verdicts(ApprovalStatus::Approved, read.created_at);
    assert!(store.replace_approval(&read, &approved).unwrap());
    assert_reads_back(store, &approved);
    // A second writer that read the approval before the first one's change loses.
    let mut denied = read.clone();
    denied.status = ApprovalStatus::Denied;
    assert!(!store.replace_approval(&read, &denied).unwrap());
    assert_reads_back(store, &approved);
    // An approval that is not stored is not created by a replace.
    let absent = sample(7);
    assert!(!store.replace_approval(&absent, &absent).unwrap());
    assert_eq!(store.approval(&absent.id).unwrap(), None);
}

pub(crate) fn concurrent_replaces_of_one_approval_let_exactly_one_win(store: &dyn Store) {
    let read = sample(3);
    store.put_approval(&read).unwrap();
    let wins: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let read = &read;
                scope.spawn(move || {
                    let mut next = read.clone();
                    next.verdicts.push(Verdict {
                        by: format!("approver-{n}").into(),
                        approve: true,
                        reason: String::new(),
                        at: read.created_at + 1,
                    });
                    usize::from(store.replace_approval(read, &next).unwrap())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .sum()
    });
    assert_eq!(wins, 1);
    assert_eq!(
        store.approval(&read.id).unwrap().unwrap().verdicts.len(),
        read.verdicts.len() + 1
    );
}
