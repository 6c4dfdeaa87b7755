//! Prometheus metrics (issue 14 item 4): counters and histograms kept in atomics, so
//! a call adds a few relaxed atomic increments and takes no lock; gauges (pending
//! approvals, revocations, quarantines, store health) are read when scraped. Rendered
//! by hand in the text exposition format 0.0.4 at `GET /metrics` on the control plane.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_core::event::{Event, Outcome};
use gatehouse_core::refusal::RefusalKind;

/// Every outcome, in the order of the counters' first index.
const OUTCOMES: [Outcome; 5] = [
    Outcome::Allow,
    Outcome::Deny,
    Outcome::Error,
    Outcome::Confirm,
    Outcome::Pending,
];

/// Every refusal kind an event can carry (`Refusal::kind`, and the ends of a forwarded
/// response that are not refusals of their own), plus `none` first and `other` last.
/// A unit test holds this list to `Refusal`.
pub(crate) const REFUSALS: [&str; 39] = [
    "none",
    "unauthenticated",
    "invalid-assertion",
    "bad-token-request",
    "task-class-not-allowed",
    "ambiguous-path",
    "unknown-tool",
    "no-route",
    "segment-mismatch",
    "out-of-scope",
    "policy-denied",
    "quarantined",
    "budget-exhausted",
    "confirmation-required",
    "confirmation-rejected",
    "approval-denied",
    "approval-expired",
    "approval-cancelled",
    "approval-pending",
    "bad-message",
    "unknown-method",
    "session-unknown",
    "bad-arguments",
    "origin-rejected",
    "headers-too-large",
    "body-too-large",
    "upstream-unavailable",
    "upstream-timeout",
    "internal",
    "stale-state",
    "unrecordable",
    "unsafe-request",
    "malformed-body",
    "rate-limited",
    "too-many-pending",
    "response-too-large",
    "response-class-exceeded",
    "response-unscannable",
    "other",
];

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
const BOUNDS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The same bounds in microseconds, which is what calls measure.
const BOUNDS_US: [u64; 14] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// A latency histogram: one counter per bucket (not cumulative; summed when
/// rendered) and the sum, so an observation is two atomic increments.
#[derive(Debug, Default)]
struct Histogram {
    /// `BOUNDS.len()` buckets and the `+Inf` one.
    buckets: [AtomicU64; 15],
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, micros: u64) {
        let index = BOUNDS_US
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BOUNDS_US.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match BOUNDS.get(index) {
                Some(bound) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let seconds = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {seconds}\n{name}_count {cumulative}");
    }
}

/// The counters a call moves.
#[derive(Debug)]
pub struct Metrics {
    /// Decisions by outcome, then by refusal kind (`REFUSALS`).
    decisions: [[AtomicU64; REFUSALS.len()]; OUTCOMES.len()],
    decision_latency: Histogram,
    tool_latency: Histogram,
    budget_pauses: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            decisions: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            decision_latency: Histogram::default(),
            tool_latency: Histogram::default(),
            budget_pauses: AtomicU64::new(0),
        }
    }
}

/// What is read from elsewhere when scraped.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) pending_approvals: Option<usize>,
    pub(crate) revoked_tokens: usize,
    pub(crate) revoked_agents: usize,
    pub(crate) quarantines: usize,
    pub(crate) store_up: bool,
}

impl Metrics {
    /// Counts a call's event: its decision, the time Gatehouse took to decide it
    /// (`decided_us`; for a call refused or parked, its whole latency) and, when it
    /// reached the tool, the tool's time to answer.
    pub(crate) fn observe(&self, event: &Event, decided_us: Option<u64>) {
        let outcome = OUTCOMES
            .iter()
            .position(|outcome| *outcome == event.outcome)
            .unwrap_or(0);
        let refusal = event.refusal.map_or(0, refusal_index);
        if let Some(counter) = self.decisions.get(outcome).and_then(|row| row.get(refusal)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.decision_latency
            .observe(decided_us.unwrap_or(event.latency_us));
        if let Some(upstream) = event.upstream_us {
            self.tool_latency.observe(upstream);
        }
    }

    pub(crate) fn budget_paused(&self) {
        self.budget_pauses.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition of every metric.
    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_decisions(&mut out);
        self.decision_latency.render(
            &mut out,
            "gatehouse_decision_latency_seconds",
            "Time Gatehouse took to decide a call (every phase before forwarding; the whole call when refused or parked).",
        );
        self.tool_latency.render(
            &mut out,
            "gatehouse_tool_latency_seconds",
            "Time the tool took to answer a forwarded call (to its response headers).",
        );
        self.render_upstream_errors(&mut out);
        counter(
            &mut out,
            "gatehouse_budget_pauses_total",
            "Workflows paused because a budget was spent.",
            self.budget_pauses.load(Ordering::Relaxed),
        );
        render_gauges(&mut out, gauges);
        out
    }

    fn render_decisions(&self, out: &mut String) {
        let name = "gatehouse_decisions_total";
        let _ = writeln!(
            out,
            "# HELP {name} Decisions by outcome and refusal kind (`none` when not refused).\n# TYPE {name} counter"
        );
        for (outcome, row) in OUTCOMES.iter().zip(&self.decisions) {
            for (refusal, count) in REFUSALS.iter().zip(row) {
                let count = count.load(Ordering::Relaxed);
                // Only pairs seen, but always every outcome, so rates start at zero.
                if count > 0 || *refusal == "none" {
                    let _ = writeln!(
                        out,
                        "{name}{{outcome=\"{}\",refusal=\"{refusal}\"}} {count}",
                        outcome.as_str()
                    );
                }
            }
        }
    }

    fn render_upstream_errors(&self, out: &mut String) {
        let name = "gatehouse_upstream_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Calls whose tool could not be reached, failed mid-response or did not answer in time.\n# TYPE {name} counter"
        );
        for (kind, label) in [
            (RefusalKind::UpstreamUnavailable, "unavailable"),
            (RefusalKind::UpstreamTimeout, "timeout"),
        ] {
            let index = refusal_index(kind);
            let total: u64 = self
                .decisions
                .iter()
                .filter_map(|row| row.get(index))
                .map(|count| count.load(Ordering::Relaxed))
                .sum();
            let _ = writeln!(out, "{name}{{kind=\"{label}\"}} {total}");
        }
    }
}

fn refusal_index(kind: RefusalKind) -> usize {
    REFUSALS
        .iter()
        .position(|known| *known == kind.as_str())
        .unwrap_or(REFUSALS.len() - 1)
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, value: usize) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

fn render_gauges(out: &mut String, gauges: &Gauges) {
    if let Some(pending) = gauges.pending_approvals {
        gauge(
            out,
            "gatehouse_pending_approvals",
            "Calls parked for approval or waiting for a confirmation (at most 1000 counted).",
            pending,
        );
    }
    let name = "gatehouse_revocations";
    let _ = writeln!(
        out,
        "# HELP {name} Revocations in force, by kind.\n# TYPE {name} gauge\n{name}{{kind=\"token\"}} {}\n{name}{{kind=\"agent\"}} {}",
        gauges.revoked_tokens, gauges.revoked_agents
    );
    gauge(
        out,
        "gatehouse_quarantines",
        "Quarantines in force.",
        gauges.quarantines,
    );
    gauge(
        out,
        "gatehouse_store_up",
        "Whether the store answered a ping during this scrape (1) or not (0).",
        usize::from(gauges.store_up),
    );
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::EventKind;
    use gatehouse_core::ids::DecisionId;
    use gatehouse_core::refusal::{AuthFailure, Refusal};
    use gatehouse_core::workflow::BudgetKind;

    use super::*;

    /// One of each variant: the match makes a new variant a compile error here until it
    /// is added, and the assertion below until `REFUSALS` names its kind.
    fn every_refusal() -> Vec<Refusal> {
        let all = vec![
            Refusal::Unauthenticated(AuthFailure::Missing),
            Refusal::InvalidAssertion(AuthFailure::Missing),
            Refusal::BadTokenRequest {
                reason: String::new(),
            },
            Refusal::TaskClassNotAllowed {
                task_class: String::new(),
            },
            Refusal::AmbiguousPath {
                reason: String::new(),
            },
            Refusal::UnknownTool {
                tool: String::new(),
            },
            Refusal::NoRoute,
            Refusal::SegmentMismatch {
                credential: String::new(),
                tool: String::new(),
            },
            Refusal::OutOfScope {
                intent: String::new(),
            },
            Refusal::PolicyDenied,
            Refusal::Quarantined { id: String::new() },
            Refusal::BudgetExhausted {
                workflow: "".into(),
                kind: BudgetKind::Calls,
                spent: 0,
                limit: 0,
            },
            Refusal::ConfirmationRequired { id: "".into() },
            Refusal::ConfirmationRejected {
                reason: String::new(),
            },
            Refusal::ApprovalDenied { id: "".into() },
            Refusal::ApprovalExpired { id: "".into() },
            Refusal::ApprovalCancelled { id: "".into() },
            Refusal::ApprovalPending { id: "".into() },
            Refusal::BadMessage {
                rpc_code: 0,
                reason: String::new(),
            },
            Refusal::UnknownMethod {
                method: String::new(),
            },
            Refusal::SessionUnknown,
            Refusal::BadArguments {
                reason: String::new(),
            },
            Refusal::OriginRejected {
                origin: String::new(),
            },
            Refusal::HeadersTooLarge,
            Refusal::BodyTooLarge { limit: 0 },
            Refusal::UpstreamUnavailable {
                reason: String::new(),
            },
            Refusal::UpstreamTimeout,
            Refusal::Internal {
                reason: String::new(),
            },
            Refusal::StaleState { for_ms: 0 },
            Refusal::Unrecordable { queued: 0 },
            Refusal::UnsafeRequest {
                reason: String::new(),
            },
            Refusal::MalformedBody {
                reason: String::new(),
            },
            Refusal::RateLimited,
            Refusal::TooManyPending { limit: 0 },
            Refusal::ResponseClassExceeded {
                class: String::new(),
                ceiling: String::new(),
            },
            Refusal::ResponseUnscannable {
                reason: String::new(),
            },
        ];
        for refusal in &all {
            match refusal {
                Refusal::Unauthenticated(_)
                | Refusal::InvalidAssertion(_)
                | Refusal::BadTokenRequest { .. }
                | Refusal::TaskClassNotAllowed { .. }
                | Refusal::AmbiguousPath { .. }
                | Refusal::UnknownTool { .. }
                | Refusal::NoRoute
                | Refusal::SegmentMismatch { .. }
                | Refusal::OutOfScope { .. }
                | Refusal::PolicyDenied
                | Refusal::Quarantined { .. }
                | Refusal::BudgetExhausted { .. }
                | Refusal::ConfirmationRequired { .. }
                | Refusal::ConfirmationRejected { .. }
                | Refusal::ApprovalDenied { .. }
                | Refusal::ApprovalExpired { .. }
                | Refusal::ApprovalCancelled { .. }
                | Refusal::ApprovalPending { .. }
                | Refusal::BadMessage { .. }
                | Refusal::UnknownMethod { .. }
                | Refusal::SessionUnknown
                | Refusal::BadArguments { .. }
                | Refusal::OriginRejected { .. }
                | Refusal::HeadersTooLarge
                | Refusal::BodyTooLarge { .. }
                | Refusal::UpstreamUnavailable { .. }
                | Refusal::UpstreamTimeout
                | Refusal::Internal { .. }
                | Refusal::StaleState { .. }
                | Refusal::Unrecordable { .. }
                | Refusal::UnsafeRequest { .. }
                | Refusal::MalformedBody { .. }
                | Refusal::RateLimited
                | Refusal::TooManyPending { .. }
                | Refusal::ResponseClassExceeded { .. }
                | Refusal::ResponseUnscannable { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_refusal_kind_has_its_own_label() {
        for refusal in every_refusal() {
            let index = refusal_index(refusal.kind());
            assert_ne!(index, REFUSALS.len() - 1, "{} has no label", refusal.kind());
        }
    }

    #[test]
    fn a_call_moves_its_decision_and_both_latencies() {
        let metrics = Metrics::default();
        let mut event = Event::blank(DecisionId::from_u128(1), 0, EventKind::Tool);
        event.outcome = Outcome::Allow;
        event.latency_us = 90_000;
        event.upstream_us = Some(80_000);
        metrics.observe(&event, Some(700));
        event.outcome = Outcome::Deny;
        event.refusal = Some(RefusalKind::Quarantined);
        event.upstream_us = None;
        event.latency_us = 300;
        metrics.observe(&event, None);
        let text = metrics.render(&Gauges::default());
        for line in [
            "gatehouse_decisions_total{outcome=\"allow\",refusal=\"none\"} 1",
            "gatehouse_decisions_total{outcome=\"deny\",refusal=\"quarantined\"} 1",
            "gatehouse_decision_latency_seconds_bucket{le=\"0.00025\"} 0",
            "gatehouse_decision_latency_seconds_bucket{le=\"0.0005\"} 1",
            "gatehouse_decision_latency_seconds_bucket{le=\"0.001\"} 2",
            "gatehouse_decision_latency_seconds_bucket{le=\"+Inf\"} 2",
            "gatehouse_decision_latency_seconds_count 2",
            "gatehouse_decision_latency_seconds_sum 0.001",
            "gatehouse_tool_latency_seconds_bucket{le=\"0.05\"} 0",
            "gatehouse_tool_latency_seconds_bucket{le=\"0.1\"} 1",
            "gatehouse_tool_latency_seconds_count 1",
            "gatehouse_upstream_errors_total{kind=\"timeout\"} 0",
            "gatehouse_store_up 0",
        ] {
            assert!(
                text.lines().any(|have| have == line),
                "no `{line}` in\n{text}"
            );
        }
    }
}
