use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use p256::ecdsa::signature::Signer as _;
use proptest::prelude::*;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::*;

/// A fixed 2048-bit test key: generating one in a debug build takes seconds.
pub(crate) static RSA_KEY: LazyLock<RsaPrivateKey> =
    LazyLock::new(|| RsaPrivateKey::from_pkcs8_pem(include_str!("testdata/rsa2048.pem")).unwrap());

pub(crate) fn ed_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

pub(crate) fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[2; 32]).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn claims() -> Value {
    json!({ "iss": "issuer", "sub": "agent", "aud": "gatehouse", "exp": 2_000_000_000_i64 })
}

/// A token with this exact header and claims, signed by `sign` over the signing input.
fn compact(header: &str, claims: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

fn eddsa(header: &str, claims: &str) -> String {
    compact(header, claims, |m| ed_key().sign(m).to_bytes().to_vec())
}

fn es256(header: &str, claims: &str) -> String {
    compact(header, claims, |m| {
        let signature: p256::ecdsa::Signature = ec_key().sign(m);
        signature.to_bytes().to_vec()
    })
}

fn rs256(header: &str, claims: &str) -> String {
    compact(header, claims, |m| {
        let digest = Sha256::digest(m);
        RSA_KEY
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .unwrap()
    })
}

fn ed_verify() -> VerifyKey {
    VerifyKey::Ed25519(ed_key().verifying_key())
}

fn decode_err(token: &str) -> AuthFailure {
    decode(token).unwrap_err()
}

/// HMAC-SHA256 (RFC 2104), to forge the classic "HS256 signed with the public key".
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len().min(64)].copy_from_slice(&key[..key.len().min(64)]);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[test]
fn eddsa_round_trip() {
    let claims: AssertionClaims = serde_json::from_value(claims()).unwrap();
    let token = sign_eddsa("jwt", Some("k1"), &claims, &ed_key()).unwrap();
    let jwt = decode(&token).unwrap();
    let expected = Header {
        alg: Alg::EdDSA,
        kid: Some("k1".into()),
        typ: Some("jwt".into()),
    };
    assert_eq!(jwt.header(), &expected);
    assert_eq!(jwt.claims::<AssertionClaims>().unwrap(), claims);
    assert_eq!(jwt.verify(&ed_verify()), Ok(()));
    let other = VerifyKey::Ed25519(SigningKey::from_bytes(&[9; 32]).verifying_key());
    assert_eq!(jwt.verify(&other), Err(AuthFailure::BadSignature));
}

#[test]
fn es256_round_trip() {
    let jwt = decode(&es256(
        r#"{"alg":"ES256","kid":"ec"}"#,
        &claims().to_string(),
    ))
    .unwrap();
    assert_eq!(jwt.header().alg, Alg::Es256);
    assert_eq!(
        jwt.verify(&VerifyKey::P256(*ec_key().verifying_key())),
        Ok(())
    );
    let other = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
    let other = VerifyKey::P256(*other.verifying_key());
    assert_eq!(jwt.verify(&other), Err(AuthFailure::BadSignature));
}

#[test]
fn rs256_round_trip() {
    let token = rs256(r#"{"alg":"RS256"}"#, &claims().to_string());
    let jwt = decode(&token).unwrap();
    assert_eq!(jwt.header().alg, Alg::Rs256);
    assert_eq!(jwt.verify(&VerifyKey::Rsa(RSA_KEY.to_public_key())), Ok(()));
}

#[test]
fn a_tampered_payload_fails_every_algorithm() {
    let tampered = claims().to_string().replace("agent", "admin");
    let swap = |token: String| {
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&tampered);
        parts[1] = &forged;
        decode(&parts.join(".")).unwrap()
    };
    let claims = claims().to_string();
    let ed = swap(eddsa(r#"{"alg":"EdDSA"}"#, &claims));
    let ec = swap(es256(r#"{"alg":"ES256"}"#, &claims));
    let rs = swap(rs256(r#"{"alg":"RS256"}"#, &claims));
    assert_eq!(ed.verify(&ed_verify()), Err(AuthFailure::BadSignature));
    let ec_verify = VerifyKey::P256(*ec_key().verifying_key());
    assert_eq!(ec.verify(&ec_verify), Err(AuthFailure::BadSignature));
    let rs_verify = VerifyKey::Rsa(RSA_KEY.to_public_key());
    assert_eq!(rs.verify(&rs_verify), Err(AuthFailure::BadSignature));
}

#[test]
fn a_key_of_another_type_is_a_disallowed_algorithm() {
    let jwt = decode(&eddsa(r#"{"alg":"EdDSA"}"#, "{}")).unwrap();
    let p256 = VerifyKey::P256(*ec_key().verifying_key());
    assert_eq!(jwt.verify(&p256), Err(AuthFailure::DisallowedAlgorithm));
    let rsa = VerifyKey::Rsa(RSA_KEY.to_public_key());
    assert_eq!(jwt.verify(&rsa), Err(AuthFailure::DisallowedAlgorithm));
}

#[test]
fn algorithms_outside_the_three_are_disallowed() {
    for alg in [
        "none", "None", "HS256", "RS512", "PS256", "ES384", "eddsa", "ED25519", "",
    ] {
        let token = format!("{}.{}.", b64(format!(r#"{{"alg":"{alg}"}}"#)), b64("{}"));
        assert_eq!(
            decode_err(&token),
            AuthFailure::DisallowedAlgorithm,
            "{alg}"
        );
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_disallowed() {
    let public = ed_key().verifying_key();
    let pem = keys::verifying_key_pem(&public).unwrap();
    for secret in [pem.as_bytes(), public.as_bytes().as_slice()] {
        let token = compact(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims().to_string(),
            |m| hmac_sha256(secret, m),
        );
        assert_eq!(decode_err(&token), AuthFailure::DisallowedAlgorithm);
    }
}

#[test]
fn a_token_over_8_kib_is_malformed() {
    let padding = "x".repeat(MAX_TOKEN_LEN);
    let token = eddsa(r#"{"alg":"EdDSA"}"#, &json!({ "pad": padding }).to_string());
    assert_eq!(decode_err(&token), AuthFailure::Malformed);
}

#[test]
fn only_three_parts_are_well_formed() {
    let token = eddsa(r#"{"alg":"EdDSA"}"#, "{}");
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        parts[..2].join("."),
        format!("{token}.{}", parts[2]),
        String::new(),
        "..".to_owned(),
        format!("{token}."),
    ] {
        assert_eq!(decode_err(&bad), AuthFailure::Malformed, "{bad}");
    }
}

#[test]
fn base64url_is_strict() {
    let header = b64(r#"{"alg":"EdDSA"}"#);
    let claims = b64("{}");
    let signature = b64([0u8; 64]);
    assert!(decode(&format!("{header}.{claims}.{signature}")).is_ok());
    for bad in [
        format!("{header}=.{claims}.{signature}"),
        format!("{header}.{claims}.{signature}=="),
        format!(" {header}.{claims}.{signature}"),
        format!("{header}.{claims}.{signature}\n"),
        format!("{header}.{}.{signature}", STANDARD.encode("{}")),
        format!(
            "{}.{claims}.{signature}",
            STANDARD.encode(r#"{"alg":"EdDSA","x":"??>"}"#)
        ),
    ] {
        assert_eq!(decode_err(&bad), AuthFailure::Malformed, "{bad}");
    }
    // Non-canonical trailing bits: `{}` is `e30`; `e31` decodes to the same bytes leniently.
    assert_eq!(
        decode_err(&format!("{header}.e31.{signature}")),
        AuthFailure::Malformed
    );
}

#[test]
fn the_header_must_be_a_unique_json_object() {
    for header in [
        r#"["EdDSA"]"#,
        "null",
        "not json",
        r#"{"alg":"EdDSA"} trailing"#,
        r#"{"alg":"EdDSA","alg":"EdDSA"}"#,
        r#"{"alg":"EdDSA","kid":"a","kid":"b"}"#,
        r#"{"kid":"a"}"#,
        r#"{"alg":"EdDSA","kid":7}"#,
    ] {
        let token = format!("{}.{}.{}", b64(header), b64("{}"), b64([0u8; 64]));
        assert_eq!(decode_err(&token), AuthFailure::Malformed, "{header}");
    }
}

#[test]
fn crit_and_b64_are_refused_even_when_null() {
    for header in [
        r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#,
        r#"{"alg":"EdDSA","crit":null}"#,
        r#"{"alg":"EdDSA","b64":false}"#,
    ] {
        assert_eq!(
            decode_err(&eddsa(header, "{}")),
            AuthFailure::Malformed,
            "{header}"
        );
    }
}

#[test]
fn the_signature_length_must_fit_the_algorithm() {
    let header = b64(r#"{"alg":"EdDSA"}"#);
    let ec_header = b64(r#"{"alg":"ES256"}"#);
    let rs_header = b64(r#"{"alg":"RS256"}"#);
    let claims = b64("{}");
    for bad in [
        format!("{header}.{claims}."),
        format!("{header}.{claims}.{}", b64([0u8; 63])),
        format!("{header}.{claims}.{}", b64([0u8; 65])),
        format!("{rs_header}.{claims}.{}", b64([0u8; 64])),
        format!("{rs_header}.{claims}.{}", b64([0u8; 513])),
    ] {
        assert_eq!(decode_err(&bad), AuthFailure::Malformed, "{bad}");
    }
    // ES256 signatures are raw r || s, never DER.
    let signature: p256::ecdsa::Signature = ec_key().sign(b"x");
    let der = signature.to_der();
    let token = format!("{ec_header}.{claims}.{}", b64(der.as_bytes()));
    assert_eq!(decode_err(&token), AuthFailure::Malformed);
}

#[test]
fn an_rsa_signature_must_match_the_modulus_size() {
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256"}"#),
        b64("{}"),
        b64([1u8; 512])
    );
    let jwt = decode(&token).unwrap();
    let key = VerifyKey::Rsa(RSA_KEY.to_public_key());
    assert_eq!(jwt.verify(&key), Err(AuthFailure::BadSignature));
}

#[test]
fn an_es256_signature_out_of_range_is_bad() {
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"ES256"}"#),
        b64("{}"),
        b64([0u8; 64])
    );
    let jwt = decode(&token).unwrap();
    let key = VerifyKey::P256(*ec_key().verifying_key());
    assert_eq!(jwt.verify(&key), Err(AuthFailure::BadSignature));
}

#[test]
fn claims_must_be_a_unique_json_object() {
    for claims in [
        "[]",
        "null",
        "\"text\"",
        "{",
        r#"{"sub":"a","sub":"b"}"#,
        "{} {}",
    ] {
        let token = eddsa(r#"{"alg":"EdDSA"}"#, claims);
        assert_eq!(decode_err(&token), AuthFailure::Malformed, "{claims}");
    }
}

#[test]
fn claims_of_the_wrong_shape_are_malformed() {
    let token = eddsa(
        r#"{"alg":"EdDSA"}"#,
        r#"{"iss":"i","sub":"s","aud":"a","exp":1.5}"#,
    );
    let jwt = decode(&token).unwrap();
    assert_eq!(jwt.claims::<AssertionClaims>(), Err(AuthFailure::Malformed));
    assert_eq!(jwt.claims::<TaskClaims>(), Err(AuthFailure::Malformed));
}

#[test]
fn signing_refuses_what_could_not_be_decoded() {
    assert!(matches!(
        sign_eddsa("t", None, &vec![1, 2], &ed_key()),
        Err(SignError::NotAnObject)
    ));
    let huge = json!({ "pad": "x".repeat(MAX_TOKEN_LEN) });
    assert!(matches!(
        sign_eddsa("t", None, &huge, &ed_key()),
        Err(SignError::TooLong { .. })
    ));
}

#[test]
fn task_claims_round_trip_with_their_typ() {
    let claims = TaskClaims {
        iss: "gatehouse".into(),
        sub: "agent".into(),
        aud: "gatehouse".into(),
        iat: 10,
        exp: 20,
        jti: "j".into(),
        wf: "wf".into(),
        tc: "triage".into(),
        seg: "data".into(),
        scope: vec!["ticket.read".into()],
    };
    let jwt = decode(&sign_eddsa(TASK_TOKEN_TYP, None, &claims, &ed_key()).unwrap()).unwrap();
    assert_eq!(jwt.header().typ.as_deref(), Some(TASK_TOKEN_TYP));
    assert_eq!(jwt.claims::<TaskClaims>().unwrap(), claims);
}

proptest! {
    #[test]
    fn decode_never_panics(text in ".{0,300}") {
        let _ = decode(&text);
    }

    #[test]
    fn decode_never_panics_on_token_like_text(text in "[A-Za-z0-9_=+/-]{0,80}(\\.[A-Za-z0-9_=+/-]{0,120}){0,4}") {
        let _ = decode(&text);
    }

    #[test]
    fn decode_never_panics_on_any_header(header in ".{0,120}", claims in ".{0,120}") {
        let token = format!("{}.{}.{}", b64(&header), b64(&claims), b64([0u8; 64]));
        if let Ok(jwt) = decode(&token) {
            prop_assert_eq!(jwt.verify(&ed_verify()), Err(AuthFailure::BadSignature));
        }
    }

    #[test]
    fn any_one_character_change_is_refused(index in 0usize..200, replacement in "[A-Za-z0-9_.-]") {
        let token = eddsa(r#"{"alg":"EdDSA","kid":"k"}"#, &claims().to_string());
        let index = index % token.len();
        let mut changed = token.clone();
        changed.replace_range(index..=index, &replacement);
        prop_assume!(changed != token);
        let verified = decode(&changed).and_then(|jwt| jwt.verify(&ed_verify()));
        prop_assert!(verified.is_err());
    }
}

/// A valid Ed25519 signature of `message` by `key` with a nonce of our choosing, as a
/// signer other than Gatehouse (randomised or hedged) could make: not the deterministic one.
fn signed_with_nonce(key: &SigningKey, message: &[u8], nonce: u64) -> Vec<u8> {
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::scalar::Scalar;
    let r = Scalar::from(nonce);
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let mut hash = sha2::Sha512::new();
    hash.update(big_r.as_bytes());
    hash.update(key.verifying_key().as_bytes());
    hash.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    let s = r + k * key.to_scalar();
    [big_r.to_bytes(), s.to_bytes()].concat()
}

#[test]
fn verify_own_accepts_what_the_key_signed_and_refuses_the_rest() {
    let header = r#"{"alg":"EdDSA","typ":"gatehouse-task+jwt"}"#;
    let token = eddsa(header, &claims().to_string());
    decode(&token).unwrap().verify_own(&ed_key()).unwrap();

    let other_key = SigningKey::from_bytes(&[9; 32]);
    assert_eq!(
        decode(&token).unwrap().verify_own(&other_key),
        Err(AuthFailure::BadSignature)
    );
    let (input, signature_b64) = token.rsplit_once('.').unwrap();
    let other_claims = json!({ "iss": "issuer", "sub": "root", "aud": "gatehouse" });
    let tampered = format!(
        "{}.{}.{signature_b64}",
        b64(header),
        b64(other_claims.to_string())
    );
    assert_eq!(
        decode(&tampered).unwrap().verify_own(&ed_key()),
        Err(AuthFailure::BadSignature)
    );
    let mut signature = URL_SAFE_NO_PAD.decode(signature_b64).unwrap();
    for at in [0, 31, 32, 63] {
        signature[at] ^= 1;
        let flipped = format!("{input}.{}", b64(&signature));
        assert_eq!(
            decode(&flipped).unwrap().verify_own(&ed_key()),
            Err(AuthFailure::BadSignature),
            "byte {at}"
        );
        signature[at] ^= 1;
    }
}

#[test]
fn verify_own_still_accepts_a_valid_signature_made_with_another_nonce() {
    let header = r#"{"alg":"EdDSA"}"#;
    let key = ed_key();
    let token = compact(header, &claims().to_string(), |m| {
        signed_with_nonce(&key, m, 12_345)
    });
    let jwt = decode(&token).unwrap();
    assert_ne!(
        key.sign(jwt.signing_input.as_bytes()).to_bytes().to_vec(),
        jwt.signature,
        "not the deterministic signature"
    );
    jwt.verify(&ed_verify()).unwrap();
    jwt.verify_own(&key).unwrap();
    // One bit of its s flipped: refused by both.
    let mut bad = jwt.clone();
    bad.signature[32] ^= 0x01;
    assert_eq!(bad.verify(&ed_verify()), bad.verify_own(&key));
    assert!(bad.verify_own(&key).is_err());
}

#[test]
fn verify_own_refuses_other_algorithms() {
    let header = r#"{"alg":"ES256"}"#;
    let token = es256(header, &claims().to_string());
    assert_eq!(
        decode(&token).unwrap().verify_own(&ed_key()),
        Err(AuthFailure::DisallowedAlgorithm)
    );
}
