//! Per-segment signing keys: a credential for `data` is signed with the `data` key, so it
//! never verifies under another segment's key.
//!
//! Each segment has one active key, `DATA_DIR/keys/segment-<name>.key` (PKCS#8 PEM, mode
//! 0600), generated on first start. Rotation moves it to
//! `keys/retired/segment-<name>.<retire_at>.<kid>.key`, where it still verifies until
//! `retire_at` — when the last credential it signed has expired — and is then deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ed25519_dalek::{SigningKey, VerifyingKey};
use gatehouse_core::model::SegmentName;
use gatehouse_core::token::keys::{generate_pem, key_id, load_signing_key_pem, public_jwk};

/// Why the segment keys could not be loaded or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write segment key `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("segment key `{path}` is not an Ed25519 PKCS#8 PEM key: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("unknown segment `{0}`")]
    UnknownSegment(String),
}

/// One signing key of one segment.
#[derive(Debug)]
pub struct SegmentKey {
    pub segment: SegmentName,
    pub kid: String,
    pub signing: SigningKey,
    pub verifying: VerifyingKey,
    /// For a retiring key: Unix seconds after which it no longer verifies.
    pub retire_at: Option<i64>,
}

/// The outcome of one rotation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    pub segment: String,
    pub new_kid: String,
    pub old_kid: String,
    pub old_retires_at: i64,
}

#[derive(Debug, Default)]
struct Ring {
    active: HashMap<SegmentName, Arc<SegmentKey>>,
    by_kid: HashMap<String, Arc<SegmentKey>>,
}

/// All segment keys, active and retiring.
#[derive(Debug)]
pub struct KeyRing {
    dir: PathBuf,
    ring: RwLock<Ring>,
}

impl KeyRing {
    /// Loads each segment's keys from `dir`, generating missing active keys and deleting
    /// retired keys whose time has passed.
    pub fn load_or_generate<'a>(
        dir: &Path,
        segments: impl IntoIterator<Item = &'a SegmentName>,
        now_secs: i64,
    ) -> Result<Self, KeyError> {
        let mut ring = Ring::default();
        // Keys existed before: a missing one was deleted, not never made. Say so loudly:
        // credentials it signed stop verifying, and it may be a sign of tampering.
        let existed = dir.exists();
        for segment in segments {
            let path = active_path(dir, segment);
            if !path.exists() {
                if existed {
                    tracing::warn!(
                        path = %path.display(),
                        %segment,
                        "the segment's key is missing: generating a new one; credentials signed \
                         with the old key no longer verify"
                    );
                }
                write_new_key(&path)?;
            }
            let key = Arc::new(read_key(&path, segment, None)?);
            ring.by_kid.insert(key.kid.clone(), Arc::clone(&key));
            ring.active.insert(segment.clone(), key);
        }
        for key in retired_keys(dir, &ring, now_secs)? {
            ring.by_kid.insert(key.kid.clone(), Arc::new(key));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            ring: RwLock::new(ring),
        })
    }

    /// The key that signs new credentials for `segment`.
    pub fn active(&self, segment: &SegmentName) -> Option<Arc<SegmentKey>> {
        self.read().active.get(segment).cloned()
    }

    /// The key with id `kid`, if it still verifies at `now_secs`.
    pub fn verifying(&self, kid: &str, now_secs: i64) -> Option<Arc<SegmentKey>> {
        let key = self.read().by_kid.get(kid).cloned()?;
        match key.retire_at {
            Some(retire_at) if now_secs >= retire_at => None,
            _ => Some(key),
        }
    }

    /// Makes a fresh key active for `segment`; the old one verifies until `retire_at`.
    pub fn rotate(&self, segment: &SegmentName, retire_at: i64) -> Result<Rotation, KeyError> {
        let mut ring = self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = ring
            .active
            .get(segment)
            .cloned()
            .ok_or_else(|| KeyError::UnknownSegment(segment.to_string()))?;
        let active = active_path(&self.dir, segment);
        let retired = retired_path(&self.dir, segment, retire_at, &old.kid);
        create_parent(&retired)?;
        std::fs::rename(&active, &retired).map_err(|source| KeyError::Io {
            path: retired.clone(),
            source,
        })?;
        write_new_key(&active)?;
        let new = Arc::new(read_key(&active, segment, None)?);
        let old = Arc::new(read_key(&retired, segment, Some(retire_at))?);
        ring.by_kid.insert(old.kid.clone(), Arc::clone(&old));
        ring.by_kid.insert(new.kid.clone(), Arc::clone(&new));
        ring.active.insert(segment.clone(), Arc::clone(&new));
        Ok(Rotation {
            segment: segment.to_string(),
            new_kid: new.kid.clone(),
            old_kid: old.kid.clone(),
            old_retires_at: retire_at,
        })
    }

    /// Forgets and deletes retiring keys whose time has come.
    pub fn retire_due(&self, now_secs: i64) {
        let mut ring = self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due: Vec<Arc<SegmentKey>> = ring
            .by_kid
            .values()
            .filter(|key| key.retire_at.is_some_and(|at| now_secs >= at))
            .cloned()
            .collect();
        for key in due {
            ring.by_kid.remove(&key.kid);
            let path = retired_path(
                &self.dir,
                &key.segment,
                key.retire_at.unwrap_or(0),
                &key.kid,
            );
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(%error, path = %path.display(), "cannot delete a retired key");
            }
            tracing::info!(segment = %key.segment, kid = %key.kid, "retired a segment key");
        }
    }

    /// A JWKS of every key that still verifies, so a tool may verify credentials itself.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self.read().by_kid.values().map(|key| jwk(key)).collect();
        serde_json::json!({ "keys": keys })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn jwk(key: &SegmentKey) -> serde_json::Value {
    let mut jwk = public_jwk(&key.verifying);
    if let Some(object) = jwk.as_object_mut() {
        object.insert("segment".into(), key.segment.as_str().into());
        if let Some(retire_at) = key.retire_at {
            object.insert("retire_at".into(), retire_at.into());
        }
    }
    jwk
}

fn active_path(dir: &Path, segment: &SegmentName) -> PathBuf {
    dir.join(format!("segment-{segment}.key"))
}

fn retired_path(dir: &Path, segment: &SegmentName, retire_at: i64, kid: &str) -> PathBuf {
    dir.join("retired")
        .join(format!("segment-{segment}.{retire_at}.{kid}.key"))
}

/// Loads the retired keys of known segments that still verify; deletes the others.
fn retired_keys(dir: &Path, ring: &Ring, now_secs: i64) -> Result<Vec<SegmentKey>, KeyError> {
    let Ok(entries) = std::fs::read_dir(dir.join("retired")) else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        let Some((segment, retire_at)) = parse_retired_name(&path) else {
            continue;
        };
        if !ring.active.contains_key(segment.as_str()) {
            continue;
        }
        if now_secs >= retire_at {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        keys.push(read_key(&path, &segment, Some(retire_at))?);
    }
    Ok(keys)
}

fn parse_retired_name(path: &Path) -> Option<(SegmentName, i64)> {
    let name = path
        .file_name()?
        .to_str()?
        .strip_prefix("segment-")?
        .strip_suffix(".key")?;
    let mut parts = name.rsplitn(3, '.');
    let _kid = parts.next()?;
    let retire_at = parts.next()?.parse().ok()?;
    let segment = parts.next()?;
    Some((SegmentName::new(segment), retire_at))
}

fn read_key(
    path: &Path,
    segment: &SegmentName,
    retire_at: Option<i64>,
) -> Result<SegmentKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let signing = load_signing_key_pem(&pem).map_err(|error| KeyError::Invalid {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    let verifying = signing.verifying_key();
    Ok(SegmentKey {
        segment: segment.clone(),
        kid: key_id(&verifying),
        signing,
        verifying,
        retire_at,
    })
}

fn create_parent(path: &Path) -> Result<(), KeyError> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|source| KeyError::Io {
            path: parent.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

fn write_new_key(path: &Path) -> Result<(), KeyError> {
    create_parent(path)?;
    let pair = generate_pem().map_err(|error| KeyError::Invalid {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    write_private(path, pair.private_pem.as_bytes()).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_key_verifies_until_it_retires_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let data = SegmentName::new("data");
        let ring = KeyRing::load_or_generate(dir.path(), [&data], 1000).unwrap();
        let old = ring.active(&data).unwrap();
        let rotation = ring.rotate(&data, 1600).unwrap();
        assert_eq!(rotation.old_kid, old.kid);
        assert_ne!(ring.active(&data).unwrap().kid, old.kid);
        assert!(ring.verifying(&old.kid, 1599).is_some());
        assert!(ring.verifying(&old.kid, 1600).is_none());
        let reloaded = KeyRing::load_or_generate(dir.path(), [&data], 1100).unwrap();
        assert!(reloaded.verifying(&old.kid, 1100).is_some());
        assert_eq!(reloaded.active(&data).unwrap().kid, rotation.new_kid);
        assert_eq!(reloaded.jwks()["keys"].as_array().unwrap().len(), 2);
        reloaded.retire_due(1600);
        assert!(reloaded.verifying(&old.kid, 1000).is_none());
        let after = KeyRing::load_or_generate(dir.path(), [&data], 1700).unwrap();
        assert_eq!(after.jwks()["keys"].as_array().unwrap().len(), 1);
    }
}
