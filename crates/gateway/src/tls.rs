//! TLS on the listeners (rustls, ring provider): TLS 1.3 and 1.2 only, ALPN `h2` and
//! `http/1.1`, the certificate and key re-read when their files change (a new handshake
//! uses the new pair; open connections keep theirs; a broken new pair keeps the old one
//! and says why), and on the data plane optional client certificates whose URI SAN (an
//! X.509-SVID's SPIFFE ID) names the agent.

mod reload;

use std::path::Path;
use std::sync::Arc;

use gatehouse_core::config::{ClientCerts, ListenerTls};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub(crate) use reload::watch;
use reload::{CurrentCert, Fingerprint};

/// Why a listener's TLS could not be set up or reloaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from `{path}`: {detail}")]
    Certificates { path: String, detail: String },
    #[error("`{path}` holds no certificate")]
    NoCertificate { path: String },
    #[error("cannot read the private key from `{path}`: {detail}")]
    Key { path: String, detail: String },
    #[error("the key in `{key}` does not fit the certificate in `{cert}`: {detail}")]
    Mismatch {
        cert: String,
        key: String,
        detail: String,
    },
    #[error("cannot use the client CA certificates in `{path}`: {detail}")]
    ClientCa { path: String, detail: String },
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// One listener's TLS: the rustls configuration (built once) and the certificate it
/// currently presents.
#[derive(Debug)]
pub struct Tls {
    /// `data` or `control`, for logs and events.
    pub(crate) listener: &'static str,
    pub(crate) files: ListenerTls,
    config: Arc<rustls::ServerConfig>,
    current: Arc<CurrentCert>,
    provider: Arc<CryptoProvider>,
}

impl Tls {
    /// Loads the listener's certificate, key and (data plane) client CAs.
    pub fn load(listener: &'static str, files: &ListenerTls) -> Result<Self, TlsError> {
        let provider = Arc::new(provider());
        let key = certified_key(&files.cert_file, &files.key_file, &provider)?;
        let fingerprint = Fingerprint::of(files);
        let current = Arc::new(CurrentCert::new(key, fingerprint));
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| TlsError::Config(error.to_string()))?;
        let builder = match &files.client_certs {
            Some(client) => builder.with_client_cert_verifier(verifier(client, &provider)?),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::clone(&current) as _);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            listener,
            files: files.clone(),
            config: Arc::new(config),
            current,
            provider,
        })
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }
}

/// The ring provider: it builds in seconds where aws-lc-rs needs cmake and minutes. Its
/// key exchanges lack the post-quantum hybrids, which rustls marks by deprecating it.
#[expect(
    deprecated,
    reason = "ring's lack of post-quantum key exchange is accepted for its build cost"
)]
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate chain and key in `cert` and `key`, checked to belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(cert)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.display().to_string(),
        detail: error.to_string(),
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|error| TlsError::Mismatch {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        detail: error.to_string(),
    })
}

/// Every certificate in a PEM file, at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| TlsError::Certificates {
            path: path.display().to_string(),
            detail: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(chain)
}

/// Verifies agents' client certificates against the configured CAs; a connection
/// without one is let through unless a certificate is required.
fn verifier(
    client: &ClientCerts,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let failed = |detail: String| TlsError::ClientCa {
        path: client.ca_file.display().to_string(),
        detail,
    };
    let mut roots = RootCertStore::empty();
    for cert in certificates(&client.ca_file)? {
        roots.add(cert).map_err(|error| failed(error.to_string()))?;
    }
    let builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
    let builder = if client.required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder.build().map_err(|error| failed(error.to_string()))
}

/// The SPIFFE ID of the verified client certificate on `connection`, if it presented
/// one that names exactly one. A certificate naming none identifies nobody: the
/// connection then authenticates as any other (assertion, credential).
pub(crate) fn client_svid(connection: &rustls::ServerConnection) -> Option<Arc<str>> {
    let leaf = connection.peer_certificates()?.first()?;
    match gatehouse_core::svid::spiffe_id(leaf) {
        Ok(id) => Some(Arc::from(id)),
        Err(error) => {
            tracing::debug!(%error, "client certificate names no SPIFFE ID");
            None
        }
    }
}
