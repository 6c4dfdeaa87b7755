//! A server's result read with the message that carries it, in one pass: its text as the
//! server wrote it, to be passed on, and its top members' names with how each value
//! starts, which is what Gatehouse checks of a gated call's answer. Reading the message
//! with the result as text and the result's members afterwards would read it twice.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{RawMessage, Wire, members, repeated, text};
use crate::mcp::jsonrpc::ErrorObject;

/// A result as the server wrote it, with the names of its top members and the first byte
/// of each one's value (`[` for an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    text: Box<str>,
    /// `None` when the result is no object, repeats a member, or has a key no string can
    /// hold (a lone surrogate escape), as [`members`] says.
    members: Option<Vec<(Box<str>, u8)>>,
}

impl Written {
    /// A result read as text already, its members read from it: a second pass, for text
    /// that did not come with its message.
    pub fn read(raw: &RawValue) -> Self {
        let members = members(raw).map(|members| {
            let starts = members.into_iter();
            starts
                .map(|(key, value)| (Box::from(key), start(value)))
                .collect()
        });
        Self {
            text: raw.get().into(),
            members,
        }
    }

    /// The text as the server wrote it: one JSON value.
    pub fn get(&self) -> &str {
        &self.text
    }

    /// The top members' names, in the order written, and how each value starts; `None`
    /// when the result is no object, repeats a member or has an unreadable key.
    pub fn members(&self) -> Option<&[(Box<str>, u8)]> {
        self.members.as_deref()
    }
}

impl From<Written> for Box<str> {
    fn from(written: Written) -> Self {
        written.text
    }
}

/// Reads one message from a server as [`super::parse`] does, a result (an object with
/// members) read with it; the error is the one [`super::parse`] gives.
pub fn from_server(bytes: &[u8]) -> Result<RawMessage<'_, &RawValue, Written>, ErrorObject> {
    if let Some(message) = in_one_pass(bytes) {
        return Ok(message);
    }
    // Read again, the result as text and then its members: the error is the one to give,
    // whatever the first reader stopped at, and an empty result (`{}`) has no member to
    // find its text by.
    Ok(match super::parse(bytes)? {
        RawMessage::Response { id, outcome } => RawMessage::Response {
            id,
            outcome: outcome.map(Written::read),
        },
        RawMessage::Request { id, method, params } => RawMessage::Request { id, method, params },
        RawMessage::Notification { method, params } => RawMessage::Notification { method, params },
    })
}

/// A message that reads without a problem, a result with members read with it; `None`
/// for anything else, left to the second reading.
fn in_one_pass(bytes: &[u8]) -> Option<RawMessage<'_, &RawValue, Written>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let wire: Wire<'_, &RawValue, Spanned<'_>> = serde_json::from_str(text).ok()?;
    Some(match wire.message().ok()? {
        RawMessage::Response { id, outcome } => RawMessage::Response {
            id,
            outcome: match outcome {
                Ok(spanned) => Ok(spanned.written(text)?),
                Err(error) => Err(error),
            },
        },
        RawMessage::Request { id, method, params } => RawMessage::Request { id, method, params },
        RawMessage::Notification { method, params } => RawMessage::Notification { method, params },
    })
}

/// An object's members, keys and values each as written (a key with its quotes), all
/// borrowed from the message: where they lie in it tells where the object does.
struct Spanned<'a>(Vec<(&'a RawValue, &'a RawValue)>);

impl Spanned<'_> {
    /// The object as the server wrote it in `message`, and its members; `None` when it has
    /// none (nothing tells where it lies).
    fn written(&self, message: &str) -> Option<Written> {
        let (first, _) = self.0.first()?;
        let (_, last) = self.0.last()?;
        let key = offset(message, first.get())?;
        let end = offset(message, last.get())? + last.get().len();
        // Only whitespace lies between `{` and the first key, and between the last value
        // and `}`.
        let open = message.get(..key)?.trim_end().len().checked_sub(1)?;
        let after = message.get(end..)?;
        let close = end + (after.len() - after.trim_start().len());
        let text = message.get(open..=close)?;
        if !(text.starts_with('{') && text.ends_with('}')) {
            return None;
        }
        Some(Written {
            text: text.into(),
            members: self.members(),
        })
    }

    /// The members' names, decoded, and their values' first bytes; `None` for a repeat or
    /// a key no string can hold, as [`members`] says.
    fn members(&self) -> Option<Vec<(Box<str>, u8)>> {
        let decoded: Option<Vec<(Cow<'_, str>, u8)>> = self
            .0
            .iter()
            .map(|(key, value)| Some((text(key)?, start(value))))
            .collect();
        let decoded = decoded?;
        if repeated(&decoded).is_some() {
            return None;
        }
        Some(
            decoded
                .into_iter()
                .map(|(key, start)| (Box::from(key), start))
                .collect(),
        )
    }
}

fn start(value: &RawValue) -> u8 {
    value.get().as_bytes().first().copied().unwrap_or_default()
}

/// Where `part`, a slice of `whole`, begins in it.
fn offset(whole: &str, part: &str) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (at.checked_add(part.len())? <= whole.len()).then_some(at)
}

impl<'de: 'a, 'a> Deserialize<'de> for Spanned<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Spanned<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<&'de RawValue>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Spanned(members))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

#[cfg(test)]
mod tests;
