//! One agent's one intent, counted in memory: the current hour's totals (what `rate` and
//! `volume` are judged on) and the counts not yet added to the store, per hour.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Hours whose counts wait for a flush: normally one or two (a flush spans an hour's
/// end); more only while the store fails.
type Pending = Vec<(i64, u64, u64)>;

#[derive(Debug, Default)]
pub(super) struct Tally(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    /// The hour `calls` and `bytes` are of.
    hour: i64,
    calls: u64,
    bytes: u64,
    pending: Pending,
}

impl Tally {
    /// Counts one call in `hour`; the hour's calls (this one included) and bytes.
    pub(super) fn call(&self, hour: i64) -> (u64, u64) {
        let mut state = self.lock();
        state.roll(hour);
        state.calls = state.calls.saturating_add(1);
        add(&mut state.pending, hour, 1, 0);
        (state.calls, state.bytes)
    }

    /// Adds the bytes of a call of `hour` (it may have ended in the next hour).
    pub(super) fn bytes(&self, hour: i64, bytes: u64) {
        let mut state = self.lock();
        if state.hour == hour {
            state.bytes = state.bytes.saturating_add(bytes);
        }
        add(&mut state.pending, hour, 0, bytes);
    }

    /// Takes up an hour's totals already stored (at start), without counting them again.
    pub(super) fn resume(&self, hour: i64, calls: u64, bytes: u64) {
        let mut state = self.lock();
        state.roll(hour);
        if state.hour == hour {
            state.calls = state.calls.saturating_add(calls);
            state.bytes = state.bytes.saturating_add(bytes);
        }
    }

    /// What waits for the store, leaving nothing waiting.
    pub(super) fn take_pending(&self) -> Pending {
        std::mem::take(&mut self.lock().pending)
    }

    /// Counts a failed flush took, to be flushed again.
    pub(super) fn put_back(&self, hour: i64, calls: u64, bytes: u64) {
        add(&mut self.lock().pending, hour, calls, bytes);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain counters: a panic while it was held left it readable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Starts counting `hour` if it is later than the one counted.
    fn roll(&mut self, hour: i64) {
        if hour > self.hour {
            *self = Self {
                hour,
                calls: 0,
                bytes: 0,
                pending: std::mem::take(&mut self.pending),
            };
        }
    }
}

fn add(pending: &mut Pending, hour: i64, calls: u64, bytes: u64) {
    match pending.iter_mut().find(|(at, _, _)| *at == hour) {
        Some((_, c, b)) => {
            *c = c.saturating_add(calls);
            *b = b.saturating_add(bytes);
        }
        None => pending.push((hour, calls, bytes)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Call(i64),
        Bytes(i64, u64),
        Flush { fails: bool },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..4).prop_map(Step::Call),
            (0i64..4, 0u64..1000).prop_map(|(h, b)| Step::Bytes(h, b)),
            any::<bool>().prop_map(|fails| Step::Flush { fails }),
        ]
    }

    proptest! {
        /// Whatever the order of calls, byte counts and (failing) flushes: what reached
        /// the store plus what still waits is exactly what was counted, per hour; and the
        /// current hour's call total is the calls counted in it.
        #[test]
        fn flushes_lose_and_double_nothing(steps in prop::collection::vec(step(), 0..80)) {
            let tally = Tally::default();
            let mut stored = std::collections::BTreeMap::<i64, (u64, u64)>::new();
            let mut counted = std::collections::BTreeMap::<i64, (u64, u64)>::new();
            let mut newest = 0;
            for step in steps {
                match step {
                    Step::Call(hour) => {
                        let hour = hour.max(newest); // time moves forward for calls
                        newest = hour;
                        let (calls, _) = tally.call(hour);
                        counted.entry(hour).or_default().0 += 1;
                        prop_assert_eq!(calls, counted[&hour].0);
                    }
                    Step::Bytes(hour, bytes) => {
                        tally.bytes(hour, bytes);
                        counted.entry(hour).or_default().1 += bytes;
                    }
                    Step::Flush { fails } => {
                        let taken = tally.take_pending();
                        for (hour, calls, bytes) in taken {
                            if fails {
                                tally.put_back(hour, calls, bytes);
                            } else {
                                let entry = stored.entry(hour).or_default();
                                entry.0 += calls;
                                entry.1 += bytes;
                            }
                        }
                    }
                }
            }
            for (hour, calls, bytes) in tally.take_pending() {
                let entry = stored.entry(hour).or_default();
                entry.0 += calls;
                entry.1 += bytes;
            }
            stored.retain(|_, v| *v != (0, 0));
            counted.retain(|_, v| *v != (0, 0));
            prop_assert_eq!(stored, counted);
        }
    }
}
