//! Per-segment signing keys: a credential for `data` is signed with the `data` key, so it
//! never verifies under another segment's key. Keys are generated on first start under
//! `DATA_DIR/keys/segment-<name>.key` (PKCS#8 PEM, mode 0600) and loaded afterwards.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use gatehouse_core::model::SegmentName;
use gatehouse_core::token::keys::{generate_pem, key_id, load_signing_key_pem, public_jwk};

/// Why the segment keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write segment key `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("segment key `{path}` is not an Ed25519 PKCS#8 PEM key: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The signing key of one segment.
#[derive(Debug)]
pub struct SegmentKey {
    pub segment: SegmentName,
    pub kid: String,
    pub signing: SigningKey,
    pub verifying: VerifyingKey,
}

/// All segment keys, by segment and by key id.
#[derive(Debug, Default)]
pub struct KeyRing {
    by_segment: HashMap<SegmentName, SegmentKey>,
    segment_of_kid: HashMap<String, SegmentName>,
}

impl KeyRing {
    /// Loads each segment's key from `dir`, generating the missing ones.
    pub fn load_or_generate<'a>(
        dir: &Path,
        segments: impl IntoIterator<Item = &'a SegmentName>,
    ) -> Result<Self, KeyError> {
        let mut ring = Self::default();
        for segment in segments {
            let key = load_or_generate_one(dir, segment)?;
            ring.segment_of_kid.insert(key.kid.clone(), segment.clone());
            ring.by_segment.insert(segment.clone(), key);
        }
        Ok(ring)
    }

    pub fn for_segment(&self, segment: &SegmentName) -> Option<&SegmentKey> {
        self.by_segment.get(segment)
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SegmentKey> {
        self.by_segment.get(self.segment_of_kid.get(kid)?)
    }

    /// A JWKS document of every segment's public key, so a tool may verify credentials.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .by_segment
            .values()
            .map(|key| {
                let mut jwk = public_jwk(&key.verifying);
                if let Some(object) = jwk.as_object_mut() {
                    object.insert("segment".into(), key.segment.as_str().into());
                }
                jwk
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

fn load_or_generate_one(dir: &Path, segment: &SegmentName) -> Result<SegmentKey, KeyError> {
    let path = dir.join(format!("segment-{segment}.key"));
    if !path.exists() {
        write_new_key(&path)?;
    }
    let pem = std::fs::read_to_string(&path).map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    let signing = load_signing_key_pem(&pem).map_err(|error| KeyError::Invalid {
        path: path.clone(),
        message: error.to_string(),
    })?;
    let verifying = signing.verifying_key();
    Ok(SegmentKey {
        segment: segment.clone(),
        kid: key_id(&verifying),
        signing,
        verifying,
    })
}

fn write_new_key(path: &Path) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let pair = generate_pem().map_err(|error| KeyError::Invalid {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    write_private(path, pair.private_pem.as_bytes()).map_err(io)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
