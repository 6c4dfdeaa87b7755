//! Anomalies: how one call departs from its agent's [`AgentBaseline`]. A call is judged
//! only once the baseline is *mature* (enough days and calls learned, [`Thresholds`]);
//! before that an agent is still being learned and nothing is flagged.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{AgentBaseline, HOURS_PER_DAY, hour_of_day};
use crate::closed_set::closed_set;

closed_set! {
    /// One way a call departs from its agent's baseline.
    pub enum Anomaly, error UnknownAnomaly, "anomaly";
    /// The agent never called this intent in the window.
    NewIntent => "new-intent",
    /// The agent's calls of this intent this hour exceed the most seen in this hour of
    /// day, times the configured factor.
    Rate => "rate",
    /// The same for bytes (request and response) of this intent this hour.
    Volume => "volume",
    /// The agent (all intents together) is at most barely active in this hour of day.
    Hour => "hour",
}

/// A set of [`Anomaly`]: one byte, written as a JSON array in declaration order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AnomalySet(u8);

impl AnomalySet {
    pub const EMPTY: Self = Self(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, anomaly: Anomaly) -> bool {
        self.0 & bit(anomaly) != 0
    }

    pub fn insert(&mut self, anomaly: Anomaly) {
        self.0 |= bit(anomaly);
    }

    #[must_use]
    pub fn with(mut self, anomaly: Anomaly) -> Self {
        self.insert(anomaly);
        self
    }

    /// Whether any member of `other` is in this set.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The members, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Anomaly> {
        Anomaly::ALL
            .iter()
            .copied()
            .filter(move |anomaly| self.contains(*anomaly))
    }
}

impl FromIterator<Anomaly> for AnomalySet {
    fn from_iter<I: IntoIterator<Item = Anomaly>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        for anomaly in iter {
            set.insert(anomaly);
        }
        set
    }
}

fn bit(anomaly: Anomaly) -> u8 {
    // INVARIANT: fewer than 8 anomalies, so each has its own bit.
    1 << (anomaly as u8)
}

impl Serialize for AnomalySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for anomaly in self.iter() {
            seq.serialize_element(anomaly.as_str())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for AnomalySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SetVisitor)
    }
}

struct SetVisitor;

impl<'de> Visitor<'de> for SetVisitor {
    type Value = AnomalySet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of anomaly names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnomalySet, A::Error> {
        let mut set = AnomalySet::EMPTY;
        while let Some(anomaly) = seq.next_element::<Anomaly>()? {
            set.insert(anomaly);
        }
        Ok(set)
    }
}

/// When a baseline is trusted and how far a call may depart from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The agent's first call in the window lies on the `min_days`th day back or before
    /// (a started day counts), …
    pub min_days: u32,
    /// … and the window holds at least this many of its calls: then it is mature.
    pub min_calls: u64,
    /// `rate`: calls this hour above `rate_factor` × max(most seen in this hour of day,
    /// `rate_floor`).
    pub rate_factor: f64,
    pub rate_floor: u64,
    /// `volume`: bytes this hour above `volume_factor` × max(most seen, `volume_floor`).
    pub volume_factor: f64,
    pub volume_floor: u64,
    /// `hour`: the agent's mean calls (all intents) in this hour of day at most this.
    pub quiet_hour_calls: f64,
}

/// What is known of the current hour of one agent's intent when a call arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// Unix hour of the call.
    pub hour: i64,
    /// Calls of this agent and intent this hour, this one included.
    pub calls: u64,
    /// Bytes of this agent and intent's calls recorded this hour.
    pub bytes: u64,
}

/// An agent's baseline made ready for judging calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub baseline: AgentBaseline,
    mean_by_hour: [f64; HOURS_PER_DAY],
    mature: bool,
}

impl Profile {
    pub fn new(baseline: AgentBaseline, thresholds: &Thresholds) -> Self {
        // Days learned, counting a started day: calls since 08:00 a week ago make 7.
        let old_enough = baseline.first_hour.is_some_and(|first| {
            (baseline.window.to_hour - first + 23).div_euclid(24) >= i64::from(thresholds.min_days)
        });
        Self {
            mean_by_hour: baseline.mean_calls_by_hour(),
            mature: old_enough && baseline.calls >= thresholds.min_calls,
            baseline,
        }
    }

    /// Whether enough was learned to judge calls at all.
    pub fn is_mature(&self) -> bool {
        self.mature
    }

    /// The anomalies of a call of `intent` arriving with `live` counts.
    pub fn judge(&self, intent: &str, live: Live, thresholds: &Thresholds) -> AnomalySet {
        let mut found = AnomalySet::EMPTY;
        if !self.mature {
            return found;
        }
        let day_hour = hour_of_day(live.hour);
        let quiet = self.mean_by_hour.get(day_hour).copied().unwrap_or(0.0);
        if quiet <= thresholds.quiet_hour_calls {
            found.insert(Anomaly::Hour);
        }
        let Some(band) = self
            .baseline
            .intent(intent)
            .and_then(|known| known.hours.get(day_hour))
        else {
            return found.with(Anomaly::NewIntent);
        };
        if exceeds(
            live.calls,
            band.max_calls,
            thresholds.rate_floor,
            thresholds.rate_factor,
        ) {
            found.insert(Anomaly::Rate);
        }
        let (max, floor) = (band.max_bytes, thresholds.volume_floor);
        if exceeds(live.bytes, max, floor, thresholds.volume_factor) {
            found.insert(Anomaly::Volume);
        }
        found
    }
}

fn exceeds(now: u64, most_seen: u64, floor: u64, factor: f64) -> bool {
    now as f64 > most_seen.max(floor) as f64 * factor
}

#[cfg(test)]
mod tests;
