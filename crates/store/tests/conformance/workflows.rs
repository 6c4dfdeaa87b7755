//! Conformance of workflow storage: every field survives, `put` replaces, `create` is
//! insert-if-absent even under a race, and listings filter, order and limit.

use std::cmp::Reverse;
use std::sync::Barrier;

use gatehouse_core::model::{AgentId, SegmentName, TaskClassName, WorkflowId};
use gatehouse_core::workflow::{Ask, Budget, BudgetKind, Share, Status, Usage, Workflow};
use gatehouse_store::{DEFAULT_LIMIT, MAX_LIMIT, Store, WorkflowFilter};

/// 2023-11-14T22:13:20Z, in Unix seconds.
const BASE_SECS: i64 = 1_700_000_000;

const STATUSES: [Status; 4] = [
    Status::Active,
    Status::Paused,
    Status::Ended,
    Status::Expired,
];

/// Workflow number `seq`. Three in a row share a creation second, and ids do not sort
/// like `seq`, so ordering by insertion, or by id alone, shows in listings.
pub(crate) fn sample(seq: u64) -> Workflow {
    let status = STATUSES[(seq % 4) as usize];
    let created_at = BASE_SECS + i64::try_from(seq / 3).unwrap();
    Workflow {
        id: WorkflowId::new(format!("wf-{:03}-{seq}", seq * 37 % 101)),
        agent: AgentId::new(format!("spiffe://acme/agent/bot-{}", seq % 3)),
        task_class: TaskClassName::new(["triage", "remediation"][(seq % 2) as usize]),
        segment: SegmentName::new("data"),
        status,
        budget: Budget {
            calls: 100 + seq,
            writes: 10,
            bytes: 1 << 20,
        },
        usage: Usage {
            calls: seq,
            writes: seq / 2,
            bytes: seq * 100,
        },
        created_at,
        expires_at: created_at + 3600,
        paused_for: (status == Status::Paused).then_some(BudgetKind::Calls),
        ended_by: (status == Status::Ended).then(|| "alice".to_owned()),
    }
}

fn samples(range: std::ops::Range<u64>) -> Vec<Workflow> {
    range.map(sample).collect()
}

/// Puts `workflows` in an order unlike both their ids and their creation times.
fn put_scrambled(store: &dyn Store, workflows: &[Workflow]) {
    let n = workflows.len();
    for i in 0..n {
        store.put_workflow(&workflows[i * 7919 % n]).unwrap();
    }
}

/// What the store should list for `filter` over `stored`: its own reading of the
/// `WorkflowFilter` contract.
fn expected(stored: &[Workflow], filter: &WorkflowFilter) -> Vec<Workflow> {
    let mut found: Vec<Workflow> = stored
        .iter()
        .filter(|w| {
            filter
                .agent
                .as_deref()
                .is_none_or(|a| a == w.agent.as_str())
        })
        .filter(|w| filter.status.is_none_or(|s| s == w.status))
        .cloned()
        .collect();
    found.sort_by_key(|w| (Reverse(w.created_at), Reverse(w.id.clone())));
    found.truncate(filter.effective_limit() as usize);
    found
}

pub(crate) fn a_workflow_reads_back_every_field(store: &dyn Store) {
    let odd = Workflow {
        id: WorkflowId::new("wf 'quoted' ü"),
        task_class: TaskClassName::new("remediation"),
        segment: SegmentName::new("control"),
        budget: Budget {
            calls: 0,
            writes: i64::MAX as u64,
            bytes: 1,
        },
        created_at: -5,
        expires_at: 0,
        ended_by: Some("revocation of agent \"x\"\nline two".to_owned()),
        ..sample(2)
    };
    let paused = [BudgetKind::Calls, BudgetKind::Writes, BudgetKind::Bytes]
        .into_iter()
        .zip(10..)
        .map(|(kind, seq)| Workflow {
            status: Status::Paused,
            paused_for: Some(kind),
            ..sample(seq)
        });
    let written: Vec<Workflow> = samples(0..4)
        .into_iter()
        .chain(paused)
        .chain([odd])
        .collect();
    for workflow in &written {
        store.put_workflow(workflow).unwrap();
    }
    for workflow in &written {
        assert_eq!(
            store.workflow(&workflow.id).unwrap().as_ref(),
            Some(workflow)
        );
    }
    assert_eq!(store.workflow(&WorkflowId::new("wf-none")).unwrap(), None);
}

pub(crate) fn budgets_beyond_i64_read_back_as_i64_max(store: &dyn Store) {
    let huge = Workflow {
        budget: Budget {
            calls: u64::MAX,
            writes: u64::MAX,
            bytes: u64::MAX,
        },
        ..sample(1)
    };
    store.put_workflow(&huge).unwrap();
    let back = store.workflow(&huge.id).unwrap().unwrap();
    let max = i64::MAX as u64;
    assert_eq!((back.budget.calls, back.budget.writes), (max, max));
    assert_eq!(back.budget.bytes, max);
}

pub(crate) fn put_replaces_every_field(store: &dyn Store) {
    let first = sample(0);
    store.put_workflow(&first).unwrap();
    let changed = Workflow {
        id: first.id.clone(),
        ..sample(5)
    };
    assert_ne!(changed, first);
    store.put_workflow(&changed).unwrap();
    assert_eq!(store.workflow(&first.id).unwrap(), Some(changed));
    let listed = store.list_workflows(&WorkflowFilter::default()).unwrap();
    assert_eq!(listed.len(), 1);
}

/// A lease is what a crash leaves as spent: reads count usage as at least the lease, a
/// smaller lease never shrinks it, a later write-behind of smaller usage does not lower
/// it, and releasing leases (a clean shutdown) leaves the written usage.
pub(crate) fn usage_reads_as_at_least_its_lease_until_released(store: &dyn Store) {
    let workflow = sample(4);
    store.put_workflow(&workflow).unwrap();
    let lease = Usage {
        calls: workflow.usage.calls + 10,
        writes: workflow.usage.writes,
        bytes: workflow.usage.bytes + 5000,
    };
    store.put_lease(&workflow.id, lease).unwrap();
    store.put_lease(&workflow.id, Usage::default()).unwrap();
    store.put_workflow(&workflow).unwrap();
    let read = store.workflow(&workflow.id).unwrap().unwrap();
    assert_eq!(read.usage, lease);
    let listed = store.list_workflows(&WorkflowFilter::default()).unwrap();
    assert_eq!(listed[0].usage, lease);
    let created = store
        .create_workflow(&sample(9).with_id(&workflow.id))
        .unwrap();
    assert_eq!(created.usage, lease);
    store.release_leases().unwrap();
    assert_eq!(store.workflow(&workflow.id).unwrap(), Some(workflow));
    let unknown = WorkflowId::new("wf-never-stored");
    assert!(
        store.put_lease(&unknown, lease).is_err(),
        "a lease of nothing is not durable"
    );
}

trait WithId {
    fn with_id(self, id: &WorkflowId) -> Self;
}

impl WithId for Workflow {
    fn with_id(self, id: &WorkflowId) -> Self {
        Workflow {
            id: id.clone(),
            ..self
        }
    }
}

pub(crate) fn create_inserts_only_if_absent(store: &dyn Store) {
    let first = sample(0);
    assert_eq!(store.create_workflow(&first).unwrap(), first);
    let rival = Workflow {
        id: first.id.clone(),
        ..sample(5)
    };
    assert_eq!(store.create_workflow(&rival).unwrap(), first);
    assert_eq!(store.workflow(&first.id).unwrap(), Some(first.clone()));
    let other = sample(1);
    assert_eq!(store.create_workflow(&other).unwrap(), other);
    // What `put` wrote is what a later `create` finds.
    let updated = Workflow {
        status: Status::Ended,
        ..first.clone()
    };
    store.put_workflow(&updated).unwrap();
    assert_eq!(store.create_workflow(&first).unwrap(), updated);
}

/// Fresh or not, `create` returns what a read of the stored workflow returns: counters
/// clamped, every field as stored, and a lease or a budget pool counted.
pub(crate) fn create_answers_as_a_read_does(store: &dyn Store) {
    let huge = Workflow {
        budget: Budget {
            calls: u64::MAX,
            writes: i64::MAX as u64 + 1,
            bytes: 7,
        },
        usage: Usage {
            calls: u64::MAX,
            writes: 0,
            bytes: 1,
        },
        ..sample(1)
    };
    let odd = Workflow {
        id: WorkflowId::new("wf 'quoted' ü"),
        status: Status::Paused,
        paused_for: Some(BudgetKind::Bytes),
        created_at: -5,
        expires_at: 0,
        ended_by: Some("revocation of agent \"x\"\nline two".to_owned()),
        ..sample(2)
    };
    for fresh in [sample(0), huge, odd] {
        let created = store.create_workflow(&fresh).unwrap();
        assert_eq!(Some(created), store.workflow(&fresh.id).unwrap());
    }
    let leased = Workflow {
        status: Status::Active,
        paused_for: None,
        ended_by: None,
        ..sample(3)
    };
    assert_eq!(store.create_workflow(&leased).unwrap(), leased);
    let lease = Usage {
        calls: leased.usage.calls + 2,
        ..leased.usage
    };
    store.put_lease(&leased.id, lease).unwrap();
    let ask = Ask {
        need: Share::cost(false, 1, 0),
        partial_bytes: false,
    };
    store.claim_budget(&leased.id, ask).unwrap();
    store
        .extend_budget(
            &leased.id,
            Budget {
                calls: 5,
                writes: 0,
                bytes: 0,
            },
        )
        .unwrap();
    let read = store.workflow(&leased.id).unwrap().unwrap();
    assert_ne!(read, leased, "the lease and the pool show in a read");
    let rival = sample(7).with_id(&leased.id);
    assert_eq!(store.create_workflow(&rival).unwrap(), read);
}

pub(crate) fn two_threads_creating_one_workflow_agree(store: &dyn Store) {
    for round in 0..20 {
        let id = WorkflowId::new(format!("race-{round}"));
        let candidates = [sample(round), sample(round + 100)].map(|w| Workflow {
            id: id.clone(),
            ..w
        });
        let barrier = Barrier::new(2);
        let [a, b] = std::thread::scope(|scope| {
            candidates
                .clone()
                .map(|candidate| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        store.create_workflow(&candidate).unwrap()
                    })
                })
                .map(|handle| handle.join().unwrap())
        });
        assert_eq!(a, b, "round {round}");
        assert!(candidates.contains(&a), "round {round}");
        assert_eq!(store.workflow(&id).unwrap(), Some(a));
    }
}

pub(crate) fn listing_filters_by_agent_and_status(store: &dyn Store) {
    let stored = samples(0..60);
    put_scrambled(store, &stored);
    let agent = |n: u64| Some(format!("spiffe://acme/agent/bot-{n}"));
    let mut filters: Vec<WorkflowFilter> = STATUSES
        .into_iter()
        .map(|status| WorkflowFilter {
            status: Some(status),
            ..WorkflowFilter::default()
        })
        .collect();
    filters.extend([
        WorkflowFilter {
            agent: agent(1),
            ..WorkflowFilter::default()
        },
        WorkflowFilter {
            agent: agent(2),
            status: Some(Status::Paused),
            ..WorkflowFilter::default()
        },
        WorkflowFilter {
            agent: agent(0),
            status: Some(Status::Active),
            limit: Some(3),
        },
    ]);
    for filter in &filters {
        let found = store.list_workflows(filter).unwrap();
        assert!(
            !found.is_empty() && found.len() < stored.len(),
            "{filter:?}"
        );
        assert_eq!(found, expected(&stored, filter), "{filter:?}");
    }
    let nobody = WorkflowFilter {
        agent: Some("nobody".to_owned()),
        ..WorkflowFilter::default()
    };
    assert!(store.list_workflows(&nobody).unwrap().is_empty());
}

pub(crate) fn listing_is_newest_first_with_ids_breaking_ties(store: &dyn Store) {
    let stored = samples(0..30);
    put_scrambled(store, &stored);
    let found = store.list_workflows(&WorkflowFilter::default()).unwrap();
    assert_eq!(found, expected(&stored, &WorkflowFilter::default()));
    assert!(found.windows(2).all(|pair| {
        let key = |w: &Workflow| (w.created_at, w.id.clone());
        key(&pair[0]) > key(&pair[1])
    }));
    // Three share the newest second; the greatest id of those comes first.
    assert_eq!(found[0].created_at, found[2].created_at);
}

pub(crate) fn listing_limit_defaults_to_100_and_is_capped_at_1000(store: &dyn Store) {
    let stored = samples(0..1100);
    for workflow in &stored {
        store.put_workflow(workflow).unwrap();
    }
    let count = |limit| {
        let filter = WorkflowFilter {
            limit,
            ..WorkflowFilter::default()
        };
        store.list_workflows(&filter).unwrap().len()
    };
    assert_eq!(count(None), DEFAULT_LIMIT as usize);
    assert_eq!(count(Some(0)), 0);
    assert_eq!(count(Some(7)), 7);
    assert_eq!(count(Some(1000)), 1000);
    assert_eq!(count(Some(5000)), MAX_LIMIT as usize);
    let newest = WorkflowFilter {
        limit: Some(5),
        ..WorkflowFilter::default()
    };
    assert_eq!(
        store.list_workflows(&newest).unwrap(),
        expected(&stored, &newest)
    );
}

/// Ending is final: a later write of an older copy (a write-behind taken before the end,
/// or another replica's) does not bring an ended workflow back.
pub(crate) fn an_ended_workflow_is_not_brought_back_by_an_older_copy(store: &dyn Store) {
    let mut active = sample(0);
    active.status = Status::Active;
    active.ended_by = None;
    active.paused_for = None;
    store.put_workflow(&active).unwrap();
    let mut ended = active.clone();
    ended.status = Status::Ended;
    ended.ended_by = Some("operator `alice`".to_owned());
    store.put_workflow(&ended).unwrap();
    let mut stale = active.clone();
    stale.usage.calls += 3;
    store.put_workflow(&stale).unwrap();
    assert_eq!(store.workflow(&active.id).unwrap(), Some(ended));
}
