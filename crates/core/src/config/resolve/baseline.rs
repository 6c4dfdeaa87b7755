//! `[baseline]`: every threshold in range and every anomaly named in `raise_tier_on`
//! known, so a typo cannot leave a departure unraised.

use std::time::Duration;

use super::Resolver;
use crate::baseline::anomaly::{Anomaly, AnomalySet, Thresholds};
use crate::config::BaselineSettings;
use crate::config::raw::RawBaseline;
use crate::model::Tier;

/// The longest learning window: a longer one reads more rows at each relearning than
/// the judgement gains from.
const MAX_WINDOW_DAYS: u32 = 90;

impl Resolver<'_> {
    pub(super) fn baseline(&mut self, raw: &RawBaseline) -> BaselineSettings {
        if !(1..=MAX_WINDOW_DAYS).contains(&raw.window_days) {
            let message = format!("must be between 1 and {MAX_WINDOW_DAYS}");
            self.error_at_field("baseline.window_days", message);
        }
        if raw.min_days > raw.window_days {
            let message = "must be at most `window_days` (the window holds no more days)";
            self.error_at_field("baseline.min_days", message);
        }
        self.factor("baseline.rate_factor", raw.rate_factor);
        self.factor("baseline.volume_factor", raw.volume_factor);
        if !(raw.quiet_hour_calls.is_finite() && raw.quiet_hour_calls >= 0.0) {
            self.error_at_field("baseline.quiet_hour_calls", "must be a number at least 0");
        }
        if raw.flush_ms < 100 || raw.relearn_secs == 0 {
            let message = "`flush_ms` must be at least 100 and `relearn_secs` positive";
            self.error_at_field("baseline", message);
        }
        BaselineSettings {
            enabled: raw.enabled,
            window_days: raw.window_days,
            thresholds: thresholds(raw),
            raise_on: self.raise_on(raw),
            raise_to: self.raise_to(raw),
            flush: Duration::from_millis(raw.flush_ms),
            relearn: Duration::from_secs(raw.relearn_secs),
        }
    }

    fn factor(&mut self, field: &str, factor: f64) {
        if !(factor.is_finite() && factor >= 1.0) {
            self.error_at_field(field, "must be a number at least 1.0");
        }
    }

    fn raise_on(&mut self, raw: &RawBaseline) -> AnomalySet {
        let mut set = AnomalySet::EMPTY;
        for name in &raw.raise_tier_on {
            match name.get_ref().parse::<Anomaly>() {
                Ok(anomaly) => set.insert(anomaly),
                Err(error) => self.error_at("baseline.raise_tier_on", name, error.to_string()),
            }
        }
        set
    }

    fn raise_to(&mut self, raw: &RawBaseline) -> Tier {
        match raw.raise_tier_to.get_ref().as_str() {
            "medium" => Tier::Medium,
            "high" => Tier::High,
            other => {
                let message = format!("`{other}` is not `medium` or `high`");
                self.error_at("baseline.raise_tier_to", &raw.raise_tier_to, message);
                Tier::Medium
            }
        }
    }
}

fn thresholds(raw: &RawBaseline) -> Thresholds {
    Thresholds {
        min_days: raw.min_days,
        min_calls: raw.min_calls,
        rate_factor: raw.rate_factor,
        rate_floor: raw.rate_floor,
        volume_factor: raw.volume_factor,
        volume_floor: raw.volume_floor_bytes,
        quiet_hour_calls: raw.quiet_hour_calls,
    }
}
