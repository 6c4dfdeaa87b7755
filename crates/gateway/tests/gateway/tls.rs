//! TLS on both listeners: real handshakes with a rustls client against certificates a
//! test CA made with `openssl`: ALPN, protocol versions, certificate reload, client
//! certificates (X.509-SVIDs) naming agents, and the data plane calling itself `https`.

mod client;
mod pki;
mod upstream;

use std::time::Duration;

use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{AGENT, Harness, OPERATOR_TOKEN};
use client::{Offer, connect, request};
use pki::{Pair, Pki};

const BEFORE_GATEWAY: &str = "audience = \"gatehouse-test\"\n";

/// The data plane over TLS (client certificates as `client`: `None`, `optional` or
/// `required`), the control plane too when `control` is set.
async fn start(pki: &Pki, server: &Pair, client: Option<&str>, control: bool) -> Harness {
    let files = |pair: &Pair| {
        format!(
            "cert_file = \"{}\", key_file = \"{}\"",
            pair.cert.display(),
            pair.key.display()
        )
    };
    let client_certs = client.map_or(String::new(), |auth| {
        format!(
            ", client_ca_file = \"{}\", client_auth = \"{auth}\"",
            pki.ca().display()
        )
    });
    let mut tables = format!("data_tls = {{ {}{client_certs} }}\n", files(server));
    if control {
        tables.push_str(&format!("control_tls = {{ {} }}\n", files(server)));
    }
    Harness::builder()
        .edit(BEFORE_GATEWAY, &format!("{BEFORE_GATEWAY}{tables}"))
        .start()
        .await
}

#[tokio::test]
async fn both_listeners_speak_tls_and_alpn_chooses_h2_or_http1() {
    let pki = Pki::new("test-ca");
    let server = pki.server("gateway");
    let harness = start(&pki, &server, None, true).await;
    let ca = pki.ca();
    let data = harness.gateway().data_addr();
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let offer = Offer {
            alpn: &[alpn],
            ..Offer::new(&ca)
        };
        let mut connection = connect(data, &offer).await.unwrap();
        assert_eq!(connection.alpn.as_deref(), Some(alpn));
        let answer = connection.send(Method::GET, "/v1/jwks.json", &[], "").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.json()["keys"].is_array());
    }
    let control = harness.gateway().control_addr();
    let offer = Offer {
        alpn: &[b"h2", b"http/1.1"],
        ..Offer::new(&ca)
    };
    let mut connection = connect(control, &offer).await.unwrap();
    assert_eq!(connection.alpn.as_deref(), Some(&b"h2"[..]));
    let auth = format!("Bearer {OPERATOR_TOKEN}");
    let answer = connection
        .send(Method::GET, "/v1/events", &[("authorization", &auth)], "")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // Plain HTTP on a TLS port gets no HTTP answer at all.
    let mut plain = tokio::net::TcpStream::connect(data).await.unwrap();
    plain
        .write_all(b"GET /v1/jwks.json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    harness.stop().await;
}

#[tokio::test]
async fn tls_1_3_and_1_2_are_accepted_and_older_versions_refused() {
    let pki = Pki::new("test-ca");
    let server = pki.server("gateway");
    let harness = start(&pki, &server, None, false).await;
    let ca = pki.ca();
    let data = harness.gateway().data_addr();
    for (version, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let offer = Offer {
            versions: &[version],
            ..Offer::new(&ca)
        };
        let mut connection = connect(data, &offer).await.unwrap();
        assert_eq!(connection.version, Some(expected));
        let answer = connection.send(Method::GET, "/v1/jwks.json", &[], "").await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // OpenSSL offering TLS 1.1 only (its own floor lowered so the offer is really
    // sent) is refused by the gateway with an alert; the same command offering 1.2
    // gets through, so the refusal is the version's.
    let s_client = |version: &'static str| {
        let ca = ca.clone();
        async move {
            let output = tokio::process::Command::new("openssl")
                .args(["s_client", "-connect", &data.to_string(), version])
                .args(["-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile"])
                .arg(ca)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap();
            String::from_utf8_lossy(&output.stderr).to_string()
                + &String::from_utf8_lossy(&output.stdout)
        }
    };
    let old = s_client("-tls1_1").await;
    assert!(old.contains("Cipher is (NONE)"), "{old}");
    assert!(
        old.contains("alert handshake failure") || old.contains("alert protocol version"),
        "{old}"
    );
    let current = s_client("-tls1_2").await;
    assert!(
        current.contains("Protocol  : TLSv1.2") || current.contains("TLSv1.2, Cipher is"),
        "{current}"
    );
    harness.stop().await;
}

/// Connects until the gateway presents `expected`, for at most five seconds.
async fn wait_for_cert(harness: &Harness, offer: &Offer<'_>, expected: &Pair) {
    let wanted = der(expected);
    for _ in 0..100 {
        let connection = connect(harness.gateway().data_addr(), offer).await.unwrap();
        if connection.server_cert == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never presented {}", expected.cert.display());
}

fn der(pair: &Pair) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(&pair.cert).unwrap().to_vec()
}

#[tokio::test]
async fn a_renewed_certificate_serves_new_handshakes_while_open_connections_go_on() {
    let pki = Pki::new("test-ca");
    let first = pki.server("first");
    let second = pki.server("second");
    let live = pki.server("live");
    pki::install(&first, &live);
    let harness = start(&pki, &live, None, false).await;
    let ca = pki.ca();
    let offer = Offer::new(&ca);
    let data = harness.gateway().data_addr();
    let mut old = connect(data, &offer).await.unwrap();
    assert_eq!(old.server_cert, der(&first));
    assert_eq!(
        old.send(Method::GET, "/v1/jwks.json", &[], "").await.status,
        200
    );

    pki::install(&second, &live);
    wait_for_cert(&harness, &offer, &second).await;
    // The connection opened before the renewal still works, on its old session.
    assert_eq!(
        old.send(Method::GET, "/v1/jwks.json", &[], "").await.status,
        200
    );
    let events = harness
        .events_until(
            "limit=50",
            |event| event.intent.as_deref() == Some("tls.reload"),
            1,
        )
        .await;
    let reload = events
        .iter()
        .find(|event| event.intent.as_deref() == Some("tls.reload"))
        .unwrap();
    assert_eq!(reload.actor.as_deref(), Some("gatehouse"));
    harness.stop().await;
}

#[tokio::test]
async fn a_broken_renewal_keeps_the_previous_certificate_and_says_why() {
    let pki = Pki::new("test-ca");
    let first = pki.server("first");
    let other = pki.server("other");
    let live = pki.server("live");
    pki::install(&first, &live);
    let harness = start(&pki, &live, None, false).await;
    let ca = pki.ca();
    let offer = Offer::new(&ca);
    // A certificate whose key is another's: a renewal gone wrong half-way.
    pki::replace(&other.cert, &live.cert);
    let failed =
        |event: &gatehouse_core::event::Event| event.intent.as_deref() == Some("tls.reload_failed");
    let events = harness.events_until("limit=50", failed, 1).await;
    let reason = events
        .iter()
        .find(|event| failed(event))
        .unwrap()
        .reason
        .clone()
        .unwrap();
    assert!(
        reason.contains("previous certificate stays in use"),
        "{reason}"
    );
    assert!(reason.contains("does not fit"), "{reason}");
    let connection = connect(harness.gateway().data_addr(), &offer)
        .await
        .unwrap();
    assert_eq!(connection.server_cert, der(&first));
    // Garbage instead of PEM: still the old certificate.
    std::fs::write(&live.key, "not a key").unwrap();
    harness.events_until("limit=50", failed, 2).await;
    let connection = connect(harness.gateway().data_addr(), &offer)
        .await
        .unwrap();
    assert_eq!(connection.server_cert, der(&first));
    // The fixed pair is picked up.
    pki::install(&other, &live);
    wait_for_cert(&harness, &offer, &other).await;
    harness.stop().await;
}

/// The headers of a form-encoded token request.
const FORM: [(&str, &str); 1] = [("content-type", "application/x-www-form-urlencoded")];

#[tokio::test]
async fn an_agent_presenting_its_svid_gets_a_credential_without_an_assertion() {
    let pki = Pki::new("agents-ca");
    let server = pki.server("gateway");
    let agent = pki.svid("bot", AGENT);
    let harness = start(&pki, &server, Some("optional"), false).await;
    let ca = pki.ca();
    let offer = Offer {
        identity: Some(&agent),
        ..Offer::new(&ca)
    };
    let data = harness.gateway().data_addr();
    let body = "workflow=wf-mtls&task_class=triage";
    let answer = request(data, &offer, Method::POST, "/v1/token", &FORM, body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let token = answer.json()["access_token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    let answer = request(
        data,
        &offer,
        Method::GET,
        "/tools/tickets/tickets/7",
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let seen = harness.upstream.seen();
    let call = seen.last().unwrap();
    assert_eq!(call.headers["x-forwarded-proto"], "https");
    assert!(
        call.headers["forwarded"]
            .to_str()
            .unwrap()
            .contains("proto=https"),
        "{:?}",
        call.headers["forwarded"]
    );
    let events = harness
        .events_until(
            "intent=token.exchange",
            |event| event.agent.as_deref() == Some(AGENT),
            1,
        )
        .await;
    let exchange = events
        .iter()
        .find(|event| event.agent.as_deref() == Some(AGENT))
        .unwrap();
    assert!(
        exchange
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("client certificate"),
        "{:?}",
        exchange.reason
    );
    // Without a certificate on an optional listener, assertions work as before; with
    // neither, the request is missing its assertion.
    let plain = Offer::new(&ca);
    let assertion = harness.assertion();
    let body = format!("assertion={assertion}&workflow=wf-plain&task_class=triage");
    let answer = request(data, &plain, Method::POST, "/v1/token", &FORM, &body).await;
    assert_eq!(answer.status, 200);
    let body = "workflow=wf-none&task_class=triage";
    let answer = request(data, &plain, Method::POST, "/v1/token", &FORM, body).await;
    assert_eq!(answer.status, 400);
    harness.stop().await;
}

#[tokio::test]
async fn an_unknown_or_mismatched_svid_is_refused() {
    let pki = Pki::new("agents-ca");
    let server = pki.server("gateway");
    let stranger = pki.svid("stranger", "spiffe://test/agent/stranger");
    let bot = pki.svid("bot", AGENT);
    let harness = start(&pki, &server, Some("optional"), false).await;
    let ca = pki.ca();
    let data = harness.gateway().data_addr();
    let offer = Offer {
        identity: Some(&stranger),
        ..Offer::new(&ca)
    };
    let body = "workflow=wf-x&task_class=triage";
    let answer = request(data, &offer, Method::POST, "/v1/token", &FORM, body).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    let refused = harness
        .events_until(
            "intent=token.exchange",
            |event| event.agent.as_deref() == Some("spiffe://test/agent/stranger"),
            1,
        )
        .await;
    assert!(!refused.is_empty());
    // The bot's certificate with the SPIFFE agent's assertion: two identities, refused.
    let offer = Offer {
        identity: Some(&bot),
        ..Offer::new(&ca)
    };
    let body = format!(
        "assertion={}&workflow=wf-y&task_class=triage",
        harness.svid()
    );
    let answer = request(data, &offer, Method::POST, "/v1/token", &FORM, &body).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    // A certificate from a CA the listener does not trust fails the handshake.
    let rogue = Pki::new("rogue-ca");
    let impostor = rogue.svid("bot", AGENT);
    let offer = Offer {
        identity: Some(&impostor),
        ..Offer::new(&ca)
    };
    let refused = match connect(data, &offer).await {
        Err(_) => true,
        // TLS 1.3: the client learns of the refusal on its first read.
        Ok(mut connection) => {
            let sent = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::spawn(async move {
                    connection
                        .send(Method::GET, "/v1/jwks.json", &[], "")
                        .await
                        .status
                }),
            )
            .await;
            !matches!(sent, Ok(Ok(status)) if status == 200)
        }
    };
    assert!(refused);
    harness.stop().await;
}

#[tokio::test]
async fn a_required_client_certificate_turns_away_connections_without_one() {
    let pki = Pki::new("agents-ca");
    let server = pki.server("gateway");
    let bot = pki.svid("bot", AGENT);
    let harness = start(&pki, &server, Some("required"), false).await;
    let ca = pki.ca();
    let data = harness.gateway().data_addr();
    let with = Offer {
        identity: Some(&bot),
        ..Offer::new(&ca)
    };
    let answer = request(data, &with, Method::GET, "/v1/jwks.json", &[], "").await;
    assert_eq!(answer.status, 200);
    let without = Offer::new(&ca);
    let answered = match connect(data, &without).await {
        Err(_) => false,
        Ok(mut connection) => tokio::time::timeout(
            Duration::from_secs(5),
            tokio::spawn(async move {
                connection
                    .send(Method::GET, "/v1/jwks.json", &[], "")
                    .await
                    .status
            }),
        )
        .await
        .is_ok_and(|joined| joined.is_ok()),
    };
    assert!(!answered);
    harness.stop().await;
}

#[tokio::test]
async fn under_tls_the_gateway_names_itself_https_and_marks_its_cookie_secure() {
    let pki = Pki::new("test-ca");
    let server = pki.server("gateway");
    let harness = start(&pki, &server, None, true).await;
    let ca = pki.ca();
    let offer = Offer::new(&ca);
    let data = harness.gateway().data_addr();
    let json = [("content-type", "application/json")];
    let answer = request(data, &offer, Method::POST, "/mcp/helpdesk", &json, "{}").await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.headers["www-authenticate"],
        "Bearer realm=\"gatehouse\", resource_metadata=\"https://127.0.0.1/.well-known/oauth-protected-resource/mcp/helpdesk\""
    );
    let path = "/.well-known/oauth-authorization-server";
    let metadata = request(data, &offer, Method::GET, path, &[], "").await;
    assert_eq!(
        metadata.json()["token_endpoint"],
        "https://127.0.0.1/v1/token"
    );
    // A page served over plain HTTP is not this origin.
    let from = |origin: &'static str| [("content-type", "application/json"), ("origin", origin)];
    let plain = request(
        data,
        &offer,
        Method::POST,
        "/mcp/helpdesk",
        &from("http://127.0.0.1"),
        "{}",
    )
    .await;
    assert_eq!(plain.status, 403);
    let secure = request(
        data,
        &offer,
        Method::POST,
        "/mcp/helpdesk",
        &from("https://127.0.0.1"),
        "{}",
    )
    .await;
    assert_eq!(secure.status, 401);

    let control = harness.gateway().control_addr();
    let body = format!("token={OPERATOR_TOKEN}");
    let login = request(
        control,
        &offer,
        Method::POST,
        "/console/login",
        &FORM,
        &body,
    )
    .await;
    let cookie = login.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("gatehouse_session="), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    harness.stop().await;
}

#[tokio::test]
async fn the_cli_client_reaches_a_tls_control_plane_trusting_its_ca_only() {
    use gatehouse_kit::client::{ClientError, send_trusting};
    let pki = Pki::new("test-ca");
    let server = pki.server("gateway");
    let harness = start(&pki, &server, None, true).await;
    let url = format!("https://{}/v1/events", harness.gateway().control_addr());
    let auth = format!("Bearer {OPERATOR_TOKEN}");
    let headers = [("authorization", auth.as_str())];
    let ca = pki.ca();
    let reply = send_trusting(Method::GET, &url, &headers, "", Some(&ca))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The built-in web roots do not know the test CA.
    let error = send_trusting(Method::GET, &url, &headers, "", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Unreachable { message, .. } if message.contains("TLS")),
        "{error}"
    );
    // Plain HTTP to the TLS control plane gets no answer.
    let plain = url.replace("https://", "http://");
    assert!(
        send_trusting(Method::GET, &plain, &headers, "", None)
            .await
            .is_err()
    );
    harness.stop().await;
}
