//! The params a server receives for a call, written once as JSON text straight from the
//! agent's (borrowed) params: no copy of the tree is built to sort or to serialise it.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// The params the server receives, as JSON text: the agent's, without `_meta`, which
/// carries the agent's protocol envelope and Gatehouse's own keys, neither meant for the
/// server.
///
/// Keys are sorted at every level, so the call's digest (which binds confirmations and
/// approvals to it) does not depend on the order an SDK happened to write them in.
pub(crate) fn forwarded(params: &Map<String, Value>) -> String {
    let sorted = Sorted {
        object: params,
        top: true,
    };
    // Writing to a `String` cannot fail, and `Value`s always serialise.
    serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".to_owned())
}

/// An object written with its keys in sorted order; at the top, without `_meta`.
struct Sorted<'a> {
    object: &'a Map<String, Value>,
    top: bool,
}

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = self
            .object
            .iter()
            .filter(|(key, _)| !(self.top && *key == "_meta"))
            .collect();
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
            Value::Object(object) => Sorted { object, top: false }.serialize(serializer),
            Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => Map::new(),
        }
    }

    #[test]
    fn forwarded_params_drop_meta_and_do_not_depend_on_key_order() {
        let first = object(
            json!({"_meta": {"gatehouse/approval": "x"}, "name": "echo", "arguments": {"b": 1, "a": [{"z": 1, "y": 2}]}}),
        );
        let second =
            object(json!({"arguments": {"a": [{"y": 2, "z": 1}], "b": 1}, "name": "echo"}));
        assert_eq!(forwarded(&first), forwarded(&second));
        assert_eq!(
            forwarded(&first),
            r#"{"arguments":{"a":[{"y":2,"z":1}],"b":1},"name":"echo"}"#
        );
    }

    #[test]
    fn only_the_top_level_meta_is_dropped_and_values_are_written_as_json() {
        let params = object(
            json!({"arguments": {"_meta": 1, "s": "é \"q\"\n", "n": -1.5, "t": true, "z": null}}),
        );
        let text = forwarded(&params);
        assert_eq!(
            text,
            r#"{"arguments":{"_meta":1,"n":-1.5,"s":"é \"q\"\n","t":true,"z":null}}"#
        );
        assert_eq!(
            serde_json::from_str::<Value>(&text).ok(),
            Some(Value::Object(params))
        );
        assert_eq!(forwarded(&Map::new()), "{}");
    }
}
