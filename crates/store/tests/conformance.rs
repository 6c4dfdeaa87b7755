//! The behaviour every [`Store`] must show, written once as functions over `&dyn Store`
//! and run against each backend by `conformance_tests!`. A new backend is one more line
//! at the bottom of this file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside `#[test]` fail loudly, as tests do"
)]

#[path = "conformance/admissions.rs"]
mod admissions;
#[path = "conformance/approvals.rs"]
mod approvals;
#[path = "conformance/baselines.rs"]
mod baselines;
#[path = "conformance/budgets.rs"]
mod budgets;
#[path = "conformance/chain.rs"]
mod chain;
#[path = "conformance/outbox.rs"]
mod outbox;
#[path = "conformance/postgres.rs"]
mod pg;
#[path = "conformance/policy_versions.rs"]
mod policy_versions;
#[path = "conformance/quarantines.rs"]
mod quarantines;
#[path = "conformance/rates.rs"]
mod rates;
#[path = "conformance/recordings.rs"]
mod recordings;
#[path = "conformance/revocations.rs"]
mod revocations;
#[path = "conformance/sample.rs"]
mod sample;
#[path = "conformance/sqlite.rs"]
mod sqlite;
#[path = "conformance/workflows.rs"]
mod workflows;

use std::collections::HashSet;

use gatehouse_core::event::{Event, EventFilter, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_store::{DEFAULT_LIMIT, MAX_LIMIT, Store, StoreError};

/// Runs every conformance test against the store made by `$open` (an expression giving
/// `Option` of a value with `fn store(&self) -> &dyn Store`, alive for the whole test;
/// `None` skips, for a backend with no database here). Tests are
/// named `backend::test` for events and claims, `backend::area::test` for the rest.
macro_rules! conformance_tests {
    ($backend:ident: $open:expr) => {
        mod $backend {
            conformance_tests!(@each $open; crate;
                appends_and_queries_back_every_field,
                an_empty_batch_is_fine,
                an_unknown_id_is_none,
                each_filter_narrows,
                filters_combine,
                time_bounds_include_since_and_exclude_until,
                limit_defaults_to_100_and_is_capped_at_1000,
                results_are_newest_first,
                paging_with_after_misses_nothing,
                a_duplicate_id_rejects_the_whole_batch,
                a_duplicate_within_one_batch_rejects_it,
                a_jti_is_single_use_per_issuer,
                an_expired_jti_claim_no_longer_counts,
                concurrent_appends_from_8_threads_lose_nothing,
                ping_answers,
                checkpoint_outcomes_read_back_and_filter,
                late_events_across_batches_answer_every_query_as_the_contract_says,
                retention_deletes_whole_batches_older_than_the_cutoff,
            );
            mod workflows {
                conformance_tests!(@each $open; crate::workflows;
                    a_workflow_reads_back_every_field,
                    budgets_beyond_i64_read_back_as_i64_max,
                    put_replaces_every_field,
                    usage_reads_as_at_least_its_lease_until_released,
                    create_inserts_only_if_absent,
                    create_answers_as_a_read_does,
                    an_ended_workflow_is_not_brought_back_by_an_older_copy,
                    two_threads_creating_one_workflow_agree,
                    listing_filters_by_agent_and_status,
                    listing_is_newest_first_with_ids_breaking_ties,
                    listing_limit_defaults_to_100_and_is_capped_at_1000,
                );
            }
            mod admissions {
                conformance_tests!(@each $open; crate::admissions;
                    a_batch_claims_each_jti_once_and_creates_only_fresh_workflows,
                    an_empty_batch_admits_nothing,
                    concurrent_batches_never_admit_one_jti_twice,
                );
            }
            mod budgets {
                conformance_tests!(@each $open; crate::budgets;
                    a_first_claim_creates_the_pool_from_the_stored_workflow,
                    claiming_for_an_unknown_workflow_is_an_error,
                    concurrent_claims_never_reserve_past_the_limit,
                    settling_returns_what_was_not_spent_and_extending_raises_limits,
                    a_workflow_reads_its_pools_limits_and_reservations,
                );
            }
            mod revocations {
                conformance_tests!(@each $open; crate::revocations;
                    revocations_read_back_every_field,
                    the_same_subject_under_each_kind_is_three_revocations,
                    re_adding_a_revocation_replaces_it,
                    deleting_a_revocation_says_whether_it_was_there,
                    spent_token_revocations_are_dropped,
                    workflow_and_agent_revocations_never_expire,
                    no_revocations_is_an_empty_list,
                );
            }
            mod chain {
                conformance_tests!(@each $open; crate::chain;
                    an_empty_store_has_an_unbroken_empty_chain,
                    an_unbroken_chain_verifies_to_the_head_of_its_lines,
                    verifying_since_starts_at_the_first_block_reaching_it,
                    the_chain_continues_across_batches_of_late_events,
                    retention_keeps_the_rest_of_the_chain_provable,
                );
            }
            mod outbox {
                conformance_tests!(@each $open; crate::outbox;
                    events_read_back_in_store_order_in_pages,
                    the_stored_line_is_the_event_exactly,
                    counts_and_head_follow_appends,
                    a_sink_cursor_reads_back_and_never_moves_back,
                    reading_after_deleted_events_continues_with_the_rest,
                );
            }
            mod quarantines {
                conformance_tests!(@each $open; crate::quarantines;
                    quarantines_read_back_every_field_newest_first,
                    ended_quarantines_are_left_out_and_deleted,
                    lifting_a_quarantine_says_whether_it_was_there,
                );
            }
            mod policy_versions {
                conformance_tests!(@each $open; crate::policy_versions;
                    policy_versions_read_back_every_field_newest_first,
                    no_policy_versions_is_an_empty_list,
                    the_newest_shared_policy_set_reads_back_whole,
                );
            }
            mod rates {
                conformance_tests!(@each $open; crate::rates;
                    calls_are_counted_per_intent_and_bucket_within_the_window,
                    an_agent_without_calls_has_no_counts,
                );
            }
            mod baselines {
                conformance_tests!(@each $open; crate::baselines;
                    hour_counts_add_up_and_read_back_in_order,
                    the_window_includes_its_start_and_excludes_its_end,
                    counts_beyond_i64_read_back_as_i64_max,
                    concurrent_flushes_lose_no_call,
                    the_learned_baseline_reads_the_stored_hours,
                );
            }
            mod recordings {
                conformance_tests!(@each $open; crate::recordings;
                    a_recording_reads_back_every_field,
                    recordings_list_newest_first_by_agent_within_the_limit,
                );
            }
            mod approvals {
                conformance_tests!(@each $open; crate::approvals;
                    an_approval_reads_back_every_field,
                    a_one_mib_body_reads_back_byte_for_byte,
                    an_unknown_id_is_none,
                    put_replaces_status_verdicts_and_response,
                    replace_changes_only_what_was_read,
                    concurrent_replaces_of_one_approval_let_exactly_one_win,
                    listing_filters_by_status_workflow_agent_and_checkpoint,
                    listing_is_newest_first_with_ids_breaking_ties,
                    listing_limit_defaults_to_100_and_is_capped_at_1000,
                );
            }
        }
    };
    (@each $open:expr; $($module:ident)::+; $($test:ident),* $(,)?) => {
        use $($module)::+ as area;
        $(
            #[test]
            fn $test() {
                // A backend that is not available here (no test database) skips.
                let Some(fixture) = $open else {
                    return;
                };
                area::$test(fixture.store());
            }
        )*
    };
}

conformance_tests!(sqlite_file: Some(crate::sqlite::Fixture::file()));
conformance_tests!(sqlite_memory: Some(crate::sqlite::Fixture::memory()));
conformance_tests!(postgres: crate::pg::Fixture::open());

fn all(store: &dyn Store) -> Vec<Event> {
    let filter = EventFilter {
        limit: Some(MAX_LIMIT),
        ..EventFilter::default()
    };
    store.query_events(&filter).unwrap()
}

/// What the store should answer to `filter` over `stored`: its own reading of the
/// `EventFilter` contract, newest first.
fn expected(stored: &[Event], filter: &EventFilter) -> Vec<Event> {
    let matches = |event: &&Event| {
        fn narrows<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
            want.is_none() || want == have
        }
        narrows(&filter.agent, &event.agent)
            && narrows(&filter.workflow, &event.workflow)
            && narrows(&filter.tool, &event.tool)
            && narrows(&filter.intent, &event.intent)
            && filter
                .outcome
                .is_none_or(|outcome| outcome == event.outcome)
            && filter.since_ms.is_none_or(|since| event.time_ms >= since)
            && filter.until_ms.is_none_or(|until| event.time_ms < until)
    };
    let mut found: Vec<Event> = stored.iter().filter(matches).cloned().collect();
    found.sort_by_key(|event| std::cmp::Reverse(event.id));
    found
}

fn appends_and_queries_back_every_field(store: &dyn Store) {
    let written = vec![sample::full(1), sample::bare(2), sample::event(3)];
    store.append_events(&written).unwrap();
    for event in &written {
        assert_eq!(store.event(event.id).unwrap().as_ref(), Some(event));
    }
    let newest_first: Vec<Event> = written.into_iter().rev().collect();
    assert_eq!(all(store), newest_first);
}

fn an_empty_batch_is_fine(store: &dyn Store) {
    store.append_events(&[]).unwrap();
    assert!(all(store).is_empty());
}

fn an_unknown_id_is_none(store: &dyn Store) {
    store.append_events(&sample::events(0..3)).unwrap();
    assert_eq!(store.event(sample::event(99).id).unwrap(), None);
}

fn checkpoint_outcomes_read_back_and_filter(store: &dyn Store) {
    let mut confirm = sample::event(1);
    confirm.outcome = Outcome::Confirm;
    let mut pending = sample::event(2);
    pending.outcome = Outcome::Pending;
    store
        .append_events(&[confirm.clone(), pending.clone()])
        .unwrap();
    for (outcome, expected) in [(Outcome::Confirm, confirm), (Outcome::Pending, pending)] {
        let filter = EventFilter {
            outcome: Some(outcome),
            ..EventFilter::default()
        };
        assert_eq!(store.query_events(&filter).unwrap(), vec![expected]);
    }
}

fn each_filter_narrows(store: &dyn Store) {
    let stored = sample::events(0..60);
    store.append_events(&stored).unwrap();
    let filters = [
        EventFilter {
            agent: stored[4].agent.clone(),
            ..EventFilter::default()
        },
        EventFilter {
            workflow: Some("wf-2".into()),
            ..EventFilter::default()
        },
        EventFilter {
            tool: Some("warehouse".into()),
            ..EventFilter::default()
        },
        EventFilter {
            intent: Some("ticket.op3".into()),
            ..EventFilter::default()
        },
        EventFilter {
            outcome: Some(Outcome::Error),
            ..EventFilter::default()
        },
        EventFilter {
            agent: Some("nobody".into()),
            ..EventFilter::default()
        },
    ];
    for filter in &filters {
        let found = store.query_events(filter).unwrap();
        assert_eq!(found, expected(&stored, filter), "{filter:?}");
        assert!(found.len() < stored.len(), "{filter:?} narrows nothing");
    }
}

fn filters_combine(store: &dyn Store) {
    let stored = sample::events(0..120);
    store.append_events(&stored).unwrap();
    let filter = EventFilter {
        agent: stored[1].agent.clone(),
        tool: Some("tickets".into()),
        outcome: Some(Outcome::Error),
        since_ms: Some(sample::BASE_MS + 100),
        ..EventFilter::default()
    };
    let found = store.query_events(&filter).unwrap();
    assert!(!found.is_empty());
    assert_eq!(found, expected(&stored, &filter));
}

fn time_bounds_include_since_and_exclude_until(store: &dyn Store) {
    let stored = sample::events(0..10);
    store.append_events(&stored).unwrap();
    let filter = EventFilter {
        since_ms: Some(stored[2].time_ms),
        until_ms: Some(stored[5].time_ms),
        ..EventFilter::default()
    };
    let ids: Vec<_> = store
        .query_events(&filter)
        .unwrap()
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(ids, [stored[4].id, stored[3].id, stored[2].id]);
}

fn limit_defaults_to_100_and_is_capped_at_1000(store: &dyn Store) {
    let stored = sample::events(0..1200);
    store.append_events(&stored).unwrap();
    let with = |limit| EventFilter {
        limit,
        ..EventFilter::default()
    };
    let count = |limit| store.query_events(&with(limit)).unwrap().len();
    assert_eq!(count(None), DEFAULT_LIMIT as usize);
    assert_eq!(count(Some(7)), 7);
    assert_eq!(count(Some(1000)), 1000);
    assert_eq!(count(Some(5000)), MAX_LIMIT as usize);
    assert_eq!(count(Some(0)), 0);
    let newest = store.query_events(&with(Some(3))).unwrap();
    assert_eq!(newest, expected(&stored, &with(None))[..3]);
}

fn results_are_newest_first(store: &dyn Store) {
    // Written out of order, in several batches.
    for batch in [vec![5, 1, 9], vec![3, 7], vec![0, 8, 2, 6, 4]] {
        let events: Vec<Event> = batch.into_iter().map(sample::event).collect();
        store.append_events(&events).unwrap();
    }
    let found = all(store);
    let ids: Vec<_> = found.iter().map(|event| event.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| std::cmp::Reverse(*id));
    assert_eq!(ids, sorted);
    assert_eq!(found.first(), Some(&sample::event(9)));
}

fn paging_with_after_misses_nothing(store: &dyn Store) {
    let stored = sample::events(0..250);
    store.append_events(&stored).unwrap();
    assert_eq!(walk_forward(store, 40), stored);
    let tail = EventFilter {
        after: Some(stored[247].id),
        ..EventFilter::default()
    };
    assert_eq!(
        store.query_events(&tail).unwrap(),
        [stored[249].clone(), stored[248].clone()]
    );
}

/// Every stored event, oldest first, read in pages of `page_size` with `after` set to
/// the newest event of the page before, as a client tailing the log would.
fn walk_forward(store: &dyn Store, page_size: u32) -> Vec<Event> {
    let mut seen = Vec::new();
    let mut cursor = DecisionId::from_u128(0);
    loop {
        let filter = EventFilter {
            after: Some(cursor),
            limit: Some(page_size),
            ..EventFilter::default()
        };
        let page = store.query_events(&filter).unwrap();
        let Some(newest) = page.first() else {
            return seen;
        };
        assert!(page.len() <= page_size as usize);
        assert!(page.windows(2).all(|pair| pair[0].id > pair[1].id));
        assert!(page.iter().all(|event| event.id > cursor));
        cursor = newest.id;
        seen.extend(page.into_iter().rev());
    }
}

/// Events written in batches whose ids overlap (a slow call's event is written after
/// events with greater ids, some long after), with few distinct values and times so filters often match
/// and often miss, then hundreds of random queries checked against [`expected`].
fn late_events_across_batches_answer_every_query_as_the_contract_says(store: &dyn Store) {
    let mut random = Lcg(0x5eed_6a7e_4045_e000);
    let events: Vec<Event> = (0..700).map(|n| varied_event(n, &mut random)).collect();
    // One event in ten is slow: written after all the others, in any order.
    let (mut stored, slow): (Vec<Event>, Vec<Event>) =
        events.into_iter().partition(|_| random.below(10) > 0);
    stored.extend(slow);
    // And all are shuffled within a sliding window of 60 places.
    for i in 0..stored.len() {
        let j = (i + random.below(60)).min(stored.len() - 1);
        stored.swap(i, j);
    }
    let mut rest = stored.as_slice();
    while !rest.is_empty() {
        let (batch, after) = rest.split_at((1 + random.below(90)).min(rest.len()));
        store.append_events(batch).unwrap();
        rest = after;
    }
    for _ in 0..400 {
        let filter = random_filter(&mut random);
        let mut want = expected(&stored, &filter);
        let limit = filter.limit.unwrap() as usize;
        if let Some(after) = filter.after {
            want.retain(|event| event.id > after);
            want = want.split_off(want.len().saturating_sub(limit));
        } else {
            want.truncate(limit);
        }
        assert_eq!(store.query_events(&filter).unwrap(), want, "{filter:?}");
    }
    for event in stored.iter().step_by(7) {
        assert_eq!(store.event(event.id).unwrap().as_ref(), Some(event));
    }
}

/// A small deterministic generator, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }

    fn pick<T: Clone>(&mut self, choices: &[T]) -> T {
        choices[self.below(choices.len())].clone()
    }
}

const AGENTS: [Option<&str>; 4] = [Some("a"), Some("b"), Some("c"), None];
const TOOLS: [Option<&str>; 3] = [Some("t1"), Some("t2"), None];
const WORKFLOWS: [Option<&str>; 3] = [Some("w1"), Some("w2"), None];
const INTENTS: [Option<&str>; 3] = [Some("i.read"), Some("i.write"), None];
const OUTCOMES: [Outcome; 5] = [
    Outcome::Allow,
    Outcome::Deny,
    Outcome::Error,
    Outcome::Confirm,
    Outcome::Pending,
];

fn varied_event(n: u64, random: &mut Lcg) -> Event {
    Event {
        agent: random.pick(&AGENTS).map(Into::into),
        tool: random.pick(&TOOLS).map(Into::into),
        workflow: random.pick(&WORKFLOWS).map(Into::into),
        intent: random.pick(&INTENTS).map(Into::into),
        outcome: random.pick(&OUTCOMES),
        time_ms: sample::BASE_MS + random.below(40) as i64,
        ..sample::event(n)
    }
}

fn random_filter(random: &mut Lcg) -> EventFilter {
    let mut maybe = |values: &[Option<&'static str>]| {
        if random.below(3) == 0 {
            random.pick(values)
        } else {
            None
        }
    };
    let (agent, tool, workflow, intent) = (
        maybe(&AGENTS),
        maybe(&TOOLS),
        maybe(&WORKFLOWS),
        maybe(&INTENTS),
    );
    let outcome = (random.below(4) == 0).then(|| random.pick(&OUTCOMES));
    let time = |random: &mut Lcg| {
        (random.below(3) == 0).then(|| sample::BASE_MS + random.below(44) as i64)
    };
    let (since_ms, until_ms) = (time(random), time(random));
    let after = (random.below(3) == 0).then(|| sample::event(random.below(720) as u64).id);
    EventFilter {
        agent: agent.map(Into::into),
        workflow: workflow.map(Into::into),
        tool: tool.map(Into::into),
        intent: intent.map(Into::into),
        outcome,
        since_ms,
        until_ms,
        after,
        limit: Some(1 + random.below(30) as u32),
    }
}

fn a_duplicate_id_rejects_the_whole_batch(store: &dyn Store) {
    store.append_events(&[sample::event(1)]).unwrap();
    let batch = [sample::event(2), sample::full(1), sample::event(3)];
    let error = store.append_events(&batch).unwrap_err();
    let StoreError::Conflict { id, .. } = &error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_eq!(*id, sample::event(1).id);
    assert!(error.to_string().contains(&id.to_string()), "{error}");
    assert_eq!(all(store), [sample::event(1)]);
}

fn a_duplicate_within_one_batch_rejects_it(store: &dyn Store) {
    let batch = [sample::event(4), sample::event(5), sample::bare(4)];
    let error = store.append_events(&batch).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    assert!(all(store).is_empty());
    store.append_events(&batch[..2]).unwrap();
    assert_eq!(all(store).len(), 2, "the store still takes writes");
}

fn a_jti_is_single_use_per_issuer(store: &dyn Store) {
    let now = 1_700_000_000;
    assert!(store.claim_jti("https://idp", "j1", now + 60, now).unwrap());
    assert!(
        !store
            .claim_jti("https://idp", "j1", now + 60, now + 1)
            .unwrap()
    );
    assert!(
        !store
            .claim_jti("https://idp", "j1", now + 90, now + 59)
            .unwrap()
    );
    assert!(
        store
            .claim_jti("https://other", "j1", now + 60, now)
            .unwrap()
    );
    assert!(store.claim_jti("https://idp", "j2", now + 60, now).unwrap());
}

fn an_expired_jti_claim_no_longer_counts(store: &dyn Store) {
    let now = 1_700_000_000;
    assert!(store.claim_jti("iss", "old", now + 60, now).unwrap());
    // Still remembered at the last second of its life, forgotten after it.
    assert!(!store.claim_jti("iss", "old", now + 120, now + 60).unwrap());
    assert!(store.claim_jti("iss", "old", now + 120, now + 61).unwrap());
    assert!(!store.claim_jti("iss", "old", now + 180, now + 62).unwrap());
}

fn concurrent_appends_from_8_threads_lose_nothing(store: &dyn Store) {
    const THREADS: u64 = 8;
    const BATCHES: u64 = 25;
    const PER_BATCH: u64 = 20;
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for batch in 0..BATCHES {
                    let first = (thread * BATCHES + batch) * PER_BATCH;
                    store
                        .append_events(&sample::events(first..first + PER_BATCH))
                        .unwrap();
                }
            });
        }
    });
    let total = THREADS * BATCHES * PER_BATCH;
    let ids: HashSet<_> = walk_forward(store, MAX_LIMIT)
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(ids.len() as u64, total);
}

fn ping_answers(store: &dyn Store) {
    store.ping().unwrap();
}

fn retention_deletes_whole_batches_older_than_the_cutoff(store: &dyn Store) {
    // Three batches, 10 ms apart per event: times 0..90, 100..190, 200..290 after BASE.
    for range in [0..10, 10..20, 20..30] {
        store.append_events(&sample::events(range)).unwrap();
    }
    // Only the first batch is wholly older than BASE + 150.
    let cutoff = sample::BASE_MS + 150;
    assert_eq!(store.delete_events_before(cutoff).unwrap(), 10);
    assert_eq!(store.delete_events_before(cutoff).unwrap(), 0);
    let kept = sample::events(10..30);
    assert_eq!(all(store), expected(&kept, &EventFilter::default()));
    assert_eq!(store.event(sample::event(3).id).unwrap(), None);
    assert_eq!(
        store.event(sample::event(13).id).unwrap(),
        Some(sample::event(13))
    );
    let by_agent = EventFilter {
        agent: Some("spiffe://acme/agent/bot-1".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        store.query_events(&by_agent).unwrap(),
        expected(&kept, &by_agent)
    );
    // Everything, then writing and reading go on as before.
    let mut deleted = 0;
    loop {
        let now = store
            .delete_events_before(sample::BASE_MS + 1_000_000)
            .unwrap();
        if now == 0 {
            break;
        }
        deleted += now;
    }
    assert_eq!(deleted, 20);
    assert!(all(store).is_empty());
    store.append_events(&sample::events(30..35)).unwrap();
    assert_eq!(
        all(store),
        expected(&sample::events(30..35), &EventFilter::default())
    );
}
