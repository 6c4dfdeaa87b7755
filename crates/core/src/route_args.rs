//! An HTTP call's declared arguments as policy sees them: each gathered from its source
//! (a path parameter, a query parameter or a top-level field of a JSON object body),
//! then typed by the same code as MCP arguments ([`crate::mcp::args::typed`]).
//!
//! Where a tool's parser and ours could read one request two ways, the request is
//! refused rather than guessed at: a scalar query parameter given twice, or a body field
//! given twice (frameworks disagree on which one wins).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::config::{ArgKind, ArgSource, Route};
use crate::mcp::args;
use crate::model::AttrValue;
use crate::path::SafePath;

/// The parts of one call arguments are read from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The path below the tool, which the route's template matched.
    pub path: &'a SafePath<'a>,
    /// The raw query, without `?`.
    pub query: Option<&'a str>,
    /// The whole body, when the route reads body arguments.
    pub body: Option<&'a [u8]>,
}

/// The route's declared arguments of `request`, typed; the error says which argument
/// (or which part of the request) is wrong, for a `bad-arguments` refusal.
pub fn typed(route: &Route, request: Request<'_>) -> Result<BTreeMap<String, AttrValue>, String> {
    let body = match request.body {
        Some(bytes) if route.reads_body() => body_fields(bytes)?,
        _ => Map::new(),
    };
    let mut gathered = Map::new();
    for (name, source) in &route.arg_sources {
        let kind = route
            .args
            .get(name)
            .map_or(ArgKind::String, |spec| spec.kind);
        let value = match source {
            ArgSource::Path => route
                .template
                .param(name, request.path)
                .map(|text| from_text(kind, text)),
            ArgSource::Query => query_value(request.query, name, kind)?,
            ArgSource::Body => body.get(name).cloned(),
        };
        if let Some(value) = value {
            gathered.insert(name.clone(), value);
        }
    }
    args::typed(&route.args, &gathered)
}

/// The top-level fields of a JSON object body; an empty body has none.
fn body_fields(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    serde_json::from_slice::<UniqueObject>(bytes)
        .map(|object| object.0)
        .map_err(|error| format!("the body is not a JSON object with distinct fields: {error}"))
}

/// A parameter's values from the query, as the argument's JSON value: a set collects
/// every occurrence, anything else must occur at most once.
fn query_value(query: Option<&str>, name: &str, kind: ArgKind) -> Result<Option<Value>, String> {
    let mut values = Vec::new();
    for pair in crate::form::pairs(query.unwrap_or("")) {
        let (key, value) = pair.map_err(|_| "the query is not UTF-8 once decoded".to_owned())?;
        if key == name {
            values.push(value);
        }
    }
    if kind == ArgKind::StringSet {
        let present = !values.is_empty();
        let items = values.into_iter().map(Value::String).collect();
        return Ok(present.then_some(Value::Array(items)));
    }
    if values.len() > 1 {
        return Err(format!("query parameter `{name}` appears more than once"));
    }
    Ok(values.pop().map(|text| from_text(kind, text)))
}

/// A path or query value as the JSON value its type reads: text that is not a number
/// (or `true`/`false`) stays text, so typing refuses it with the argument's name.
fn from_text(kind: ArgKind, text: String) -> Value {
    let parsed = match kind {
        // Only the canonical spelling: `+5` or `05` may mean something else to the tool.
        ArgKind::Long => text
            .parse::<i64>()
            .ok()
            .filter(|number| number.to_string() == text)
            .map(Value::from),
        ArgKind::Bool => match text.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        ArgKind::StringSet => Some(Value::Array(vec![Value::String(text.clone())])),
        ArgKind::String | ArgKind::Path => None,
    };
    parsed.unwrap_or(Value::String(text))
}

/// A JSON object whose fields are distinct.
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = UniqueObject;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            if fields.contains_key(&key) {
                return Err(A::Error::custom(format!("field `{key}` appears twice")));
            }
            fields.insert(key, value);
        }
        Ok(UniqueObject(fields))
    }
}

#[cfg(test)]
mod tests;
