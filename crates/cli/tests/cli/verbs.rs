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
