use serde_json::{Value, json};

use super::*;

fn settings() -> RiskSettings {
    let classes = ["public", "internal", "sanitized", "pii", "secret"];
    let detector = |name: &str, kind, class: &str, rank, bytes| Detector {
        name: name.to_owned(),
        kind,
        class: DataClass::new(class),
        rank,
        bytes,
    };
    RiskSettings {
        classes: classes.iter().map(|class| DataClass::new(*class)).collect(),
        detectors: vec![
            detector("aws", DetectorKind::AwsAccessKey, "secret", 4, 0),
            detector("email", DetectorKind::Email, "pii", 3, 0),
            detector("card", DetectorKind::CardNumber, "pii", 3, 0),
            detector("bulk", DetectorKind::Volume, "pii", 3, 1000),
        ],
        hold_bytes: 4096,
    }
}

fn route(scan: &[usize], fields: &[&str], hits: &[usize]) -> RouteRisk {
    let settings = settings();
    let highest = scan
        .iter()
        .map(|index| settings.detectors[*index].rank)
        .fold(2, u8::max);
    RouteRisk {
        declared: 2,
        scan: scan.to_vec(),
        redact_fields: fields.iter().map(|field| (*field).to_owned()).collect(),
        redact_hits: hits.to_vec(),
        highest,
    }
}

#[test]
fn raw_rows_become_sanitized_rows_with_fields_and_emails_redacted() {
    let rows = json!([
        {"id": 1, "name": "Ann", "ssn": "078-05-1120", "note": "mail ann@example.com today"},
        {"id": 2, "name": "Bo", "ssn": "219-09-9999", "card": 4111111111111111u64},
    ]);
    let body = serde_json::to_vec(&rows).unwrap();
    let judged = judge_whole(&settings(), &route(&[1, 2], &["ssn"], &[1, 2]), &body).unwrap();
    let served: Value = serde_json::from_slice(&judged.replaced.unwrap()).unwrap();
    assert_eq!(
        served,
        json!([
            {"id": 1, "name": "Ann", "ssn": "[redacted]", "note": "mail [redacted:email] today"},
            {"id": 2, "name": "Bo", "ssn": "[redacted]", "card": "[redacted]"},
        ])
    );
    assert_eq!(
        judged.risk.class.as_str(),
        "sanitized",
        "nothing above the route's class is left"
    );
    assert_eq!(judged.rank, 2);
    assert_eq!(judged.risk.detected, ["email", "card"]);
    assert_eq!(judged.risk.redacted, 4);
    assert_eq!(judged.risk.scanned, body.len() as u64);
}

#[test]
fn an_unredacted_hit_raises_the_class_to_the_detectors() {
    let body = br#"{"key":"AKIAIOSFODNN7EXAMPLE","to":"ann@example.com"}"#;
    let judged = judge_whole(&settings(), &route(&[0, 1], &[], &[1]), body).unwrap();
    assert_eq!(judged.risk.class.as_str(), "secret");
    assert_eq!(judged.risk.detected, ["aws", "email"]);
    let served = String::from_utf8(judged.replaced.unwrap()).unwrap();
    assert!(
        served.contains("AKIAIOSFODNN7EXAMPLE") && !served.contains("ann@"),
        "{served}"
    );
}

#[test]
fn fields_cannot_be_redacted_from_a_body_that_is_not_json() {
    let judged = judge_whole(
        &settings(),
        &route(&[1], &["ssn"], &[]),
        b"ssn: 078-05-1120",
    );
    assert_eq!(judged, Err(Unjudged::NotJson("ssn".to_owned())));
    // An empty answer has nothing to redact.
    let empty = judge_whole(&settings(), &route(&[1], &["ssn"], &[]), b"").unwrap();
    assert_eq!((empty.replaced.unwrap().len(), empty.risk.redacted), (0, 0));
    // Hits alone are redacted in plain text.
    let judged = judge_whole(&settings(), &route(&[1], &[], &[1]), b"to ann@example.com.").unwrap();
    assert_eq!(judged.replaced.unwrap(), b"to [redacted:email].");
    assert_eq!(judged.risk.class.as_str(), "sanitized");
}

#[test]
fn a_streamed_hit_split_between_chunks_is_found_and_volume_counts_every_byte() {
    let settings = settings();
    let route = route(&[0, 3], &[], &[]);
    let mut tally = Tally::default();
    tally.scan(&settings, &route, &[b'x'; 600]);
    tally.scan(&settings, &route, b" AKIAIOSFOD");
    assert!(!tally.exceeds(&settings, &route, 3));
    tally.scan(&settings, &route, b"NN7EXAMPLE ");
    assert!(tally.exceeds(&settings, &route, 3));
    let (risk, rank) = tally.finish(&settings, &route);
    assert_eq!((risk.class.as_str(), rank), ("secret", 4));
    assert_eq!(risk.detected, ["aws"]);
    tally.scan(&settings, &route, &[b'y'; 400]);
    assert_eq!(tally.finish(&settings, &route).0.detected, ["aws", "bulk"]);
}

#[test]
fn an_mcp_result_is_redacted_in_place() {
    let mut result = json!({"content": [{"type": "text", "text": "reach bo@example.org"}]});
    let judged = judge_json(&settings(), &route(&[1], &[], &[1]), &mut result);
    assert_eq!(result["content"][0]["text"], "reach [redacted:email]");
    assert_eq!(judged.risk.class.as_str(), "sanitized");
    assert_eq!(judged.risk.redacted, 1);
}

#[test]
fn whoever_must_hold_the_whole_response() {
    let plain = route(&[1], &[], &[]);
    assert!(!plain.must_hold_whole(None));
    assert!(
        !plain.must_hold_whole(Some(3)),
        "a ceiling at the detector's class"
    );
    assert!(plain.must_hold_whole(Some(2)));
    assert!(route(&[1], &[], &[1]).must_hold_whole(None));
}
