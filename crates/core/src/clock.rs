//! Time as a dependency: expiry, budget and approval logic read the clock through
//! [`Clock`] so tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// Seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime {
    nanos: i64,
}

impl UnixTime {
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    pub const fn from_nanos(nanos: i64) -> Self {
        Self { nanos }
    }

    pub const fn secs(self) -> i64 {
        self.nanos.div_euclid(1_000_000_000)
    }

    pub const fn millis(self) -> i64 {
        self.nanos.div_euclid(1_000_000)
    }

    pub const fn nanos(self) -> i64 {
        self.nanos
    }

    #[must_use]
    pub fn plus(self, duration: Duration) -> Self {
        let add = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Self {
            nanos: self.nanos.saturating_add(add),
        }
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> UnixTime {
        let since = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UnixTime::from_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; shared by clones.
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn at(time: UnixTime) -> Self {
        Self {
            nanos: Arc::new(AtomicI64::new(time.nanos())),
        }
    }

    pub fn advance(&self, by: Duration) {
        let add = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(add, Ordering::SeqCst);
    }

    pub fn set(&self, time: UnixTime) {
        self.nanos.store(time.nanos(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// The clock every component shares.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(UnixTime::from_secs(100));
        assert_eq!(clock.now().secs(), 100);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now().secs(), 105);
    }
}
