//! `gatehouse keys`: Ed25519 key pairs for agents (PKCS#8 private, SPKI public PEM) and
//! segment signing keys in the gateway's data directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gatehouse_core::token::keys::{generate_pem, key_id, load_signing_key_pem};

use crate::policy::println_out;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Generate an agent key pair: `DIR/NAME.key` (private) and `DIR/NAME.pub`.
    Agent {
        name: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Rotate a segment's signing key on a running gateway; the old key verifies until
    /// its last credential expires.
    Rotate {
        #[arg(long)]
        segment: String,
        #[command(flatten)]
        control: crate::control::ControlArgs,
    },
    /// Generate a segment signing key in the data directory (the gateway also does this
    /// on first start).
    Segment {
        segment: String,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
}

pub(crate) fn run(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Agent { name, out } => agent(name, out),
        Command::Segment { segment, data_dir } => segment_key(segment, data_dir),
        Command::Rotate { segment, control } => crate::workflows::rotate(control, segment),
    }
}

fn agent(name: &str, out: &Path) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
    {
        bail!("key name `{name}` may use only letters, digits, `-`, `_` and `.`");
    }
    let private = out.join(format!("{name}.key"));
    let public = out.join(format!("{name}.pub"));
    write_pair(&private, &public)?;
    println_out(&format!(
        "wrote {} and {}",
        private.display(),
        public.display()
    ));
    Ok(())
}

/// Writes a fresh key pair; never overwrites an existing key.
pub(crate) fn write_pair(private: &Path, public: &Path) -> anyhow::Result<String> {
    for path in [private, public] {
        if path.exists() {
            bail!("`{}` already exists; not overwriting a key", path.display());
        }
    }
    if let Some(parent) = private.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let pair = generate_pem()?;
    write_private(private, &pair.private_pem)?;
    std::fs::write(public, &pair.public_pem)
        .with_context(|| format!("cannot write `{}`", public.display()))?;
    let signing = load_signing_key_pem(&pair.private_pem)?;
    Ok(key_id(&signing.verifying_key()))
}

fn segment_key(segment: &str, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join("keys").join(format!("segment-{segment}.key"));
    if path.exists() {
        bail!("`{}` already exists; not overwriting a key", path.display());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let pair = generate_pem()?;
    write_private(&path, &pair.private_pem)?;
    let kid = key_id(&load_signing_key_pem(&pair.private_pem)?.verifying_key());
    println_out(&format!("wrote {} (kid {kid})", path.display()));
    Ok(())
}

pub(crate) fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))
}
