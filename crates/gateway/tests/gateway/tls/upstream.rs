//! Upstream tools over `https://`: a real TLS server (Gatehouse's own listener code with
//! a certificate from a test CA) behind the `dead` tool of the harness's config.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_core::config::ListenerTls;
use gatehouse_gateway::body::full;
use gatehouse_gateway::server::{Listening, serve_tls};
use gatehouse_gateway::tls::Tls;
use http::{Method, Response};
use tokio::net::TcpListener;

use super::pki::{Pair, Pki};
use crate::harness::{Harness, decision_id, problem_kind};

/// A TLS server presenting `pair` that records the paths it was asked for.
struct TlsUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl TlsUpstream {
    async fn start(pair: &Pair) -> Self {
        let files = ListenerTls {
            cert_file: pair.cert.clone(),
            key_file: pair.key.clone(),
            client_certs: None,
        };
        let tls = Tls::load("upstream", &files).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let listening = Listening {
            max_header: 64 * 1024,
            idle_timeout: Duration::from_secs(10),
            max_connections: 64,
        };
        tokio::spawn(serve_tls(
            listener,
            stopped,
            listening,
            Some(tls.acceptor()),
            move |request, _| {
                record.lock().unwrap().push(request.uri().path().to_owned());
                async move { Response::new(full("{\"secure\":true}")) }
            },
        ));
        Self {
            addr,
            seen,
            _stop: stop,
        }
    }
}

/// The harness with its `dead` tool pointed at `upstream` over `https://`, trusting
/// `ca` (or, without one, the built-in web roots).
async fn harness(upstream: &TlsUpstream, ca: Option<&Pki>) -> Harness {
    let ca_file = ca.map_or(String::new(), |pki| {
        format!("\nca_file = \"{}\"", pki.ca().display())
    });
    Harness::builder()
        .edit(
            "url = \"http://127.0.0.1:9\"",
            &format!("url = \"https://{}\"{ca_file}", upstream.addr),
        )
        .start()
        .await
}

#[tokio::test]
async fn an_https_tool_is_called_over_tls_verified_against_its_ca() {
    let pki = Pki::new("tools-ca");
    let upstream = TlsUpstream::start(&pki.server("tool")).await;
    let harness = harness(&upstream, Some(&pki)).await;
    let token = harness.token().await;
    for _ in 0..2 {
        let reply = harness.call(Method::GET, "/tools/dead/x", &token, "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.text(), "{\"secure\":true}");
    }
    assert_eq!(*upstream.seen.lock().unwrap(), ["/x", "/x"]);
    harness.stop().await;
}

#[tokio::test]
async fn an_https_tool_with_an_untrusted_certificate_is_a_502_with_an_event() {
    let pki = Pki::new("tools-ca");
    let rogue = Pki::new("rogue-ca");
    let upstream = TlsUpstream::start(&rogue.server("tool")).await;
    // Trusting only the tools' CA, and trusting the web's roots: neither signed it.
    for ca in [Some(&pki), None] {
        let harness = harness(&upstream, ca).await;
        let token = harness.token().await;
        let reply = harness.call(Method::GET, "/tools/dead/x", &token, "").await;
        assert_eq!(reply.status, 502, "{}", reply.text());
        assert_eq!(problem_kind(&reply), "upstream-unavailable");
        let event = harness.event(&decision_id(&reply)).await;
        let reason = event.reason.unwrap();
        assert!(reason.contains("TLS with `127.0.0.1:"), "{reason}");
        assert!(reason.contains("UnknownIssuer"), "{reason}");
        harness.stop().await;
    }
    assert!(upstream.seen.lock().unwrap().is_empty());
}
