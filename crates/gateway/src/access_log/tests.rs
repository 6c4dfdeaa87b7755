//! The proof that the hand-written line is tracing-subscriber's: every event is written
//! both ways, through a `fmt` subscriber built as the binary's `logging::init` builds
//! it (`crates/cli/src/logging.rs`) and through `format::write`, and the bytes compared
//! whole, the timestamp included (the hand one must read the same instant, bracketed
//! by the clock before and after).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::{AgentId, Intent, ToolName, WorkflowId};
use gatehouse_core::refusal::RefusalKind;
use proptest::prelude::*;
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// Lines a subscriber (or a sink) wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// The binary's subscriber (`logging::init` with stderr not a terminal), writing to
/// `captured`.
fn subscriber(format: Format, filter: &str, captured: &Captured) -> Dispatch {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(captured.clone());
    match format {
        Format::Text => Dispatch::new(builder.finish()),
        Format::Json => Dispatch::new(builder.json().flatten_event(true).finish()),
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "brackets the subscriber's own clock"
)]
fn now() -> SystemTime {
    SystemTime::now()
}

fn hand(format: Format, time: SystemTime, event: &Event) -> String {
    let mut out = Vec::new();
    format::write(&mut out, format, time, &Fields::of(event));
    String::from_utf8(out).unwrap()
}

fn stamp(time: SystemTime) -> String {
    let mut out = Vec::new();
    timestamp::write(&mut out, time);
    String::from_utf8(out).unwrap()
}

/// Writes `event` through the subscriber and by hand, and checks the bytes are the
/// same: the subscriber's timestamp must lie between the clock read before and after
/// it wrote, and with it put in the hand line, the two lines must be equal.
fn same_both_ways(dispatch: &Dispatch, captured: &Captured, format: Format, event: &Event) {
    let before = now();
    tracing::dispatcher::with_default(dispatch, || traced(event));
    let after = now();
    let traced = captured.take();
    let (low, high) = (stamp(before), stamp(after));
    let at = match format {
        Format::Text => 0,
        Format::Json => "{\"timestamp\":\"".len(),
    };
    let written = traced.get(at..at + low.len()).unwrap_or_default();
    assert!(
        low.as_str() <= written && written <= high.as_str() && traced.len() > at + low.len(),
        "timestamp {written:?} not within {low} and {high}: {traced}"
    );
    let expected = hand(format, before, event).replacen(&low, written, 1);
    assert_eq!(traced, expected);
}

fn event_with(outcome: Outcome, reason: Option<&str>) -> Event {
    let mut event = Event::blank(DecisionId::from_u128(42 << 80), 0, EventKind::Tool);
    event.agent = Some(AgentId::new("spiffe://acme/agent/triage-bot"));
    event.workflow = Some(WorkflowId::new("wf-p"));
    event.tool = Some(ToolName::new("helpdesk"));
    event.intent = Some(Intent::new("helpdesk.get_ticket"));
    event.outcome = outcome;
    event.status = 200;
    event.latency_us = 3043;
    event.reason = reason.map(str::to_owned);
    event
}

#[test]
fn a_failed_call_reads_as_the_subscriber_wrote_it_in_both_formats() {
    let event = event_with(Outcome::Error, Some("upstream \"x\" said\nno"));
    let line = hand(Format::Text, SystemTime::UNIX_EPOCH, &event);
    assert_eq!(
        line,
        "1970-01-01T00:00:00.000000Z  WARN gatehouse::access: decision=000000001A0000000000000000 \
         kind=\"tool\" agent=\"spiffe://acme/agent/triage-bot\" workflow=\"wf-p\" \
         tool=\"helpdesk\" intent=\"helpdesk.get_ticket\" outcome=\"error\" status=200 \
         latency_us=3043 reason=\"upstream \\\"x\\\" said\\nno\"\n"
    );
    for format in [Format::Text, Format::Json] {
        let captured = Captured::default();
        let dispatch = subscriber(format, "info", &captured);
        same_both_ways(&dispatch, &captured, format, &event);
    }
}

#[test]
fn an_allowed_call_has_no_reason_and_a_json_line_ends_with_its_target() {
    let event = event_with(
        Outcome::Allow,
        Some("a note not logged on information lines"),
    );
    let line = hand(Format::Json, SystemTime::UNIX_EPOCH, &event);
    assert!(line.starts_with("{\"timestamp\":\"1970-01-01T00:00:00.000000Z\",\"level\":\"INFO\","));
    assert!(
        line.ends_with(",\"latency_us\":3043,\"target\":\"gatehouse::access\"}\n"),
        "{line}"
    );
    let captured = Captured::default();
    let dispatch = subscriber(Format::Json, "info", &captured);
    same_both_ways(&dispatch, &captured, Format::Json, &event);
}

/// A sink writing into `captured`, under `filter`.
fn written_under(filter: &str, event: &Event) -> String {
    let captured = Captured::default();
    let sink_lines = captured.clone();
    let sink = Sink::new(Format::Text, move |line| {
        sink_lines.0.lock().unwrap().extend_from_slice(&line);
    });
    let ignored = Captured::default();
    let dispatch = subscriber(Format::Text, filter, &ignored);
    tracing::dispatcher::with_default(&dispatch, || sink.write(event));
    captured.take()
}

#[test]
fn the_operators_filter_decides_which_hand_written_lines_are_written() {
    let allowed = event_with(Outcome::Allow, None);
    let failed = event_with(Outcome::Error, Some("upstream timed out"));
    assert!(written_under("info", &allowed).contains(" INFO gatehouse::access: "));
    assert!(written_under("info", &failed).contains(" WARN gatehouse::access: "));
    assert_eq!(written_under("info,gatehouse::access=warn", &allowed), "");
    assert!(written_under("info,gatehouse::access=warn", &failed).contains("upstream timed out"));
    assert_eq!(written_under("warn,gatehouse::access=off", &failed), "");
    assert_eq!(written_under("gatehouse=error", &failed), "");
    assert!(written_under("off,gatehouse=info", &allowed).contains("outcome=\"allow\""));
}

/// Texts that exercise every escape: quotes, backslashes, control characters,
/// non-ASCII, grapheme extenders, and anything else proptest makes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z'\"\\\\ \t\n\r\u{0}\u{1}\u{8}\u{c}\u{1b}\u{1f}\u{7f}\u{85}é日\u{301}\u{200b}\u{2028}\u{feff}]{0,24}",
    ]
}

prop_compose! {
    fn event()(
        id in any::<u128>(),
        kind in proptest::sample::select(EventKind::ALL),
        agent in proptest::option::of(text()),
        workflow in proptest::option::of(text()),
        tool in proptest::option::of(text()),
        intent in proptest::option::of(text()),
        outcome in proptest::sample::select(Outcome::ALL),
        status in any::<u16>(),
        latency_us in any::<u64>(),
        refusal in proptest::option::of(proptest::sample::select(RefusalKind::ALL)),
        reason in proptest::option::of(text()),
    ) -> Event {
        let mut event = Event::blank(DecisionId::from_u128(id), 0, kind);
        event.agent = agent.map(AgentId::new);
        event.workflow = workflow.map(WorkflowId::new);
        event.tool = tool.map(ToolName::new);
        event.intent = intent.map(Intent::new);
        event.outcome = outcome;
        event.status = status;
        event.latency_us = latency_us;
        event.refusal = refusal;
        event.reason = reason;
        event
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_event_is_written_by_hand_as_the_text_subscriber_writes_it(event in event()) {
        let captured = Captured::default();
        let dispatch = subscriber(Format::Text, "info", &captured);
        same_both_ways(&dispatch, &captured, Format::Text, &event);
    }

    #[test]
    fn any_event_is_written_by_hand_as_the_json_subscriber_writes_it(event in event()) {
        let captured = Captured::default();
        let dispatch = subscriber(Format::Json, "info", &captured);
        same_both_ways(&dispatch, &captured, Format::Json, &event);
    }
}
