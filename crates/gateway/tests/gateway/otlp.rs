//! The OTLP sink against a real receiver: `tests/otlp/receiver.py` decodes what the
//! gateway sends with the official `opentelemetry-proto` package, and its log records
//! and spans must match the stored events one for one. The receiver's venv
//! (`target/otlp-venv`) is made by `scripts/test`, which also sets
//! `GATEHOUSE_REQUIRE_OTLP=1` so the test cannot pass by skipping there.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::event::Event;
use gatehouse_store::Store;
use http::Method;
use serde_json::Value;

use crate::harness::Harness;

/// The receiver process, killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// `None` (after saying so) when the venv is missing and the test may skip.
    fn start(dir: &Path) -> Option<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join("target/otlp-venv/bin/python");
        if !python.exists() {
            assert!(
                std::env::var("GATEHOUSE_REQUIRE_OTLP").as_deref() != Ok("1"),
                "no OTLP receiver venv at {}",
                python.display()
            );
            eprintln!("skipped: no {} (scripts/test makes it)", python.display());
            return None;
        }
        let out = dir.join("otlp.jsonl");
        let mut child = Command::new(python)
            .arg(root.join("tests/otlp/receiver.py"))
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap()
            .parse()
            .unwrap();
        Some(Self { child, port, out })
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Every stored event with its line, in store order.
fn stored(store: &dyn Store) -> Vec<(Event, String)> {
    store
        .events_after(None, 1000)
        .unwrap()
        .into_iter()
        .map(|stored| (serde_json::from_str(&stored.line).unwrap(), stored.line))
        .collect()
}

/// The records of `signal` by their event id.
fn by_event(received: &[Value], signal: &str) -> HashMap<String, Value> {
    received
        .iter()
        .filter(|item| item["signal"] == signal)
        .map(|item| {
            let id = item["attributes"]["gatehouse.event.id"].as_str().unwrap();
            (id.to_owned(), item.clone())
        })
        .collect()
}

#[tokio::test]
async fn an_otlp_collector_receives_a_log_record_and_a_span_for_every_event() {
    let work = tempfile::tempdir().unwrap();
    let Some(receiver) = Receiver::start(work.path()) else {
        return;
    };
    let sinks = format!(
        "\n[[sinks]]\nname = \"otel\"\nkind = \"otlp\"\nendpoint = \"http://127.0.0.1:{}\"\ntraces = true\nbatch = 3\n",
        receiver.port
    );
    let harness = Harness::builder().append(&sinks).start().await;
    let token = harness.token().await;
    // The agent's trace: the allowed call's span is its child.
    let auth = format!("Bearer {token}");
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let allowed = gatehouse_kit::client::send(
        Method::GET,
        &harness.data_url("/tools/tickets/tickets/7"),
        &[("authorization", &auth), ("traceparent", traceparent)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(allowed.status, 200);
    let denied = harness
        .call(Method::DELETE, "/tools/tickets/tickets/7", &token, "")
        .await;
    assert_eq!(denied.status, 403);
    let store = Arc::clone(&harness.gateway().state().store);
    let mut events = Vec::new();
    for _ in 0..250 {
        events = stored(&*store);
        let received = receiver.received();
        if events.len() >= 3
            && by_event(&received, "log").len() == events.len()
            && by_event(&received, "span").len() == events.len()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receiver.received();
    assert!(
        received.iter().all(|item| item["signal"] != "error"),
        "{received:?}"
    );
    let logs = by_event(&received, "log");
    let spans = by_event(&received, "span");
    assert_eq!(
        events.len(),
        3,
        "the exchange, one allowed and one denied call"
    );
    assert_eq!(logs.len(), events.len());
    assert_eq!(spans.len(), events.len());
    for (event, line) in &events {
        let id = event.id.to_string();
        let trace = event
            .trace_id
            .clone()
            .unwrap_or_else(|| format!("{:032x}", event.id.as_u128()));
        let own_span = format!("{:016x}", event.id.as_u128() & u128::from(u64::MAX));
        let log = &logs[&id];
        assert_eq!(log["body"], line.as_str(), "the stored line is the body");
        assert_eq!(log["trace_id"], trace.as_str());
        assert_eq!(log["resource"]["service.name"], "gatehouse");
        let span = &spans[&id];
        assert_eq!(span["trace_id"], trace.as_str());
        assert_eq!(span["span_id"], own_span.as_str());
        assert_eq!(log["span_id"], own_span.as_str());
        assert_eq!(
            span["parent_span_id"],
            event.parent_span_id.as_deref().unwrap_or("")
        );
        assert_eq!(span["kind"], 2, "a server span");
        let start = span["start_time_unix_nano"].as_u64().unwrap();
        assert_eq!(start, u64::try_from(event.time_ms).unwrap() * 1_000_000);
        assert_eq!(
            span["end_time_unix_nano"].as_u64().unwrap() - start,
            event.latency_us * 1000
        );
        for item in [log, span] {
            let attributes = &item["attributes"];
            assert_eq!(attributes["gatehouse.decision"], event.outcome.as_str());
            assert_eq!(attributes["http.request.method"], event.method.as_str());
            assert_eq!(attributes["url.path"], event.path.as_str());
            assert_eq!(
                attributes["http.response.status_code"],
                i64::from(event.status)
            );
            assert_eq!(
                attributes.get("gatehouse.intent").and_then(Value::as_str),
                event.intent.as_deref()
            );
            assert_eq!(
                attributes.get("gatehouse.refusal").and_then(Value::as_str),
                event.refusal.map(|refusal| refusal.as_str())
            );
            assert_eq!(
                attributes.get("gen_ai.tool.name").and_then(Value::as_str),
                event.tool.as_deref()
            );
        }
    }
    let traced: Vec<&Event> = events
        .iter()
        .map(|(event, _)| event)
        .filter(|event| event.trace_id.is_some())
        .collect();
    assert_eq!(
        traced.len(),
        1,
        "only the allowed call carried a traceparent"
    );
    let span = &spans[&traced[0].id.to_string()];
    assert_eq!(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(span["attributes"]["gatehouse.decision"], "allow");
    let denied_event = events
        .iter()
        .find(|(event, _)| event.status == 403)
        .unwrap();
    let log = &logs[&denied_event.0.id.to_string()];
    assert_eq!(log["severity_text"], "WARN");
    assert_eq!(log["attributes"]["gatehouse.refusal"], "policy-denied");
    assert_eq!(log["attributes"]["gen_ai.tool.name"], "tickets");
}

/// Waits until the receiver holds a span for every stored event.
async fn spans_of_all(
    receiver: &Receiver,
    store: &dyn Store,
) -> (Vec<(Event, String)>, HashMap<String, Value>) {
    for _ in 0..250 {
        let events = stored(store);
        let spans = by_event(&receiver.received(), "span");
        if !events.is_empty() && spans.len() == events.len() {
            return (events, spans);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the receiver did not get every span: {:?}",
        receiver.received()
    );
}

#[tokio::test]
async fn the_spans_of_mcp_calls_in_a_session_carry_its_id_and_no_other_span_does() {
    let work = tempfile::tempdir().unwrap();
    let Some(receiver) = Receiver::start(work.path()) else {
        return;
    };
    let scripted = crate::mcp_upstream::scripted::Scripted::start().await;
    let server = crate::mcp_upstream::servers::http(
        "scripted",
        scripted.addr,
        "[mcp_servers.scripted.tools.read]\nintent = \"scripted.read\"\naccess = \"read\"",
    );
    let sinks = format!(
        "\n[[sinks]]\nname = \"otel\"\nkind = \"otlp\"\nendpoint = \"http://127.0.0.1:{}\"\ntraces = true\n",
        receiver.port
    );
    let harness = Harness::builder()
        .mcp(&server, &["scripted.read"], "")
        .append(&sinks)
        .start()
        .await;
    let token = harness.token_for("mcp").await;
    let auth = format!("Bearer {token}");
    let post = |headers: Vec<(&'static str, String)>, body: Value| {
        let url = harness.data_url("/mcp/scripted");
        let mut all = vec![
            ("authorization", auth.clone()),
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json, text/event-stream".to_owned()),
        ];
        all.extend(headers);
        async move {
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            gatehouse_kit::client::send(Method::POST, &url, &pairs, body.to_string())
                .await
                .unwrap()
        }
    };
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let opened = post(vec![], init).await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let session = opened.headers["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let ping = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let pinged = post(vec![("mcp-session-id", session.clone())], ping).await;
    assert_eq!(pinged.status, 200, "{}", pinged.text());
    // Outside any session: the 2026-07-28 era names none.
    let unknown = post(
        vec![("mcp-session-id", "no-such-session".to_owned())],
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    )
    .await;
    assert_ne!(unknown.status, 500);
    let store = Arc::clone(&harness.gateway().state().store);
    let (events, spans) = spans_of_all(&receiver, &*store).await;
    let mcp: Vec<&Event> = events
        .iter()
        .map(|(event, _)| event)
        .filter(|event| event.kind == gatehouse_core::event::EventKind::Mcp)
        .collect();
    assert_eq!(
        mcp.len(),
        3,
        "initialize, the ping and the unknown session's ping"
    );
    let mut in_session = 0;
    for (event, _) in &events {
        let span = &spans[&event.id.to_string()];
        let attribute = span["attributes"]
            .get("mcp.session.id")
            .and_then(Value::as_str);
        assert_eq!(attribute, event.mcp_session.as_deref(), "{event:?}");
        if attribute == Some(session.as_str()) {
            in_session += 1;
            assert_eq!(span["attributes"]["mcp.method.name"], event.method.as_str());
        }
    }
    assert_eq!(in_session, 2, "initialize opened it and the ping ran in it");
    let refused = mcp
        .iter()
        .find(|event| event.status != 200 || event.refusal.is_some());
    assert!(
        refused.is_some_and(|event| event.mcp_session.is_none()),
        "a session the caller does not hold is not named: {mcp:?}"
    );
}
