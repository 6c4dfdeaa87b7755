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

    /// `YYYY-MM-DD HH:MM:SS` in UTC (civil-from-days, proleptic Gregorian), for tables
    /// and pages that show times to people.
    pub fn utc_text(self) -> String {
        let secs = self.secs();
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let (hour, minute, second) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
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
    fn utc_text_is_the_civil_date_and_time() {
        assert_eq!(UnixTime::from_secs(0).utc_text(), "1970-01-01 00:00:00");
        assert_eq!(
            UnixTime::from_secs(1_764_110_096).utc_text(),
            "2025-11-25 22:34:56"
        );
        assert_eq!(
            UnixTime::from_secs(951_782_400).utc_text(),
            "2000-02-29 00:00:00"
        );
        assert_eq!(UnixTime::from_secs(-1).utc_text(), "1969-12-31 23:59:59");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(UnixTime::from_secs(100));
        assert_eq!(clock.now().secs(), 100);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now().secs(), 105);
    }
}
