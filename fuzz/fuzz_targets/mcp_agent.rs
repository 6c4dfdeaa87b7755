//! Agents' messages read borrowed (`raw::agent::parse`), as the MCP face reads every
//! request, `params` member by member. Differential against the tree parser
//! (`jsonrpc::parse`): a message both accept is read the same way (id, method, each
//! member of `params` and of `params._meta`); the borrowed reader refuses only a repeated
//! member (in the message, in `params` or in `params._meta`) that the tree parser
//! accepts, keeping the last; otherwise both refuse a message with the same code, and a
//! shape error with the same message. What it accepts and the tree parser refuses is
//! text only a tree cannot hold (a lone surrogate escape, a number out of range).
#![no_main]

use gatehouse_core::mcp::jsonrpc::{self, ErrorObject, Message, code};
use gatehouse_core::mcp::raw::agent::{self, AgentMessage, Object, Params};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let borrowed = agent::parse(data);
    let tree = jsonrpc::parse(data);
    match (borrowed, tree) {
        (Ok(borrowed), Ok(tree)) => agree(borrowed, tree),
        (Ok(_), Err(error)) => assert_eq!(error.code, code::PARSE_ERROR, "{error:?}"),
        (Err(error), Ok(_)) => assert!(repeat(&error), "{error:?}"),
        (Err(borrowed), Err(tree)) => {
            if borrowed.code == code::PARSE_ERROR {
                assert_eq!(tree.code, code::PARSE_ERROR, "{tree:?}");
            } else if tree.code != code::PARSE_ERROR && !repeat(&borrowed) {
                assert_eq!(borrowed, tree);
            }
        }
    }
});

/// Whether the refusal is the borrowed reader's own, for a repeated member.
fn repeat(error: &ErrorObject) -> bool {
    let codes = [code::INVALID_REQUEST, code::INVALID_PARAMS];
    codes.contains(&error.code) && error.message.contains(" repeats `")
}

fn agree(borrowed: AgentMessage<'_>, tree: Message) {
    match (borrowed, tree) {
        (
            AgentMessage::Request { id, method, params },
            Message::Request {
                id: i,
                method: m,
                params: p,
            },
        ) => {
            assert_eq!(id, i);
            assert_eq!(method, m);
            same_params(&params, &p);
        }
        (
            AgentMessage::Notification { method, params },
            Message::Notification {
                method: m,
                params: p,
            },
        ) => {
            assert_eq!(method, m);
            same_params(&params, &p);
        }
        (AgentMessage::Response { id }, Message::Response { id: i, .. }) => assert_eq!(id, i),
        (borrowed, tree) => panic!("{borrowed:?} is not {tree:?}"),
    }
}

/// The params read are the tree's: whole, member by member, and `_meta`'s members.
fn same_params(params: &Params<'_>, tree: &Map<String, Value>) {
    assert_eq!(&params.to_map().expect("accepted params parse"), tree);
    same_members(params.members(), tree);
    for (key, value) in tree {
        assert_eq!(params.str(key).as_deref(), value.as_str());
    }
    match tree.get("_meta").and_then(Value::as_object) {
        Some(meta) => same_members(params.meta().expect("`_meta` is read"), meta),
        None => assert!(params.meta().is_none()),
    }
}

fn same_members(members: &Object<'_>, tree: &Map<String, Value>) {
    assert_eq!(members.len(), tree.len());
    for (key, value) in members.iter() {
        let parsed: Value = serde_json::from_str(value.get()).expect("a member parses");
        assert_eq!(tree.get(key), Some(&parsed));
        assert_eq!(members.get(key).map(|raw| raw.get()), Some(value.get()));
    }
}
