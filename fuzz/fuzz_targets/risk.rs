//! Response risk detectors and redaction (`core::risk`): response bodies are untrusted
//! bytes. Never a panic; every span a detector reports lies inside its input, in order
//! and apart; a redacted JSON body stays JSON; a response's class is never below its
//! route's; a body scanned in two chunks is found to carry at least what its first
//! chunk alone carries.
#![no_main]

use std::hint::black_box;

use gatehouse_core::model::DataClass;
use gatehouse_core::risk::{self, Detector, DetectorKind, RiskSettings, RouteRisk, Tally};
use libfuzzer_sys::fuzz_target;

const KINDS: [DetectorKind; 6] = [
    DetectorKind::AwsAccessKey,
    DetectorKind::PemPrivateKey,
    DetectorKind::Jwt,
    DetectorKind::Email,
    DetectorKind::CardNumber,
    DetectorKind::Volume,
];

fn settings() -> RiskSettings {
    let classes = ["public", "internal", "pii", "secret"];
    RiskSettings {
        classes: classes.iter().map(|class| DataClass::new(*class)).collect(),
        detectors: KINDS
            .iter()
            .enumerate()
            .map(|(index, kind)| Detector {
                name: format!("d{index}"),
                kind: *kind,
                class: DataClass::new("pii"),
                rank: 2 + u8::from(index % 2 == 0),
                bytes: 64,
            })
            .collect(),
        hold_bytes: 1 << 20,
    }
}

fn route(redact: bool) -> RouteRisk {
    RouteRisk {
        declared: 1,
        scan: (0..KINDS.len()).collect(),
        redact_fields: if redact { ["ssn".to_owned()].into() } else { Default::default() },
        redact_hits: if redact { vec![1, 2, 3, 4] } else { Vec::new() },
        highest: 3,
    }
}

fuzz_target!(|data: &[u8]| {
    for kind in KINDS {
        let spans = black_box(kind.find(data));
        let mut end = 0;
        for span in spans {
            assert!(span.start >= end && span.start < span.end && span.end <= data.len());
            end = span.end;
        }
    }
    let settings = settings();
    let is_json = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    for redact in [false, true] {
        let route = route(redact);
        match black_box(risk::judge_whole(&settings, &route, data)) {
            Ok(judged) => {
                assert!(judged.rank >= route.declared);
                if let (Some(replaced), true) = (&judged.replaced, is_json) {
                    assert!(serde_json::from_slice::<serde_json::Value>(replaced).is_ok());
                }
            }
            Err(_) => assert!(redact && !is_json),
        }
    }
    let route = route(false);
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (first, second) = data.split_at(split);
    let mut alone = Tally::default();
    alone.scan(&settings, &route, first);
    let mut both = alone.clone();
    both.scan(&settings, &route, second);
    let (alone, _) = alone.finish(&settings, &route);
    let (both, _) = both.finish(&settings, &route);
    assert!(alone.detected.iter().all(|name| both.detected.contains(name)));
});
