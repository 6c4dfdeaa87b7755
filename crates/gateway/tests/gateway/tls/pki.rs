//! A certificate authority made in the test with the `openssl` command: server
//! certificates for loopback and X.509-SVIDs (a `spiffe://` URI SAN) for agents.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A CA and the certificates it signed, in a temporary directory.
pub(crate) struct Pki {
    pub(crate) dir: TempDir,
}

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl Pki {
    /// A new CA called `name`.
    pub(crate) fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = Self { dir };
        openssl(
            pki.path(""),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        pki
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A server certificate for `127.0.0.1` and `localhost`.
    pub(crate) fn server(&self, name: &str) -> Pair {
        self.leaf(
            name,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
        )
    }

    /// An X.509-SVID naming `spiffe_id`.
    pub(crate) fn svid(&self, name: &str, spiffe_id: &str) -> Pair {
        self.leaf(
            name,
            &format!("subjectAltName=URI:{spiffe_id}\nextendedKeyUsage=clientAuth"),
        )
    }

    fn leaf(&self, name: &str, extensions: &str) -> Pair {
        let ext = self.path(&format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n{extensions}\n"),
        )
        .unwrap();
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            self.path(""),
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            self.path(""),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &cert,
                "-extfile",
                ext.to_str().unwrap(),
            ],
        );
        Pair {
            cert: self.path(&cert),
            key: self.path(&key),
        }
    }
}

fn openssl(dir: PathBuf, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Copies a pair's files over `to` the way a certificate manager renews: each file
/// written whole, then renamed into place.
pub(crate) fn install(pair: &Pair, to: &Pair) {
    replace(&pair.cert, &to.cert);
    replace(&pair.key, &to.key);
}

pub(crate) fn replace(from: &Path, to: &Path) {
    let staging = to.with_extension("new");
    std::fs::copy(from, &staging).unwrap();
    std::fs::rename(&staging, to).unwrap();
}
