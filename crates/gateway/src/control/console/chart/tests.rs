use super::*;

const HOUR_MS: i64 = 3_600_000;
/// 2025-11-24 16:00:00 UTC.
const START_MS: i64 = 1_764_000_000_000 - 1_764_000_000_000 % HOUR_MS;

fn chart(series: Vec<Series>, buckets: usize) -> Chart {
    Chart {
        title: "Calls of bot".to_owned(),
        description: "Calls per hour by intent".to_owned(),
        id: "rates",
        start_ms: START_MS,
        bucket_ms: HOUR_MS,
        buckets,
        unit: "calls per hour",
        series,
    }
}

fn series(name: &str, values: &[f64]) -> Series {
    Series {
        name: name.to_owned(),
        values: values.to_vec(),
        band: Vec::new(),
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// The `points` of the polyline of the series named `name`.
fn points(text: &str, name: &str) -> Vec<(f64, f64)> {
    let group = text
        .split(&format!("<g class=\"series\" data-intent=\"{name}\">"))
        .nth(1)
        .unwrap();
    let list = group
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    list.split(' ')
        .map(|pair| {
            let (x, y) = pair.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn each_intent_is_one_series_with_a_title_description_axes_and_legend() {
    let text = svg(&chart(
        vec![
            series("ticket.read", &[1.0, 4.0, 2.0]),
            series("ticket.create", &[0.0, 1.0, 0.0]),
        ],
        3,
    ))
    .into_string();
    assert!(
        text.starts_with("<svg class=\"chart\" id=\"rates\""),
        "{text}"
    );
    assert!(
        text.contains("role=\"img\"")
            && text.contains("aria-labelledby=\"rates-title rates-desc\"")
    );
    assert!(text.contains("<title id=\"rates-title\">Calls of bot</title>"));
    assert!(text.contains("<desc id=\"rates-desc\">Calls per hour by intent</desc>"));
    assert_eq!(count(&text, "<g class=\"series\""), 2);
    assert_eq!(count(&text, "<polyline"), 2);
    // The legend names each intent; the axes name their units.
    assert_eq!(count(&text, ">ticket.read</text>"), 1);
    assert_eq!(count(&text, ">ticket.create</text>"), 1);
    assert!(text.contains(">calls per hour</text>") && text.contains(">time (UTC)</text>"));
    assert!(text.contains(">11-24 16:00</text>"), "{text}");
    // In HTML, an SVG element is only closed by its end tag: none may be left open.
    for element in ["polyline", "circle", "line", "rect", "path", "text", "g"] {
        let opened = count(&text, &format!("<{element} "));
        assert_eq!(
            opened,
            count(&text, &format!("</{element}>")),
            "<{element}>: {text}"
        );
    }
    // No band was given: none is drawn or named.
    assert!(!text.contains("class=\"band\"") && !text.contains("expected range"));
}

#[test]
fn values_map_onto_the_plot_with_zero_at_the_bottom_and_the_top_tick_at_the_top() {
    let text = svg(&chart(vec![series("a", &[0.0, 10.0])], 2)).into_string();
    let drawn = points(&text, "a");
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let middle = |bucket: f64| round(left + (right - left) * (bucket + 0.5) / 2.0);
    assert_eq!(
        drawn,
        vec![(middle(0.0), TOP + PLOT_HEIGHT), (middle(1.0), TOP)]
    );
    // Ticks 0, 2, … 10: round labels, the greatest at the top.
    for tick in ["0", "2", "4", "6", "8", "10"] {
        assert!(
            text.contains(&format!(">{tick}</text>")),
            "tick {tick}: {text}"
        );
    }
}

#[test]
fn an_empty_chart_says_so_and_still_has_its_axes() {
    let text = svg(&chart(Vec::new(), 24)).into_string();
    assert!(text.contains("No calls in this window."));
    assert_eq!(count(&text, "<polyline"), 0);
    assert!(text.contains("class=\"axis values\"") && text.contains("class=\"axis time\""));
    // The value axis still runs 0 to 1.
    assert!(text.contains(">0</text>") && text.contains(">1</text>"));
}

#[test]
fn a_single_point_is_drawn_as_a_dot_in_the_middle() {
    let text = svg(&chart(vec![series("only", &[3.0])], 1)).into_string();
    let drawn = points(&text, "only");
    let middle = round(LEFT + (WIDTH - RIGHT - LEFT) / 2.0);
    assert_eq!(drawn.len(), 1);
    assert_eq!(drawn[0].0, middle);
    assert_eq!(count(&text, "<circle"), 1);
    assert!(text.contains(&format!("cx=\"{middle}\"")));
}

#[test]
fn hostile_names_are_escaped_in_the_title_the_legend_and_attributes() {
    let hostile = "x\"><script>alert(1)</script><g a=\"";
    let mut shown = chart(vec![series(hostile, &[1.0])], 1);
    shown.title = format!("Calls of {hostile}");
    shown.description = format!("agent {hostile} & more");
    let text = svg(&shown).into_string();
    assert!(!text.contains("<script>"), "{text}");
    assert!(!text.contains("<g a="), "{text}");
    assert!(
        text.contains("x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{text}"
    );
    assert!(text.contains("&amp; more"));
    assert_eq!(count(&text, "<g class=\"series\""), 1);
}

#[test]
fn a_band_is_a_stepped_area_per_run_of_known_buckets_and_in_the_legend() {
    let mut banded = series("ticket.read", &[1.0, 5.0, 2.0, 2.0]);
    let known = Some(Band {
        low: 1.0,
        high: 3.0,
    });
    banded.band = vec![known, known, None, known];
    let text = svg(&chart(vec![banded, series("other", &[0.0; 4])], 4)).into_string();
    assert_eq!(
        count(&text, "<g class=\"band\" data-intent=\"ticket.read\">"),
        1
    );
    assert_eq!(
        count(&text, "<path d=\"M"),
        2,
        "two runs: buckets 0-1 and 3"
    );
    assert!(text.contains("expected range"));
    // The first run: the top from bucket 0's left edge to bucket 1's right edge at 3,
    // back along the bottom at 1.
    let y = |value: f64| round(TOP + PLOT_HEIGHT - value / 5.0 * PLOT_HEIGHT);
    let x = |edge: f64| round(LEFT + (WIDTH - RIGHT - LEFT) * edge / 4.0);
    let first = format!(
        "M{},{}L{},{}L{},{}L{},{}L{},{}L{},{}L{},{}L{},{}Z",
        x(0.0),
        y(3.0),
        x(1.0),
        y(3.0),
        x(1.0),
        y(3.0),
        x(2.0),
        y(3.0),
        x(2.0),
        y(1.0),
        x(1.0),
        y(1.0),
        x(1.0),
        y(1.0),
        x(0.0),
        y(1.0)
    );
    assert!(text.contains(&first), "{first} not in {text}");
}

#[test]
fn the_value_axis_reaches_above_the_highest_band() {
    let mut quiet = series("a", &[1.0]);
    quiet.band = vec![Some(Band {
        low: 0.0,
        high: 40.0,
    })];
    let text = svg(&chart(vec![quiet], 1)).into_string();
    assert!(text.contains(">40</text>"), "{text}");
}

#[test]
fn series_past_the_palette_are_dashed() {
    let many: Vec<Series> = (0..9).map(|n| series(&format!("i{n}"), &[1.0])).collect();
    let text = svg(&chart(many, 1)).into_string();
    assert_eq!(count(&text, "<g class=\"series\""), 9);
    assert_eq!(
        count(&text, "stroke-dasharray=\"6 3\""),
        4,
        "two series, line and legend each"
    );
}
