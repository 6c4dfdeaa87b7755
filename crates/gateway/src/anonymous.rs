//! Unauthenticated requests, counted and sampled rather than stored one event each: a
//! scanner's 200 requests for `/wp-login.php` would otherwise be 200 events burying
//! the ones that matter. Per minute, the first `anonymous_events_per_minute` are stored
//! as usual; the rest are only counted, and one `anonymous` event summarises them when
//! the minute is over (written by the next such request or by housekeeping).
//!
//! Authenticated calls never come here; the lock is taken only by refused anonymous
//! requests.

use std::sync::Mutex;

use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::refusal::RefusalKind;

/// The sampling window.
const WINDOW_MS: i64 = 60_000;

/// The sampler's state: the current window and what it has seen.
#[derive(Debug)]
pub struct AnonymousEvents {
    per_window: u32,
    window: Mutex<Window>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start_ms: i64,
    stored: u32,
    counted: u64,
}

/// A closed window whose requests were counted, not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    start_ms: i64,
    stored: u32,
    counted: u64,
}

impl AnonymousEvents {
    pub fn new(per_window: u32) -> Self {
        Self {
            per_window,
            window: Mutex::new(Window::default()),
        }
    }

    /// Whether `event` is stored: always for an authenticated caller's; for an
    /// anonymous refusal, only while this minute's sample lasts (the rest are counted).
    /// With it, the summary of the window that `event` closed, if any: the caller
    /// records it first ([`summary_event`]).
    pub(crate) fn admit(&self, event: &Event) -> (bool, Option<Summary>) {
        if !is_anonymous(event) {
            return (true, None);
        }
        self.sample(event.time_ms)
    }

    /// Housekeeping: the summary of a window that ended with no request after it.
    pub fn due(&self, now_ms: i64) -> Option<Summary> {
        self.roll(now_ms)
    }

    fn sample(&self, now_ms: i64) -> (bool, Option<Summary>) {
        let mut window = self.lock();
        let closed = roll_window(&mut window, now_ms);
        let stored = window.stored < self.per_window;
        if stored {
            window.stored += 1;
        } else {
            window.counted = window.counted.saturating_add(1);
        }
        (stored, closed)
    }

    fn roll(&self, now_ms: i64) -> Option<Summary> {
        roll_window(&mut self.lock(), now_ms)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts a new window when the current one is over, returning the old one's summary
/// when it counted requests it did not store.
fn roll_window(window: &mut Window, now_ms: i64) -> Option<Summary> {
    if now_ms.saturating_sub(window.start_ms) < WINDOW_MS {
        return None;
    }
    let closed = std::mem::replace(
        window,
        Window {
            start_ms: now_ms,
            stored: 0,
            counted: 0,
        },
    );
    (closed.counted > 0).then_some(Summary {
        start_ms: closed.start_ms,
        stored: closed.stored,
        counted: closed.counted,
    })
}

/// A refused request from nobody Gatehouse knows: no credential or assertion held up.
fn is_anonymous(event: &Event) -> bool {
    event.outcome == Outcome::Deny
        && (event.agent.is_none()
            || matches!(
                event.refusal,
                Some(RefusalKind::Unauthenticated | RefusalKind::InvalidAssertion)
            ))
}

/// The event that stands for a window's unstored refusals.
pub(crate) fn summary_event(id: DecisionId, summary: Summary, now_ms: i64) -> Event {
    let mut event = Event::blank(id, now_ms, EventKind::Anonymous);
    event.refusal = Some(RefusalKind::Unauthenticated);
    event.reason = Some(format!(
        "{} more unauthenticated requests in the minute from {} (Unix ms) were counted, not \
         stored one by one; the first {} were stored",
        summary.counted, summary.start_ms, summary.stored
    ));
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_each_minute_are_stored_and_the_rest_summarised_once() {
        let sampler = AnonymousEvents::new(3);
        let start = 1_000_000;
        let stored: Vec<bool> = (0..10).map(|i| sampler.sample(start + i).0).collect();
        assert_eq!(stored.iter().filter(|kept| **kept).count(), 3);
        assert_eq!(sampler.roll(start + 59_999), None, "the minute is not over");
        let summary = sampler.roll(start + WINDOW_MS).unwrap();
        assert_eq!((summary.stored, summary.counted), (3, 7));
        assert_eq!(sampler.roll(start + 2 * WINDOW_MS), None, "summarised once");
        assert!(
            sampler.sample(start + 2 * WINDOW_MS + 1).0,
            "a new minute samples again"
        );
    }

    #[test]
    fn a_minute_that_counted_nothing_needs_no_summary() {
        let sampler = AnonymousEvents::new(3);
        for i in 0..3 {
            assert!(sampler.sample(i).0);
        }
        assert_eq!(sampler.roll(WINDOW_MS * 5), None);
    }
}
