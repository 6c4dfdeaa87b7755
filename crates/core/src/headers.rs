//! Request-header hygiene at the data plane's edge: which headers an agent may not send
//! at all, which Gatehouse drops, and which it sets itself, so the tool executes exactly
//! the call that was decided.
//!
//! Names are compared after folding ASCII case and `_` to `-`: CGI and WSGI servers read
//! `Gatehouse_Agent` as `GATEHOUSE-AGENT`, and proxies in between may not agree on which
//! of two such headers wins. The lists here are the ones `docs/configuration.md` shows in
//! its header table; a test pins the two together.

/// What happens to one request header the agent sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forwarded as sent.
    Keep,
    /// Dropped before forwarding (Gatehouse may set its own value).
    Strip,
    /// The call is refused: the tool could execute something other than what was decided.
    Refuse(&'static str),
}

/// How the documentation's table names what happens to a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Treatment {
    /// The call is refused (400 `unsafe-request`).
    Refused,
    /// Dropped; nothing is sent in its place.
    Stripped,
    /// The agent's value is dropped and Gatehouse sets its own.
    Replaced,
}

impl Treatment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Stripped => "stripped",
            Self::Replaced => "replaced",
        }
    }
}

/// Headers that ask the tool to run another method or another URL than the request line's.
pub const REFUSED: [(&str, &str); 6] = [
    ("x-http-method-override", "a method-override header"),
    ("x-http-method", "a method-override header"),
    ("x-method-override", "a method-override header"),
    ("x-original-url", "a URL-rewrite header"),
    ("x-rewrite-url", "a URL-rewrite header"),
    ("upgrade", "a connection upgrade (WebSocket, h2c)"),
];

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), and the h2c
/// upgrade's settings.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "http2-settings",
];

/// Headers dropped for what they claim, with nothing set in their place.
pub const STRIPPED: [&str; 4] = [
    "authorization",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-real-ip",
];

/// Headers Gatehouse sets itself; whatever the agent sent under these names is dropped.
pub const REPLACED: [&str; 8] = [
    "host",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "gatehouse-agent",
    "gatehouse-workflow",
    "gatehouse-decision-id",
];

/// Every other `gatehouse-*` header (a confirmation id, say) is for Gatehouse alone.
pub const GATEHOUSE_PREFIX: &str = "gatehouse-";

/// How the table names the tool's own secret header (`auth.header`, replaced).
pub const SECRET_HEADER: &str = "the tool's secret header";

/// What to do with a request header named `name`; `secret` is the tool's secret header,
/// lowercase, if it has one.
pub fn judge(name: &str, secret: Option<&str>) -> Verdict {
    if let Some(reason) = refused(name) {
        return Verdict::Refuse(reason);
    }
    let name = name.as_bytes();
    let dropped = HOP_BY_HOP.iter().any(|listed| folded_eq(name, listed))
        || STRIPPED.iter().any(|listed| folded_eq(name, listed))
        || REPLACED.iter().any(|listed| folded_eq(name, listed))
        || folded_starts_with(name, GATEHOUSE_PREFIX)
        || secret.is_some_and(|secret| folded_eq(name, secret));
    if dropped {
        Verdict::Strip
    } else {
        Verdict::Keep
    }
}

/// Why a request header named `name` is refused, if it is: the cheap first check, made
/// before policy so a refused call is never parked or counted.
pub fn refused(name: &str) -> Option<&'static str> {
    let name = name.as_bytes();
    REFUSED
        .iter()
        .find(|(refused, _)| folded_eq(name, refused))
        .map(|(_, reason)| *reason)
}

/// Every named row of the table, as the code treats it.
pub fn table() -> Vec<(String, Treatment)> {
    let mut rows: Vec<(String, Treatment)> = REFUSED
        .iter()
        .map(|(name, _)| ((*name).to_owned(), Treatment::Refused))
        .collect();
    let stripped = HOP_BY_HOP.iter().chain(STRIPPED.iter());
    rows.extend(stripped.map(|name| ((*name).to_owned(), Treatment::Stripped)));
    rows.extend(
        REPLACED
            .iter()
            .map(|name| ((*name).to_owned(), Treatment::Replaced)),
    );
    rows.push((format!("{GATEHOUSE_PREFIX}*"), Treatment::Stripped));
    rows.push((SECRET_HEADER.to_owned(), Treatment::Replaced));
    rows
}

/// Whether `query` carries a `_method` parameter (any case, however percent-encoded),
/// which some frameworks read as the request's real method. A name that is not UTF-8 once
/// decoded cannot be `_method` even to a lenient decoder, which puts U+FFFD in it.
pub fn has_method_param(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or(pair);
        if name.contains(['%', '+']) {
            crate::form::decode(name).is_ok_and(|name| name.eq_ignore_ascii_case("_method"))
        } else {
            name.eq_ignore_ascii_case("_method")
        }
    })
}

fn fold(byte: u8) -> u8 {
    if byte == b'_' {
        b'-'
    } else {
        byte.to_ascii_lowercase()
    }
}

/// `name` equals `listed` (lowercase, with `-`) once folded.
fn folded_eq(name: &[u8], listed: &str) -> bool {
    name.len() == listed.len()
        && name
            .iter()
            .zip(listed.bytes())
            .all(|(&byte, listed)| fold(byte) == listed)
}

fn folded_starts_with(name: &[u8], prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name
            .iter()
            .zip(prefix.bytes())
            .all(|(&byte, listed)| fold(byte) == listed)
}

#[cfg(test)]
mod tests;
