use proptest::prelude::*;

use super::*;
use crate::mcp::jsonrpc::Id;

/// What the reading of a message came to: the outcome of a response, or its kind.
fn outcome(read: Result<RawMessage<'_, &RawValue, Written>, ErrorObject>) -> String {
    match read {
        Ok(RawMessage::Response { id, outcome }) => format!("{id:?} {outcome:?}"),
        Ok(RawMessage::Request { id, method, params }) => {
            format!("{id:?} {method} {:?}", params.map(RawValue::get))
        }
        Ok(RawMessage::Notification { method, params }) => {
            format!("{method} {:?}", params.map(RawValue::get))
        }
        Err(error) => format!("{error:?}"),
    }
}

/// The two-pass reading: the message with its result as text, then the result's members.
fn two_passes(bytes: &[u8]) -> String {
    outcome(super::super::parse(bytes).map(|message| match message {
        RawMessage::Response { id, outcome } => RawMessage::Response {
            id,
            outcome: outcome.map(Written::read),
        },
        RawMessage::Request { id, method, params } => RawMessage::Request { id, method, params },
        RawMessage::Notification { method, params } => RawMessage::Notification { method, params },
    }))
}

#[test]
fn a_result_is_its_text_as_written_with_its_members() {
    let text = br#"{"jsonrpc":"2.0","id":3,"result": { "content" :[{"type":"text"}], "resultType":"complete" } }"#;
    let Some(RawMessage::Response {
        id,
        outcome: Ok(written),
    }) = in_one_pass(text)
    else {
        panic!("read in one pass");
    };
    assert_eq!(id, Id::Number(3));
    assert_eq!(
        written.get(),
        r#"{ "content" :[{"type":"text"}], "resultType":"complete" }"#
    );
    let members = written.members().unwrap();
    assert_eq!(
        members,
        [("content".into(), b'['), ("resultType".into(), b'"')]
    );
    assert_eq!(outcome(from_server(text)), two_passes(text));
}

#[test]
fn a_repeat_or_an_unreadable_key_leaves_the_text_without_members() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"content":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"cont\u0065nt":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"\ud800":[]}}"#,
    ] {
        let Ok(RawMessage::Response {
            outcome: Ok(written),
            ..
        }) = from_server(text.as_bytes())
        else {
            panic!("{text} is read");
        };
        assert!(written.members().is_none(), "{text}");
        assert_eq!(
            outcome(from_server(text.as_bytes())),
            two_passes(text.as_bytes())
        );
    }
}

#[test]
fn what_one_pass_leaves_is_read_as_before() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{ }}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":[1]}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":"x"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"a":1},"result":{"a":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"a":1},"error":{"code":1,"message":"m"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}"#,
        r#"{"jsonrpc":"2.0","result":{"a":1}}"#,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"x\":\"\u{fffd}\",\"result\":{\"a\":1}}",
        r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"a":1}"#,
        "not json",
    ] {
        assert_eq!(
            outcome(from_server(text.as_bytes())),
            two_passes(text.as_bytes()),
            "{text}"
        );
    }
    let mut invalid = br#"{"jsonrpc":"2.0","id":1,"x":"?","result":{"a":1}}"#.to_vec();
    if let Some(byte) = invalid.iter_mut().find(|byte| **byte == b'?') {
        *byte = 0xff;
    }
    assert!(in_one_pass(&invalid).is_none());
    assert_eq!(outcome(from_server(&invalid)), two_passes(&invalid));
}

/// A value of a few shapes, as JSON text with odd spacing.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1".to_owned()),
        Just(" null".to_owned()),
        Just(r#""t\u0041\n""#.to_owned()),
        Just(r#""}{\"""#.to_owned()),
        Just("[1, {\"a\":2}]".to_owned()),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec((key(), inner), 0..3).prop_map(|members| object(&members))
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""content""#.to_owned()),
        Just(r#""resultType""#.to_owned()),
        Just(r#""\u0061""#.to_owned()),
        Just(r#""a""#.to_owned()),
        Just(r#""{\"""#.to_owned()),
        Just(r#""\ud800""#.to_owned()),
    ]
}

fn object(members: &[(String, String)]) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{k}\n: {v} "))
        .collect();
    format!("{{ {}\t}}", members.join(" ,"))
}

proptest! {
    /// One pass reads every message as the two-pass reading does.
    #[test]
    fn one_pass_reads_as_two(
        result in prop_oneof![
            prop::collection::vec((key(), value()), 0..5).prop_map(|members| object(&members)),
            value(),
        ],
        before in prop::bool::ANY,
        error in prop::bool::ANY,
    ) {
        let result = format!(r#""result" : {result}"#);
        let mut members = vec![r#""jsonrpc":"2.0""#.to_owned(), r#""id":"x""#.to_owned()];
        if before {
            members.insert(0, result);
        } else {
            members.push(result);
        }
        if error {
            members.push(r#""error":{"code":1,"message":"m"}"#.to_owned());
        }
        let text = format!("{{{}}}", members.join(","));
        prop_assert_eq!(outcome(from_server(text.as_bytes())), two_passes(text.as_bytes()));
    }
}
