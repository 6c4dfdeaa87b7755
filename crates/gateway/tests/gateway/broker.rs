//! Token exchange: good identities get credentials; every bad assertion is refused with
//! a precise problem and an event.

use std::time::Duration;

use gatehouse_core::event::EventKind;
use gatehouse_core::token::{Audience, TaskClaims, decode};
use gatehouse_kit::client::{Reply, send};
use http::Method;

use crate::harness::{AGENT, AUDIENCE, Harness, SVID_AGENT, decision_id, problem_kind};

#[tokio::test]
async fn a_signed_assertion_buys_a_credential_bound_to_workflow_segment_and_scope() {
    let harness = Harness::start().await;
    let reply = harness
        .exchange(&harness.assertion(), "wf-42", "triage")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    let token = body["access_token"].as_str().unwrap();
    let claims: TaskClaims = decode(token).unwrap().claims().unwrap();
    assert_eq!(claims.sub, AGENT);
    assert_eq!(claims.wf, "wf-42");
    assert_eq!(claims.seg, "data");
    assert!(claims.scope.contains(&"ticket.create".to_owned()));
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.kind, EventKind::Token);
    assert_eq!(event.workflow.as_deref(), Some("wf-42"));
}

#[tokio::test]
async fn a_spiffe_jwt_svid_from_a_trusted_issuer_buys_a_credential() {
    let harness = Harness::start().await;
    let reply = harness.exchange(&harness.svid(), "wf-svid", "triage").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims: TaskClaims = decode(&token).unwrap().claims().unwrap();
    assert_eq!(claims.sub, SVID_AGENT);
}

async fn refused_with(harness: &Harness, assertion: &str, expected: &str) {
    let reply = harness.exchange(assertion, "wf-1", "triage").await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(problem_kind(&reply), "invalid-assertion");
    let event = harness.event(&decision_id(&reply)).await;
    let reason = event.reason.unwrap_or_default();
    assert!(
        reason.starts_with(&format!("invalid-assertion: {expected}")),
        "{reason}"
    );
}

#[tokio::test]
async fn expired_future_and_overlong_assertions_are_refused() {
    let harness = Harness::start().await;
    let mut claims = harness.claims();
    claims.exp -= 3600;
    claims.iat = claims.iat.map(|iat| iat - 3660);
    refused_with(&harness, &harness.sign(&claims), "expired").await;
    let mut claims = harness.claims();
    claims.iat = claims.iat.map(|iat| iat + 600);
    claims.exp += 600;
    refused_with(&harness, &harness.sign(&claims), "not_yet_valid").await;
    let mut claims = harness.claims();
    claims.exp += 3600;
    refused_with(&harness, &harness.sign(&claims), "lifetime_too_long").await;
}

#[tokio::test]
async fn wrong_audience_and_unknown_agents_are_refused() {
    let harness = Harness::start().await;
    let mut claims = harness.claims();
    claims.aud = Audience::One("someone-else".to_owned());
    refused_with(&harness, &harness.sign(&claims), "wrong_audience").await;
    let mut claims = harness.claims();
    claims.sub = "spiffe://test/agent/stranger".to_owned();
    claims.iss = claims.sub.clone();
    refused_with(&harness, &harness.sign(&claims), "bad_signature").await;
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused() {
    let harness = Harness::start().await;
    let other = gatehouse_core::token::keys::generate();
    let token = gatehouse_core::token::sign_eddsa("JWT", None, &harness.claims(), &other).unwrap();
    refused_with(&harness, &token, "bad_signature").await;
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let harness = Harness::start().await;
    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_string(&harness.claims()).unwrap());
    let none = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    refused_with(&harness, &none, "disallowed_algorithm").await;
    let public = harness.agent_key.verifying_key().to_bytes();
    let input = format!(
        "{}.{claims}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#)
    );
    let mac = hmac_sha256(&public, input.as_bytes());
    let hs256 = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
    refused_with(&harness, &hs256, "disallowed_algorithm").await;
}

#[tokio::test]
async fn malformed_assertions_are_refused() {
    let harness = Harness::start().await;
    for garbage in ["", "abc", "a.b.c", "....", &"x".repeat(9000)] {
        let reply = harness.exchange(garbage, "wf-1", "triage").await;
        assert!(
            reply.status == 401 || reply.status == 400,
            "{garbage}: {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn an_assertion_missing_or_mistyping_a_claim_is_refused_naming_the_claim() {
    let harness = Harness::start().await;
    let cases = [
        (
            "exp",
            None,
            "missing_claim",
            "the token lacks the required `exp` claim",
        ),
        (
            "jti",
            None,
            "missing_claim",
            "the token lacks the required `jti` claim",
        ),
        (
            "aud",
            None,
            "missing_claim",
            "the token lacks the required `aud` claim",
        ),
        (
            "exp",
            Some(serde_json::json!("soon")),
            "bad_claim",
            "the token's `exp` claim has the wrong type",
        ),
    ];
    for (claim, value, label, detail) in cases {
        let mut claims = serde_json::to_value(harness.claims()).unwrap();
        match value {
            Some(value) => claims[claim] = value,
            None => drop(claims.as_object_mut().unwrap().remove(claim)),
        }
        let assertion =
            gatehouse_core::token::sign_eddsa("JWT", None, &claims, &harness.agent_key).unwrap();
        let reply = harness.exchange(&assertion, "wf-1", "triage").await;
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert_eq!(reply.json().unwrap()["detail"], detail);
        let event = harness.event(&decision_id(&reply)).await;
        let reason = format!("invalid-assertion: {label}");
        assert_eq!(event.reason.as_deref(), Some(reason.as_str()));
    }
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let harness = Harness::start().await;
    let assertion = harness.assertion();
    assert_eq!(
        harness.exchange(&assertion, "wf-1", "triage").await.status,
        200
    );
    refused_with(&harness, &assertion, "replayed").await;
}

#[tokio::test]
async fn a_task_class_the_agent_is_not_registered_for_is_refused() {
    let harness = Harness::start().await;
    let reply = harness
        .exchange(&harness.assertion(), "wf-1", "release")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(problem_kind(&reply), "task-class-not-allowed");
    let reply = harness
        .exchange(&harness.assertion(), "wf-1", "no-such-class")
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn malformed_token_requests_are_refused() {
    let harness = Harness::start().await;
    let reply = harness
        .exchange(&harness.assertion(), "bad workflow!", "triage")
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(problem_kind(&reply), "bad-token-request");
}

#[tokio::test]
async fn a_credential_stops_working_when_it_expires() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(http::Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(reply.status, 200);
    harness.clock.advance(Duration::from_secs(601));
    let reply = harness
        .call(http::Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(reply.status, 401);
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.reason.as_deref(), Some("unauthenticated: expired"));
    assert_eq!(harness.upstream.seen().len(), 1);
}

#[tokio::test]
async fn the_segment_keys_are_published_as_jwks() {
    let harness = Harness::start().await;
    let reply = gatehouse_kit::client::send(
        http::Method::GET,
        &harness.data_url("/v1/jwks.json"),
        &[],
        "",
    )
    .await
    .unwrap();
    let keys = reply.json().unwrap()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|key| key["kty"] == "OKP"));
    let _ = AUDIENCE;
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = block
        .iter()
        .map(|byte| byte ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let inner = Sha256::digest(&inner);
    let outer: Vec<u8> = block
        .iter()
        .map(|byte| byte ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    Sha256::digest(&outer).into()
}

async fn token_request(harness: &Harness, content_type: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = content_type
        .map(|value| vec![("content-type", value)])
        .unwrap_or_default();
    send(
        Method::POST,
        &harness.data_url("/v1/token"),
        &headers,
        body.to_owned(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_json_token_request_with_a_repeated_key_is_refused() {
    let harness = Harness::start().await;
    let assertion = harness.assertion();
    let once =
        format!(r#"{{"assertion":"{assertion}","workflow":"wf-json","task_class":"triage"}}"#);
    let reply = token_request(&harness, Some("application/json; charset=utf-8"), &once).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let twice = format!(
        r#"{{"assertion":"{}","workflow":"wf-json","task_class":"narrow","task_class":"triage"}}"#,
        harness.assertion()
    );
    let reply = token_request(&harness, Some("application/json"), &twice).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(problem_kind(&reply), "bad-token-request");
    assert!(reply.text().contains("repeated"), "{}", reply.text());
}

#[tokio::test]
async fn a_token_request_whose_content_type_is_not_exactly_json_or_form_is_refused() {
    let harness = Harness::start().await;
    let json = format!(
        r#"{{"assertion":"{}","workflow":"wf-ct","task_class":"triage"}}"#,
        harness.assertion()
    );
    for content_type in [
        Some("application/jsonx"),
        Some("text/json"),
        Some("application/json-patch+json"),
        Some("text/plain"),
        None,
    ] {
        let reply = token_request(&harness, content_type, &json).await;
        assert_eq!(reply.status, 400, "{content_type:?}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "bad-token-request");
    }
    let form = format!(
        "assertion={}&workflow=wf-ct&task_class=triage",
        harness.assertion()
    );
    let reply = token_request(
        &harness,
        Some("Application/X-WWW-Form-Urlencoded ; charset=UTF-8"),
        &form,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn an_unknown_agent_and_a_bad_signature_get_the_same_answer_and_the_event_tells_them_apart() {
    let harness = Harness::start().await;
    let mut claims = harness.claims();
    claims.sub = "spiffe://test/agent/stranger".to_owned();
    claims.iss = claims.sub.clone();
    let unknown = harness
        .exchange(&harness.sign(&claims), "wf-1", "triage")
        .await;
    let other = gatehouse_core::token::keys::generate();
    let forged = gatehouse_core::token::sign_eddsa("JWT", None, &harness.claims(), &other).unwrap();
    let forged = harness.exchange(&forged, "wf-1", "triage").await;
    // The SPIFFE agent is known, but registered through an issuer: a self-signed
    // assertion naming it must look like any other bad signature too.
    let mut claims = harness.claims();
    claims.sub = SVID_AGENT.to_owned();
    claims.iss = claims.sub.clone();
    let issuer_agent = harness
        .exchange(&harness.sign(&claims), "wf-1", "triage")
        .await;
    let answer = |reply: &Reply| {
        let mut body = reply.json().unwrap();
        body.as_object_mut().unwrap().remove("decision_id");
        (reply.status, body)
    };
    assert_eq!(answer(&unknown), answer(&forged));
    assert_eq!(answer(&issuer_agent), answer(&forged));
    assert_eq!(unknown.status, 401);
    let event = harness.event(&decision_id(&unknown)).await;
    assert!(
        event.reason.as_deref().unwrap().contains("unknown_agent"),
        "{:?}",
        event.reason
    );
}
