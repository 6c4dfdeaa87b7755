//! MCP messages from agents and servers: `jsonrpc::parse` never panics, what it accepts
//! re-serialises to a message that parses the same way, and a request's arguments typed
//! against a declaration never panic and never let an ambiguous `path` through.
#![no_main]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::LazyLock;

use gatehouse_core::config::{ArgKind, ArgSpec};
use gatehouse_core::mcp::args::typed;
use gatehouse_core::mcp::jsonrpc::{self, Message};
use gatehouse_core::model::AttrValue;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static DECLARED: LazyLock<BTreeMap<String, ArgSpec>> = LazyLock::new(|| {
    let spec = |kind, required| ArgSpec { kind, required };
    BTreeMap::from([
        ("path".to_owned(), spec(ArgKind::Path, false)),
        ("table".to_owned(), spec(ArgKind::String, false)),
        ("limit".to_owned(), spec(ArgKind::Long, false)),
        ("dry".to_owned(), spec(ArgKind::Bool, false)),
        ("tags".to_owned(), spec(ArgKind::StringSet, false)),
    ])
});

fuzz_target!(|data: &[u8]| {
    let Ok(message) = jsonrpc::parse(data) else {
        return;
    };
    let again = match &message {
        Message::Request { id, method, params } => {
            check_arguments(params.get("arguments"));
            jsonrpc::request(id, method, Value::Object(params.clone()))
        }
        Message::Notification { method, params } => {
            jsonrpc::notification(method, Some(Value::Object(params.clone())))
        }
        Message::Response { id, outcome: Ok(result) } => jsonrpc::result(id, result.clone()),
        Message::Response { id, outcome: Err(error) } => jsonrpc::error(Some(id), error),
    };
    let reparsed = jsonrpc::parse_value(&again).expect("a re-serialised message parses");
    if let (Message::Notification { params, .. }, Message::Notification { params: empty, .. }) =
        (&message, &reparsed)
    {
        // `params: {}` and no params are the same notification.
        assert!(params.is_empty() || params == empty);
    } else {
        assert_eq!(black_box(reparsed), message);
    }
});

fn check_arguments(arguments: Option<&Value>) {
    let Some(Value::Object(arguments)) = arguments else {
        return;
    };
    let Ok(typed) = typed(&DECLARED, arguments) else {
        return;
    };
    if let Some(AttrValue::String(path)) = typed.get("path") {
        assert!(path.starts_with('/'), "relative path {path:?}");
        for segment in path.trim_start_matches('/').trim_end_matches('/').split('/') {
            assert!(path == "/" || !segment.is_empty(), "empty segment in {path:?}");
            assert!(segment != "." && segment != "..", "dot segment in {path:?}");
        }
        assert!(!path.contains('\\'), "backslash in {path:?}");
    }
}
