//! Baselines and anomalies (issue 15 item 3), through the real gateway on a moved clock:
//! a synthetic week of calls, then a burst (flagged `rate`, its tier raised so it asks
//! for a confirmation), a never-seen intent (flagged `new-intent`, refused by a policy on
//! `context.anomaly`), a restart that keeps what was learned and counted, and a call at
//! an hour the agent never works (`hour`).

use std::time::Duration;

use gatehouse_core::baseline::anomaly::{Anomaly, AnomalySet};
use gatehouse_core::clock::{Clock, UnixTime};
use gatehouse_core::model::Tier;
use http::Method;

use crate::harness::{AGENT, Harness, POLICY, decision_id, problem_kind};

const DAY: i64 = 86_400;

const BASELINE: &str = r#"
[baseline]
window_days = 7
min_days = 7
min_calls = 100
rate_factor = 3.0
rate_floor = 2
raise_tier_on = ["rate"]
raise_tier_to = "medium"
"#;

const NO_NEW_INTENTS: &str = r#"
@id("no-new-intents")
forbid (principal, action, resource) when { context.anomaly.contains("new-intent") };
"#;

/// Midnight UTC at least a day after the harness's start, so the clock only moves on.
fn first_midnight(harness: &Harness) -> i64 {
    (harness.clock.now().secs() / DAY + 2) * DAY
}

fn at(harness: &Harness, secs: i64) {
    harness.clock.set(UnixTime::from_secs(secs));
}

/// Reads ticket 1, expecting `status`; the call's event.
async fn read(harness: &Harness, token: &str, status: u16) -> gatehouse_core::event::Event {
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", token, "")
        .await;
    assert_eq!(reply.status, status, "{}", reply.text());
    harness.event(&decision_id(&reply)).await
}

/// What the maintenance task does on its timers: counts to the store, then learning.
async fn flush_and_learn(harness: &Harness) {
    let baselines = &harness.gateway().state().baselines;
    baselines.flush().await.unwrap();
    let now = harness.clock.now().millis();
    baselines.learn(now).await.unwrap();
}

#[tokio::test]
async fn a_week_of_calls_then_a_burst_raises_the_tier_and_survives_a_restart() {
    let mut harness = Harness::builder()
        .policy(&format!("{POLICY}{NO_NEW_INTENTS}"))
        .append(BASELINE)
        .start()
        .await;
    let day0 = first_midnight(&harness);
    // A working week: two reads an hour, 09:00–16:59 UTC, seven days.
    for day in 0..7 {
        for hour in 9..17 {
            at(&harness, day0 + day * DAY + hour * 3600 + 60);
            let token = harness
                .token_in("triage", &format!("wf-{day}-{hour}"))
                .await;
            for _ in 0..2 {
                let event = read(&harness, &token, 200).await;
                assert!(event.anomaly.is_empty(), "still learning: {event:?}");
            }
        }
    }
    at(&harness, day0 + 7 * DAY + 10 * 3600);
    flush_and_learn(&harness).await;
    let token = harness.token_in("triage", "wf-burst").await;
    // 2 calls at most in any 10:00 before, × 3: the seventh of this hour is a burst.
    for _ in 0..6 {
        let event = read(&harness, &token, 200).await;
        assert!(event.anomaly.is_empty(), "{event:?}");
    }
    let burst = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(burst.status, 428, "{}", burst.text());
    assert_eq!(problem_kind(&burst), "confirmation-required");
    let event = harness.event(&decision_id(&burst)).await;
    assert_eq!(event.anomaly, AnomalySet::EMPTY.with(Anomaly::Rate));
    assert_eq!(event.tier, Some(Tier::Medium));
    assert!(
        event
            .reason
            .unwrap_or_default()
            .contains("raised to medium by a baseline anomaly")
    );

    // Never listed tickets in the week: Cedar sees `new-intent` and the policy forbids.
    let list = harness
        .call(Method::GET, "/tools/tickets/tickets", &token, "")
        .await;
    assert_eq!(list.status, 403, "{}", list.text());
    let event = harness.event(&decision_id(&list)).await;
    assert!(event.anomaly.contains(Anomaly::NewIntent), "{event:?}");
    assert_eq!(event.policies, vec!["no-new-intents".to_owned()]);

    // A restart within the hour: the baseline is learned again from the store and the
    // hour's calls are taken up, so the burst goes on being one.
    harness.clock.advance(Duration::from_secs(20 * 60));
    harness.restart().await;
    let token = harness.token_in("triage", "wf-after-restart").await;
    let again = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(again.status, 428, "{}", again.text());
    let event = harness.event(&decision_id(&again)).await;
    assert_eq!(event.anomaly, AnomalySet::EMPTY.with(Anomaly::Rate));
    let list = harness
        .call(Method::GET, "/tools/tickets/tickets", &token, "")
        .await;
    assert_eq!(list.status, 403, "{}", list.text());

    // 03:00 the next day: the agent never works then. Flagged, not raised (not in
    // `raise_tier_on`), so the call goes through.
    at(&harness, day0 + 8 * DAY + 3 * 3600);
    let token = harness.token_in("triage", "wf-night").await;
    let event = read(&harness, &token, 200).await;
    assert_eq!(event.anomaly, AnomalySet::EMPTY.with(Anomaly::Hour));
    assert_eq!(event.agent.as_deref(), Some(AGENT));

    // What was learned reads back from the store (once this hour's counts are in it).
    harness.gateway().state().baselines.flush().await.unwrap();
    let window = harness
        .gateway()
        .state()
        .baselines
        .window(harness.clock.now().millis());
    let learned = harness
        .gateway()
        .state()
        .store
        .baseline(AGENT, window)
        .unwrap();
    let read = learned.intent("ticket.read").unwrap();
    assert_eq!(read.hours[9].max_calls, 2);
    assert_eq!(
        read.hours[10].max_calls, 8,
        "the burst, and one after the restart"
    );
    // The hour being judged is not learned yet: the window ends where it starts.
    assert_eq!(read.hours[3].max_calls, 0);
    // And through the control plane, as `gatehouse baseline show` reads it.
    let agent = AGENT.replace(':', "%3A").replace('/', "%2F");
    let path = format!("/v1/baselines?agent={agent}&days=7");
    let reply = harness.control(Method::GET, &path, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let shown: gatehouse_core::baseline::AgentBaseline =
        serde_json::from_value(reply.json().unwrap()).unwrap();
    assert_eq!(shown, learned);
    let bad = harness
        .control(Method::GET, "/v1/baselines?days=7", "")
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    harness.stop().await;
}
