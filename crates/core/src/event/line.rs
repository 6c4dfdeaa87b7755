//! An event's JSON line, written field by field: the same bytes `serde_json::to_string`
//! writes for [`Event`] (a property test holds it to that), at a fraction of the cost.
//! Every call's event is encoded once on the serving core, and serde's escaping of each
//! string one character at a time was a twentieth of a proxied call's instructions. Most
//! strings need no escaping at all: [`crate::escape`] scans for the first byte that does
//! a word at a time and copies plain runs whole.

use std::fmt::Write as _;

use super::{DecideInput, Event};
use crate::escape::json_string;
use crate::model::{
    AgentId, DataClass, Intent, SegmentName, TaskClassName, Tier, ToolName, WorkflowId,
};
use crate::refusal::RefusalKind;

/// Room for a typical event's line, so that writing it allocates once.
const TYPICAL_LINE: usize = 512;

pub(super) fn encode(event: &Event) -> String {
    let mut out = String::with_capacity(TYPICAL_LINE);
    out.push_str("{\"id\":\"");
    let id = event.id.encode();
    // The id's text is ASCII; the fallback never happens.
    out.push_str(std::str::from_utf8(&id).unwrap_or_default());
    out.push_str("\",\"time_ms\":");
    out.push_str(itoa::Buffer::new().format(event.time_ms));
    field(&mut out, ",\"kind\":", Some(event.kind.as_str()));
    field(
        &mut out,
        ",\"agent\":",
        event.agent.as_ref().map(AgentId::as_str),
    );
    field(
        &mut out,
        ",\"workflow\":",
        event.workflow.as_ref().map(WorkflowId::as_str),
    );
    field(
        &mut out,
        ",\"task_class\":",
        event.task_class.as_ref().map(TaskClassName::as_str),
    );
    field(
        &mut out,
        ",\"tool\":",
        event.tool.as_ref().map(ToolName::as_str),
    );
    field(
        &mut out,
        ",\"segment\":",
        event.segment.as_ref().map(SegmentName::as_str),
    );
    field(&mut out, ",\"method\":", Some(&event.method));
    field(&mut out, ",\"path\":", Some(&event.path));
    field(
        &mut out,
        ",\"intent\":",
        event.intent.as_ref().map(Intent::as_str),
    );
    // The outcome's serde name (`rename_all = "lowercase"`).
    field(&mut out, ",\"outcome\":", Some(event.outcome.as_str()));
    // Kinds and tiers are their serde names (`rename`, `rename_all = "lowercase"`).
    field(
        &mut out,
        ",\"refusal\":",
        event.refusal.map(RefusalKind::as_str),
    );
    field(&mut out, ",\"reason\":", event.reason.as_deref());
    out.push_str(",\"policies\":[");
    for (index, policy) in event.policies.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        json_string(&mut out, policy);
    }
    out.push(']');
    field(&mut out, ",\"tier\":", event.tier.map(Tier::as_str));
    field(
        &mut out,
        ",\"data_class\":",
        event.data_class.as_ref().map(DataClass::as_str),
    );
    number(&mut out, ",\"status\":", Some(u64::from(event.status)));
    number(&mut out, ",\"bytes_in\":", Some(event.bytes_in));
    number(&mut out, ",\"bytes_out\":", Some(event.bytes_out));
    number(&mut out, ",\"latency_us\":", Some(event.latency_us));
    number(&mut out, ",\"upstream_us\":", event.upstream_us);
    // `actor` is left out when absent (`skip_serializing_if`), unlike the fields above.
    if event.actor.is_some() {
        field(&mut out, ",\"actor\":", event.actor.as_deref());
    }
    if event.policy_version.is_some() {
        field(
            &mut out,
            ",\"policy_version\":",
            event.policy_version.as_deref(),
        );
    }
    // Only calls in observe mode carry it.
    if let Some(observed) = &event.observed {
        out.push_str(",\"observed\":\"");
        // INVARIANT: a verdict's text is fixed lowercase words, `-`, `:`, `,` and spaces,
        // none of which JSON escapes. Writing to a String cannot fail.
        let _ = write!(out, "{observed}");
        out.push('"');
    }
    if let Some(decide) = &event.decide {
        decide_input(&mut out, decide);
    }
    if event.trace_id.is_some() {
        field(&mut out, ",\"trace_id\":", event.trace_id.as_deref());
    }
    if event.parent_span_id.is_some() {
        field(
            &mut out,
            ",\"parent_span_id\":",
            event.parent_span_id.as_deref(),
        );
    }
    if event.mcp_session.is_some() {
        field(&mut out, ",\"mcp_session\":", event.mcp_session.as_deref());
    }
    if let Some(risk) = &event.risk {
        // Only scanning routes carry it; serde_json writes its few fields.
        out.push_str(",\"risk\":");
        out.push_str(&serde_json::to_string(risk).unwrap_or_else(|_| "null".to_owned()));
    }
    if !event.anomaly.is_empty() {
        out.push_str(",\"anomaly\":[");
        for (index, anomaly) in event.anomaly.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            json_string(&mut out, anomaly.as_str());
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// The decide input, left out when absent like `actor`. The arguments go through
/// serde_json: only routes declaring them have any, and their values are nested.
fn decide_input(out: &mut String, decide: &DecideInput) {
    out.push_str(",\"decide\":{\"now\":");
    out.push_str(itoa::Buffer::new().format(decide.now));
    field(out, ",\"tier\":", Some(decide.tier.as_str()));
    out.push_str(if decide.write {
        ",\"write\":true"
    } else {
        ",\"write\":false"
    });
    out.push_str(if decide.allowed {
        ",\"allowed\":true"
    } else {
        ",\"allowed\":false"
    });
    if let Some(args) = &decide.args {
        out.push_str(",\"args\":");
        // Maps of strings to plain values always encode; the fallback never happens.
        out.push_str(&serde_json::to_string(args).unwrap_or_else(|_| "{}".to_owned()));
    }
    out.push('}');
}

/// `key` (`,"name":`) and `"value"`, or `null`.
fn field(out: &mut String, key: &str, value: Option<&str>) {
    out.push_str(key);
    match value {
        Some(value) => json_string(out, value),
        None => out.push_str("null"),
    }
}

fn number(out: &mut String, key: &str, value: Option<u64>) {
    out.push_str(key);
    match value {
        Some(value) => out.push_str(itoa::Buffer::new().format(value)),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::baseline::anomaly::Anomaly;
    use crate::event::{EventKind, Observed, Outcome, Would};
    use crate::ids::DecisionId;
    use crate::model::AttrValue;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z.:/_-]{0,24}",
            any::<String>(),
            "[\\x00-\\x1f\"\\\\\\x7f é✓]{0,12}",
        ]
    }

    fn maybe_text() -> impl Strategy<Value = Option<String>> {
        prop::option::of(text())
    }

    /// A name of the model (`AgentId`, `ToolName`, …), any text.
    fn name<T: From<String> + std::fmt::Debug>() -> impl Strategy<Value = Option<T>> {
        prop::option::of(text().prop_map(T::from))
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Allow),
            Just(Outcome::Deny),
            Just(Outcome::Error),
            Just(Outcome::Confirm),
            Just(Outcome::Pending),
        ]
    }

    fn kind() -> impl Strategy<Value = EventKind> {
        prop::sample::select(EventKind::ALL)
    }

    fn refusal() -> impl Strategy<Value = Option<RefusalKind>> {
        prop::option::of(prop::sample::select(RefusalKind::ALL))
    }

    fn tier() -> impl Strategy<Value = Tier> {
        prop_oneof![Just(Tier::Low), Just(Tier::Medium), Just(Tier::High)]
    }

    fn observed() -> impl Strategy<Value = Option<Observed>> {
        let would = prop_oneof![
            prop::sample::select(RefusalKind::ALL).prop_map(Would::Deny),
            Just(Would::Confirm),
            Just(Would::Park),
            Just(Would::RefuseBudget),
        ];
        prop::option::of(prop_oneof![
            Just(Observed::Pass),
            prop::collection::vec(would, 1..4).prop_map(Observed::Would),
        ])
    }

    prop_compose! {
        fn event()(
            (id, time_ms, kind, agent, workflow, task_class, tool, segment) in
                (any::<u128>(), any::<i64>(), kind(), name(), name(), name(), name(), name()),
            (method, path, intent, outcome, refusal, reason, policies, tier) in
                (text(), text(), name(), outcome(), refusal(), maybe_text(),
                 prop::collection::vec(text(), 0..4), prop::option::of(tier())),
            (data_class, status, bytes_in, bytes_out, latency_us, upstream_us, actor) in
                (name(), any::<u16>(), any::<u64>(), any::<u64>(), any::<u64>(),
                 prop::option::of(any::<u64>()), maybe_text()),
            (policy_version, observed) in (maybe_text(), observed()),
            decide in prop::option::of(decide_input()),
            (trace_id, parent_span_id, mcp_session) in (maybe_text(), maybe_text(), maybe_text()),
            risk in prop::option::of(risk().prop_map(Box::new)),
            anomaly in prop::sample::subsequence(Anomaly::ALL, 0..=Anomaly::ALL.len()),
        ) -> Event {
            Event {
                id: DecisionId::from_u128(id), time_ms, kind, agent, workflow, task_class,
                tool, segment, method, path, intent, outcome, refusal, reason,
                policies: policies.into_iter().map(Into::into).collect(),
                tier, data_class, status, bytes_in, bytes_out, latency_us, upstream_us,
                actor: actor.map(Into::into),
                policy_version: policy_version.map(Into::into),
                observed,
                decide,
                trace_id, parent_span_id, mcp_session, risk,
                anomaly: anomaly.into_iter().collect(),
            }
        }
    }

    prop_compose! {
        fn risk()(
            class in text(),
            detected in prop::collection::vec(text(), 0..3),
            (redacted, scanned) in (any::<u64>(), any::<u64>()),
        ) -> crate::event::ResponseRisk {
            crate::event::ResponseRisk { class: class.into(), detected, redacted, scanned }
        }
    }

    fn attr() -> impl Strategy<Value = AttrValue> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(AttrValue::Bool),
            any::<i64>().prop_map(AttrValue::Long),
            text().prop_map(AttrValue::String),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(AttrValue::Set)
        })
    }

    prop_compose! {
        fn decide_input()(
            now in any::<i64>(),
            tier in tier(),
            write in any::<bool>(),
            allowed in any::<bool>(),
            args in prop::option::of(prop::collection::btree_map(text(), attr(), 0..4)),
        ) -> DecideInput {
            DecideInput { now, tier, write, allowed, args }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_line_is_what_serde_json_writes(event in event()) {
            let line = encode(&event);
            prop_assert_eq!(&line, &serde_json::to_string(&event).unwrap());
            // And it reads back as the same event: the typed fields lose nothing.
            prop_assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), event);
        }
    }

    #[test]
    fn a_blank_event_is_what_serde_json_writes() {
        for kind in EventKind::ALL {
            let event = Event::blank(DecisionId::from_u128(1), -1, *kind);
            assert_eq!(encode(&event), serde_json::to_string(&event).unwrap());
        }
    }

    /// A line as events were written before their fields were typed (every kind, refusal
    /// and verdict as text) reads as the typed event, and encodes to the same bytes.
    #[test]
    fn lines_written_as_text_read_back_byte_for_byte() {
        let old = r#"{"id":"00000000000000000000000001","time_ms":5,"kind":"mcp","agent":"spiffe://acme/agent/a","workflow":"wf-1","task_class":"triage","tool":"tickets","segment":"data","method":"tools/call","path":"/mcp/tickets","intent":"ticket.create","outcome":"deny","refusal":"response-too-large","reason":"r","policies":["p0"],"tier":"medium","data_class":"internal","status":403,"bytes_in":1,"bytes_out":2,"latency_us":3,"upstream_us":null,"actor":"ops","observed":"would-deny:policy-denied, would-park"}"#;
        let event: Event = serde_json::from_str(old).unwrap();
        assert_eq!(event.kind, EventKind::Mcp);
        assert_eq!(event.refusal, Some(RefusalKind::ResponseTooLarge));
        assert_eq!(event.tier, Some(Tier::Medium));
        assert_eq!(
            event.observed,
            Some(Observed::Would(vec![
                Would::Deny(RefusalKind::PolicyDenied),
                Would::Park
            ]))
        );
        assert_eq!(encode(&event), old);
    }
}
