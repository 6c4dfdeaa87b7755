//! Who is at the other end of a connection and which of Gatehouse's addresses it
//! reached: the values of the forwarding headers Gatehouse sets on a tool call, built
//! once per connection rather than on every call.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderValue;

/// One connection's two ends, as Gatehouse saw them (never as the client claims).
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub local: SocketAddr,
    /// `X-Forwarded-For`: the peer's address.
    pub(crate) forwarded_for: HeaderValue,
    /// `X-Forwarded-Host`: the data plane address the peer reached.
    pub(crate) forwarded_host: HeaderValue,
    /// `Forwarded` (RFC 7239): both, and the scheme.
    pub(crate) forwarded: HeaderValue,
    /// `X-Forwarded-Proto`: `https` on a TLS connection, `http` otherwise.
    pub(crate) scheme: HeaderValue,
    /// The SPIFFE ID of the client certificate the connection presented and the data
    /// plane verified (mutual TLS), if any.
    pub svid: Option<Arc<str>>,
}

impl Peer {
    /// A plain-HTTP connection.
    pub fn new(addr: SocketAddr, local: SocketAddr) -> Self {
        Self::with_tls(addr, local, false, None)
    }

    /// A connection, over TLS or not, with the client certificate's SPIFFE ID if any.
    pub fn with_tls(
        addr: SocketAddr,
        local: SocketAddr,
        tls: bool,
        svid: Option<Arc<str>>,
    ) -> Self {
        let scheme = if tls { "https" } else { "http" };
        let ip = addr.ip().to_string();
        let host = local.to_string();
        // RFC 7239 §6: an IPv6 address and anything with a `:` is a quoted string.
        let node = match addr {
            SocketAddr::V4(_) => ip.clone(),
            SocketAddr::V6(_) => format!("\"[{ip}]\""),
        };
        let forwarded = format!("for={node};proto={scheme};host=\"{host}\"");
        Self {
            addr,
            local,
            forwarded_for: value(ip),
            forwarded_host: value(host),
            forwarded: value(forwarded),
            scheme: HeaderValue::from_static(scheme),
            svid,
        }
    }
}

/// Addresses format to visible ASCII, so this never falls back in practice.
fn value(text: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

/// Whether a `Host` (or `:authority`) names this machine's loopback: `localhost` or a
/// loopback address, with or without a port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_values_name_the_peer_and_the_address_it_reached() {
        let peer = Peer::new(
            "10.1.2.3:5555".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        );
        assert_eq!(peer.forwarded_for, "10.1.2.3");
        assert_eq!(peer.forwarded_host, "127.0.0.1:8080");
        assert_eq!(
            peer.forwarded,
            "for=10.1.2.3;proto=http;host=\"127.0.0.1:8080\""
        );
        let six = Peer::new("[::1]:5555".parse().unwrap(), "[::1]:80".parse().unwrap());
        assert_eq!(six.forwarded, "for=\"[::1]\";proto=http;host=\"[::1]:80\"");
        let tls = Peer::with_tls(
            "10.1.2.3:5555".parse().unwrap(),
            "127.0.0.1:8443".parse().unwrap(),
            true,
            None,
        );
        assert_eq!(tls.scheme, "https");
        assert_eq!(
            tls.forwarded,
            "for=10.1.2.3;proto=https;host=\"127.0.0.1:8443\""
        );
    }
}
