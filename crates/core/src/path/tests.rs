use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use proptest::prelude::*;

use super::*;

fn parse(raw: &str) -> Result<SafePath<'_>, PathError> {
    parse_request_path(raw.as_bytes())
}

fn template(text: &str) -> PathTemplate {
    PathTemplate::parse(text).unwrap()
}

fn path(raw: &str) -> SafePath<'_> {
    parse(raw).unwrap()
}

#[test]
fn malicious_paths_are_refused_with_a_precise_reason() {
    use PathError::*;
    let cases: &[(&[u8], PathError)] = &[
        (b"/a/../b", ParentSegment),
        (b"/..", ParentSegment),
        (b"/a/..;jsessionid=1/b", ParentSegment),
        (b"/a/.;x/b", CurrentSegment),
        (b"/a/.", CurrentSegment),
        (b"/./a", CurrentSegment),
        (b"/a/%2e%2e/b", EncodedDot),
        (b"/a/%2E", EncodedDot),
        (b"/a/.%2e/b", EncodedDot),
        (b"/file%2ejson", EncodedDot),
        (b"/a%2fb", EncodedSlash),
        (b"/a%2Fb", EncodedSlash),
        (b"/a%5cb", EncodedBackslash),
        (b"/a%5C..%5Cb", EncodedBackslash),
        (b"/a//b", EmptySegment),
        (b"//", EmptySegment),
        (b"/tickets/", EmptySegment),
        (b"/a\\b", Backslash),
        (b"/a\\..\\b", Backslash),
        (b"/%ff", InvalidUtf8),
        (b"/%c0%ae", InvalidUtf8),
        (b"/%c0%af", InvalidUtf8),
        (b"/%e0%80%ae", InvalidUtf8),
        (b"/%ed%a0%80", InvalidUtf8),
        (b"/a%00", ControlCharacter),
        (b"/a\0b", ControlCharacter),
        (b"/a%0a", ControlCharacter),
        (b"/a\tb", ControlCharacter),
        (b"/a%7f", ControlCharacter),
        (b"/a%c2%85", ControlCharacter),
        (b"/a%", InvalidPercentEncoding),
        (b"/a%2", InvalidPercentEncoding),
        (b"/a%zz", InvalidPercentEncoding),
        (b"/a%+1", InvalidPercentEncoding),
        (b"/a/%252e%252e/b", DoubleEncoding),
        (b"/a%252F", DoubleEncoding),
        (b"/caf\xc3\xa9", NonAscii),
        (b"/a\xff", NonAscii),
        (b"/a?b", ForbiddenCharacter('?')),
        (b"/a#b", ForbiddenCharacter('#')),
        (b"/a b", ForbiddenCharacter(' ')),
        (b"a/b", NotAbsolute),
        (b"", NotAbsolute),
        (b"%2fa", NotAbsolute),
    ];
    for (raw, expected) in cases {
        let shown = String::from_utf8_lossy(raw);
        assert_eq!(parse_request_path(raw), Err(expected.clone()), "{shown}");
    }
}

#[test]
fn overlong_paths_are_refused() {
    let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(
        parse(&long),
        Err(PathError::TooLong {
            len: MAX_PATH_LEN + 1
        })
    );
    assert!(parse(&long[..MAX_PATH_LEN]).is_ok());
}

#[test]
fn ordinary_paths_are_accepted_and_decoded() {
    let cases: &[(&str, &[&str])] = &[
        ("/", &[]),
        ("/tickets/42", &["tickets", "42"]),
        ("/search%20x", &["search x"]),
        ("/caf%C3%A9", &["café"]),
        ("/a..b/...", &["a..b", "..."]),
        ("/compare/v1...v2", &["compare", "v1...v2"]),
        ("/a;b=c/d:e@f", &["a;b=c", "d:e@f"]),
        ("/.well-known/x", &[".well-known", "x"]),
        ("/100%25", &["100%"]),
        ("/%25zz", &["%zz"]),
        ("/~user/a+b/(x)", &["~user", "a+b", "(x)"]),
    ];
    for (raw, segments) in cases {
        let safe = path(raw);
        assert_eq!(safe.raw(), *raw);
        assert_eq!(safe.segments(), *segments, "{raw}");
    }
}

#[test]
fn error_messages_are_lowercase_and_precise() {
    assert_eq!(PathError::ParentSegment.to_string(), "`..` segment");
    assert_eq!(PathError::EncodedSlash.to_string(), "encoded slash (`%2f`)");
    assert_eq!(
        PathError::TooLong { len: 5000 }.to_string(),
        "path is 5000 bytes, longer than 4096"
    );
}

#[test]
fn templates_parse_literals_parameters_and_a_final_rest() {
    let tickets = template("/tickets/{id}");
    assert_eq!(tickets.as_str(), "/tickets/{id}");
    assert_eq!(tickets.literal_count(), 1);
    assert_eq!(template("/").literal_count(), 0);
    assert_eq!(template("/repos/{owner}/{repo}/issues").literal_count(), 2);
    assert_eq!(template("/files/{path*}").literal_count(), 1);
    assert_eq!(template("/search%20all").literal_count(), 1);
}

#[test]
fn bad_templates_are_refused() {
    use TemplateError::*;
    let cases = [
        ("tickets", NotAbsolute),
        ("", NotAbsolute),
        ("/tickets/", EmptySegment),
        ("/a//b", EmptySegment),
        ("/a/{id}.json", MixedSegment("{id}.json".into())),
        ("/a/{id", MixedSegment("{id".into())),
        ("/a/}", MixedSegment("}".into())),
        ("/a/{}", InvalidName(String::new())),
        ("/a/{1x}", InvalidName("1x".into())),
        ("/a/{a-b}", InvalidName("a-b".into())),
        ("/a/{*}", InvalidName(String::new())),
        ("/{id}/{id}", DuplicateName("id".into())),
        ("/{id}/{id*}", DuplicateName("id".into())),
        ("/{rest*}/x", RestNotLast("rest".into())),
        ("/{rest*}/{more*}", RestNotLast("rest".into())),
    ];
    for (text, expected) in cases {
        assert_eq!(PathTemplate::parse(text).unwrap_err(), expected, "{text}");
    }
    for text in ["/a/..", "/a/.", "/a%2fb", "/a\\b", "/%ff", "/a%00"] {
        let error = PathTemplate::parse(text).unwrap_err();
        assert!(matches!(error, UnsafeLiteral { .. }), "{text}: {error}");
    }
    let message = PathTemplate::parse("/a/..").unwrap_err().to_string();
    assert_eq!(
        message,
        "literal segment `..` is not a safe path segment: `..` segment"
    );
    assert_eq!(
        RestNotLast("r".into()).to_string(),
        "`{r*}` must be the last segment"
    );
}

#[test]
fn parameters_match_exactly_one_segment() {
    let tickets = template("/tickets/{id}");
    assert!(tickets.matches(&path("/tickets/42")));
    assert!(tickets.matches(&path("/tickets/a%20b")));
    assert!(!tickets.matches(&path("/tickets")));
    assert!(!tickets.matches(&path("/tickets/42/comments")));
    assert!(!tickets.matches(&path("/Tickets/42")));
    assert!(template("/").matches(&path("/")));
    assert!(!template("/").matches(&path("/a")));
    assert!(!template("/{x}").matches(&path("/")));
}

#[test]
fn a_rest_parameter_matches_one_or_more_segments() {
    let files = template("/files/{path*}");
    assert!(files.matches(&path("/files/a")));
    assert!(files.matches(&path("/files/a/b/c")));
    assert!(!files.matches(&path("/files")));
    assert!(!files.matches(&path("/other/a")));
}

#[test]
fn literals_compare_decoded() {
    assert!(template("/search%20all").matches(&path("/search%20all")));
    assert!(template("/search%20all").matches(&path("/search%20%61ll")));
    assert!(template("/caf%C3%A9").matches(&path("/caf%c3%a9")));
}

#[test]
fn same_shape_ignores_parameter_names_only() {
    assert!(template("/t/{id}").same_shape(&template("/t/{key}")));
    assert!(template("/f/{a*}").same_shape(&template("/f/{b*}")));
    assert!(template("/a%20b").same_shape(&template("/a%20%62")));
    assert!(!template("/t/{id}").same_shape(&template("/t/{id*}")));
    assert!(!template("/t/{id}").same_shape(&template("/t/new")));
    assert!(!template("/t/{id}").same_shape(&template("/t/{id}/x")));
    assert!(!template("/").same_shape(&template("/{x}")));
}

fn table() -> RouteTable<&'static str> {
    let routes = [
        ("GET", "/tickets/{id}", "ticket"),
        ("GET", "/tickets/new", "new-form"),
        ("POST", "/tickets", "create"),
        ("GET", "/{any*}", "fallback"),
        ("GET", "/a/{x}/c", "x-then-c"),
        ("GET", "/a/b/{y}", "b-then-y"),
        ("GET", "/files/{name*}", "files-rest"),
        ("GET", "/files/{name}", "files-one"),
        ("GET", "/", "root"),
    ];
    RouteTable::new(
        routes
            .into_iter()
            .map(|(method, text, value)| (method.to_owned(), template(text), value))
            .collect(),
    )
}

#[test]
fn the_most_literal_route_wins() {
    let table = table();
    let lookup = |method, raw| table.lookup(method, &path(raw)).copied();
    assert_eq!(lookup("GET", "/tickets/new"), Some("new-form"));
    assert_eq!(lookup("GET", "/tickets/7"), Some("ticket"));
    assert_eq!(lookup("POST", "/tickets"), Some("create"));
    assert_eq!(lookup("GET", "/tickets"), Some("fallback"));
    assert_eq!(lookup("GET", "/"), Some("root"));
    assert_eq!(lookup("DELETE", "/tickets/7"), None);
    assert_eq!(lookup("get", "/tickets/7"), None);
}

#[test]
fn overlapping_shapes_resolve_deterministically() {
    let table = table();
    let lookup = |raw| table.lookup("GET", &path(raw)).copied();
    // Both have two literals; the one whose literals come first wins.
    assert_eq!(lookup("/a/b/c"), Some("b-then-y"));
    assert_eq!(lookup("/a/z/c"), Some("x-then-c"));
    // A single-segment parameter beats a rest parameter, whatever the order declared.
    assert_eq!(lookup("/files/one"), Some("files-one"));
    assert_eq!(lookup("/files/one/two"), Some("files-rest"));
    assert_eq!(table.len(), 9);
}

#[test]
fn declaration_order_breaks_exact_ties() {
    let routes = vec![
        ("GET".to_owned(), template("/t/{a}"), 1),
        ("GET".to_owned(), template("/t/{b}"), 2),
    ];
    assert_eq!(
        RouteTable::new(routes).lookup("GET", &path("/t/x")),
        Some(&1)
    );
}

/// Encodes what a path segment cannot carry raw; leaves `.` alone.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'?')
    .add(b'#');

fn assert_unambiguous(safe: &SafePath<'_>) -> Result<(), TestCaseError> {
    let joined = format!("/{}", safe.segments().join("/"));
    prop_assert!(!joined.contains("//") || safe.segments().is_empty());
    for segment in safe.segments() {
        prop_assert!(!segment.is_empty());
        prop_assert!(segment != "." && segment != "..");
        prop_assert!(!segment.contains(['/', '\\']));
        prop_assert!(!segment.chars().any(char::is_control));
    }
    prop_assert!(!joined.split('/').any(|segment| segment == ".."));
    Ok(())
}

proptest! {
    #[test]
    fn parse_never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(safe) = parse_request_path(&raw) {
            prop_assert_eq!(safe.raw().as_bytes(), raw.as_slice());
            assert_unambiguous(&safe)?;
        }
    }

    #[test]
    fn accepted_paths_rejoin_without_dot_segments_or_double_slashes(
        raw in "/[./%25eEfFcC0a\\\\;]{0,40}"
    ) {
        if let Ok(safe) = parse(&raw) {
            assert_unambiguous(&safe)?;
        }
    }

    #[test]
    fn encoded_segments_decode_back(segments in proptest::collection::vec("[a-zA-Z0-9 _~%?#é-]{1,8}", 1..6)) {
        let raw: Vec<String> = segments
            .iter()
            .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
            .collect();
        let raw = format!("/{}", raw.join("/"));
        match parse(&raw) {
            Ok(safe) => prop_assert_eq!(safe.segments(), segments.as_slice()),
            // `%` followed by two hex digits encodes to `%25XX`, refused as double encoding.
            Err(error) => prop_assert_eq!(error, PathError::DoubleEncoding),
        }
    }

    #[test]
    fn template_parse_never_panics(text in ".{0,60}", raw in "/[a-z{}*/.%]{0,30}") {
        if let (Ok(template), Ok(safe)) = (PathTemplate::parse(&text), parse(&raw)) {
            let _ = template.matches(&safe);
        }
    }
}

#[test]
fn below_is_the_same_as_parsing_the_tail() {
    for (whole, skip, tail) in [
        ("/tools/tickets/tickets/a%20b", 2, "/tickets/a%20b"),
        ("/tools/tickets", 2, "/"),
        ("/tools/tickets/x", 2, "/x"),
        ("/a", 0, "/a"),
        ("/", 1, "/"),
    ] {
        let below = path(whole).below(skip);
        assert_eq!(below, path(tail), "{whole} below {skip}");
    }
}

#[test]
fn compatibility_forms_of_dot_slash_and_friends_are_refused() {
    for (raw, plain) in [
        ("/a/%EF%BC%8E%EF%BC%8E/etc", '.'),
        ("/a/x%EF%BC%8Fy", '/'),
        ("/a/%EF%BC%BCx", '\\'),
        ("/a/%E2%80%A5", '.'),
        ("/a/%EF%B9%92", '.'),
        ("/a/%EF%BC%9Bjsessionid", ';'),
        ("/a/%EF%BC%83frag", '#'),
    ] {
        assert!(
            matches!(parse(raw), Err(PathError::CompatibilityForm { plain: p, .. }) if p == plain),
            "{raw}: {:?}",
            parse(raw)
        );
    }
    // Other non-ASCII text is data.
    assert!(parse("/a/caf%C3%A9").is_ok());
}

#[test]
fn semicolons_raw_or_encoded_are_found() {
    for raw in ["/a;b", "/a/%3bx", "/a/%3B", "/x;"] {
        assert!(has_semicolon(raw), "{raw}");
    }
    for raw in ["/a/b", "/a/%3c", "/a/3b"] {
        assert!(!has_semicolon(raw), "{raw}");
    }
}

#[test]
fn template_parameters_are_read_decoded() {
    let template = PathTemplate::parse("/orders/{id}/files/{rest*}").unwrap();
    let path = parse("/orders/a%20b/files/x/y.txt").unwrap();
    assert!(template.matches(&path));
    assert!(template.has_param("id") && template.has_param("rest"));
    assert!(!template.has_param("orders"));
    assert_eq!(template.param("id", &path).as_deref(), Some("a b"));
    assert_eq!(template.param("rest", &path).as_deref(), Some("x/y.txt"));
    assert_eq!(template.param("missing", &path), None);
}
