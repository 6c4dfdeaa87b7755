//! Server-rendered SVG line charts for the console, through maud like every page: call
//! rates over time, one series per intent, each optionally drawn against its expected
//! range (a baseline band). No script draws anything: the SVG is the picture, with a
//! `<title>` and `<desc>` for assistive technology, axis labels, a legend, and the page
//! shows the same numbers as a table beside it. Names (intents, agents) are spliced in as
//! text, so maud escapes them like any other value.

mod scale;

use maud::{Markup, html};

use scale::{Linear, label, ticks};

/// The drawing's size in SVG units; it scales to the page's width.
const WIDTH: f64 = 960.0;
const PLOT_HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 240.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;
const LEGEND_ROW: f64 = 18.0;
/// Points are marked with dots up to this many buckets, so one bucket still shows.
const DOTTED: usize = 48;
/// Okabe–Ito colours, told apart with most colour-vision deficiencies; past seven
/// series they repeat, dashed.
const COLOURS: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000",
];

/// One chart: buckets of equal length from `start_ms`, and the series drawn over them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// Also the SVG's `<title>`.
    pub(crate) title: String,
    /// The SVG's `<desc>`: what is drawn, in a sentence.
    pub(crate) description: String,
    /// The `id` of the SVG, from which its title's and description's ids are made.
    pub(crate) id: &'static str,
    pub(crate) start_ms: i64,
    pub(crate) bucket_ms: i64,
    pub(crate) buckets: usize,
    /// What the values are, for the vertical axis.
    pub(crate) unit: &'static str,
    pub(crate) series: Vec<Series>,
}

/// One named line: a value per bucket, and the expected range per bucket if known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<f64>,
    /// Per bucket; `None` where no range is known. Empty when there is no band at all.
    pub(crate) band: Vec<Option<Band>>,
}

/// The expected range of a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Band {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

/// The chart as an inline `<svg>`.
pub(crate) fn svg(chart: &Chart) -> Markup {
    let frame = Frame::of(chart);
    let height = frame.height;
    let title_id = format!("{}-title", chart.id);
    let desc_id = format!("{}-desc", chart.id);
    html! {
        svg.chart id=(chart.id) xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (WIDTH) " " (height) } width="100%"
            aria-labelledby={ (title_id) " " (desc_id) } {
            title id=(title_id) { (chart.title) }
            desc id=(desc_id) { (chart.description) }
            rect x="0" y="0" width=(WIDTH) height=(height) fill="#fff" {}
            text.heading x=(LEFT) y="22" font-size="15" font-weight="600" { (chart.title) }
            (value_axis(&frame, chart.unit))
            (time_axis(&frame, chart))
            @for (index, series) in chart.series.iter().enumerate() {
                (band(&frame, series, index))
            }
            @for (index, series) in chart.series.iter().enumerate() {
                (line(&frame, chart, series, index))
            }
            @if chart.series.is_empty() {
                text.empty x=(LEFT + frame.plot_width() / 2.0) y=(TOP + PLOT_HEIGHT / 2.0)
                    text-anchor="middle" fill="#57606a" { "No calls in this window." }
            }
            (legend(chart))
        }
    }
}

/// The plot's geometry and scales.
struct Frame {
    x: Linear,
    y: Linear,
    ticks: Vec<f64>,
    height: f64,
}

impl Frame {
    fn of(chart: &Chart) -> Self {
        let highest = chart
            .series
            .iter()
            .flat_map(|series| {
                let bands = series.band.iter().flatten().map(|band| band.high);
                series.values.iter().copied().chain(bands)
            })
            .filter(|value| value.is_finite())
            .fold(0.0, f64::max);
        let ticks = ticks(highest, 5);
        let top = ticks.last().copied().unwrap_or(1.0);
        let buckets = chart.buckets.max(1) as f64;
        let legend = TOP + LEGEND_ROW * (chart.series.len() + 1) as f64;
        Self {
            x: Linear::new((0.0, buckets), (LEFT, WIDTH - RIGHT)),
            y: Linear::new((0.0, top), (TOP + PLOT_HEIGHT, TOP)),
            ticks,
            height: (TOP + PLOT_HEIGHT + BOTTOM).max(legend + BOTTOM),
        }
    }

    fn plot_width(&self) -> f64 {
        WIDTH - RIGHT - LEFT
    }

    /// The x of the middle of bucket `index`.
    fn middle(&self, index: usize) -> f64 {
        self.x.at(index as f64 + 0.5)
    }
}

fn value_axis(frame: &Frame, unit: &str) -> Markup {
    let bottom = TOP + PLOT_HEIGHT;
    html! {
        g.axis.values {
            @for tick in &frame.ticks {
                @let y = round(frame.y.at(*tick));
                line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y) y2=(y) stroke="#eaeef2" {}
                text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" fill="#57606a" {
                    (label(*tick))
                }
            }
            line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(bottom) stroke="#8c959f" {}
            text x="14" y=(TOP + PLOT_HEIGHT / 2.0) font-size="12" fill="#57606a"
                text-anchor="middle" transform={ "rotate(-90 14 " (TOP + PLOT_HEIGHT / 2.0) ")" } {
                (unit)
            }
        }
    }
}

fn time_axis(frame: &Frame, chart: &Chart) -> Markup {
    let bottom = TOP + PLOT_HEIGHT;
    let every = chart.buckets.div_ceil(6).max(1);
    let marks: Vec<usize> = (0..=chart.buckets).step_by(every).collect();
    html! {
        g.axis.time {
            line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(bottom) y2=(bottom) stroke="#8c959f" {}
            @for mark in marks {
                @let x = round(frame.x.at(mark as f64));
                @let at = chart.start_ms + chart.bucket_ms * mark as i64;
                line x1=(x) x2=(x) y1=(bottom) y2=(bottom + 4.0) stroke="#8c959f" {}
                text x=(x) y=(bottom + 17.0) text-anchor="middle" font-size="11" fill="#57606a" {
                    (time_label(at))
                }
            }
            text x=(LEFT + frame.plot_width() / 2.0) y=(bottom + 36.0) text-anchor="middle"
                font-size="12" fill="#57606a" { "time (UTC)" }
        }
    }
}

/// The series' expected range as a stepped area, one path per run of known buckets.
fn band(frame: &Frame, series: &Series, index: usize) -> Markup {
    let runs = runs(&series.band);
    html! {
        @if !runs.is_empty() {
            g.band data-intent=(series.name) {
                @for run in &runs {
                    path d=(band_path(frame, run)) fill=(colour(index)) fill-opacity="0.14"
                        stroke=(colour(index)) stroke-opacity="0.35" stroke-width="1" {
                        title { "expected range of " (series.name) }
                    }
                }
            }
        }
    }
}

/// Runs of consecutive buckets with a known band, as (first bucket, bands).
fn runs(band: &[Option<Band>]) -> Vec<(usize, Vec<Band>)> {
    let mut runs: Vec<(usize, Vec<Band>)> = Vec::new();
    for (index, known) in band.iter().enumerate() {
        match (known, runs.last_mut()) {
            (Some(band), Some((first, run))) if *first + run.len() == index => run.push(*band),
            (Some(band), _) => runs.push((index, vec![*band])),
            (None, _) => {}
        }
    }
    runs
}

/// Along the highs left to right, then back along the lows, each bucket a flat step.
fn band_path(frame: &Frame, (first, bands): &(usize, Vec<Band>)) -> String {
    let mut upper = Vec::with_capacity(bands.len() * 2);
    let mut lower = Vec::with_capacity(bands.len() * 2);
    for (offset, band) in bands.iter().enumerate() {
        let (left, right) = ((first + offset) as f64, (first + offset + 1) as f64);
        let (high, low) = (frame.y.at(band.high), frame.y.at(band.low.min(band.high)));
        upper.push((frame.x.at(left), high));
        upper.push((frame.x.at(right), high));
        lower.push((frame.x.at(left), low));
        lower.push((frame.x.at(right), low));
    }
    let points: Vec<String> = upper
        .iter()
        .chain(lower.iter().rev())
        .map(|(x, y)| format!("{},{}", round(*x), round(*y)))
        .collect();
    format!("M{}Z", points.join("L"))
}

fn line(frame: &Frame, chart: &Chart, series: &Series, index: usize) -> Markup {
    let points: Vec<(f64, f64)> = series
        .values
        .iter()
        .enumerate()
        .map(|(bucket, value)| (round(frame.middle(bucket)), round(frame.y.at(*value))))
        .collect();
    let text: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
    let dashed = index >= COLOURS.len();
    html! {
        g.series data-intent=(series.name) {
            polyline points=(text.join(" ")) fill="none" stroke=(colour(index)) stroke-width="2"
                stroke-dasharray=[dashed.then_some("6 3")] stroke-linejoin="round" {}
            @if chart.buckets <= DOTTED {
                @for (x, y) in &points {
                    circle cx=(x) cy=(y) r="3" fill=(colour(index)) {}
                }
            }
        }
    }
}

fn legend(chart: &Chart) -> Markup {
    let x = WIDTH - RIGHT + 16.0;
    let banded = chart
        .series
        .iter()
        .any(|series| !runs(&series.band).is_empty());
    html! {
        g.legend {
            @for (index, series) in chart.series.iter().enumerate() {
                @let y = TOP + LEGEND_ROW * index as f64;
                line x1=(x) x2=(x + 18.0) y1=(y + 5.0) y2=(y + 5.0) stroke=(colour(index))
                    stroke-width="3" stroke-dasharray=[(index >= COLOURS.len()).then_some("6 3")] {}
                text x=(x + 24.0) y=(y + 9.0) font-size="12" { (series.name) }
            }
            @if banded {
                @let y = TOP + LEGEND_ROW * chart.series.len() as f64 + 6.0;
                rect x=(x) y=(y) width="18" height="10" fill="#57606a" fill-opacity="0.2" {}
                text x=(x + 24.0) y=(y + 9.0) font-size="12" fill="#57606a" { "expected range" }
            }
        }
    }
}

fn colour(index: usize) -> &'static str {
    COLOURS
        .get(index % COLOURS.len())
        .copied()
        .unwrap_or("#000000")
}

/// Coordinates to a tenth of a unit: shorter text, same picture.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `MM-DD HH:MM` (UTC) for Unix milliseconds.
pub(crate) fn time_label(ms: i64) -> String {
    let text = gatehouse_core::clock::UnixTime::from_secs(ms.div_euclid(1000)).utc_text();
    // `YYYY-MM-DD HH:MM:SS` → `MM-DD HH:MM`.
    text.get(5..16).map_or(text.clone(), str::to_owned)
}

#[cfg(test)]
mod tests;
