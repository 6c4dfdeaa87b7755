//! Key generation, assertions and the events client as a user meets them.

use gatehouse_core::token::keys::load_verifying_key_pem;
use gatehouse_core::token::{AssertionClaims, VerifyKey, decode};

use crate::gatehouse;

#[test]
fn keys_agent_writes_a_pair_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let first = gatehouse(&["keys", "agent", "bot", "--out", out]);
    assert!(first.status.success());
    assert!(dir.path().join("bot.key").exists() && dir.path().join("bot.pub").exists());
    let again = gatehouse(&["keys", "agent", "bot", "--out", out]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists; not overwriting a key")
    );
}

#[test]
fn an_assertion_verifies_with_the_agents_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert!(
        gatehouse(&["keys", "agent", "bot", "--out", out])
            .status
            .success()
    );
    let key = dir.path().join("bot.key");
    let output = gatehouse(&[
        "agent",
        "assertion",
        "--key",
        key.to_str().unwrap(),
        "--agent",
        "spiffe://x/bot",
    ]);
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).unwrap();
    let jwt = decode(token.trim()).unwrap();
    let public =
        load_verifying_key_pem(&std::fs::read_to_string(dir.path().join("bot.pub")).unwrap())
            .unwrap();
    jwt.verify(&VerifyKey::Ed25519(public)).unwrap();
    let claims: AssertionClaims = jwt.claims().unwrap();
    assert_eq!(claims.sub, "spiffe://x/bot");
    assert!(claims.aud.contains("gatehouse"));
    assert!(claims.jti.is_some());
}

#[test]
fn events_without_a_token_says_how_to_give_one() {
    let output = gatehouse(&["events", "--control", "http://127.0.0.1:9"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("set GATEHOUSE_TOKEN or pass --token-file"),
        "{stderr}"
    );
}

#[test]
fn events_against_a_dead_control_plane_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t").unwrap();
    let output = gatehouse(&[
        "events",
        "--control",
        "http://127.0.0.1:9",
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));
}

#[test]
fn keys_agent_writes_pkcs8_v1_that_other_stacks_read() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert!(
        gatehouse(&["keys", "agent", "bot", "--out", out])
            .status
            .success()
    );
    let pem = std::fs::read_to_string(dir.path().join("bot.key")).unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    // RFC 8410 §7: SEQUENCE { INTEGER 0 (v1), AlgorithmIdentifier Ed25519, OCTET STRING
    // { OCTET STRING seed } }, 48 bytes, no public key (v2's `[1]` field is refused by
    // OpenSSL 3, Node and Python `cryptography`).
    assert_eq!(der.len(), 48, "{der:02x?}");
    assert_eq!(der.get(..5), Some(&[0x30, 0x2e, 0x02, 0x01, 0x00][..]));
}

#[test]
fn events_since_refuses_an_age_it_cannot_read_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("operator.token");
    std::fs::write(&token, "t").unwrap();
    for age in ["1\u{e9}", "\u{e9}", "15", "7x"] {
        let output = gatehouse(&[
            "events",
            "--since",
            age,
            "--control",
            "http://127.0.0.1:9",
            "--token-file",
            token.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(1), "{age}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("`{age}` is not an age like `30s`")),
            "{stderr}"
        );
    }
}
