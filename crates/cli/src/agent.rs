//! `gatehouse agent assertion`: a fresh signed identity assertion, as an agent would make
//! one (for demos and tests; real agents sign their own).

use std::path::PathBuf;

use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::token::keys::load_signing_key_pem;
use gatehouse_core::token::{self, AssertionClaims, Audience};
use rand::RngCore;

use crate::policy::println_out;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print a signed EdDSA identity assertion for `--agent`.
    Assertion {
        /// The agent's private key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The agent id, e.g. `spiffe://acme/agent/triage-bot`.
        #[arg(long)]
        agent: String,
        /// The gateway's audience.
        #[arg(long, default_value = "gatehouse")]
        audience: String,
        /// Lifetime in seconds (the gateway accepts at most 300).
        #[arg(long, default_value_t = 60)]
        ttl: i64,
    },
}

pub(crate) fn run(command: &Command) -> anyhow::Result<()> {
    let Command::Assertion {
        key,
        agent,
        audience,
        ttl,
    } = command;
    let pem =
        std::fs::read_to_string(key).with_context(|| format!("cannot read `{}`", key.display()))?;
    let signing = load_signing_key_pem(&pem)
        .with_context(|| format!("`{}` is not an Ed25519 private key", key.display()))?;
    let now = SystemClock.now().secs();
    let claims = AssertionClaims {
        iss: agent.clone(),
        sub: agent.clone(),
        aud: Audience::One(audience.clone()),
        exp: now + ttl,
        iat: Some(now),
        nbf: None,
        jti: Some(random_jti()),
    };
    println_out(&token::sign_eddsa("JWT", None, &claims, &signing)?);
    Ok(())
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
