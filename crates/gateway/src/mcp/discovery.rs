//! MCP authorization discovery: OAuth 2.0 Protected Resource Metadata (RFC 9728) for
//! each `/mcp/{server}`, and Authorization Server Metadata (RFC 8414) naming the token
//! endpoint, so MCP SDK clients find how to get a credential from a `401` whose
//! `WWW-Authenticate` names the resource's metadata.
//!
//! Both documents are public (a client reads them before it has a credential), so they
//! say nothing about which servers exist: the resource document is the same shape for
//! any name. URLs are built from the request's `Host`, checked as the MCP face checks
//! it (a loopback listener answers loopback names only).

use gatehouse_core::refusal::Refusal;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::json;

use crate::body::ResponseBody;
use crate::problem::{json_response, problem_response};
use crate::state::State;

/// Where RFC 9728 puts a resource's metadata: this, then the resource's path.
pub const RESOURCE_PREFIX: &str = "/.well-known/oauth-protected-resource";
/// Where RFC 8414 puts the authorization server's metadata (its issuer has no path).
pub const SERVER_METADATA: &str = "/.well-known/oauth-authorization-server";

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Answers `GET /.well-known/…`: the resource metadata of `/mcp/{server}` or the
/// authorization server metadata; 404 for anything else.
pub fn handle(state: &State, headers: &HeaderMap, path: &str) -> Response<ResponseBody> {
    let Some(base) = base_url(state, headers) else {
        return problem_response(
            &Refusal::OriginRejected {
                origin: host_of(headers).chars().take(128).collect(),
            },
            None,
        );
    };
    if path == SERVER_METADATA {
        return json_response(StatusCode::OK, &server_metadata(&base), "application/json");
    }
    match path
        .strip_prefix(RESOURCE_PREFIX)
        .and_then(|resource| resource.strip_prefix("/mcp/"))
        .filter(|name| is_server_name(name))
    {
        Some(name) => json_response(
            StatusCode::OK,
            &resource_metadata(&base, name),
            "application/json",
        ),
        None => problem_response(&Refusal::NoRoute, None),
    }
}

/// `WWW-Authenticate` for a `401` at `/mcp/{server}`: where its metadata is (RFC 9728
/// §5.1). `None` when the request's host cannot be used to build it.
pub fn challenge(state: &State, headers: &HeaderMap, server: &str) -> Option<HeaderValue> {
    let base = base_url(state, headers)?;
    if !is_server_name(server) {
        return None;
    }
    let value = format!(
        "Bearer realm=\"gatehouse\", resource_metadata=\"{base}{RESOURCE_PREFIX}/mcp/{server}\""
    );
    HeaderValue::from_str(&value).ok()
}

fn resource_metadata(base: &str, server: &str) -> serde_json::Value {
    json!({
        "resource": format!("{base}/mcp/{server}"),
        "authorization_servers": [base],
        "bearer_methods_supported": ["header"],
        "resource_name": format!("MCP server `{server}` behind Gatehouse"),
    })
}

fn server_metadata(base: &str) -> serde_json::Value {
    json!({
        "issuer": base,
        "token_endpoint": format!("{base}/v1/token"),
        "jwks_uri": format!("{base}/v1/jwks.json"),
        "grant_types_supported": [JWT_BEARER, TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": [],
    })
}

/// `http://{Host}` (`https://` under TLS) when the host is a plain authority this
/// listener may answer for.
fn base_url(state: &State, headers: &HeaderMap) -> Option<String> {
    let host = host_of(headers);
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte));
    let allowed =
        !state.config.gateway.data_listen.ip().is_loopback() || crate::peer::is_loopback_host(host);
    let scheme = if state.config.gateway.data_tls.is_some() {
        "https"
    } else {
        "http"
    };
    (plain && allowed).then(|| format!("{scheme}://{host}"))
}

fn host_of(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// A name as configured servers have them; anything else gets no document.
fn is_server_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}
