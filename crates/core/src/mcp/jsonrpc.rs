//! JSON-RPC 2.0 messages as MCP uses them: one object per message (MCP dropped batches
//! in 2025-06-18), parsed strictly at the trust boundary, so every message past here has
//! a valid id, a method name and object-or-absent params.

use serde_json::{Map, Value, json};

/// Standard JSON-RPC error codes, and MCP's own.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// MCP 2026-07-28: routing headers disagree with the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// MCP 2026-07-28: the request's protocol version is not served.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
    /// Implementation-defined server errors (-32000 to -32099): Gatehouse refused.
    pub const REFUSED: i64 = -32001;
    /// The upstream server failed (unreachable, timeout, garbage).
    pub const UPSTREAM: i64 = -32002;
}

/// A request id: JSON-RPC allows strings and numbers; MCP forbids null.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Number(i64),
    Text(String),
}

impl Id {
    pub fn to_value(&self) -> Value {
        match self {
            Self::Number(number) => Value::from(*number),
            Self::Text(text) => Value::from(text.as_str()),
        }
    }

    /// The id as JSON text, as [`to_value`](Self::to_value) would be written.
    pub fn to_text(&self) -> String {
        match self {
            Self::Number(number) => number.to_string(),
            Self::Text(text) => string_text(text),
        }
    }

    fn parse(value: &Value) -> Option<Self> {
        match value {
            Value::String(text) => Some(Self::Text(text.clone())),
            Value::Number(number) => number.as_i64().map(Self::Number),
            _ => None,
        }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(number) => write!(f, "{number}"),
            Self::Text(text) => write!(f, "{text:?}"),
        }
    }
}

/// One parsed message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Id,
        method: String,
        params: Map<String, Value>,
    },
    Notification {
        method: String,
        params: Map<String, Value>,
    },
    /// A reply: `Ok(result)` or `Err(error)`.
    Response {
        id: Id,
        outcome: Result<Value, ErrorObject>,
    },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl ErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn to_value(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(data), Value::Object(object)) = (&self.data, &mut error) {
            object.insert("data".to_owned(), data.clone());
        }
        error
    }

    fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        Some(Self {
            code: object.get("code")?.as_i64()?,
            message: object.get("message")?.as_str()?.to_owned(),
            data: object.get("data").cloned(),
        })
    }
}

/// Parses one message from bytes; the error is the one to send back (with a null id).
pub fn parse(bytes: &[u8]) -> Result<Message, ErrorObject> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ErrorObject::new(code::PARSE_ERROR, format!("not JSON: {error}")))?;
    parse_owned(value)
}

/// Parses one already-decoded message.
pub fn parse_value(value: &Value) -> Result<Message, ErrorObject> {
    parse_owned(value.clone())
}

/// Parses one decoded message, moving its params or result out instead of copying.
pub fn parse_owned(value: Value) -> Result<Message, ErrorObject> {
    let invalid = |why: &str| ErrorObject::new(code::INVALID_REQUEST, why.to_owned());
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(invalid(
                "batches are not accepted: send one JSON-RPC message per request",
            ));
        }
        _ => return Err(invalid("a JSON-RPC message is a JSON object")),
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    let id = match object.get("id") {
        None => None,
        Some(raw) => Some(Id::parse(raw).ok_or_else(|| {
            invalid("`id` must be a string or an integer (MCP forbids null ids)")
        })?),
    };
    if let Some(method) = object.get("method") {
        let method = method
            .as_str()
            .filter(|method| !method.is_empty())
            .ok_or_else(|| invalid("`method` must be a non-empty string"))?
            .to_owned();
        let params = match object.remove("params") {
            None => Map::new(),
            Some(Value::Object(params)) => params,
            Some(_) => {
                return Err(ErrorObject::new(
                    code::INVALID_PARAMS,
                    "`params` must be an object",
                ));
            }
        };
        return Ok(match id {
            Some(id) => Message::Request { id, method, params },
            None => Message::Notification { method, params },
        });
    }
    let id = id.ok_or_else(|| invalid("a response needs an `id`"))?;
    let outcome = match (object.remove("result"), object.get("error")) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(ErrorObject::from_value(error)
            .ok_or_else(|| invalid("`error` must have an integer `code` and a `message`"))?),
        _ => return Err(invalid("a response has exactly one of `result` or `error`")),
    };
    Ok(Message::Response { id, outcome })
}

/// A success reply.
pub fn result(id: &Id, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "result": result})
}

/// The success reply [`result`] builds, written as text around `result`, one JSON value
/// already serialised (or passed on as a server wrote it).
pub fn result_text(id: &Id, result: &str) -> String {
    let id = id.to_text();
    [
        r#"{"jsonrpc":"2.0","id":"#,
        &id,
        r#","result":"#,
        result,
        "}",
    ]
    .concat()
}

/// An error reply; `id` is `None` when the request's id could not be read.
pub fn error(id: Option<&Id>, error: &ErrorObject) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id.map_or(Value::Null, Id::to_value),
        "error": error.to_value(),
    })
}

/// A request to send.
pub fn request(id: &Id, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.to_value(), "method": method, "params": params})
}

/// The request [`request`] builds, written as text around `params`, an object already
/// serialised: the same bytes, without building and copying a tree of values.
pub fn request_text(id: &Id, method: &str, params: &str) -> String {
    let method = string_text(method);
    let id = id.to_text();
    let parts = [
        r#"{"jsonrpc":"2.0","id":"#,
        &id,
        r#","method":"#,
        &method,
        r#","params":"#,
        params,
        "}",
    ];
    parts.concat()
}

/// `text` as a JSON string.
fn string_text(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

/// A notification to send.
pub fn notification(method: &str, params: Option<Value>) -> Value {
    match params {
        Some(params) => json!({"jsonrpc": "2.0", "method": method, "params": params}),
        None => json!({"jsonrpc": "2.0", "method": method}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses_parse() {
        let request = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#);
        assert!(matches!(
            request,
            Ok(Message::Request {
                id: Id::Number(7),
                ..
            })
        ));
        let note = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(matches!(note, Ok(Message::Notification { .. })));
        let reply = parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
        assert!(matches!(
            reply,
            Ok(Message::Response { outcome: Ok(_), .. })
        ));
        let failed = parse(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#);
        assert!(matches!(
            failed,
            Ok(Message::Response {
                outcome: Err(_),
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn an_id_as_text_is_its_value_written(number: i64, text: String) {
            for id in [Id::Number(number), Id::Text(text.clone())] {
                proptest::prop_assert_eq!(id.to_text(), id.to_value().to_string());
            }
        }
    }

    #[test]
    fn request_and_result_text_are_the_messages_the_values_make() {
        // Compared parsed: whether a tree keeps its keys in order depends on the features
        // `serde_json` is built with.
        let parsed = |text: &str| serde_json::from_str::<Value>(text).ok();
        let params = json!({"name": "get \"ticket\"", "arguments": {"id": 0}});
        for id in [Id::Number(7), Id::Text("a\"b".to_owned())] {
            let written = request_text(&id, "tools/call", &params.to_string());
            assert_eq!(
                parsed(&written),
                Some(request(&id, "tools/call", params.clone()))
            );
            let written = result_text(&id, &params.to_string());
            assert_eq!(parsed(&written), Some(result(&id, params.clone())));
        }
    }

    #[test]
    fn malformed_messages_get_the_right_code() {
        let code_of = |text: &str| parse(text.as_bytes()).err().map(|error| error.code);
        assert_eq!(code_of("{"), Some(code::PARSE_ERROR));
        assert_eq!(code_of("[]"), Some(code::INVALID_REQUEST));
        assert_eq!(
            code_of(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"id":1,"method":"ping"}"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"method":""}"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
            Some(code::INVALID_PARAMS)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1}"#),
            Some(code::INVALID_REQUEST)
        );
        assert_eq!(
            code_of(r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{}}"#),
            Some(code::INVALID_REQUEST)
        );
    }
}
