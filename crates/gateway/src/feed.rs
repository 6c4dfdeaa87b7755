//! Whether this replica hears the others (ARCHITECTURE.md, "State and events"): a handle
//! every data-plane request reads, set by the follower in `replicas.rs`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Whether this replica hears other replicas' changes. Checked on every data-plane
/// request (one atomic load): a replica deaf for longer than `max_staleness` refuses
/// calls, and `/readyz` fails so a load balancer drains it, until the feed is back and
/// everything it may have missed was read again.
#[derive(Debug, Default)]
pub struct Feed {
    /// Unix milliseconds since which the feed is lost; 0 while it is live (or there is
    /// no feed, on the embedded store).
    lost_at_ms: AtomicI64,
}

impl Feed {
    /// For how long the feed has been lost, when that is longer than `max`.
    pub fn stale_for(&self, now_ms: i64, max: Duration) -> Option<u64> {
        let lost_at = self.lost_at_ms.load(Ordering::Acquire);
        if lost_at == 0 {
            return None;
        }
        let for_ms = u64::try_from(now_ms.saturating_sub(lost_at)).unwrap_or(0);
        (u128::from(for_ms) > max.as_millis()).then_some(for_ms)
    }

    /// Marks the feed lost at `now_ms`, unless it already was (the first loss counts).
    pub(crate) fn lost(&self, now_ms: i64) {
        let _ =
            self.lost_at_ms
                .compare_exchange(0, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire);
    }

    pub(crate) fn live(&self) {
        self.lost_at_ms.store(0, Ordering::Release);
    }
}
