use std::collections::BTreeSet;

use gatehouse_core::approval::{Approval, Checkpoint, NewApproval, ParkedCall, Rules};
use gatehouse_core::config::{Operator, Role};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::Tier;
use http::{HeaderMap, Method};
use sha2::{Digest, Sha256};

use super::Page;
use super::actions::{Refused, authenticate, authorize};
use super::form::{self, FormError};
use super::html::{csrf_field, text, utc};
use super::pages::{self, Viewer};
use super::session::{self, Session, Sessions, TTL_SECS};

const NOW: i64 = 1_764_000_000;

fn operator(name: &str, token: &str, roles: &[Role]) -> Operator {
    Operator {
        name: name.to_owned(),
        token_sha256: Sha256::digest(token.as_bytes()).into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
    }
}

fn session(roles: &[Role]) -> Session {
    Session {
        operator: "alice".to_owned(),
        roles: roles.iter().copied().collect(),
        csrf: "0123456789abcdef0123456789abcdef".to_owned(),
        expires_at: NOW + TTL_SECS,
    }
}

fn parked(body: &[u8]) -> Approval {
    let call = ParkedCall {
        method: "POST".to_owned(),
        tool: "tickets".into(),
        intent: "ticket.escalate".into(),
        path: "/tickets/1/escalate".to_owned(),
        query: Some("a=<b>".to_owned()),
        content_type: Some("application/json".to_owned()),
        body: body.to_vec(),
        digest: "d".repeat(64).into(),
    };
    Approval::new(NewApproval {
        id: "ab".repeat(16).into(),
        checkpoint: Checkpoint::Approval,
        decision: DecisionId::parse("01M8AFB6G4XBHM12N89N8YV8RA").unwrap(),
        agent: "spiffe://acme/agent/\"bot\"".into(),
        workflow: "wf-<1>".into(),
        task_class: "triage".into(),
        segment: "data".into(),
        tier: Tier::High,
        policies: vec!["route-tier".into()],
        policy_version: "v".repeat(64).into(),
        call,
        required: 1,
        now_secs: NOW,
        ttl_secs: 3600,
    })
}

fn viewer() -> Viewer<'static> {
    Viewer {
        operator: "alice",
        csrf: "0123456789abcdef0123456789abcdef",
    }
}

#[test]
fn text_is_escaped_by_type_in_content_and_in_attributes() {
    let hostile = r#"<script>alert('x') & "y"</script>"#;
    assert_eq!(
        text(hostile).into_string(),
        "&lt;script&gt;alert('x') &amp; &quot;y&quot;&lt;/script&gt;"
    );
    // Attribute values are always double-quoted, so `'` cannot end one.
    let field = csrf_field(hostile).into_string();
    assert!(field.starts_with("<input type=\"hidden\" name=\"csrf\" value=\"&lt;script"));
    assert!(!field.contains(r#"value="<"#));
    assert_eq!(
        text("plain text, ünïcode").into_string(),
        "plain text, ünïcode"
    );
}

#[test]
fn a_call_body_is_shown_as_text_never_as_markup() {
    let approval = parked(br#"{"note":"<script>alert(1)</script>"}"#);
    let page = pages::approval(viewer(), &approval, true, None);
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script"));
    assert!(page.contains("spiffe://acme/agent/&quot;bot&quot;"));
    assert!(page.contains("wf-&lt;1&gt;"));
    assert!(page.contains("a=&lt;b&gt;"));
}

#[test]
fn a_binary_body_is_shown_as_its_size() {
    let approval = parked(&[0xff, 0xfe, 0x00, 0x01]);
    let page = pages::approval(viewer(), &approval, true, None);
    assert!(page.contains("4 bytes of binary"));
}

#[test]
fn approvers_see_the_decision_form_and_others_do_not() {
    let approval = parked(b"{}");
    let for_approver = pages::approval(viewer(), &approval, true, None);
    assert!(for_approver.contains("action=\"/console/approvals/"));
    assert!(for_approver.contains("name=\"csrf\" value=\"0123456789abcdef0123456789abcdef\""));
    let for_auditor = pages::approval(viewer(), &approval, false, None);
    assert!(!for_auditor.contains("/approve\""));
}

#[test]
fn a_decided_approval_has_no_form() {
    let mut approval = parked(b"{}");
    approval
        .deny(&"bob".into(), "no", &Rules::default(), NOW + 1)
        .unwrap();
    let page = pages::approval(viewer(), &approval, true, None);
    assert!(!page.contains("/approve\""));
    assert!(page.contains("denied"));
}

#[test]
fn a_post_without_the_sessions_csrf_token_is_refused() {
    let session = session(&[Role::Approver]);
    let missing = form::parse("reason=ok").unwrap();
    let wrong = form::parse("reason=ok&csrf=ffffffffffffffffffffffffffffffff").unwrap();
    let prefix = form::parse("csrf=0123456789abcdef").unwrap();
    for form in [missing, wrong, prefix] {
        assert_eq!(
            authorize(&session, &form, &[Role::Approver]),
            Err(Refused::Csrf)
        );
    }
    let right = form::parse("csrf=0123456789abcdef0123456789abcdef&reason=ok").unwrap();
    assert_eq!(authorize(&session, &right, &[Role::Approver]), Ok(()));
}

#[test]
fn the_csrf_token_is_checked_before_the_role() {
    let auditor = session(&[Role::Auditor]);
    let forged = form::parse("csrf=nope").unwrap();
    assert_eq!(
        authorize(&auditor, &forged, &[Role::Approver]),
        Err(Refused::Csrf)
    );
    let genuine = form::parse("csrf=0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(
        authorize(&auditor, &genuine, &[Role::Approver]),
        Err(Refused::Role)
    );
}

#[test]
fn a_repeated_form_field_is_refused() {
    assert_eq!(
        form::parse("csrf=a&csrf=b"),
        Err(FormError::Repeated("csrf".to_owned()))
    );
    let form = form::parse("reason=two+words%21&csrf=x").unwrap();
    assert_eq!(form.field("reason"), Some("two words!"));
}

#[test]
fn a_session_lasts_eight_hours_and_then_is_gone() {
    let sessions = Sessions::default();
    let admin = operator("admin", "t0ken", &[Role::Approver]);
    let id = sessions.create(&admin, NOW);
    assert_eq!(id.len(), 32);
    let found = sessions.find(&id, NOW + TTL_SECS - 1).unwrap();
    assert_eq!(found.operator, "admin");
    assert_eq!(found.csrf.len(), 32);
    assert_ne!(found.csrf, id);
    assert!(sessions.find(&id, NOW + TTL_SECS).is_none());
    // Once found expired it is removed, even if the clock went back.
    assert!(sessions.find(&id, NOW).is_none());
}

#[test]
fn signing_out_ends_the_session() {
    let sessions = Sessions::default();
    let id = sessions.create(&operator("admin", "t", &[Role::Auditor]), NOW);
    sessions.end(&id);
    assert!(sessions.find(&id, NOW).is_none());
    assert!(sessions.find("not-a-session", NOW).is_none());
}

#[test]
fn login_with_a_wrong_token_finds_no_operator() {
    let operators = [
        operator("admin", "right-token", &[Role::Approver]),
        operator("audit", "other-token", &[Role::Auditor]),
    ];
    assert!(authenticate(&operators, "wrong-token").is_none());
    assert!(authenticate(&operators, "").is_none());
    assert!(authenticate(&operators, "right-token ").is_none());
    assert_eq!(
        authenticate(&operators, "right-token").map(|op| op.name.as_str()),
        Some("admin")
    );
}

#[test]
fn a_wrong_token_shows_the_form_again_with_the_error() {
    let page = pages::login(Some("That is not an operator token."));
    assert!(page.contains("name=\"token\""));
    assert!(page.contains("That is not an operator token."));
}

#[test]
fn the_session_cookie_is_http_only_strict_and_scoped_to_the_console() {
    assert_eq!(
        session::set_cookie("abc", false),
        "gatehouse_session=abc; HttpOnly; SameSite=Strict; Path=/console"
    );
    assert_eq!(
        session::set_cookie("abc", true),
        "gatehouse_session=abc; HttpOnly; SameSite=Strict; Path=/console; Secure"
    );
    assert!(session::clear_cookie(true).ends_with("; Secure"));
    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        "other=1; gatehouse_session=abc; x=y".parse().unwrap(),
    );
    assert_eq!(session::cookie_value(&headers).as_deref(), Some("abc"));
    assert_eq!(session::cookie_value(&HeaderMap::new()), None);
}

#[test]
fn pages_are_parsed_from_method_and_path() {
    let id = "ab".repeat(16);
    assert_eq!(
        Page::parse(&Method::GET, &format!("/console/approvals/{id}")),
        Page::Approval(id.as_str().into())
    );
    assert_eq!(
        Page::parse(&Method::POST, &format!("/console/approvals/{id}/deny")),
        Page::Decide {
            id: id.as_str().into(),
            approve: false
        }
    );
    assert_eq!(
        Page::parse(&Method::GET, &format!("/console/approvals/{id}/approve")),
        Page::NotFound
    );
    assert_eq!(
        Page::parse(&Method::GET, "/console/approvals/%3Cx%3E"),
        Page::NotFound
    );
    assert_eq!(Page::parse(&Method::GET, "/console/"), Page::Overview);
    assert_eq!(
        Page::parse(
            &Method::GET,
            "/console/recordings/01KBM0000000000000000000RN"
        ),
        Page::Incident(super::incident::Incident::Recording(
            "01KBM0000000000000000000RN".to_owned()
        ))
    );
    assert_eq!(
        Page::parse(&Method::GET, "/console/recordings/<x>"),
        Page::NotFound
    );
    assert_eq!(
        Page::parse(&Method::POST, "/console/quarantines"),
        Page::NotFound
    );
}

#[test]
fn only_known_flash_codes_put_words_on_the_page() {
    assert!(super::flash(Some("flash=approved")).is_some());
    assert!(super::flash(Some("flash=Your+account+is+locked")).is_none());
    assert!(super::flash(None).is_none());
}

#[test]
fn times_are_shown_in_utc() {
    assert_eq!(utc(0), "1970-01-01 00:00:00");
    assert_eq!(utc(1_764_110_096), "2025-11-25 22:34:56");
}
