//! Call counts of one agent per intent and time bucket: what the console's call-pattern
//! charts draw. Counted inside the store, so a week of calls is never read out as events
//! (`Store::call_counts`).

use gatehouse_core::event::EventKind;

/// The most buckets one query may ask for: a month in hours is 744.
pub const MAX_BUCKETS: i64 = 2_000;

/// Which calls to count: the tool and MCP calls (events of kind `tool` and `mcp` naming
/// an intent) of one agent in `[since_ms, until_ms)`, in buckets of `bucket_ms` from
/// `since_ms`. Built by [`RateQuery::new`], which refuses an empty window, a bucket that
/// is not positive and more than [`MAX_BUCKETS`] buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateQuery {
    pub(crate) agent: String,
    pub(crate) since_ms: i64,
    pub(crate) until_ms: i64,
    pub(crate) bucket_ms: i64,
}

impl RateQuery {
    pub fn new(agent: &str, since_ms: i64, until_ms: i64, bucket_ms: i64) -> Option<Self> {
        let span = until_ms.checked_sub(since_ms)?;
        if span <= 0 || bucket_ms <= 0 || buckets_in(span, bucket_ms) > MAX_BUCKETS {
            return None;
        }
        Some(Self {
            agent: agent.to_owned(),
            since_ms,
            until_ms,
            bucket_ms,
        })
    }

    /// How many buckets the window holds (the last may be shorter).
    pub fn buckets(&self) -> u32 {
        let count = buckets_in(self.until_ms - self.since_ms, self.bucket_ms);
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// The bucket a call at `time_ms` falls in, if it is in the window.
    pub(crate) fn bucket_of(&self, time_ms: i64) -> Option<u32> {
        if time_ms < self.since_ms || time_ms >= self.until_ms {
            return None;
        }
        u32::try_from((time_ms - self.since_ms) / self.bucket_ms).ok()
    }
}

/// Buckets of `bucket_ms` (positive) covering `span_ms` (positive), the last maybe short.
fn buckets_in(span_ms: i64, bucket_ms: i64) -> i64 {
    span_ms / bucket_ms + i64::from(span_ms % bucket_ms != 0)
}

/// The kinds of event that are an agent's call.
pub(crate) const COUNTED: [EventKind; 2] = [EventKind::Tool, EventKind::Mcp];

/// How many calls of one intent fell in one bucket (only buckets with calls are listed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallCount {
    pub intent: String,
    /// The bucket's number: it starts at `since_ms + bucket * bucket_ms`.
    pub bucket: u32,
    pub calls: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_refuses_empty_windows_bad_buckets_and_too_many_buckets() {
        assert!(RateQuery::new("a", 10, 10, 1).is_none());
        assert!(RateQuery::new("a", 10, 5, 1).is_none());
        assert!(RateQuery::new("a", 0, 10, 0).is_none());
        assert!(RateQuery::new("a", 0, MAX_BUCKETS + 1, 1).is_none());
        assert!(RateQuery::new("a", i64::MIN, i64::MAX, 1).is_none());
        let query = RateQuery::new("a", 100, 1_050, 100).unwrap();
        assert_eq!(query.buckets(), 10);
        assert_eq!(query.bucket_of(99), None);
        assert_eq!(query.bucket_of(100), Some(0));
        assert_eq!(query.bucket_of(1_049), Some(9));
        assert_eq!(query.bucket_of(1_050), None);
    }
}
