//! One configured upstream as the client reaches it: the authority it connects to, TLS
//! for `https://`, the `Host` header and the base path, built once at start-up. MCP
//! servers, event sinks and the notification webhook each hold one and send through the
//! shared [`UpstreamClient`](super::UpstreamClient).

use gatehouse_core::config::UpstreamUrl;
use http::header::{self, HeaderValue};
use http::{Method, Request, Uri};

use super::TlsTarget;

/// Where one upstream is reached.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `host:port` as configured: the pool's key and what errors name.
    pub(super) authority: Box<str>,
    /// What TLS the connection needs.
    pub(super) tls: Transport,
    host: Option<HeaderValue>,
    base_path: Box<str>,
    /// The base path as a request target, parsed once: `None` when it is none (a request
    /// built with [`Origin::request`] then fails as it is built).
    base_uri: Option<Uri>,
}

/// The connection's security, decided once.
#[derive(Debug, Clone)]
pub(super) enum Transport {
    Plain,
    Tls(TlsTarget),
    /// `https://` whose TLS client could not be built (a host that is no server name):
    /// every request fails rather than going out in clear.
    Unusable,
}

impl Origin {
    pub fn new(url: &UpstreamUrl) -> Self {
        let tls = match &url.tls {
            None => Transport::Plain,
            Some(tls) => {
                TlsTarget::new(&url.authority, tls).map_or(Transport::Unusable, Transport::Tls)
            }
        };
        let base_path: Box<str> = url.base_path.as_str().into();
        let base_uri = match &*base_path {
            "" => Some(Uri::from_static("/")),
            path => Uri::try_from(path).ok(),
        };
        Self {
            authority: url.authority.as_str().into(),
            tls,
            host: HeaderValue::from_str(&url.authority).ok(),
            base_path,
            base_uri,
        }
    }

    /// `scheme://authority/base`, for messages.
    pub fn url(&self) -> String {
        let scheme = match self.tls {
            Transport::Plain => "http",
            Transport::Tls(_) | Transport::Unusable => "https",
        };
        format!("{scheme}://{}{}", self.authority, self.base_path)
    }

    /// A request to the base path followed by `suffix` (`""` or `/…`), origin-form, its
    /// `Host` set.
    pub fn request(&self, method: Method, suffix: &str) -> http::request::Builder {
        let path = match (self.base_path.is_empty(), suffix.is_empty()) {
            (true, true) => "/".to_owned(),
            _ => [&*self.base_path, suffix].concat(),
        };
        let builder = Request::builder().method(method).uri(path);
        match &self.host {
            Some(host) => builder.header(header::HOST, host.clone()),
            // An authority that is no header value fails when the request is built.
            None => builder.header(header::HOST, &*self.authority),
        }
    }

    /// A request to the base path, origin-form, its `Host` set, as [`Origin::request`]
    /// with no suffix builds it, but without a builder or parsing the path again: for
    /// the calls to MCP servers. `None` when the base path or host is no request target
    /// or header value.
    pub fn base_request<B>(&self, method: Method, body: B) -> Option<Request<B>> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = self.base_uri.clone()?;
        let host = match &self.host {
            Some(host) => host.clone(),
            None => HeaderValue::from_str(&self.authority).ok()?,
        };
        request.headers_mut().insert(header::HOST, host);
        Some(request)
    }

    /// The TLS target, `Err` when `https://` could not be set up.
    pub(super) fn tls(&self) -> Result<Option<&TlsTarget>, ()> {
        match &self.tls {
            Transport::Plain => Ok(None),
            Transport::Tls(target) => Ok(Some(target)),
            Transport::Unusable => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> Origin {
        let (authority, base) = text.split_once('/').map_or((text, ""), |(a, b)| (a, b));
        let base_path = if base.is_empty() {
            String::new()
        } else {
            format!("/{base}")
        };
        Origin::new(&UpstreamUrl {
            authority: authority.to_owned(),
            base_path,
            tls: None,
        })
    }

    #[test]
    fn a_request_goes_to_the_base_path_with_its_host() {
        let request = origin("127.0.0.1:9/mcp")
            .request(Method::POST, "")
            .body(())
            .unwrap();
        assert_eq!(request.uri(), "/mcp");
        assert_eq!(request.headers()[header::HOST], "127.0.0.1:9");
        let request = origin("127.0.0.1:9")
            .request(Method::POST, "")
            .body(())
            .unwrap();
        assert_eq!(request.uri(), "/");
        let request = origin("127.0.0.1:9")
            .request(Method::POST, "/v1/logs")
            .body(())
            .unwrap();
        assert_eq!(request.uri(), "/v1/logs");
        assert_eq!(origin("127.0.0.1:9/base").url(), "http://127.0.0.1:9/base");
    }
}
