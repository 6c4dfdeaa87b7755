//! JSON-RPC messages from MCP servers, read member by member and borrowed: a server's
//! message is checked for what Gatehouse relies on (the JSON-RPC version, the id, the
//! method, result or error) without building a tree of values, and a `result` stays the
//! text the server wrote, to be passed on as it is.
//!
//! It accepts and classifies messages as [`super::jsonrpc::parse`] does, with the same
//! error codes, and is stricter in one way: a message (or, read with [`members`], an
//! object) that repeats a member is refused. A tree keeps the last of two members; a
//! reader downstream of a passed-through text might keep the first, so a repeated
//! member is an ambiguity Gatehouse does not forward.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::jsonrpc::{ErrorObject, Id, code};

/// One message, borrowed from the text it was read from; `P` is how its `params` were
/// read and `R` how its `result` was (as written, unless a reader read their members with
/// the message: [`agent::parse`], [`from_server`]).
#[derive(Debug)]
pub enum RawMessage<'a, P = &'a RawValue, R = &'a RawValue> {
    /// A request: from a server, whose params are not needed to answer it, or from an
    /// agent, whose params [`agent::parse`] reads member by member.
    Request {
        id: Id,
        method: Cow<'a, str>,
        /// An object, when present.
        params: Option<P>,
    },
    Notification {
        method: Cow<'a, str>,
        /// An object, when present.
        params: Option<P>,
    },
    /// A reply: `Ok(result)` as the server wrote it, or `Err(error)`.
    Response {
        id: Id,
        outcome: Result<R, ErrorObject>,
    },
}

/// Reads one message; the error is the one [`super::jsonrpc::parse`] would give (or
/// `INVALID_REQUEST` for a repeated member).
pub fn parse(bytes: &[u8]) -> Result<RawMessage<'_>, ErrorObject> {
    let wire: Wire<'_, &RawValue, &RawValue> =
        serde_json::from_slice(bytes).map_err(|error| unreadable(bytes, &error))?;
    wire.message()
}

/// The members of a JSON object, in the order written, their values as written;
/// `None` when `raw` is not an object or repeats a member.
pub fn members(raw: &RawValue) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    let Members(members) = serde_json::from_str(raw.get()).ok()?;
    repeated(&members).is_none().then_some(members)
}

/// The first key `members` repeats, if any. Members an MCP result or request has at its
/// top are a handful: compared pairwise, without allocating; a long list is sorted
/// instead, so a hostile one costs n log n.
fn repeated<'m, V>(members: &'m [(Cow<'_, str>, V)]) -> Option<&'m str> {
    const PAIRWISE: usize = 16;
    if members.len() <= PAIRWISE {
        return members.iter().enumerate().find_map(|(at, (key, _))| {
            let again = members.iter().skip(at + 1).any(|(other, _)| other == key);
            again.then_some(key.as_ref())
        });
    }
    let mut keys: Vec<&str> = members.iter().map(|(key, _)| key.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).find_map(|pair| match pair {
        [first, second] if first == second => Some(*first),
        _ => None,
    })
}

/// The error for text that is not one readable message.
fn unreadable(bytes: &[u8], error: &serde_json::Error) -> ErrorObject {
    let not_json = |error: &serde_json::Error| {
        ErrorObject::new(code::PARSE_ERROR, format!("not JSON: {error}"))
    };
    if !error.is_data() {
        return not_json(error);
    }
    // A type error may come before the text was read to its end: it is about the
    // message's shape only if the text is JSON at all.
    if let Err(syntax) = serde_json::from_slice::<IgnoredAny>(bytes) {
        return not_json(&syntax);
    }
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    let why = match first {
        Some(b'[') => "batches are not accepted: send one JSON-RPC message per request".to_owned(),
        Some(b'{') => error.to_string(),
        _ => "a JSON-RPC message is a JSON object".to_owned(),
    };
    ErrorObject::new(code::INVALID_REQUEST, why)
}

/// A message's members that matter, each as written but `params`, read as a `P`, and
/// `result`, read as an `R`.
#[derive(Debug)]
struct Wire<'a, P, R> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<P>,
    result: Option<R>,
    error: Option<&'a RawValue>,
}

impl<P, R> Default for Wire<'_, P, R> {
    fn default() -> Self {
        Self {
            jsonrpc: None,
            id: None,
            method: None,
            params: None,
            result: None,
            error: None,
        }
    }
}

/// How `params` were read: whether they are an object.
trait Read {
    fn is_object(&self) -> bool;
}

impl Read for &RawValue {
    fn is_object(&self) -> bool {
        self.get().starts_with('{')
    }
}

/// Members are read only from an object.
impl Read for Members<'_> {
    fn is_object(&self) -> bool {
        true
    }
}

impl<'a, P: Read, R> Wire<'a, P, R> {
    fn message(self) -> Result<RawMessage<'a, P, R>, ErrorObject> {
        let invalid = |why: &str| ErrorObject::new(code::INVALID_REQUEST, why.to_owned());
        if !self.jsonrpc.is_some_and(is_version) {
            return Err(invalid("`jsonrpc` must be \"2.0\""));
        }
        let id = match self.id {
            None => None,
            Some(raw) => Some(id(raw).ok_or_else(|| {
                invalid("`id` must be a string or an integer (MCP forbids null ids)")
            })?),
        };
        if let Some(method) = self.method {
            let method = text(method)
                .filter(|method| !method.is_empty())
                .ok_or_else(|| invalid("`method` must be a non-empty string"))?;
            if self
                .params
                .as_ref()
                .is_some_and(|params| !params.is_object())
            {
                return Err(ErrorObject::new(
                    code::INVALID_PARAMS,
                    "`params` must be an object",
                ));
            }
            return Ok(match id {
                Some(id) => RawMessage::Request {
                    id,
                    method,
                    params: self.params,
                },
                None => RawMessage::Notification {
                    method,
                    params: self.params,
                },
            });
        }
        let id = id.ok_or_else(|| invalid("a response needs an `id`"))?;
        let outcome = match (self.result, self.error) {
            (Some(result), None) => Ok(result),
            (None, Some(error)) => Err(error_object(error)
                .ok_or_else(|| invalid("`error` must have an integer `code` and a `message`"))?),
            _ => return Err(invalid("a response has exactly one of `result` or `error`")),
        };
        Ok(RawMessage::Response { id, outcome })
    }
}

fn is_version(raw: &RawValue) -> bool {
    // The text servers write, checked without decoding; an escaped spelling is decoded.
    raw.get() == r#""2.0""# || text(raw).is_some_and(|version| version == "2.0")
}

/// A string member's value, unescaped; `None` when it is not a string.
fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let Key(text) = serde_json::from_str(raw.get()).ok()?;
    Some(text)
}

fn id(raw: &RawValue) -> Option<Id> {
    // The usual id, an integer, read straight from its text (JSON's integer syntax is a
    // subset of what `i64` parses; a fraction or exponent fails and is read below).
    // `-0` is the exception: `i64` reads it as 0, serde_json as the float -0.0, which is
    // no integer id, and both readers must agree.
    if let Ok(number) = raw.get().parse::<i64>()
        && raw.get() != "-0"
    {
        return Some(Id::Number(number));
    }
    match serde_json::from_str(raw.get()).ok()? {
        Value::String(text) => Some(Id::Text(text)),
        Value::Number(number) => number.as_i64().map(Id::Number),
        _ => None,
    }
}

fn error_object(raw: &RawValue) -> Option<ErrorObject> {
    let value: Value = serde_json::from_str(raw.get()).ok()?;
    let object = value.as_object()?;
    Some(ErrorObject {
        code: object.get("code")?.as_i64()?,
        message: object.get("message")?.as_str()?.to_owned(),
        data: object.get("data").cloned(),
    })
}

/// The member names [`Wire`] keeps; the rest are read past.
enum Field {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl Visitor<'_> for Names {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "jsonrpc" => Field::Jsonrpc,
                    "id" => Field::Id,
                    "method" => Field::Method,
                    "params" => Field::Params,
                    "result" => Field::Result,
                    "error" => Field::Error,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(Names)
    }
}

impl<'de: 'a, 'a, P: Deserialize<'de>, R: Deserialize<'de>> Deserialize<'de> for Wire<'a, P, R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object<P, R>(PhantomData<(P, R)>);
        impl<'de, P: Deserialize<'de>, R: Deserialize<'de>> Visitor<'de> for Object<P, R> {
            type Value = Wire<'de, P, R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire<'de, P, R>, A::Error> {
                let mut wire = Wire::default();
                while let Some(field) = map.next_key::<Field>()? {
                    let (slot, name) = match field {
                        Field::Jsonrpc => (&mut wire.jsonrpc, "jsonrpc"),
                        Field::Id => (&mut wire.id, "id"),
                        Field::Method => (&mut wire.method, "method"),
                        Field::Params => {
                            once(wire.params.is_some(), "params")?;
                            wire.params = Some(map.next_value()?);
                            continue;
                        }
                        Field::Result => {
                            once(wire.result.is_some(), "result")?;
                            wire.result = Some(map.next_value()?);
                            continue;
                        }
                        Field::Error => (&mut wire.error, "error"),
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    once(slot.is_some(), name)?;
                    *slot = Some(map.next_value()?);
                }
                Ok(wire)
            }
        }
        deserializer.deserialize_map(Object(PhantomData))
    }
}

/// Refuses a member read before.
fn once<E: de::Error>(read: bool, name: &str) -> Result<(), E> {
    if read {
        return Err(E::custom(format_args!("the message repeats `{name}`")));
    }
    Ok(())
}

/// A string, borrowed from the text unless it had escapes to decode.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// An object's members, in order, values as written.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

pub mod agent;
mod written;

pub use written::{Written, from_server};

#[cfg(test)]
mod tests;
