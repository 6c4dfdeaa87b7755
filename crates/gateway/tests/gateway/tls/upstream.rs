//! Upstreams over `https://`: a real TLS server (Gatehouse's own listener code with a
//! certificate from a test CA) behind the `dead` tool of the harness's config, as an MCP
//! server (the kit's example) and as a webhook sink, all through the one upstream client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_core::config::ListenerTls;
use gatehouse_gateway::body::full;
use gatehouse_gateway::server::{Listening, serve_tls};
use gatehouse_gateway::tls::Tls;
use gatehouse_kit::example_mcp::ExampleMcp;
use http::{Method, Response};
use serde_json::json;
use tokio::net::TcpListener;

use super::pki::{Pair, Pki};
use crate::harness::{Harness, OPERATOR_TOKEN, decision_id, problem_kind};
use crate::mcp_upstream::servers::{LONG, Setup, result_of, tool_names};

/// A TLS server presenting `pair` that records the paths it was asked for.
struct TlsUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl TlsUpstream {
    async fn start(pair: &Pair) -> Self {
        Self::serving(pair, None).await
    }

    /// Answering as the kit's example MCP server when `mcp` is set.
    async fn serving(pair: &Pair, mcp: Option<Arc<ExampleMcp>>) -> Self {
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
                let mcp = mcp.clone();
                async move {
                    match mcp {
                        Some(mcp) => mcp.handle(request).await,
                        None => Response::new(full("{\"secure\":true}")),
                    }
                }
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

/// `[mcp_servers.secure]` at `upstream` over `https://`, trusting `ca`.
fn mcp_over_tls(upstream: &TlsUpstream, ca: &Pki) -> String {
    format!(
        "[mcp_servers.secure]\nsegment = \"data\"\nurl = \"https://{}/mcp\"\nca_file = \"{}\"\n",
        upstream.addr,
        ca.ca().display()
    )
}

#[tokio::test]
async fn an_https_mcp_server_is_reached_over_tls_and_one_its_ca_did_not_sign_is_refused() {
    let pki = Pki::new("tools-ca");
    let mcp = Some(Arc::new(ExampleMcp::new(None)));
    let upstream = TlsUpstream::serving(&pki.server("mcp"), mcp.clone()).await;
    let setup = Setup::new(&[mcp_over_tls(&upstream, &pki)]);
    let listed = result_of(&setup.upstream("secure"), "tools/list", json!({})).await;
    assert!(!tool_names(&listed).is_empty(), "{listed}");
    assert!(
        upstream
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|path| path == "/mcp")
    );

    let rogue = TlsUpstream::serving(&Pki::new("rogue-ca").server("mcp"), mcp).await;
    let setup = Setup::new(&[mcp_over_tls(&rogue, &pki)]);
    let answer = setup
        .upstream("secure")
        .request("tools/list", json!({}), None, LONG)
        .await;
    let error = answer.unwrap_err().to_string();
    assert!(error.contains("TLS with `127.0.0.1:"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(rogue.seen.lock().unwrap().is_empty());
}

/// A `webhook` sink at `upstream` over `https://`, trusting `ca`.
async fn with_https_sink(upstream: &TlsUpstream, ca: &Pki) -> Harness {
    let sink = format!(
        "\n[[sinks]]\nname = \"siem\"\nkind = \"webhook\"\nurl = \"https://{}/ingest\"\nca_file = \"{}\"\n",
        upstream.addr,
        ca.ca().display()
    );
    Harness::builder().append(&sink).start().await
}

async fn metrics(harness: &Harness) -> String {
    let url = harness.control_url("/metrics");
    gatehouse_kit::client::get_with_token(&url, OPERATOR_TOKEN)
        .await
        .unwrap()
        .text()
}

#[tokio::test]
async fn an_https_webhook_sink_gets_its_events_only_from_a_certificate_its_ca_signed() {
    let pki = Pki::new("sinks-ca");
    let upstream = TlsUpstream::start(&pki.server("siem")).await;
    let harness = with_https_sink(&upstream, &pki).await;
    let token = harness.token().await;
    harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !upstream
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|path| path == "/ingest")
    {
        assert!(std::time::Instant::now() < deadline, "no delivery over TLS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.stop().await;

    let rogue = TlsUpstream::start(&Pki::new("rogue-ca").server("siem")).await;
    let harness = with_https_sink(&rogue, &pki).await;
    let token = harness.token().await;
    harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    let series = "gatehouse_sink_errors_total{sink=\"siem\"} ";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = metrics(&harness).await;
        let failed = text
            .lines()
            .find_map(|line| line.strip_prefix(series))
            .is_some_and(|count| count.trim() != "0");
        if failed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed delivery:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rogue.seen.lock().unwrap().is_empty());
    harness.stop().await;
}
