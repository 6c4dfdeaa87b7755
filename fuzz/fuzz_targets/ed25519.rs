//! Ed25519 under Gatehouse's token check and under `ed25519-dalek`'s `verify_strict`: the
//! same verdict for every key, message and signature.
//!
//! Gatehouse verifies Ed25519 with its own composition of `curve25519-dalek` primitives
//! (one decompression fewer than `verify_strict`), so this target is differential. The
//! input picks a key (a signing seed, or 32 raw bytes that may be a small-order or invalid
//! key), a message, and either a genuine signature with a few bytes overwritten or 64 raw
//! bytes; the message travels as a JWS payload through `token::decode` and `verify`, and,
//! where the target holds the signing key, through `verify_own` (the check by signing
//! again that the gateway uses for its own credentials).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use gatehouse_core::token::{self, VerifyKey};
use libfuzzer_sys::fuzz_target;

/// `{"alg":"EdDSA"}`: the only header this target needs.
const HEADER: &str = "eyJhbGciOiJFZERTQSJ9";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((key_bytes, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let Some((patch, message)) = rest.split_first_chunk::<64>() else {
        return;
    };
    // The payload must be a JSON object: the message's bytes, hex-encoded, in one member.
    let hex: String = message.iter().map(|byte| format!("{byte:02x}")).collect();
    let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"m":"{hex}"}}"#));
    let signing_input = format!("{HEADER}.{claims}");

    let (key, signing, signature) = if mode & 1 == 0 {
        let signing = SigningKey::from_bytes(key_bytes);
        let mut signature = signing.sign(signing_input.as_bytes()).to_bytes();
        // Overwrite up to three bytes, chosen by the patch, or none.
        for pair in patch.chunks_exact(2).take(usize::from(mode >> 1) % 4) {
            signature[usize::from(pair[0]) % 64] = pair[1];
        }
        (signing.verifying_key(), Some(signing), signature)
    } else {
        let Ok(key) = VerifyingKey::from_bytes(key_bytes) else {
            return;
        };
        (key, None, *patch)
    };

    let reference = key
        .verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .is_ok();
    let jws = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    let jwt = token::decode(&jws).expect("a well-formed EdDSA JWS decodes");
    let ours = jwt.verify(&VerifyKey::Ed25519(key)).is_ok();
    assert_eq!(ours, reference, "verdicts differ for {jws}");
    // With the signing key, the check by signing again must agree too.
    if let Some(signing) = signing {
        let by_signing = jwt.verify_own(&signing).is_ok();
        assert_eq!(by_signing, reference, "verify_own differs for {jws}");
    }
});
