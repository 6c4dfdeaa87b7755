use std::collections::BTreeMap;

use super::*;
use crate::config::{ArgSpec, Route};
use crate::model::{Access, DataClass, Intent, Tier};
use crate::path::{PathTemplate, parse_request_path};

fn route(args: &[(&str, ArgSource, ArgKind, bool)]) -> Route {
    let mut specs = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for (name, source, kind, required) in args {
        let spec = ArgSpec {
            kind: *kind,
            required: *required,
        };
        specs.insert((*name).to_owned(), spec);
        sources.insert((*name).to_owned(), *source);
    }
    Route {
        method: "POST".to_owned(),
        template: PathTemplate::parse("/orders/{id}/refund").unwrap(),
        intent: Intent::new("orders.refund"),
        data_class: DataClass::new("internal"),
        tier: Tier::Low,
        access: Access::Write,
        method_param: false,
        matrix_params: false,
        websocket: false,
        args: specs,
        arg_sources: sources,
        risk: None,
    }
}

fn refund() -> Route {
    route(&[
        ("id", ArgSource::Path, ArgKind::Long, true),
        ("amount", ArgSource::Body, ArgKind::Long, true),
        ("reason", ArgSource::Body, ArgKind::String, false),
        ("dry", ArgSource::Query, ArgKind::Bool, false),
        ("tag", ArgSource::Query, ArgKind::StringSet, false),
    ])
}

fn run(
    route: &Route,
    path: &str,
    query: Option<&str>,
    body: &str,
) -> Result<BTreeMap<String, AttrValue>, String> {
    let path = parse_request_path(path.as_bytes()).unwrap();
    let request = Request {
        path: &path,
        query,
        body: Some(body.as_bytes()),
    };
    typed(route, request)
}

#[test]
fn arguments_come_from_path_query_and_body() {
    let typed = run(
        &refund(),
        "/orders/42/refund",
        Some("dry=true&tag=a&tag=b+c&other=1"),
        r#"{"amount": 900, "reason": "late", "extra": [1]}"#,
    )
    .unwrap();
    assert_eq!(typed.get("id"), Some(&AttrValue::Long(42)));
    assert_eq!(typed.get("amount"), Some(&AttrValue::Long(900)));
    assert_eq!(
        typed.get("reason"),
        Some(&AttrValue::String("late".to_owned()))
    );
    assert_eq!(typed.get("dry"), Some(&AttrValue::Bool(true)));
    let tags = AttrValue::Set(vec![
        AttrValue::String("a".to_owned()),
        AttrValue::String("b c".to_owned()),
    ]);
    assert_eq!(typed.get("tag"), Some(&tags));
    assert_eq!(typed.len(), 5, "undeclared fields stay invisible");
}

#[test]
fn optional_arguments_may_be_absent() {
    let typed = run(&refund(), "/orders/7/refund", None, r#"{"amount": 1}"#).unwrap();
    assert_eq!(typed.len(), 2);
}

#[test]
fn wrongly_typed_or_missing_arguments_are_refused_by_name() {
    let cases = [
        ("/orders/x/refund", None, r#"{"amount": 1}"#, "`id`"),
        ("/orders/1/refund", None, r#"{"amount": "900"}"#, "`amount`"),
        ("/orders/1/refund", None, r#"{"amount": 9.5}"#, "`amount`"),
        ("/orders/1/refund", None, r#"{}"#, "`amount`"),
        ("/orders/1/refund", None, "", "`amount`"),
        (
            "/orders/1/refund",
            Some("dry=yes"),
            r#"{"amount": 1}"#,
            "`dry`",
        ),
        ("/orders/+1/refund", None, r#"{"amount": 1}"#, "`id`"),
        ("/orders/01/refund", None, r#"{"amount": 1}"#, "`id`"),
    ];
    for (path, query, body, named) in cases {
        let error = run(&refund(), path, query, body).unwrap_err();
        assert!(error.contains(named), "{path} {query:?} {body}: {error}");
    }
}

#[test]
fn requests_two_parsers_could_read_differently_are_refused() {
    let twice = run(
        &refund(),
        "/orders/1/refund",
        None,
        r#"{"amount": 1, "amount": 900}"#,
    );
    assert!(twice.unwrap_err().contains("twice"));
    let repeated = run(
        &refund(),
        "/orders/1/refund",
        Some("dry=false&dry=true"),
        r#"{"amount": 1}"#,
    );
    assert!(repeated.unwrap_err().contains("more than once"));
    for body in ["[1]", "amount=900", r#"{"amount": 1} {}"#, "\"x\""] {
        assert!(
            run(&refund(), "/orders/1/refund", None, body).is_err(),
            "{body}"
        );
    }
}

#[test]
fn query_values_are_form_decoded() {
    let route = route(&[("q", ArgSource::Query, ArgKind::String, true)]);
    let typed = run(&route, "/orders/1/refund", Some("q=a%2Fb+c"), "").unwrap();
    assert_eq!(typed.get("q"), Some(&AttrValue::String("a/b c".to_owned())));
    assert!(run(&route, "/orders/1/refund", Some("q=%FF"), "").is_err());
}

proptest::proptest! {
    /// Whatever an agent sends, typing answers (typed or refused) and never panics.
    #[test]
    fn any_request_is_typed_or_refused(
        id in "[!-~]{1,12}",
        query in "[ -~]{0,64}",
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
    ) {
        let path = format!("/orders/{id}/refund");
        let Ok(safe) = parse_request_path(path.as_bytes()) else {
            return Ok(());
        };
        let request = Request { path: &safe, query: Some(&query), body: Some(&body) };
        let _ = typed(&refund(), request);
    }

    /// A declared number is the number sent, however the JSON around it is spaced.
    #[test]
    fn a_body_number_reads_back_exactly(amount in proptest::prelude::any::<i64>(), gap in " {0,3}") {
        let body = format!("{{{gap}\"amount\"{gap}:{gap}{amount}{gap}}}");
        let typed = run(&refund(), "/orders/1/refund", None, &body).unwrap();
        proptest::prop_assert_eq!(typed.get("amount"), Some(&AttrValue::Long(amount)));
    }
}
