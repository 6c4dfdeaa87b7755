//! Request-path classification: `parse_request_path` never panics, what it accepts has no
//! segment a server could read differently, and templates parse and match without panics.
#![no_main]

use std::hint::black_box;
use std::sync::LazyLock;

use gatehouse_core::path::{PathTemplate, RouteTable, SafePath, parse_request_path};
use libfuzzer_sys::fuzz_target;

const TEMPLATES: &[&str] = &[
    "/",
    "/tickets",
    "/tickets/{id}",
    "/tickets/new",
    "/repos/{owner}/{repo}/issues",
    "/files/{path*}",
    "/search%20x",
];

static TABLE: LazyLock<RouteTable<usize>> = LazyLock::new(|| {
    let routes = TEMPLATES
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let template = PathTemplate::parse(text).expect("fixed templates parse");
            ("GET".to_owned(), template, index)
        })
        .collect();
    RouteTable::new(routes)
});

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = parse_request_path(data) {
        assert_unambiguous(&path, data);
        black_box(TABLE.lookup("GET", &path));
    }
    // The same bytes as a template, matched against a few fixed paths.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(template) = PathTemplate::parse(text) {
        black_box(template.literal_count());
        for raw in ["/", "/tickets/42", "/a/b/c/d", "/search%20x"] {
            if let Ok(path) = parse_request_path(raw.as_bytes()) {
                black_box(template.matches(&path));
            }
        }
    }
});

fn assert_unambiguous(path: &SafePath<'_>, data: &[u8]) {
    assert_eq!(path.raw().as_bytes(), data);
    for segment in path.segments() {
        assert!(!segment.is_empty(), "empty segment in {:?}", path.raw());
        assert!(segment != "." && segment != "..", "dot segment in {:?}", path.raw());
        assert!(!segment.contains(['/', '\\']), "separator in {:?}", path.raw());
        assert!(!segment.chars().any(char::is_control), "control in {:?}", path.raw());
    }
}
