//! Task-credential verification, the first phase of every data-plane call, in three
//! forms: the bare token work with a public key (decode, Ed25519 verify, claims parse),
//! the gateway's own `credential::verify` on a token it has not seen (decode, the
//! signature checked by signing again with the segment key the gateway holds —
//! `UnverifiedJwt::verify_own` —, the audience, segment and time checks and the cache
//! insert), and `credential::verify` on a token it has seen (cache lookup plus the expiry
//! and agent checks it repeats on every use).
//!
//! Two more rows time `ed25519-dalek`'s `verify_strict`, which Gatehouse's public-key
//! check (`token/ed25519.rs`) replaces with the same verdict and one point decompression
//! fewer: on the bare row's signing input, and on the gateway cold row's 50,000 tokens, so
//! the cold cost can be compared with the library's.
//!
//! The gateway's `State` comes from a real `Gateway::start` on loopback ephemeral ports
//! with a minimal config in a temporary directory; no request is sent to it.
//!
//! Run with `cargo bench -p gatehouse-gateway --bench micro` (`-- WORD` for the rows whose
//! name contains WORD).

#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::error::Error;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SigningKey};
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::config;
use gatehouse_core::model::SegmentName;
use gatehouse_core::token::keys::{generate, generate_pem};
use gatehouse_core::token::{TASK_TOKEN_TYP, TaskClaims, VerifyKey, decode, sign_eddsa};
use gatehouse_gateway::Gateway;
use gatehouse_gateway::credential;
use gatehouse_gateway::state::State;

/// Timed calls of the cached path and of the bare token work.
const ITERATIONS: usize = 100_000;
/// Distinct tokens for the gateway's cold path: each is verified once. Stays below the
/// credential cache's capacity (65,536), warm-up included, so no clear happens.
const COLD_TOKENS: usize = 50_000;
/// Untimed calls before the timed ones.
const WARM_UP: usize = 1_000;
const AGENT: &str = "spiffe://bench/agent/bot";
const AUDIENCE: &str = "gatehouse-bench";

type BenchResult<T> = Result<T, Box<dyn Error>>;
/// A row measured without a gateway, and one measured on a gateway's state.
type Bare = fn() -> BenchResult<Vec<Duration>>;
type OnGateway = fn(&State) -> BenchResult<Vec<Duration>>;

fn main() -> BenchResult<()> {
    // `cargo bench … -- WORD` runs only the rows whose name contains WORD (for profiling).
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    let wanted = |name: &str| only.as_deref().is_none_or(|word| name.contains(word));
    println!("measurement                                  |        p50 |        p99 |  samples");
    println!("-------------------------------------------- | ---------- | ---------- | --------");
    let rows: [(&str, Bare); 3] = [
        ("timer overhead (Instant::now + elapsed)", || {
            Ok(timer_overhead())
        }),
        ("token cold: decode + ed25519 + claims", token_cold),
        ("  ed25519-dalek verify_strict, same input", signature_only),
    ];
    for (name, measure) in rows {
        if wanted(name) {
            row(name, &measure()?);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let gateway = runtime.block_on(start_gateway(dir.path()))?;
    let state = Arc::clone(gateway.state());
    let rows: [(&str, OnGateway); 3] = [
        ("credential::verify, unseen token (cold)", gateway_cold),
        (
            "  ed25519-dalek verify_strict, same tokens",
            gateway_cold_signatures,
        ),
        ("credential::verify, seen token (cached)", gateway_cached),
    ];
    for (name, measure) in rows {
        if wanted(name) {
            row(name, &measure(&state)?);
        }
    }
    drop(state);
    runtime.block_on(gateway.shutdown());
    Ok(())
}

fn row(name: &str, samples: &[Duration]) {
    println!(
        "{name:<44} | {:>10} | {:>10} | {:>8}",
        human(percentile(samples, 50)),
        human(percentile(samples, 99)),
        samples.len()
    );
}

/// What one empty timed iteration costs, to read the cached figures against.
fn timer_overhead() -> Vec<Duration> {
    timed(ITERATIONS, |_| {
        black_box(());
    })
}

/// The cryptographic and parsing core of a cold verification, without the gateway.
fn token_cold() -> BenchResult<Vec<Duration>> {
    let key = generate();
    let verify_key = VerifyKey::Ed25519(key.verifying_key());
    let token = mint(&key, "kid-bench", 0)?;
    let mut failures = 0_usize;
    let samples = timed(ITERATIONS, |_| {
        let outcome = decode(black_box(&token)).and_then(|jwt| {
            jwt.verify(&verify_key)?;
            jwt.claims::<TaskClaims>()
        });
        failures += usize::from(black_box(outcome).is_err());
    });
    ensure_no_failures("bare token verification", failures)?;
    Ok(samples)
}

/// `ed25519-dalek`'s `verify_strict` alone on the same signing input: the library's cost of
/// the signature check Gatehouse does its own way.
fn signature_only() -> BenchResult<Vec<Duration>> {
    let key = generate();
    let verifying = key.verifying_key();
    let (input, signature) = split(&mint(&key, "kid-bench", 0)?)?;
    let mut failures = 0_usize;
    let samples = timed(ITERATIONS, |_| {
        let outcome = verifying.verify_strict(black_box(input.as_bytes()), &signature);
        failures += usize::from(black_box(outcome).is_err());
    });
    ensure_no_failures("bare signature verification", failures)?;
    Ok(samples)
}

/// Each token verified once through the gateway: signature, checks, cache insert.
fn gateway_cold(state: &State) -> BenchResult<Vec<Duration>> {
    let key = data_key(state)?;
    let tokens = (0..WARM_UP + COLD_TOKENS)
        .map(|n| mint(&key.0, &key.1, n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut failures = 0_usize;
    let samples = timed(COLD_TOKENS, |index| {
        let token = tokens.get(index).map_or("", String::as_str);
        failures += usize::from(credential::verify(state.verifier(), black_box(token)).is_err());
    });
    ensure_no_failures("gateway cold verification", failures)?;
    Ok(samples)
}

/// `ed25519-dalek`'s `verify_strict` alone on as many distinct tokens as the cold row
/// verifies, minted the same way: the library's cost of the cold row's signature checks.
fn gateway_cold_signatures(state: &State) -> BenchResult<Vec<Duration>> {
    let key = data_key(state)?;
    let verifying = key.0.verifying_key();
    let signed = (0..WARM_UP + COLD_TOKENS)
        .map(|n| split(&mint(&key.0, &key.1, n)?))
        .collect::<Result<Vec<_>, _>>()?;
    let mut failures = 0_usize;
    let samples = timed(COLD_TOKENS, |index| {
        let outcome = signed.get(index).map(|(input, signature)| {
            verifying.verify_strict(black_box(input.as_bytes()), signature)
        });
        failures += usize::from(!matches!(black_box(outcome), Some(Ok(()))));
    });
    ensure_no_failures("signature checks of the cold tokens", failures)?;
    Ok(samples)
}

/// A token's signing input and its signature.
fn split(token: &str) -> BenchResult<(String, Signature)> {
    let (input, signature) = token.rsplit_once('.').ok_or("a token has three parts")?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)?
        .try_into()
        .map_err(|_| "an ed25519 signature is 64 bytes")?;
    Ok((input.to_owned(), Signature::from_bytes(&signature)))
}

/// One token verified again and again: cache lookup, expiry and agent checks.
fn gateway_cached(state: &State) -> BenchResult<Vec<Duration>> {
    let key = data_key(state)?;
    let token = mint(&key.0, &key.1, usize::MAX)?;
    credential::verify(state.verifier(), &token)
        .map_err(|failure| format!("the bench token does not verify: {failure:?}"))?;
    let mut failures = 0_usize;
    let samples = timed(ITERATIONS, |_| {
        failures += usize::from(credential::verify(state.verifier(), black_box(&token)).is_err());
    });
    ensure_no_failures("gateway cached verification", failures)?;
    Ok(samples)
}

/// Runs `body` untimed for indices `0..WARM_UP`, then timed for the next `count` indices
/// (distinct indices, so a cold path stays cold); the samples come back sorted.
fn timed(count: usize, mut body: impl FnMut(usize)) -> Vec<Duration> {
    for index in 0..WARM_UP {
        body(index);
    }
    let mut samples = Vec::with_capacity(count);
    for index in WARM_UP..WARM_UP + count {
        let start = Instant::now();
        body(index);
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    samples
}

fn ensure_no_failures(what: &str, failures: usize) -> BenchResult<()> {
    if failures > 0 {
        return Err(format!("{what}: {failures} verifications failed").into());
    }
    Ok(())
}

/// The `data` segment's signing key and key id, as the broker would sign with them.
fn data_key(state: &State) -> BenchResult<(SigningKey, String)> {
    let key = state
        .keys
        .active(&SegmentName::new("data"))
        .ok_or("the bench config has no `data` segment key")?;
    Ok((key.signing.clone(), key.kid.clone()))
}

/// A task credential as the broker mints it; `n` makes its `jti` (and text) unique.
fn mint(key: &SigningKey, kid: &str, n: usize) -> BenchResult<String> {
    let now = SystemClock.now().secs();
    let claims = TaskClaims {
        iss: AUDIENCE.to_owned(),
        sub: AGENT.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        exp: now + 600,
        jti: format!("bench-{n}"),
        wf: "wf-bench".to_owned(),
        tc: "triage".to_owned(),
        seg: "data".to_owned(),
        scope: vec!["ticket.list".to_owned(), "ticket.read".to_owned()],
    };
    Ok(sign_eddsa(TASK_TOKEN_TYP, Some(kid), &claims, key)?)
}

/// A gateway on ephemeral loopback ports with one agent, one task class and one tool.
async fn start_gateway(dir: &Path) -> BenchResult<Gateway> {
    std::fs::create_dir_all(dir.join("policies"))?;
    std::fs::write(dir.join("bot.pub"), generate_pem()?.public_pem)?;
    std::fs::write(dir.join("policies/schema.cedarschema"), SCHEMA)?;
    std::fs::write(dir.join("policies/main.cedar"), POLICY)?;
    std::fs::write(dir.join("gatehouse.toml"), CONFIG)?;
    let config = config::load(&dir.join("gatehouse.toml"))?;
    Ok(Gateway::start(config, Arc::new(SystemClock)).await?)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

fn human(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos < 10_000 {
        format!("{nanos} ns")
    } else {
        format!("{:.1} µs", duration.as_secs_f64() * 1e6)
    }
}

const CONFIG: &str = r#"
[gateway]
audience = "gatehouse-bench"
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
data_dir = "data"

[segments.data]

[agents."spiffe://bench/agent/bot"]
public_key_file = "bot.pub"
groups = ["triage"]
task_classes = ["triage"]
attributes = { team = "support" }

[task_classes.triage]
segment = "data"
intents = ["ticket.list", "ticket.read"]
ttl_minutes = 15

[tools.tickets]
url = "http://127.0.0.1:9"
segment = "data"
routes = [
  { method = "GET", path = "/tickets", intent = "ticket.list" },
  { method = "GET", path = "/tickets/{id}", intent = "ticket.read" },
]
"#;

const SCHEMA: &str = "namespace Gatehouse {
  entity Group;
  entity Agent in [Group] = { team: String };
  entity Segment;
  entity Tool in [Segment];
}
";

const POLICY: &str = r#"@id("triage-reads")
permit (principal in Gatehouse::Group::"triage", action, resource);
"#;
