//! Per-agent baselines of call patterns (issue 15 item 3): the calls and bytes of each
//! agent's intents per Unix hour ([`HourCount`], what the store keeps), and what is learned
//! from them over a window ([`AgentBaseline`]: per intent and hour of day, the band of
//! calls and bytes seen). Anomalies are judged against it in [`anomaly`].
//!
//! Every hour here is UTC: a Unix hour is `unix_ms / 3_600_000`, its hour of day that
//! modulo 24.

pub mod anomaly;

use serde::{Deserialize, Serialize};

/// Hours in a day; an [`IntentBaseline`] has one [`HourBand`] for each.
pub const HOURS_PER_DAY: usize = 24;

/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 3_600_000;

/// The Unix hour (hours since the epoch, UTC) holding `unix_ms`.
pub const fn hour_of(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(MS_PER_HOUR)
}

/// The hour of day (0–23, UTC) of Unix hour `hour`.
pub fn hour_of_day(hour: i64) -> usize {
    usize::try_from(hour.rem_euclid(24)).unwrap_or(0)
}

/// Calls and bytes (request and response) of one agent's one intent in one Unix hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    pub agent: String,
    pub intent: String,
    /// Unix hour ([`hour_of`]).
    pub hour: i64,
    pub calls: u64,
    pub bytes: u64,
}

/// The Unix hours a baseline is learned over: `from_hour` up to, not including, `to_hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from_hour: i64,
    pub to_hour: i64,
}

impl Window {
    /// The `days` whole days of hours before the hour holding `now_ms` (the current hour,
    /// still filling, is left out: it is what gets judged).
    pub fn ending(now_ms: i64, days: u32) -> Self {
        let to_hour = hour_of(now_ms);
        Self {
            from_hour: to_hour - i64::from(days) * 24,
            to_hour,
        }
    }

    /// How many hours it spans.
    pub fn hours(&self) -> i64 {
        (self.to_hour - self.from_hour).max(0)
    }

    pub fn contains(&self, hour: i64) -> bool {
        (self.from_hour..self.to_hour).contains(&hour)
    }

    /// How many hours of the window fall on each hour of day.
    fn occurrences(&self) -> [u64; HOURS_PER_DAY] {
        let mut each = [self.hours().div_euclid(24).unsigned_abs(); HOURS_PER_DAY];
        let extra = self.hours().rem_euclid(24);
        for hour in self.from_hour..self.from_hour + extra {
            if let Some(slot) = each.get_mut(hour_of_day(hour)) {
                *slot += 1;
            }
        }
        each
    }
}

/// What one agent did over a window, per intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentBaseline {
    pub agent: String,
    pub window: Window,
    /// The earliest hour of the window with a call of this agent. Bands are averaged from
    /// it on, so an agent that started mid-window is not diluted by days it did not exist.
    pub first_hour: Option<i64>,
    pub calls: u64,
    pub bytes: u64,
    /// Sorted by intent.
    pub intents: Vec<IntentBaseline>,
}

/// One intent of an [`AgentBaseline`]: the band per hour of day, and the hours themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentBaseline {
    pub intent: String,
    pub calls: u64,
    pub bytes: u64,
    /// Exactly [`HOURS_PER_DAY`], indexed by hour of day (UTC).
    pub hours: Vec<HourBand>,
    /// The stored counts in the window, by hour (hours without a call are absent).
    pub series: Vec<HourCount>,
}

/// Activity in one hour of day over the days learned (an hour with no call counts as 0):
/// the expected band is `min_calls..=max_calls` around `mean_calls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HourBand {
    pub mean_calls: f64,
    pub min_calls: u64,
    pub max_calls: u64,
    pub mean_bytes: f64,
    pub max_bytes: u64,
}

impl AgentBaseline {
    /// Learns `agent`'s baseline over `window` from `counts` (other agents' and hours
    /// outside the window are ignored; several counts of one intent and hour add up).
    pub fn learn(agent: &str, window: Window, counts: &[HourCount]) -> Self {
        let mut mine: Vec<&HourCount> = counts
            .iter()
            .filter(|count| count.agent == agent && window.contains(count.hour))
            .collect();
        mine.sort_by(|a, b| (&a.intent, a.hour).cmp(&(&b.intent, b.hour)));
        let first_hour = mine.iter().map(|count| count.hour).min();
        let learned = Window {
            from_hour: first_hour.unwrap_or(window.from_hour),
            to_hour: window.to_hour,
        };
        let intents: Vec<IntentBaseline> = mine
            .chunk_by(|a, b| a.intent == b.intent)
            .map(|run| IntentBaseline::learn(run, learned))
            .collect();
        Self {
            agent: agent.to_owned(),
            window,
            first_hour,
            calls: intents.iter().map(|intent| intent.calls).sum(),
            bytes: intents.iter().map(|intent| intent.bytes).sum(),
            intents,
        }
    }

    pub fn intent(&self, intent: &str) -> Option<&IntentBaseline> {
        self.intents
            .binary_search_by(|known| known.intent.as_str().cmp(intent))
            .ok()
            .and_then(|index| self.intents.get(index))
    }

    /// Mean calls of every intent together in each hour of day.
    pub fn mean_calls_by_hour(&self) -> [f64; HOURS_PER_DAY] {
        let mut sum = [0.0; HOURS_PER_DAY];
        for intent in &self.intents {
            for (total, band) in sum.iter_mut().zip(&intent.hours) {
                *total += band.mean_calls;
            }
        }
        sum
    }
}

impl IntentBaseline {
    /// `run`: one intent's counts, sorted by hour, all inside `learned`.
    fn learn(run: &[&HourCount], learned: Window) -> Self {
        let series = merge_hours(run);
        let occurrences = learned.occurrences();
        let mut hours = vec![HourBand::default(); HOURS_PER_DAY];
        let mut seen = [0u64; HOURS_PER_DAY];
        for count in &series {
            let day_hour = hour_of_day(count.hour);
            if let (Some(band), Some(seen)) = (hours.get_mut(day_hour), seen.get_mut(day_hour)) {
                band.add(count);
                *seen += 1;
            }
        }
        for ((band, seen), occurs) in hours.iter_mut().zip(seen).zip(occurrences) {
            band.finish(seen, occurs);
        }
        Self {
            intent: run.first().map(|c| c.intent.clone()).unwrap_or_default(),
            calls: series.iter().map(|count| count.calls).sum(),
            bytes: series.iter().map(|count| count.bytes).sum(),
            hours,
            series,
        }
    }
}

impl HourBand {
    /// While learning, `mean_*` hold sums and `min_calls` the least nonzero hour.
    fn add(&mut self, count: &HourCount) {
        self.mean_calls += count.calls as f64;
        self.mean_bytes += count.bytes as f64;
        self.min_calls = if self.max_calls == 0 && self.min_calls == 0 {
            count.calls
        } else {
            self.min_calls.min(count.calls)
        };
        self.max_calls = self.max_calls.max(count.calls);
        self.max_bytes = self.max_bytes.max(count.bytes);
    }

    /// `seen` hours of this hour of day had counts, out of `occurs` in the window.
    fn finish(&mut self, seen: u64, occurs: u64) {
        let days = occurs.max(seen).max(1) as f64;
        self.mean_calls /= days;
        self.mean_bytes /= days;
        if seen < occurs {
            self.min_calls = 0;
        }
    }
}

/// One count per hour: counts of the same hour (several flushes) added together.
fn merge_hours(run: &[&HourCount]) -> Vec<HourCount> {
    let mut merged: Vec<HourCount> = Vec::with_capacity(run.len());
    for count in run {
        match merged.last_mut() {
            Some(last) if last.hour == count.hour => {
                last.calls = last.calls.saturating_add(count.calls);
                last.bytes = last.bytes.saturating_add(count.bytes);
            }
            _ => merged.push((*count).clone()),
        }
    }
    merged
}

#[cfg(test)]
mod tests;
