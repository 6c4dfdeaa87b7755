use gatehouse_core::mcp::raw::{self, RawMessage};
use serde_json::json;

use super::*;

/// A server's result as `from_server` reads it from a response carrying `result`.
fn written(result: &str) -> Written {
    let text = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{result}}}"#);
    match raw::from_server(text.as_bytes()) {
        Ok(RawMessage::Response {
            outcome: Ok(written),
            ..
        }) => written,
        other => panic!("{result}: {other:?}"),
    }
}

fn checked(kind: Gated, result: &str) -> Result<Reply, Refusal> {
    well_formed(kind, Reply::Raw(Raw::new(written(result))))
}

fn reason(refusal: Refusal) -> String {
    match refusal {
        Refusal::UpstreamUnavailable { reason } => reason,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_well_formed_answer_passes_as_written_with_whether_it_has_a_result_type() {
    let cases = [
        (Gated::Tool, r#"{"content":[]}"#, Some(false)),
        (
            Gated::Tool,
            r#"{ "content" : [1], "resultType":"complete" }"#,
            Some(true),
        ),
        (Gated::Resource, r#"{"contents":[]}"#, Some(false)),
        (
            Gated::Prompt,
            r#"{"messages":[],"resultType":1}"#,
            Some(true),
        ),
    ];
    for (kind, result, result_type) in cases {
        let Ok(Reply::Raw(raw)) = checked(kind, result) else {
            panic!("{result} passes");
        };
        assert_eq!((raw.text.get(), raw.result_type), (result, result_type));
    }
}

#[test]
fn an_answer_without_its_array_is_refused() {
    let cases = [
        (
            Gated::Tool,
            r#"{"content":{}}"#,
            "`tools/call` answer has no `content` array",
        ),
        (
            Gated::Tool,
            r#"{"contents":[]}"#,
            "`tools/call` answer has no `content` array",
        ),
        (
            Gated::Tool,
            "[1]",
            "`tools/call` answer has no `content` array",
        ),
        (
            Gated::Tool,
            "{}",
            "`tools/call` answer has no `content` array",
        ),
        (
            Gated::Resource,
            r#"{"contents":"x"}"#,
            "`resources/read` answer has no `contents` array",
        ),
        (
            Gated::Prompt,
            r#"{"content":[]}"#,
            "`prompts/get` answer has no `messages` array",
        ),
    ];
    for (kind, result, why) in cases {
        let refusal = checked(kind, result).unwrap_err();
        assert_eq!(reason(refusal), format!("the server's {why}"), "{result}");
    }
}

#[test]
fn an_answer_repeating_a_member_or_with_an_unreadable_key_is_refused() {
    for result in [
        r#"{"content":[],"content":[]}"#,
        r#"{"content":[],"c\u006fntent":{}}"#,
        r#"{"content":[],"\ud800":1}"#,
    ] {
        let refusal = checked(Gated::Tool, result).unwrap_err();
        assert_eq!(
            reason(refusal),
            "the server's `tools/call` answer repeats a member",
            "{result}"
        );
    }
}

#[test]
fn a_tree_and_an_error_are_checked_as_before() {
    let tree = Reply::Result(json!({"content": []}));
    assert_eq!(well_formed(Gated::Tool, tree.clone()).unwrap(), tree);
    let refusal = well_formed(Gated::Tool, Reply::Result(json!({"content": 1}))).unwrap_err();
    assert!(reason(refusal).contains("no `content` array"));
    let error = Reply::Error(ErrorObject::new(-1, "m"));
    assert_eq!(well_formed(Gated::Tool, error.clone()).unwrap(), error);
}
