use super::*;
use crate::mcp::jsonrpc::{self, Message};

/// Every message both parsers accept is read the same way, result and params included.
fn agrees(text: &str) {
    let raw = parse(text.as_bytes()).unwrap();
    let tree = jsonrpc::parse(text.as_bytes()).unwrap();
    match (raw, tree) {
        (
            RawMessage::Request { id, method, .. },
            Message::Request {
                id: i, method: m, ..
            },
        ) => {
            assert_eq!((id, method.as_ref()), (i, m.as_str()));
        }
        (
            RawMessage::Notification { method, params },
            Message::Notification {
                method: m,
                params: p,
            },
        ) => {
            assert_eq!(method, m);
            let params: serde_json::Map<String, Value> = params
                .map_or_else(Default::default, |raw| {
                    serde_json::from_str(raw.get()).unwrap()
                });
            assert_eq!(params, p);
        }
        (RawMessage::Response { id, outcome }, Message::Response { id: i, outcome: o }) => {
            assert_eq!(id, i);
            let outcome = outcome.map(|raw| serde_json::from_str::<Value>(raw.get()).unwrap());
            assert_eq!(outcome, o);
        }
        (raw, tree) => panic!("{text}: {raw:?} is not {tree:?}"),
    }
}

#[test]
fn messages_are_read_as_the_tree_parser_reads_them() {
    for text in [
        r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":"a\"b","method":"sampling/createMessage","params":{"x":1}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#" {"result": {"content": [{"type":"text","text":"é"}]}, "id": 3, "jsonrpc": "2\u002e0"} "#,
        r#"{"jsonrpc":"2.0","id":1,"result":null}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"no","data":{"why":1}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"extra":[1,2]}"#,
    ] {
        agrees(text);
    }
}

#[test]
fn a_result_is_the_text_the_server_wrote() {
    let text = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],  "n":1.50}}"#;
    let Ok(RawMessage::Response {
        outcome: Ok(result),
        ..
    }) = parse(text)
    else {
        panic!("not a result");
    };
    assert_eq!(result.get(), r#"{"content":[],  "n":1.50}"#);
}

#[test]
fn malformed_messages_get_the_codes_the_tree_parser_gives() {
    for text in [
        "{",
        "[1,",
        "[]",
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        "\"x\"",
        "3",
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":2,"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        // Negative zero is a float to serde_json, not an integer id (found by `mcp_agent`).
        r#"{"jsonrpc":"2.0","id":-0,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":""}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":null}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{}} trailing"#,
    ] {
        let raw = parse(text.as_bytes()).err().map(|error| error.code);
        let tree = jsonrpc::parse(text.as_bytes())
            .err()
            .map(|error| error.code);
        assert!(raw.is_some(), "{text}");
        assert_eq!(raw, tree, "{text}");
    }
}

#[test]
fn a_repeated_member_is_refused() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"id":2,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"result":{"content":[]}}"#,
        r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"r\u0065sult":{},"result":{}}"#,
    ] {
        let code = parse(text.as_bytes()).err().map(|error| error.code);
        assert_eq!(code, Some(code::INVALID_REQUEST), "{text}");
    }
}

#[test]
fn members_are_read_in_order_and_a_repeated_one_refused() {
    let object =
        RawValue::from_string(r#"{"b":[1], "a\u0062":{"x":2},"c":null}"#.to_owned()).unwrap();
    let read = members(&object).unwrap();
    let read: Vec<(&str, &str)> = read
        .iter()
        .map(|(key, value)| (key.as_ref(), value.get()))
        .collect();
    assert_eq!(read, [("b", "[1]"), ("ab", r#"{"x":2}"#), ("c", "null")]);
    for text in [r#"{"a":1,"a":2}"#, r#"{"a":1,"\u0061":2}"#, "[1]", "\"x\""] {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        assert!(members(&raw).is_none(), "{text}");
    }
    // Past the pairwise bound, the same answers.
    let many: Vec<String> = (0..40).map(|n| format!("\"k{n}\":{n}")).collect();
    let long = RawValue::from_string(format!("{{{}}}", many.join(","))).unwrap();
    assert_eq!(members(&long).map(|members| members.len()), Some(40));
    let repeated = RawValue::from_string(format!("{{{},\"k7\":0}}", many.join(","))).unwrap();
    assert!(members(&repeated).is_none());
    let empty = RawValue::from_string("{}".to_owned()).unwrap();
    assert_eq!(members(&empty).map(|members| members.len()), Some(0));
}
