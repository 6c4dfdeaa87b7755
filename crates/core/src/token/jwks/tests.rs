use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::*;
use crate::token::tests::{RSA_KEY, ec_key, ed_key};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn okp(kid: &str) -> Value {
    okp_of(kid, &ed_key())
}

fn okp_of(kid: &str, key: &ed25519_dalek::SigningKey) -> Value {
    let x = b64(key.verifying_key().as_bytes());
    json!({ "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x })
}

fn ec(kid: &str) -> Value {
    let point = ec_key().verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().unwrap(), point.y().unwrap());
    json!({ "kty": "EC", "crv": "P-256", "kid": kid, "x": b64(x), "y": b64(y) })
}

fn rsa_jwk(kid: &str, key: &rsa::RsaPublicKey) -> Value {
    json!({ "kty": "RSA", "kid": kid, "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()) })
}

fn rsa(kid: &str) -> Value {
    rsa_jwk(kid, &RSA_KEY.to_public_key())
}

fn parse(keys: Vec<Value>) -> Result<Jwks, JwksError> {
    Jwks::parse(&json!({ "keys": keys }).to_string())
}

fn problem(keys: Vec<Value>) -> KeyProblem {
    match parse(keys) {
        Err(JwksError::Key { problem, .. }) => problem,
        other => panic!("expected a key problem, got {other:?}"),
    }
}

fn with(mut key: Value, member: &str, value: Value) -> Value {
    key[member] = value;
    key
}

#[test]
fn all_three_key_types_parse_and_are_found_by_kid() {
    let jwks = parse(vec![okp("ed"), ec("ec"), rsa("rs")]).unwrap();
    assert_eq!(jwks.len(), 3);
    assert!(matches!(
        jwks.find(Some("ed"), Alg::EdDSA),
        Some(VerifyKey::Ed25519(_))
    ));
    assert!(matches!(
        jwks.find(Some("ec"), Alg::Es256),
        Some(VerifyKey::P256(_))
    ));
    assert!(matches!(
        jwks.find(Some("rs"), Alg::Rs256),
        Some(VerifyKey::Rsa(_))
    ));
    assert!(jwks.find(Some("missing"), Alg::EdDSA).is_none());
}

#[test]
fn a_kid_whose_key_does_not_fit_the_algorithm_finds_nothing() {
    let jwks = parse(vec![okp("ed"), rsa("rs")]).unwrap();
    assert!(jwks.find(Some("ed"), Alg::Rs256).is_none());
    assert!(jwks.find(Some("rs"), Alg::EdDSA).is_none());
}

#[test]
fn without_kid_only_a_single_fitting_key_is_found() {
    let jwks = parse(vec![okp("ed"), rsa("rs")]).unwrap();
    assert!(matches!(
        jwks.find(None, Alg::EdDSA),
        Some(VerifyKey::Ed25519(_))
    ));
    assert!(jwks.find(None, Alg::Es256).is_none());
    let other = okp_of("other", &ed25519_dalek::SigningKey::from_bytes(&[5; 32]));
    let two = parse(vec![okp("ed"), other]).unwrap();
    assert!(two.find(None, Alg::EdDSA).is_none());
    assert!(two.find(Some("other"), Alg::EdDSA).is_some());
}

#[test]
fn kid_is_optional() {
    let mut key = okp("x");
    key.as_object_mut().unwrap().remove("kid");
    let jwks = parse(vec![key]).unwrap();
    assert!(jwks.find(None, Alg::EdDSA).is_some());
    assert!(jwks.find(Some("x"), Alg::EdDSA).is_none());
}

#[test]
fn keys_not_for_verifying_with_our_algorithms_are_skipped() {
    let skipped = vec![
        with(okp("enc"), "use", json!("enc")),
        with(okp("ops"), "key_ops", json!(["encrypt"])),
        with(okp("x25519"), "crv", json!("X25519")),
        with(ec("p384"), "crv", json!("P-384")),
        with(rsa("ps"), "alg", json!("PS256")),
        json!({ "kty": "oct", "k": "c2VjcmV0" }),
        json!({ "kty": "future", "whatever": [1, 2] }),
    ];
    assert_eq!(parse(skipped.clone()).unwrap_err(), JwksError::NoUsableKey);
    let mut with_one = skipped;
    with_one.push(with(
        with(okp("sig"), "use", json!("sig")),
        "alg",
        json!("EdDSA"),
    ));
    let jwks = parse(with_one).unwrap();
    assert_eq!(jwks.len(), 1);
    assert!(jwks.find(Some("sig"), Alg::EdDSA).is_some());
}

#[test]
fn an_empty_or_malformed_set_is_refused() {
    assert_eq!(parse(vec![]).unwrap_err(), JwksError::NoUsableKey);
    for text in [
        "",
        "[]",
        "{}",
        r#"{"keys":{}}"#,
        r#"{"keys":[{"crv":"Ed25519"}]}"#,
    ] {
        assert!(
            matches!(Jwks::parse(text), Err(JwksError::Json(_))),
            "{text}"
        );
    }
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let weak = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa1024.pem")).unwrap();
    let problem = problem(vec![rsa_jwk("weak", &weak.to_public_key())]);
    assert_eq!(problem, KeyProblem::WeakRsa { bits: 1024 });
}

#[test]
fn bad_key_parameters_fail_the_set() {
    assert_eq!(
        problem(vec![with(okp("a"), "x", json!("!!"))]),
        KeyProblem::Encoding("x")
    );
    assert_eq!(
        problem(vec![with(okp("a"), "x", json!(b64([1; 31])))]),
        KeyProblem::Length("x")
    );
    assert_eq!(
        problem(vec![with(ec("a"), "y", json!(b64([1; 32])))]),
        KeyProblem::Invalid("P-256")
    );
    let mut no_crv = ec("a");
    no_crv.as_object_mut().unwrap().remove("crv");
    assert_eq!(problem(vec![no_crv]), KeyProblem::Missing("crv"));
    let mut no_e = rsa("a");
    no_e.as_object_mut().unwrap().remove("e");
    assert_eq!(problem(vec![no_e]), KeyProblem::Missing("e"));
    assert_eq!(
        problem(vec![with(rsa("a"), "e", json!(b64([1])))]),
        KeyProblem::Invalid("RSA")
    );
}

#[test]
fn small_order_ed25519_keys_are_refused() {
    // The identity point: any signature would verify under lax rules.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = with(okp("weak"), "x", json!(b64(identity)));
    assert_eq!(problem(vec![key]), KeyProblem::Invalid("Ed25519"));
}

#[test]
fn private_key_material_is_refused() {
    let key = with(okp("a"), "d", json!(b64([7; 32])));
    assert_eq!(problem(vec![okp("b"), key.clone()]), KeyProblem::PrivateKey);
    let message = parse(vec![okp("b"), key]).unwrap_err().to_string();
    assert_eq!(message, "key #1 (`a`): contains private key material (`d`)");
}

#[test]
fn duplicate_key_ids_are_refused() {
    let error = parse(vec![okp("same"), ec("same")]).unwrap_err();
    assert_eq!(error, JwksError::DuplicateKid("same".into()));
    assert_eq!(error.to_string(), "two keys share the key id `same`");
}

#[test]
fn from_keys_keeps_the_same_rules() {
    let key = VerifyKey::Ed25519(ed_key().verifying_key());
    assert_eq!(Jwks::from_keys(vec![]).unwrap_err(), JwksError::NoUsableKey);
    let twice = vec![
        (Some("k".into()), key.clone()),
        (Some("k".into()), key.clone()),
    ];
    assert_eq!(
        Jwks::from_keys(twice).unwrap_err(),
        JwksError::DuplicateKid("k".into())
    );
    assert!(
        Jwks::from_keys(vec![(None, key)])
            .unwrap()
            .find(None, Alg::EdDSA)
            .is_some()
    );
}
