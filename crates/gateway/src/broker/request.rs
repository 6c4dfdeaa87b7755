//! The token request body: `application/x-www-form-urlencoded` (RFC 7523 `jwt-bearer`
//! or RFC 8693 `token-exchange` grant) or the same fields as a JSON object.

use gatehouse_core::refusal::Refusal;
use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

/// Largest token request body accepted.
const MAX_BODY: usize = 16 * 1024;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Absent only where the connection's client certificate names the agent.
    pub assertion: Option<String>,
    pub workflow: String,
    pub task_class: String,
}

/// The two body encodings a token request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Form,
}

pub(super) async fn read(request: Request<Incoming>) -> Result<TokenRequest, Refusal> {
    let encoding = encoding(request.headers().get(http::header::CONTENT_TYPE))?;
    let bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            bad(format!(
                "the body is unreadable or larger than {MAX_BODY} bytes"
            ))
        })?
        .to_bytes();
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("the body is not UTF-8".to_owned()))?;
    let fields = match encoding {
        Encoding::Json => json_fields(text)?,
        Encoding::Form => form_fields(text)?,
    };
    TokenRequest::from_fields(&fields)
}

/// The media type, exactly (case aside); parameters such as `charset` are allowed. A
/// near miss (`application/jsonx`, `text/json`) or no `Content-Type` at all is refused
/// rather than guessed at.
fn encoding(value: Option<&http::HeaderValue>) -> Result<Encoding, Refusal> {
    let text = value.and_then(|value| value.to_str().ok()).unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(Encoding::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(Encoding::Form)
    } else {
        Err(bad(format!(
            "`Content-Type` must be `application/json` or `application/x-www-form-urlencoded`, not `{}`",
            text.get(..64).unwrap_or(text)
        )))
    }
}

impl TokenRequest {
    fn from_fields(fields: &[(String, String)]) -> Result<Self, Refusal> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        if let Some(grant) = field("grant_type")
            && grant != JWT_BEARER
            && grant != TOKEN_EXCHANGE
        {
            return Err(bad(format!("unsupported `grant_type` `{grant}`")));
        }
        let assertion = field("assertion").or_else(|| field("subject_token"));
        let workflow = field("workflow").ok_or_else(|| bad("missing `workflow`".to_owned()))?;
        let task_class =
            field("task_class").ok_or_else(|| bad("missing `task_class`".to_owned()))?;
        if !is_workflow_id(workflow) {
            return Err(bad(
                "`workflow` must be 1-128 of `A-Z a-z 0-9 . _ : -`".to_owned()
            ));
        }
        Ok(Self {
            assertion: assertion.map(str::to_owned),
            workflow: workflow.to_owned(),
            task_class: task_class.to_owned(),
        })
    }
}

fn json_fields(text: &str) -> Result<Vec<(String, String)>, Refusal> {
    let Fields(fields) =
        serde_json::from_str(text).map_err(|error| bad(format!("invalid JSON: {error}")))?;
    Ok(fields)
}

/// A JSON object of string fields, each key once: a repeated key is refused, not
/// resolved first-wins or last-wins (two parsers could disagree on which one counts).
struct Fields(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an object of string fields")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        use serde::de::Error;
        let mut fields: Vec<(String, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.iter().any(|(seen, _)| *seen == key) {
                return Err(A::Error::custom(format_args!("field `{key}` is repeated")));
            }
            let value = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::String(text) => text,
                _ => {
                    return Err(A::Error::custom(format_args!(
                        "field `{key}` must be a string"
                    )));
                }
            };
            fields.push((key, value));
        }
        Ok(Fields(fields))
    }
}

fn form_fields(text: &str) -> Result<Vec<(String, String)>, Refusal> {
    gatehouse_core::form::distinct_pairs(text).map_err(|error| bad(error.to_string()))
}

fn is_workflow_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte))
}

fn bad(reason: String) -> Refusal {
    Refusal::BadTokenRequest { reason }
}
