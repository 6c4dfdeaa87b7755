//! TLS to `https://` upstreams: rustls (ring), TLS 1.3 and 1.2, ALPN `http/1.1`, the
//! upstream's certificate verified for its host name against the built-in web roots
//! (Mozilla's, from `webpki-roots`) or only against the tool's configured `ca_file`.
//! Built once per tool at start-up; a call pays for TLS only on a new connection.

use std::path::Path;
use std::sync::Arc;

use gatehouse_core::config::UpstreamTls;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How to open TLS to one upstream authority.
#[derive(Clone)]
pub struct TlsTarget {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// The pool's key for this upstream: `https://` and the authority, so a plain and a
    /// TLS upstream on the same authority never share a connection.
    pub(crate) pool_key: Box<str>,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// The target for `authority` (`host:port`); a CA file that does not load leaves no
    /// trusted root, so every handshake fails (closed, never open), and is logged.
    pub fn new(authority: &str, tls: &UpstreamTls) -> Option<Self> {
        let host = host_of(authority);
        let name = ServerName::try_from(host.to_owned()).ok()?;
        let roots = match &tls.ca_file {
            Some(file) => roots_from(file),
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let mut config = ClientConfig::builder_with_provider(Arc::new(crate::tls::provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(Self {
            connector: TlsConnector::from(Arc::new(config)),
            name,
            pool_key: format!("https://{authority}").into_boxed_str(),
        })
    }

    /// The TLS handshake over a connected stream.
    pub(super) async fn handshake(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        self.connector.connect(self.name.clone(), stream).await
    }
}

/// The host of `host:port` (`[v6]:port` keeps its address without brackets).
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

fn roots_from(file: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>);
    match certs {
        Ok(certs) => {
            let (_, ignored) = roots.add_parsable_certificates(certs);
            if ignored > 0 || roots.is_empty() {
                tracing::error!(file = %file.display(), ignored, "upstream CA file holds unusable certificates");
            }
        }
        Err(error) => {
            tracing::error!(file = %file.display(), %error, "cannot read the upstream CA file; the upstream's certificate will not verify");
        }
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_authority_is_what_the_certificate_must_name() {
        assert_eq!(host_of("api.example.org:443"), "api.example.org");
        assert_eq!(host_of("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("example.org"), "example.org");
    }
}
