//! The agent's messages, as Gatehouse's MCP face receives them: read borrowed like a
//! server's ([`super::parse`]), with `params` kept as members (keys decoded, values as
//! written), so the face reads a call's name, envelope and arguments without building a
//! tree of the whole message. A tree of `serde_json` values is costly here: the
//! workspace builds `serde_json` with `preserve_order` (Cedar asks for it), so every
//! object of a tree is an index map hashing each of its keys.
//!
//! It classifies messages as [`crate::mcp::jsonrpc::parse`] does, with the same codes,
//! and refuses what a tree would settle silently: a member repeated in the message
//! (`INVALID_REQUEST`), in `params` or in `params._meta` (`INVALID_PARAMS`). A tree keeps
//! the last of two; the server reading the params Gatehouse forwards might keep the
//! first, and policy must decide on the call the server runs.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{Members, RawMessage, Wire, repeated, text};
use crate::mcp::jsonrpc::{ErrorObject, Id, code};

/// The `params` member MCP reserves for its envelope and extensions.
pub const META: &str = "_meta";

/// One message from an agent, borrowed from the text it was read from.
#[derive(Debug)]
pub enum AgentMessage<'a> {
    Request {
        id: Id,
        method: Cow<'a, str>,
        params: Params<'a>,
    },
    Notification {
        method: Cow<'a, str>,
        params: Params<'a>,
    },
    /// A reply: Gatehouse sends agents no requests, so only its id is kept.
    Response { id: Id },
}

/// Reads one message from an agent; the error is the one to send back (with a null id).
pub fn parse(bytes: &[u8]) -> Result<AgentMessage<'_>, ErrorObject> {
    match in_one_pass(bytes) {
        Some(message) => Ok(message),
        // Read again, `params` as written and then their members: the error this gives is
        // the one to send, whatever the first reader stopped at.
        None => in_two_passes(bytes),
    }
}

/// [`parse`] the way that says why a message is refused: the message with `params` as
/// written, then `params`' members.
fn in_two_passes(bytes: &[u8]) -> Result<AgentMessage<'_>, ErrorObject> {
    Ok(match super::parse(bytes)? {
        RawMessage::Request { id, method, params } => AgentMessage::Request {
            id,
            method,
            params: Params::read(params)?,
        },
        RawMessage::Notification { method, params } => AgentMessage::Notification {
            method,
            params: Params::read(params)?,
        },
        RawMessage::Response { id, .. } => AgentMessage::Response { id },
    })
}

/// A message that reads without a problem, `params` read member by member with it rather
/// than skipped over as text and read again; `None` for a message [`parse`] refuses,
/// which [`in_two_passes`] then says why.
fn in_one_pass(bytes: &[u8]) -> Option<AgentMessage<'_>> {
    let wire: Wire<'_, Members<'_>, &RawValue> = serde_json::from_slice(bytes).ok()?;
    Some(match wire.message().ok()? {
        RawMessage::Request { id, method, params } => AgentMessage::Request {
            id,
            method,
            params: Params::of_members(params, bytes)?,
        },
        RawMessage::Notification { method, params } => AgentMessage::Notification {
            method,
            params: Params::of_members(params, bytes)?,
        },
        RawMessage::Response { id, .. } => AgentMessage::Response { id },
    })
}

/// A request's `params`: its members in the order written, none repeated, and those of
/// its `_meta` when that is an object.
#[derive(Debug, Clone, Default)]
pub struct Params<'a> {
    text: Text<'a>,
    members: Object<'a>,
    meta: Option<Object<'a>>,
}

impl<'a> Params<'a> {
    /// Reads `params` (absent reads as empty); refused when it is no object or repeats a
    /// member, at its top or in its `_meta`.
    pub fn read(text: Option<&'a RawValue>) -> Result<Self, ErrorObject> {
        let Some(raw) = text else {
            return Ok(Self::default());
        };
        if !raw.get().starts_with('{') {
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                "`params` must be an object",
            ));
        }
        let members = Object::read(raw, "params")?;
        // `_meta` that is no object is no envelope, as a tree's `as_object` would say.
        let meta = match members.get(META) {
            Some(meta) if meta.get().starts_with('{') => Some(Object::read(meta, "params._meta")?),
            _ => None,
        };
        Ok(Self {
            text: Text::Read(text),
            members,
            meta,
        })
    }

    /// [`Params::read`] for members read with `message`; `None` when they repeat one, or
    /// `_meta` does or cannot be read.
    fn of_members(members: Option<Members<'a>>, message: &'a [u8]) -> Option<Self> {
        let Some(Members(members)) = members else {
            return Some(Self::default());
        };
        if repeated(&members).is_some() {
            return None;
        }
        let members = Object(members);
        let meta = match members.get(META) {
            Some(meta) if meta.get().starts_with('{') => {
                Some(Object::read(meta, "params._meta").ok()?)
            }
            _ => None,
        };
        Some(Self {
            text: Text::InMessage(message),
            members,
            meta,
        })
    }

    /// A member's value as written.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.get(key)
    }

    /// A member's value when it is a string, unescaped.
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.members.str(key)
    }

    /// Every member, `_meta` included.
    pub fn members(&self) -> &Object<'a> {
        &self.members
    }

    /// `_meta`'s members, when it is an object.
    pub fn meta(&self) -> Option<&Object<'a>> {
        self.meta.as_ref()
    }

    /// The whole params object as written; `None` when the message had none.
    pub fn text(&self) -> Option<&'a RawValue> {
        match self.text {
            Text::Read(text) => text,
            // INVARIANT: the message was read whole once, so it reads again; the few paths
            // that want the text pay for this second read, a gated call does not.
            Text::InMessage(message) => match super::parse(message) {
                Ok(
                    RawMessage::Request { params, .. } | RawMessage::Notification { params, .. },
                ) => params,
                Ok(RawMessage::Response { .. }) | Err(_) => None,
            },
        }
    }

    /// The params as a tree, for the paths that read them whole (not a gated call's).
    ///
    /// Text the borrowed reader accepts and a tree cannot hold (a lone surrogate escape,
    /// a number out of range) is refused as the tree parser refuses it, as not JSON.
    pub fn to_map(&self) -> Result<Map<String, Value>, ErrorObject> {
        let Some(text) = self.text() else {
            return Ok(Map::new());
        };
        serde_json::from_str(text.get()).map_err(|error| not_json(&error))
    }
}

/// Where the params' text is: read already (`None` when the message had none), or in the
/// message their members were read with, found when asked for.
#[derive(Debug, Clone, Copy)]
enum Text<'a> {
    Read(Option<&'a RawValue>),
    InMessage(&'a [u8]),
}

impl Default for Text<'_> {
    fn default() -> Self {
        Self::Read(None)
    }
}

/// An object's members, in the order written, values as written, none repeated.
#[derive(Debug, Clone, Default)]
pub struct Object<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Object<'a> {
    /// Reads the members of `raw`, an object; `at` names it in a refusal.
    fn read(raw: &'a RawValue, at: &str) -> Result<Self, ErrorObject> {
        // `raw` was checked to be an object, so only a key a string cannot hold (a lone
        // surrogate escape) fails here, text the tree parser refuses as not JSON.
        let Members(members) = serde_json::from_str(raw.get()).map_err(|error| not_json(&error))?;
        if let Some(key) = repeated(&members) {
            let key: String = key.chars().take(64).collect();
            return Err(ErrorObject::new(
                code::INVALID_PARAMS,
                format!("`{at}` repeats `{key}`"),
            ));
        }
        Ok(Self(members))
    }

    /// A member's value as written.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        let (_, value) = self.0.iter().find(|(name, _)| name == key)?;
        Some(*value)
    }

    /// A member's value when it is a string, unescaped.
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key)
            .filter(|value| value.get().starts_with('"'))
            .and_then(text)
    }

    /// The members, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.0.iter().map(|(key, value)| (key.as_ref(), *value))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn not_json(error: &serde_json::Error) -> ErrorObject {
    ErrorObject::new(code::PARSE_ERROR, format!("not JSON: {error}"))
}

#[cfg(test)]
mod tests;
