//! A request's params as they go to a server, as text: the caller's object, written
//! once, and Gatehouse's own `_meta` (the call's `traceparent`, the request's progress
//! token) added around it without parsing it again.

/// What a request sends as its params: an object's JSON text with no `_meta` member (a
/// gated call's agent-sent one is dropped when it is written), and the `traceparent` to
/// add to the `_meta` Gatehouse writes.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    object: &'a str,
    traceparent: Option<&'a str>,
}

impl<'a> Params<'a> {
    /// `object` is JSON object text, as `serde_json` writes it, with no `_meta`.
    pub fn new(object: &'a str) -> Self {
        Self {
            object,
            traceparent: None,
        }
    }

    /// The same params, carrying `traceparent` in `_meta` (OpenTelemetry's MCP
    /// conventions: one upstream session serves every agent, so the transport's headers
    /// cannot carry a call's trace context).
    pub fn traced(self, traceparent: &'a str) -> Self {
        Self {
            traceparent: Some(traceparent),
            ..self
        }
    }

    /// The params as the server receives them without a progress token, as a tree: what
    /// a forensic recording of the call keeps.
    pub fn tree(self) -> serde_json::Value {
        serde_json::from_str(&self.text(None)).unwrap_or_default()
    }

    /// The text sent: the object, with a last member `_meta` holding the traceparent and
    /// `progress` (Gatehouse's token for this request) when there are any. These are
    /// the bytes the object's tree would serialise to with `_meta` inserted last.
    pub(super) fn text(self, progress: Option<&str>) -> String {
        let members = [
            ("traceparent", self.traceparent),
            ("progressToken", progress),
        ];
        let mut meta = String::new();
        for (key, value) in members {
            let Some(value) = value else { continue };
            meta.push(if meta.is_empty() { '{' } else { ',' });
            meta.push('"');
            meta.push_str(key);
            meta.push_str("\":");
            // A string serialises infallibly.
            let value = serde_json::to_string(value).unwrap_or_default();
            meta.push_str(&value);
        }
        let Some(open) = self.object.strip_suffix('}').filter(|_| !meta.is_empty()) else {
            return self.object.to_owned();
        };
        let comma = if open.trim_end() == "{" { "" } else { "," };
        [open, comma, "\"_meta\":", &meta, "}}"].concat()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The tree way: `_meta` inserted last, traceparent then progress token.
    fn tree(object: &str, traceparent: Option<&str>, progress: Option<&str>) -> String {
        let mut value: Value = serde_json::from_str(object).unwrap();
        let mut meta = serde_json::Map::new();
        if let Some(traceparent) = traceparent {
            meta.insert("traceparent".to_owned(), json!(traceparent));
        }
        if let Some(progress) = progress {
            meta.insert("progressToken".to_owned(), json!(progress));
        }
        if !meta.is_empty() {
            value
                .as_object_mut()
                .unwrap()
                .insert("_meta".to_owned(), Value::Object(meta));
        }
        value.to_string()
    }

    #[test]
    fn an_mcp_server_gets_the_child_traceparent_and_the_token_in_meta() {
        let object = r#"{"arguments":{"id":0},"name":"get \"x\""}"#;
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001234-01";
        for (traceparent, progress) in [
            (None, None),
            (Some(traceparent), None),
            (None, Some("gatehouse-progress-7")),
            (Some(traceparent), Some("gatehouse-progress-7")),
        ] {
            for object in [object, "{}"] {
                let params = Params::new(object);
                let params = traceparent.map_or(params, |traceparent| params.traced(traceparent));
                let text = params.text(progress);
                assert_eq!(text, tree(object, traceparent, progress));
            }
        }
    }
}
