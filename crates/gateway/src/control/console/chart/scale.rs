//! Scales of a chart: a linear map from data to pixels, and "nice" tick values (1, 2 or
//! 5 times a power of ten) so axis labels read as round numbers.

/// A linear map from a data interval onto a pixel interval. A domain of zero width maps
/// everything to the middle of the range, so a chart of one instant still draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Linear {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Linear {
    pub(crate) fn new(domain: (f64, f64), range: (f64, f64)) -> Self {
        Self { domain, range }
    }

    /// The pixel of `value`; values outside the domain land outside the range.
    pub(crate) fn at(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        let width = d1 - d0;
        if width == 0.0 || !width.is_finite() {
            return (r0 + r1) / 2.0;
        }
        r0 + (value - d0) / width * (r1 - r0)
    }
}

/// Up to about `count` round tick values from 0 to at least `max` (itself at least 1):
/// the step is 1, 2 or 5 times a power of ten, and the last tick is the axis' top.
pub(crate) fn ticks(max: f64, count: u32) -> Vec<f64> {
    let max = if max.is_finite() && max > 1.0 {
        max
    } else {
        1.0
    };
    let step = nice_step(max / f64::from(count.max(1)));
    let steps = (max / step - 1e-9).ceil().max(1.0);
    // `steps` is small: max / step ≤ count × 10 by construction of the step.
    let last = steps as u32;
    (0..=last).map(|n| f64::from(n) * step).collect()
}

/// The least 1, 2 or 5 × 10^k at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// A number as an axis label: integers plainly, fractions with at most two decimals.
pub(crate) fn label(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        return format!("{}", value.round());
    }
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_scale_maps_ends_and_middle_and_may_run_backwards() {
        let x = Linear::new((0.0, 10.0), (50.0, 150.0));
        assert_eq!(x.at(0.0), 50.0);
        assert_eq!(x.at(10.0), 150.0);
        assert_eq!(x.at(5.0), 100.0);
        // Pixel y grows downwards: a value axis maps 0 to the bottom.
        let y = Linear::new((0.0, 4.0), (300.0, 100.0));
        assert_eq!(y.at(0.0), 300.0);
        assert_eq!(y.at(4.0), 100.0);
        assert_eq!(y.at(1.0), 250.0);
    }

    #[test]
    fn a_domain_of_no_width_maps_to_the_middle() {
        let x = Linear::new((7.0, 7.0), (0.0, 100.0));
        assert_eq!(x.at(7.0), 50.0);
        assert_eq!(x.at(123.0), 50.0);
    }

    #[test]
    fn ticks_are_round_and_reach_the_maximum() {
        let near = |got: Vec<f64>, want: &[f64]| {
            got.len() == want.len() && got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9)
        };
        assert!(near(ticks(0.0, 5), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]));
        assert_eq!(ticks(10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(11.0, 5), vec![0.0, 5.0, 10.0, 15.0]);
        assert_eq!(ticks(870.0, 4), vec![0.0, 500.0, 1000.0]);
        assert_eq!(ticks(f64::NAN, 5).last(), Some(&1.0));
        for max in [1.5, 3.0, 7.7, 42.0, 999.0, 12_345.0] {
            let all = ticks(max, 5);
            assert!(*all.last().unwrap() >= max, "{max}: {all:?}");
            assert!(all.len() <= 11, "{max}: {all:?}");
        }
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(0.0), "0");
        assert_eq!(label(1000.0), "1000");
        assert_eq!(label(0.6000000000000001), "0.6");
        assert_eq!(label(2.5), "2.5");
        assert_eq!(label(0.25), "0.25");
    }
}
