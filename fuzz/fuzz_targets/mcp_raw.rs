//! MCP servers' messages read borrowed (`raw::parse`), as Gatehouse reads every answer it
//! may pass on as written, and a result's members (`raw::members`), as the answer-shape
//! check reads them. Differential against the tree parser (`jsonrpc::parse`): a message
//! both accept is read the same way (a result, once parsed, is the tree parser's); the
//! borrowed reader refuses only a repeated member that the tree parser accepts; what it
//! accepts and the tree parser refuses is text only a tree cannot hold (a lone surrogate
//! escape, a number out of range); and the members of an object are the tree's. The
//! reader for servers' answers (`raw::from_server`), which reads a result's members with
//! its message, reads every message as `raw::parse` then `Written::read` do.
#![no_main]

use std::fmt;

use gatehouse_core::mcp::jsonrpc::{self, Message, code};
use gatehouse_core::mcp::raw::{self, RawMessage, Written};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    read_once_as_twice(data);
    let borrowed = raw::parse(data);
    let tree = jsonrpc::parse(data);
    match (borrowed, tree) {
        (Ok(borrowed), Ok(tree)) => agree(borrowed, tree),
        (Ok(_), Err(error)) => assert_eq!(error.code, code::PARSE_ERROR, "{error:?}"),
        (Err(error), Ok(_)) => assert_eq!(error.code, code::INVALID_REQUEST, "{error:?}"),
        (Err(borrowed), Err(tree)) => {
            if borrowed.code == code::PARSE_ERROR {
                assert_eq!(tree.code, code::PARSE_ERROR, "{tree:?}");
            }
        }
    }
});

fn read_once_as_twice(data: &[u8]) {
    match (raw::from_server(data), raw::parse(data)) {
        (Ok(RawMessage::Response { id, outcome }), Ok(RawMessage::Response { id: i, outcome: o })) => {
            assert_eq!(id, i);
            assert_eq!(outcome, o.map(Written::read));
        }
        (
            Ok(RawMessage::Request { id, method, params }),
            Ok(RawMessage::Request { id: i, method: m, params: p }),
        ) => {
            assert_eq!((id, method), (i, m));
            assert_eq!(params.map(RawValue::get), p.map(RawValue::get));
        }
        (
            Ok(RawMessage::Notification { method, params }),
            Ok(RawMessage::Notification { method: m, params: p }),
        ) => {
            assert_eq!(method, m);
            assert_eq!(params.map(RawValue::get), p.map(RawValue::get));
        }
        (Err(once), Err(twice)) => assert_eq!(once, twice),
        (once, twice) => panic!("{once:?} is not {twice:?}"),
    }
}

fn agree(borrowed: RawMessage<'_>, tree: Message) {
    match (borrowed, tree) {
        (RawMessage::Request { id, method, .. }, Message::Request { id: i, method: m, .. }) => {
            assert_eq!(id, i);
            assert_eq!(method, m);
        }
        (
            RawMessage::Notification { method, params },
            Message::Notification { method: m, params: p },
        ) => {
            assert_eq!(method, m);
            let params: Option<Map<String, Value>> = match params {
                Some(raw) => serde_json::from_str(raw.get()).ok(),
                None => Some(Map::new()),
            };
            assert_eq!(params.expect("accepted params parse"), p);
        }
        (RawMessage::Response { id, outcome }, Message::Response { id: i, outcome: o }) => {
            assert_eq!(id, i);
            match (outcome, o) {
                (Ok(result), Ok(tree)) => {
                    let parsed: Value = serde_json::from_str(result.get()).expect("result parses");
                    assert_eq!(parsed, tree);
                    check_members(result, &tree);
                }
                (Err(error), Err(tree)) => assert_eq!(error, tree),
                (outcome, tree) => panic!("{outcome:?} is not {tree:?}"),
            }
        }
        (borrowed, tree) => panic!("{borrowed:?} is not {tree:?}"),
    }
}

/// The members read of a result are the tree's; members are refused only when the
/// result is no object or repeats one.
fn check_members(result: &RawValue, tree: &Value) {
    let Some(members) = raw::members(result) else {
        let repeated = keys(result.get()).is_some_and(|mut keys| {
            let written = keys.len();
            keys.sort();
            keys.dedup();
            keys.len() < written
        });
        assert!(!tree.is_object() || repeated, "{}", result.get());
        return;
    };
    let object = tree.as_object().expect("members are an object's");
    assert_eq!(members.len(), object.len());
    for (key, value) in members {
        let parsed: Value = serde_json::from_str(value.get()).expect("a member parses");
        assert_eq!(object.get(key.as_ref()), Some(&parsed));
    }
}

/// An object's keys as written, repeats included (read independently of `raw`).
fn keys(text: &str) -> Option<Vec<String>> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.deserialize_map(Keys).ok()
}
