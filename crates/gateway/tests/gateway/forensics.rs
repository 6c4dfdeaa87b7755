//! Forensics mode: with it on for an agent, its HTTP call is recorded whole (request as
//! sent to the tool, response as returned) under the call's decision id, with the
//! injected secret and the named fields redacted; with it off, nothing is recorded.
//! The MCP case is in `mcp_face.rs`, beside the MCP harness.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::harness::{AGENT, Harness, SECRET, decision_id};

/// The recording of `id`, waiting for it (it is stored when the response has ended).
pub(crate) async fn recording(harness: &Harness, id: &str) -> Value {
    for _ in 0..200 {
        let reply = harness
            .control(Method::GET, &format!("/v1/recordings/{id}"), "")
            .await;
        if reply.status == 200 {
            return reply.json().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no recording of `{id}`");
}

#[tokio::test]
async fn forensics_records_a_call_whole_with_the_secret_and_named_fields_redacted() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let on = json!({ "kind": "agent", "subject": AGENT, "redact": ["password"] });
    let turned_on = harness
        .control(Method::POST, "/v1/forensics", &on.to_string())
        .await;
    assert_eq!(turned_on.status, 200, "{}", turned_on.text());
    let reply = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets?team=a",
            &token,
            r#"{"title":"disk full","password":"hunter2"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = decision_id(&reply);
    let recorded = recording(&harness, &id).await;
    let request = recorded["request"].as_str().unwrap();
    let response = recorded["response"].as_str().unwrap();
    assert!(
        request.starts_with("POST /api/tickets?team=a HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("authorization: [redacted]\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("gatehouse-agent: {AGENT}\r\n")),
        "{request}"
    );
    assert!(request.contains(r#""title":"disk full""#), "{request}");
    assert!(request.contains(r#""password":"[redacted]""#), "{request}");
    assert!(
        !request.contains(SECRET) && !request.contains("hunter2"),
        "{request}"
    );
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(&reply.text()),
        "{response}\n---\n{}",
        reply.text()
    );
    assert_eq!(recorded["agent"], AGENT);
    assert_eq!(recorded["tool"], "tickets");

    let off = json!({ "kind": "agent", "subject": AGENT });
    let turned_off = harness
        .control(Method::POST, "/v1/forensics/off", &off.to_string())
        .await;
    assert_eq!(turned_off.status, 200, "{}", turned_off.text());
    let unrecorded = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets",
            &token,
            r#"{"title":"x"}"#,
        )
        .await;
    assert_eq!(unrecorded.status, 200);
    harness.event(&decision_id(&unrecorded)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let missing = harness
        .control(
            Method::GET,
            &format!("/v1/recordings/{}", decision_id(&unrecorded)),
            "",
        )
        .await;
    assert_eq!(
        missing.status, 404,
        "a call was recorded with forensics off"
    );
    let listed = harness.control(Method::GET, "/v1/recordings", "").await;
    assert_eq!(
        listed.json().unwrap()["recordings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let events = harness.events_now("intent=forensics.on").await;
    assert_eq!(events.len(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn a_segment_requiring_recordings_refuses_a_call_whose_recording_cannot_be_written() {
    let harness = Harness::builder()
        .edit(
            "[segments.data]\n",
            "[segments.data]\nrecording = \"required\"\n",
        )
        .start()
        .await;
    let token = harness.token().await;
    let on = json!({ "kind": "agent", "subject": AGENT });
    let turned_on = harness
        .control(Method::POST, "/v1/forensics", &on.to_string())
        .await;
    assert_eq!(turned_on.status, 200, "{}", turned_on.text());
    let recorded = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets",
            &token,
            r#"{"title":"a"}"#,
        )
        .await;
    assert_eq!(recorded.status, 200, "{}", recorded.text());
    recording(&harness, &decision_id(&recorded)).await;

    // The store can no longer take recordings: the next recorded call must not happen.
    let db = harness.dir.path().join("data/gatehouse.db");
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch("DROP TABLE recordings")
        .unwrap();
    let refused = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets",
            &token,
            r#"{"title":"b"}"#,
        )
        .await;
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert_eq!(
        harness.upstream.seen().len(),
        1,
        "the unrecordable call reached the tool"
    );
    let event = harness.event(&decision_id(&refused)).await;
    assert!(
        event
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("requires a forensic recording"),
        "{event:?}"
    );
    harness.stop().await;
}

/// Signs in to the console; the session cookie.
async fn console_cookie(harness: &Harness) -> String {
    let reply = gatehouse_kit::client::send(
        Method::POST,
        &harness.control_url("/console/login"),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("token={}", crate::harness::OPERATOR_TOKEN),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 303, "{}", reply.text());
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn console_page(harness: &Harness, cookie: &str, path: &str) -> (u16, String) {
    let reply = gatehouse_kit::client::send(
        Method::GET,
        &harness.control_url(path),
        &[("cookie", cookie)],
        "",
    )
    .await
    .unwrap();
    (reply.status.as_u16(), reply.text())
}

#[tokio::test]
async fn the_console_shows_quarantines_recordings_and_playbook_runs_escaped() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let hostile = "<b>owned</b>";
    let quarantine =
        json!({ "kind": "intent", "subject": "ticket.delete", "for_secs": 600, "reason": hostile });
    let added = harness
        .control(Method::POST, "/v1/quarantines", &quarantine.to_string())
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let on = json!({ "kind": "agent", "subject": AGENT });
    harness
        .control(Method::POST, "/v1/forensics", &on.to_string())
        .await;
    let reply = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets",
            &token,
            r#"{"title":"<i>x</i>"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = decision_id(&reply);
    recording(&harness, &id).await;
    let run = "01KBM0000000000000000000RN";
    let step = json!({ "playbook": "compromised-agent", "index": 1, "step": "revoke-agent", "agent": AGENT, "detail": hostile });
    let reported = harness
        .control(
            Method::POST,
            &format!("/v1/playbook-runs/{run}/steps"),
            &step.to_string(),
        )
        .await;
    assert_eq!(reported.status, 200, "{}", reported.text());

    let cookie = console_cookie(&harness).await;
    let (status, page) = console_page(&harness, &cookie, "/console/quarantines").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("ticket.delete") && page.contains("&lt;b&gt;owned&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains(hostile), "{page}");
    let (_, page) = console_page(&harness, &cookie, "/console/recordings").await;
    assert!(
        page.contains(&format!("/console/recordings/{id}")),
        "{page}"
    );
    let (status, page) =
        console_page(&harness, &cookie, &format!("/console/recordings/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("POST /api/tickets HTTP/1.1"), "{page}");
    assert!(
        page.contains("&lt;i&gt;x&lt;/i&gt;") && !page.contains("<i>x</i>"),
        "{page}"
    );
    assert!(!page.contains(SECRET), "{page}");
    let (_, page) = console_page(&harness, &cookie, "/console/playbooks").await;
    assert!(
        page.contains(run) && page.contains("compromised-agent"),
        "{page}"
    );
    assert!(!page.contains(hostile), "{page}");
    let (status, _) = console_page(
        &harness,
        &cookie,
        "/console/recordings/01KBM0000000000000000000ZZ",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) =
        console_page(&harness, "gatehouse_session=nope", "/console/quarantines").await;
    assert_eq!(status, 303, "signed out, the page redirects to sign-in");
    harness.stop().await;
}
