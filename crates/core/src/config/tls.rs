//! TLS on the listeners: a certificate chain and key (PEM files) per listener and, on the
//! data plane only, optional client certificates (X.509-SVIDs) verified against a CA
//! bundle. The files are only checked to exist and look like PEM here; the gateway
//! parses them at start-up and again whenever they change.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::config::UpstreamUrl;
use crate::config::resolve::Resolver;

/// `[gateway.data_tls]` or `[gateway.control_tls]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: Spanned<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Spanned<String>,
    /// PEM CA certificates that sign agents' client certificates (data plane only).
    pub client_ca_file: Option<Spanned<String>>,
    /// Whether a client certificate is `optional` (the default when `client_ca_file` is
    /// set) or `required` on every connection.
    pub client_auth: Option<Spanned<String>>,
}

/// One listener's TLS, as the gateway loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Client certificates the data plane accepts, if any.
    pub client_certs: Option<ClientCerts>,
}

/// Client certificates on the data plane: who signs them and whether one is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCerts {
    pub ca_file: PathBuf,
    /// Without a certificate the handshake fails; otherwise a connection without one
    /// authenticates as before (assertions, credentials).
    pub required: bool,
}

impl Resolver<'_> {
    /// Resolves `gateway.{name}`; `client_certs` says whether this listener may take
    /// client certificates (the data plane) or not (the control plane).
    pub(crate) fn listener_tls(
        &mut self,
        name: &str,
        raw: Option<&RawTls>,
        client_certs: bool,
    ) -> Option<ListenerTls> {
        let raw = raw?;
        let field = |key: &str| format!("gateway.{name}.{key}");
        let cert_file = self.pem_file(&field("cert_file"), &raw.cert_file, "CERTIFICATE");
        let key_file = self.pem_file(&field("key_file"), &raw.key_file, "PRIVATE KEY");
        let client = match (&raw.client_ca_file, client_certs) {
            (Some(ca), false) => {
                let message = "only the data plane takes client certificates";
                self.error_at(&field("client_ca_file"), ca, message);
                None
            }
            (Some(ca), true) => self.client_certs(&field, ca, raw.client_auth.as_ref()),
            (None, _) => {
                if let Some(auth) = &raw.client_auth {
                    let message = "needs `client_ca_file` (who signs the client certificates)";
                    self.error_at(&field("client_auth"), auth, message);
                }
                None
            }
        };
        Some(ListenerTls {
            cert_file: cert_file?,
            key_file: key_file?,
            client_certs: client,
        })
    }

    fn client_certs(
        &mut self,
        field: &dyn Fn(&str) -> String,
        ca: &Spanned<String>,
        auth: Option<&Spanned<String>>,
    ) -> Option<ClientCerts> {
        let ca_file = self.pem_file(&field("client_ca_file"), ca, "CERTIFICATE");
        let required = match auth.map(|auth| auth.get_ref().as_str()) {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => {
                let message = format!("must be `optional` or `required`, not `{other}`");
                if let Some(auth) = auth {
                    self.error_at(&field("client_auth"), auth, message);
                }
                return None;
            }
        };
        Some(ClientCerts {
            ca_file: ca_file?,
            required,
        })
    }

    /// An upstream's `ca_file` (under `field`), which only an `https://` URL takes.
    pub(crate) fn upstream_ca(
        &mut self,
        field: &str,
        mut url: UpstreamUrl,
        raw: Option<&Spanned<String>>,
    ) -> UpstreamUrl {
        let Some(raw) = raw else { return url };
        let field = format!("{field}.ca_file");
        match &mut url.tls {
            Some(tls) => tls.ca_file = self.pem_file(&field, raw, "CERTIFICATE"),
            None => self.error_at(&field, raw, "only an `https://` URL takes a `ca_file`"),
        }
        url
    }

    /// The file at `raw`, which must be readable PEM holding a `label` block.
    fn pem_file(&mut self, field: &str, raw: &Spanned<String>, label: &str) -> Option<PathBuf> {
        let path = self.path(raw.get_ref());
        let message = match std::fs::read_to_string(&path) {
            Ok(text) if text.contains("-----BEGIN ") && text.contains(label) => return Some(path),
            Ok(_) => format!("`{}` holds no PEM {label}", path.display()),
            Err(error) => format!("cannot read `{}`: {error}", path.display()),
        };
        self.error_at(field, raw, message);
        None
    }
}
