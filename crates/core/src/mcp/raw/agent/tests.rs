use super::*;
use crate::mcp::jsonrpc::{self, Message};

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_ticket","arguments":{"id":0},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// A message both parsers accept is read the same way, params included.
fn agrees(text: &str) {
    let borrowed = parse(text.as_bytes()).unwrap();
    let tree = jsonrpc::parse(text.as_bytes()).unwrap();
    match (borrowed, tree) {
        (
            AgentMessage::Request { id, method, params },
            Message::Request {
                id: i,
                method: m,
                params: p,
            },
        ) => {
            assert_eq!((id, method.as_ref()), (i, m.as_str()));
            assert_eq!(params.to_map().unwrap(), p);
        }
        (
            AgentMessage::Notification { method, params },
            Message::Notification {
                method: m,
                params: p,
            },
        ) => {
            assert_eq!(method, m);
            assert_eq!(params.to_map().unwrap(), p);
        }
        (AgentMessage::Response { id }, Message::Response { id: i, .. }) => assert_eq!(id, i),
        (borrowed, tree) => panic!("{text}: {borrowed:?} is not {tree:?}"),
    }
}

#[test]
fn messages_both_parsers_accept_are_read_alike() {
    for text in [
        CALL,
        r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#,
        r#"{"method":"ping","id":7,"jsonrpc":"2.0","params":{}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
        r#"{"jsonrpc":"2.0","id":2,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"x"}}"#,
        r#" {"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":1,"b":2},"c":[1,1]}} "#,
    ] {
        agrees(text);
    }
}

#[test]
fn params_are_read_member_by_member() {
    let Ok(AgentMessage::Request { params, .. }) = parse(CALL.as_bytes()) else {
        panic!("the call parses");
    };
    let keys: Vec<&str> = params.members().iter().map(|(key, _)| key).collect();
    assert_eq!(keys, ["name", "arguments", "_meta"]);
    assert_eq!(params.str("name").as_deref(), Some("get_ticket"));
    assert_eq!(
        params.get("arguments").map(RawValue::get),
        Some(r#"{"id":0}"#)
    );
    assert_eq!(params.str("arguments"), None);
    assert_eq!(params.get("missing").map(RawValue::get), None);
    let meta = params.meta().unwrap();
    assert_eq!(meta.len(), 2);
    assert_eq!(
        meta.str("io.modelcontextprotocol/protocolVersion")
            .as_deref(),
        Some("2026-07-28")
    );
    let written = CALL.find(r#"{"name""#).map(|at| &CALL[at..CALL.len() - 1]);
    assert_eq!(params.text().map(RawValue::get), written);
}

#[test]
fn escaped_strings_are_decoded_and_odd_meta_is_no_envelope() {
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get\u005fticket","_meta":[1]}}"#;
    let Ok(AgentMessage::Request { params, .. }) = parse(text.as_bytes()) else {
        panic!("the call parses");
    };
    assert!(matches!(params.str("name"), Some(Cow::Owned(name)) if name == "get_ticket"));
    assert!(params.meta().is_none());
    let absent = Params::read(None).unwrap();
    assert!(absent.members().is_empty() && absent.text().is_none());
    assert_eq!(absent.to_map().unwrap(), Map::new());
}

#[test]
fn shape_errors_have_the_tree_parsers_codes_and_messages() {
    for text in [
        "",
        "{",
        "[]",
        "3",
        r#""x""#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
        // Negative zero is a float to serde_json, not an integer id (found by `mcp_agent`).
        r#"{"jsonrpc":"2.0","id":-0,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":[],"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":""}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
        r#"{"jsonrpc":"2.0","method":"x","params":"p"}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"{"jsonrpc":"2.0"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
    ] {
        let borrowed = parse(text.as_bytes()).unwrap_err();
        let tree = jsonrpc::parse(text.as_bytes()).unwrap_err();
        assert_eq!(borrowed.code, tree.code, "{text}");
        if tree.code != code::PARSE_ERROR {
            // A syntax error's position may differ between the readers; a shape error's
            // message is the agent's only clue and must not.
            assert_eq!(borrowed.message, tree.message, "{text}");
        }
    }
}

#[test]
fn a_repeated_member_is_refused_where_a_tree_keeps_the_last() {
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
            code::INVALID_REQUEST,
            "repeats `id`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
            code::INVALID_PARAMS,
            "`params` repeats `name`",
        ),
        (
            r#"{"jsonrpc":"2.0","method":"x","params":{"a":1,"a":1}}"#,
            code::INVALID_PARAMS,
            "`params` repeats `a`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"v":"1","v":"2"}}}"#,
            code::INVALID_PARAMS,
            "`params._meta` repeats `v`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"na\u006de":"a","name":"b"}}"#,
            code::INVALID_PARAMS,
            "`params` repeats `name`",
        ),
    ];
    for (text, code, why) in cases {
        assert!(jsonrpc::parse(text.as_bytes()).is_ok(), "{text}");
        let error = parse(text.as_bytes()).unwrap_err();
        assert_eq!(error.code, code, "{text}");
        assert!(error.message.contains(why), "{text}: {}", error.message);
    }
}

#[test]
fn a_long_params_object_is_checked_for_repeats_too() {
    let members: Vec<String> = (0..40).map(|n| format!(r#""k{n}":{n}"#)).collect();
    let mut text = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{{}}}}}"#,
        members.join(",")
    );
    agrees(&text);
    text = text.replace(r#""k39""#, r#""k7""#);
    let error = parse(text.as_bytes()).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (code::INVALID_PARAMS, "`params` repeats `k7`")
    );
}

#[test]
fn text_a_tree_cannot_hold_is_refused_as_not_json_when_read_whole() {
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\ud800"}}"#;
    assert_eq!(
        jsonrpc::parse(text.as_bytes()).unwrap_err().code,
        code::PARSE_ERROR
    );
    let Ok(AgentMessage::Request { params, .. }) = parse(text.as_bytes()) else {
        panic!("the borrowed reader reads past the value");
    };
    assert_eq!(params.to_map().unwrap_err().code, code::PARSE_ERROR);
}

/// What a reader made of a message, for comparing the two.
fn summary(message: &AgentMessage<'_>) -> String {
    let params = |params: &Params<'_>| {
        let members: Vec<(&str, &str)> =
            params.members().iter().map(|(k, v)| (k, v.get())).collect();
        let meta: Option<Vec<(&str, &str)>> = params
            .meta()
            .map(|meta| meta.iter().map(|(k, v)| (k, v.get())).collect());
        format!(
            "{members:?} {meta:?} {:?}",
            params.text().map(RawValue::get)
        )
    };
    match message {
        AgentMessage::Request {
            id,
            method,
            params: p,
        } => format!("{id:?} {method} {}", params(p)),
        AgentMessage::Notification { method, params: p } => format!("{method} {}", params(p)),
        AgentMessage::Response { id } => format!("{id:?}"),
    }
}

#[test]
fn one_pass_reads_a_call_as_two_passes_do() {
    let one = in_one_pass(CALL.as_bytes()).unwrap();
    let two = in_two_passes(CALL.as_bytes()).unwrap();
    assert_eq!(summary(&one), summary(&two));
}

#[test]
fn what_one_pass_leaves_is_refused_by_two() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":null}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":1,"a":2}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"v":1,"v":2}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"\ud800":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{},"params":{}}"#,
    ] {
        assert!(in_one_pass(text.as_bytes()).is_none(), "{text}");
        assert!(in_two_passes(text.as_bytes()).is_err(), "{text}");
    }
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A value of a few shapes, written as JSON text, with odd spacing and escapes.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("1".to_owned()),
            Just("null".to_owned()),
            Just(r#""t\u0041\n""#.to_owned()),
            Just(r#""\ud800""#.to_owned()),
            Just("[1, {\"a\":2}]".to_owned()),
            Just("1e400".to_owned()),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop::collection::vec((key(), inner), 0..3).prop_map(|members| object(&members))
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""a""#.to_owned()),
            Just(r#""b""#.to_owned()),
            Just(r#""\u0061""#.to_owned()),
            Just(r#""_meta""#.to_owned()),
            Just(r#""\ud800""#.to_owned()),
        ]
    }

    fn object(members: &[(String, String)]) -> String {
        let members: Vec<String> = members.iter().map(|(k, v)| format!("{k} : {v}")).collect();
        format!("{{ {} }}", members.join(" ,"))
    }

    fn params() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            prop::collection::vec((key(), value()), 0..5).prop_map(|members| object(&members)),
            value(),
        ])
    }

    proptest! {
        /// Where one pass reads a message, two read it alike; where it leaves one, two
        /// refuse it or read it alike (a `params` that is no object).
        #[test]
        fn one_pass_agrees_with_two(params in params(), id in prop::bool::ANY, tail in prop::bool::ANY) {
            let mut text = String::from(r#"{"jsonrpc":"2.0","method":"m""#);
            if id {
                text.push_str(r#","id":7"#);
            }
            if let Some(params) = &params {
                text.push_str(&format!(r#", "params" :{params}"#));
            }
            if tail {
                text.push_str(r#","x":[1]"#);
            }
            text.push('}');
            let two = in_two_passes(text.as_bytes());
            match in_one_pass(text.as_bytes()) {
                Some(one) => prop_assert_eq!(summary(&one), summary(&two.unwrap())),
                None => prop_assert!(two.is_err(), "{}", text),
            }
        }
    }
}
