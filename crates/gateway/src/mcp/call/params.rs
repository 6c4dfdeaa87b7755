//! The params a server receives for a call, written once as JSON text straight from the
//! agent's borrowed members: no tree of the whole params is built to sort or to
//! serialise them, and a member whose text is already canonical is copied as written.

use gatehouse_core::mcp::raw::agent::{META, Params};
use serde::ser::{Error as _, Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The params the server receives, as JSON text: the agent's, without `_meta`, which
/// carries the agent's protocol envelope and Gatehouse's own keys, neither meant for the
/// server. `arguments`, when given, is the `arguments` member already read into a tree
/// (a tool call's, which policy reads), written from it rather than read again.
///
/// Keys are sorted at every level, so the call's digest (which binds confirmations and
/// approvals to it) does not depend on the order an SDK happened to write them in.
///
/// Fails only on text a tree cannot hold (a lone surrogate escape, a number out of
/// range), which the tree parser refused as not JSON.
pub(crate) fn forwarded(
    params: &Params<'_>,
    arguments: Option<&Map<String, Value>>,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Top { params, arguments })
}

/// The params object: members sorted by key, `_meta` left out.
struct Top<'p, 'a> {
    params: &'p Params<'a>,
    arguments: Option<&'p Map<String, Value>>,
}

impl Serialize for Top<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut members: Vec<(&str, &RawValue)> = self
            .params
            .members()
            .iter()
            .filter(|(key, _)| *key != META)
            .collect();
        members.sort_unstable_by_key(|(key, _)| *key);
        let mut map = serializer.serialize_map(Some(members.len()))?;
        for (key, value) in members {
            match self.arguments {
                Some(object) if key == "arguments" => {
                    map.serialize_entry(key, &Sorted(object))?;
                }
                _ => map.serialize_entry(key, &Written(value))?,
            }
        }
        map.end()
    }
}

/// A member's value: as written when that is already the canonical text (a string
/// without escapes, a literal, as the names and URIs of calls are), otherwise read and
/// written canonically.
struct Written<'a>(&'a RawValue);

impl Serialize for Written<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.get();
        // Unescaped string text can hold no control character, quote or backslash, the
        // only characters `serde_json` escapes: it is written back byte for byte.
        let canonical = matches!(text, "true" | "false" | "null")
            || (text.starts_with('"') && !text.contains('\\'));
        if canonical {
            return self.0.serialize(serializer);
        }
        let value: Value = serde_json::from_str(text).map_err(S::Error::custom)?;
        Canonical(&value).serialize(serializer)
    }
}

/// An object written with its keys in sorted order.
struct Sorted<'a>(&'a Map<String, Value>);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = self.0.iter().collect();
        entries.sort_unstable_by_key(|(key, _)| *key);
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(key, &Canonical(value))?;
        }
        map.end()
    }
}

/// A value written with every object's keys in sorted order.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(object) => Sorted(object).serialize(serializer),
            Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `params` forwarded both ways: every member read from its text, and the
    /// `arguments` given as a tree; the two must be the same bytes.
    fn forward(params: &Value) -> String {
        let text = RawValue::from_string(params.to_string()).unwrap();
        let read = Params::read(Some(&text)).unwrap();
        let whole = forwarded(&read, None).unwrap();
        if let Some(Value::Object(arguments)) = params.get("arguments") {
            assert_eq!(forwarded(&read, Some(arguments)).unwrap(), whole);
        }
        whole
    }

    #[test]
    fn forwarded_params_drop_meta_and_do_not_depend_on_key_order() {
        let first = json!({"_meta": {"gatehouse/approval": "x"}, "name": "echo", "arguments": {"b": 1, "a": [{"z": 1, "y": 2}]}});
        let second = json!({"arguments": {"a": [{"y": 2, "z": 1}], "b": 1}, "name": "echo"});
        assert_eq!(forward(&first), forward(&second));
        assert_eq!(
            forward(&first),
            r#"{"arguments":{"a":[{"y":2,"z":1}],"b":1},"name":"echo"}"#
        );
    }

    #[test]
    fn only_the_top_level_meta_is_dropped_and_values_are_written_as_json() {
        let params =
            json!({"arguments": {"_meta": 1, "s": "é \"q\"\n", "n": -1.5, "t": true, "z": null}});
        let text = forward(&params);
        assert_eq!(
            text,
            r#"{"arguments":{"_meta":1,"n":-1.5,"s":"é \"q\"\n","t":true,"z":null}}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(params));
        assert_eq!(forward(&json!({})), "{}");
        assert_eq!(forwarded(&Params::default(), None).unwrap(), "{}");
    }

    #[test]
    fn members_are_written_canonically_whatever_their_spelling() {
        let spelled = r#"{ "uri" : "a\u0062c" , "n" : 1E2, "t":true,"z" : null, "o":{ "b":[ 1 ,2],"a":"\/"}, "s":"ok" }"#;
        let text = RawValue::from_string(spelled.to_owned()).unwrap();
        let read = Params::read(Some(&text)).unwrap();
        assert_eq!(
            forwarded(&read, None).unwrap(),
            r#"{"n":100.0,"o":{"a":"/","b":[1,2]},"s":"ok","t":true,"uri":"abc","z":null}"#
        );
    }

    #[test]
    fn text_a_tree_cannot_hold_is_not_forwarded() {
        let text = RawValue::from_string(r#"{"n":1e400}"#.to_owned()).unwrap();
        let read = Params::read(Some(&text)).unwrap();
        assert!(forwarded(&read, None).is_err());
    }
}
