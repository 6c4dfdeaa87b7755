//! When a crashed stdio server may be launched again: 100 ms after its first crash,
//! doubling with each crash up to 10 s, and back to 100 ms once a process has run
//! healthily for a minute. A server that dies at once therefore costs a handful of
//! launches a minute, never a spinning CPU.

use std::time::Duration;

use tokio::time::Instant;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(10);
/// A process that ran this long before dying was healthy: its crash starts afresh.
const HEALTHY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Backoff {
    /// The waits imposed by successive crashes.
    delays: gatehouse_core::backoff::Backoff,
    /// No launch before this instant.
    not_before: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            delays: gatehouse_core::backoff::Backoff::new(FIRST_DELAY, MAX_DELAY),
            not_before: None,
        }
    }
}

impl Backoff {
    /// Records that a process (or a launch attempt) ended at `at` after running `uptime`.
    pub(super) fn exited(&mut self, at: Instant, uptime: Duration) {
        if uptime >= HEALTHY {
            self.delays.reset();
        }
        self.not_before = Some(at + self.delays.next_delay());
    }

    /// How long a launch must still wait at `now`.
    pub(super) fn wait(&self, now: Instant) -> Duration {
        self.not_before.map_or(Duration::ZERO, |not_before| {
            not_before.saturating_duration_since(now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_first_launch_is_immediate() {
        assert_eq!(Backoff::default().wait(Instant::now()), Duration::ZERO);
    }

    #[test]
    fn crashes_double_the_wait_up_to_ten_seconds() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..10 {
            backoff.exited(start, ms(5));
            waits.push(backoff.wait(start).as_millis());
        }
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        assert_eq!(backoff.wait(start + ms(4_000)), ms(6_000));
        assert_eq!(backoff.wait(start + ms(20_000)), Duration::ZERO);
    }

    #[test]
    fn a_minute_of_health_resets_the_wait() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        for _ in 0..5 {
            backoff.exited(start, ms(5));
        }
        backoff.exited(start, Duration::from_secs(61));
        assert_eq!(backoff.wait(start), ms(100));
    }
}
