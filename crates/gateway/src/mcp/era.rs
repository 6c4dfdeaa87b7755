//! Which protocol era a message speaks, and whether its routing headers agree with it.
//!
//! The stateless era (2026-07-28) carries its version in every request's
//! `params._meta` and mirrors the method and name in `Mcp-Method` / `Mcp-Name`; the
//! handshake era (2025-06-18, 2025-11-25) negotiates once and then names its session in
//! `Mcp-Session-Id`. Gatehouse decides on the body: headers that disagree with it are
//! refused, in either era, since a proxy or policy routing on the headers would
//! otherwise see a different call from the one the server runs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::mcp::raw::agent::Params;
use gatehouse_core::refusal::Refusal;
use http::HeaderMap;

use crate::mcp::jsonrpc::code;

/// The stateless revision.
pub const MODERN: &str = "2026-07-28";
/// Handshake revisions Gatehouse negotiates, newest first.
pub const HANDSHAKE: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

pub const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";

/// How a message is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2026-07-28: every request stands alone.
    Modern,
    /// A session opened by `initialize`.
    Handshake,
}

/// The era of a request, after checking its headers against its body.
pub fn of_request(headers: &HeaderMap, method: &str, params: &Params<'_>) -> Result<Era, Refusal> {
    let routing = Routing::read(headers)?;
    let envelope = params.meta().filter(|meta| meta.get(VERSION_KEY).is_some());
    let Some(envelope) = envelope else {
        if routing.version.is_some_and(|version| version == MODERN) {
            return Err(bad(
                code::INVALID_PARAMS,
                format!(
                    "a {MODERN} request carries `{VERSION_KEY}` and `{CAPABILITIES_KEY}` in `params._meta`"
                ),
            ));
        }
        // Headers are optional here, but never contradictory.
        routing.agree(method, params, false)?;
        return Ok(Era::Handshake);
    };
    if envelope.get(CAPABILITIES_KEY).is_none() {
        return Err(bad(
            code::INVALID_PARAMS,
            format!("`params._meta` is missing `{CAPABILITIES_KEY}`"),
        ));
    }
    let version = envelope.str(VERSION_KEY);
    if routing.version.is_none() || routing.version != version.as_deref() {
        return Err(bad(
            code::HEADER_MISMATCH,
            format!("the `{VERSION_HEADER}` header does not match the request's protocol version"),
        ));
    }
    routing.agree(method, params, true)?;
    match version.as_deref() {
        Some(MODERN) => Ok(Era::Modern),
        requested => Err(unsupported(requested.unwrap_or_default())),
    }
}

/// The refusal for a version Gatehouse does not serve, naming the ones it does.
pub fn unsupported(requested: &str) -> Refusal {
    bad(
        code::UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "protocol version `{requested}` is not supported; supported: {MODERN}, {}",
            HANDSHAKE.join(", ")
        ),
    )
}

/// The handshake version to answer `initialize` with: the client's if served, else ours.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    HANDSHAKE
        .iter()
        .find(|version| Some(**version) == requested)
        .copied()
        .unwrap_or(HANDSHAKE[0])
}

fn bad(rpc_code: i64, reason: String) -> Refusal {
    Refusal::BadMessage { rpc_code, reason }
}

/// The routing headers, each present at most once.
#[derive(Debug, Default)]
struct Routing<'a> {
    version: Option<&'a str>,
    method: Option<&'a str>,
    name: Option<String>,
}

impl<'a> Routing<'a> {
    fn read(headers: &'a HeaderMap) -> Result<Self, Refusal> {
        let one = |name: &str| -> Result<Option<&'a str>, Refusal> {
            let mut values = headers.get_all(name).iter();
            let first = values.next();
            if values.next().is_some() {
                return Err(bad(
                    code::HEADER_MISMATCH,
                    format!("the `{name}` header appears more than once"),
                ));
            }
            first
                .map(|value| {
                    value.to_str().map_err(|_| {
                        bad(
                            code::HEADER_MISMATCH,
                            format!("the `{name}` header is not visible ASCII"),
                        )
                    })
                })
                .transpose()
        };
        let name = match one(NAME_HEADER)? {
            None => None,
            Some(raw) => Some(decode_header_value(raw).ok_or_else(|| {
                bad(
                    code::HEADER_MISMATCH,
                    format!("the `{NAME_HEADER}` header has a malformed base64 value"),
                )
            })?),
        };
        Ok(Self {
            version: one(VERSION_HEADER)?,
            method: one(METHOD_HEADER)?,
            name,
        })
    }

    /// `Mcp-Method` and `Mcp-Name` name what the body names; `required` in the
    /// stateless era, where they must be present.
    fn agree(&self, method: &str, params: &Params<'_>, required: bool) -> Result<(), Refusal> {
        let mismatch = |what: &str| {
            bad(
                code::HEADER_MISMATCH,
                format!("the `{what}` header does not match the request body"),
            )
        };
        match self.method {
            Some(header) if header != method => return Err(mismatch(METHOD_HEADER)),
            None if required => return Err(mismatch(METHOD_HEADER)),
            _ => {}
        }
        let Some(key) = name_key(method) else {
            return Ok(());
        };
        let body = params.str(key);
        match (&self.name, body) {
            (Some(header), Some(body)) if *header != body => Err(mismatch(NAME_HEADER)),
            (Some(_), None) => Err(mismatch(NAME_HEADER)),
            (None, Some(_)) if required => Err(mismatch(NAME_HEADER)),
            _ => Ok(()),
        }
    }
}

/// The parameter `Mcp-Name` mirrors, for the methods that name something.
fn name_key(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Header values that would not survive HTTP travel as `=?base64?…?=`; only canonical
/// base64 of UTF-8 decodes, so a corrupt header never matches by accident.
fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    let bytes = STANDARD.decode(payload).ok()?;
    (STANDARD.encode(&bytes) == payload).then_some(())?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;
    use serde_json::{Value, to_string};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.append(*name, value);
            }
        }
        map
    }

    fn params(value: Value) -> Box<RawValue> {
        RawValue::from_string(to_string(&value).unwrap()).unwrap()
    }

    /// [`of_request`] on params written as `text`.
    fn era_of(headers: &HeaderMap, method: &str, text: Box<RawValue>) -> Result<Era, Refusal> {
        let params = Params::read(Some(&text)).map_err(|error| bad(error.code, error.message))?;
        of_request(headers, method, &params)
    }

    fn modern_call(name: &str) -> Box<RawValue> {
        params(json!({
            "name": name,
            "arguments": {},
            "_meta": {VERSION_KEY: MODERN, CAPABILITIES_KEY: {}},
        }))
    }

    fn code_of(result: Result<Era, Refusal>) -> Option<i64> {
        match result {
            Err(Refusal::BadMessage { rpc_code, .. }) => Some(rpc_code),
            _ => None,
        }
    }

    #[test]
    fn a_modern_request_with_agreeing_headers_is_modern() {
        let h = headers(&[
            (VERSION_HEADER, MODERN),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "echo"),
        ]);
        assert_eq!(
            era_of(&h, "tools/call", modern_call("echo")).ok(),
            Some(Era::Modern)
        );
    }

    #[test]
    fn headers_that_disagree_with_the_body_are_refused() {
        let wrong_name = headers(&[
            (VERSION_HEADER, MODERN),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "delete"),
        ]);
        assert_eq!(
            code_of(era_of(&wrong_name, "tools/call", modern_call("echo"))),
            Some(code::HEADER_MISMATCH)
        );
        let wrong_method = headers(&[
            (VERSION_HEADER, MODERN),
            (METHOD_HEADER, "tools/list"),
            (NAME_HEADER, "echo"),
        ]);
        assert_eq!(
            code_of(era_of(&wrong_method, "tools/call", modern_call("echo"))),
            Some(code::HEADER_MISMATCH)
        );
        let missing = headers(&[(VERSION_HEADER, MODERN), (METHOD_HEADER, "tools/call")]);
        assert_eq!(
            code_of(era_of(&missing, "tools/call", modern_call("echo"))),
            Some(code::HEADER_MISMATCH)
        );
        let twice = headers(&[
            (VERSION_HEADER, MODERN),
            (METHOD_HEADER, "tools/call"),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "echo"),
        ]);
        assert_eq!(
            code_of(era_of(&twice, "tools/call", modern_call("echo"))),
            Some(code::HEADER_MISMATCH)
        );
        // The handshake era too: optional headers, never contradictory.
        let session_call = params(json!({"name": "echo"}));
        let wrong = headers(&[(NAME_HEADER, "delete")]);
        assert_eq!(
            code_of(era_of(&wrong, "tools/call", session_call.clone())),
            Some(code::HEADER_MISMATCH)
        );
        assert_eq!(
            era_of(&HeaderMap::new(), "tools/call", session_call.clone()).ok(),
            Some(Era::Handshake)
        );
    }

    #[test]
    fn base64_names_decode_and_corrupt_ones_never_match() {
        assert_eq!(
            decode_header_value("=?base64?w6ljaG8=?=").as_deref(),
            Some("écho")
        );
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }

    #[test]
    fn versions_are_checked() {
        let call = params(json!({
            "name": "echo",
            "_meta": {VERSION_KEY: "2099-01-01", CAPABILITIES_KEY: {}},
        }));
        let h = headers(&[
            (VERSION_HEADER, "2099-01-01"),
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "echo"),
        ]);
        assert_eq!(
            code_of(era_of(&h, "tools/call", call)),
            Some(code::UNSUPPORTED_PROTOCOL_VERSION)
        );
        let bare = headers(&[(VERSION_HEADER, MODERN), (METHOD_HEADER, "tools/list")]);
        assert_eq!(
            code_of(era_of(&bare, "tools/list", params(json!({})))),
            Some(code::INVALID_PARAMS)
        );
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), "2025-11-25");
    }
}
