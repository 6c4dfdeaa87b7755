//! `[risk]`, and what routes, MCP tools and task classes say about response risk:
//! every class and detector they name must exist, so a typo cannot leave a response
//! unscanned.

use std::collections::BTreeSet;
use std::sync::Arc;

use toml::Spanned;

use super::Resolver;
use crate::config::raw::{RawRedact, RawRisk};
use crate::model::DataClass;
use crate::risk::{Detector, DetectorKind, MAX_DETECTORS, RiskSettings, RouteRisk};

impl Resolver<'_> {
    pub(super) fn risk(&mut self, raw: Option<&RawRisk>) -> Option<Arc<RiskSettings>> {
        let raw = raw?;
        let mut classes: Vec<DataClass> = Vec::new();
        for class in &raw.classes {
            if classes.iter().any(|seen| seen.as_str() == class.get_ref()) {
                self.error_at(
                    "risk.classes",
                    class,
                    format!("`{}` is listed twice", class.get_ref()),
                );
            }
            classes.push(DataClass::new(class.get_ref().as_str()));
        }
        if classes.is_empty() || classes.len() > usize::from(u8::MAX) {
            self.error_at_field(
                "risk.classes",
                "must list between 1 and 255 classes, least sensitive first",
            );
        }
        if raw.hold_bytes == 0 {
            self.error_at_field("risk.hold_bytes", "must be positive");
        }
        let mut settings = RiskSettings {
            classes,
            detectors: Vec::new(),
            hold_bytes: raw.hold_bytes,
        };
        if raw.detectors.len() > MAX_DETECTORS {
            let message = format!("at most {MAX_DETECTORS} detectors");
            self.error_at_field("risk.detectors", message);
        }
        for (index, detector) in raw.detectors.iter().enumerate() {
            let field = format!("risk.detectors[{index}]");
            if let Some(typed) = self.detector(&field, detector, &settings) {
                settings.detectors.push(typed);
            }
        }
        Some(Arc::new(settings))
    }

    fn detector(
        &mut self,
        field: &str,
        raw: &crate::config::raw::RawDetector,
        settings: &RiskSettings,
    ) -> Option<Detector> {
        let name = raw.name.get_ref();
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !valid_name {
            self.error_at(
                &format!("{field}.name"),
                &raw.name,
                "detector names use only `a-z`, `0-9` and `-`",
            );
        }
        if settings.detectors.iter().any(|seen| &seen.name == name) {
            self.error_at(
                &format!("{field}.name"),
                &raw.name,
                format!("detector `{name}` is defined twice"),
            );
        }
        let Some(kind) = DetectorKind::parse(raw.kind.get_ref()) else {
            let message = format!(
                "unknown detector kind `{}` (expected aws-access-key, pem-private-key, jwt, email, card-number or volume)",
                raw.kind.get_ref()
            );
            self.error_at(&format!("{field}.kind"), &raw.kind, message);
            return None;
        };
        let rank = self.class_rank(&format!("{field}.class"), &raw.class, settings)?;
        let bytes = match (kind, raw.bytes) {
            (DetectorKind::Volume, Some(bytes)) if bytes > 0 => bytes,
            (DetectorKind::Volume, _) => {
                self.error_at_field(
                    &format!("{field}.bytes"),
                    "a `volume` detector needs `bytes` (positive)",
                );
                0
            }
            (_, Some(_)) => {
                self.error_at_field(
                    &format!("{field}.bytes"),
                    "only a `volume` detector takes `bytes`",
                );
                0
            }
            (_, None) => 0,
        };
        Some(Detector {
            name: name.clone(),
            kind,
            class: DataClass::new(raw.class.get_ref().as_str()),
            rank,
            bytes,
        })
    }

    /// The rank of a class `[risk] classes` must list.
    pub(super) fn class_rank(
        &mut self,
        field: &str,
        class: &Spanned<String>,
        settings: &RiskSettings,
    ) -> Option<u8> {
        let rank = settings.rank(class.get_ref());
        if rank.is_none() {
            let message = format!(
                "data class `{}` is not listed in `[risk] classes`",
                class.get_ref()
            );
            self.error_at(field, class, message);
        }
        rank
    }

    /// A task class's `max_data_class`.
    pub(super) fn ceiling(&mut self, field: &str, raw: Option<&Spanned<String>>) -> Option<u8> {
        let class = raw?;
        let Some(settings) = self.risk_settings.clone() else {
            self.error_at(
                field,
                class,
                "`max_data_class` needs a `[risk]` section listing the classes",
            );
            return None;
        };
        self.class_rank(field, class, &settings)
    }

    /// What a route or MCP tool scans and redacts; `None` when it names nothing.
    pub(super) fn route_risk(
        &mut self,
        field: &str,
        data_class: &str,
        scan: &[Spanned<String>],
        redact: &RawRedact,
    ) -> Option<Arc<RouteRisk>> {
        if scan.is_empty() && redact.fields.is_empty() && redact.detectors.is_empty() {
            return None;
        }
        let Some(settings) = self.risk_settings.clone() else {
            self.error_at_field(
                field,
                "`scan` and `redact` need a `[risk]` section with detectors",
            );
            return None;
        };
        let Some(declared) = settings.rank(data_class) else {
            let message =
                format!("the route's data class `{data_class}` is not listed in `[risk] classes`");
            self.error_at_field(&format!("{field}.data_class"), message);
            return None;
        };
        let scan_list = self.detector_indices(&format!("{field}.scan"), scan, &settings);
        let redact_hits = self.detector_indices(
            &format!("{field}.redact.detectors"),
            &redact.detectors,
            &settings,
        );
        if let Some(volume) = redact_hits.iter().find(|index| {
            settings
                .detectors
                .get(**index)
                .is_some_and(|d| d.kind == DetectorKind::Volume)
        }) {
            let name = settings
                .detectors
                .get(*volume)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            self.error_at_field(
                &format!("{field}.redact.detectors"),
                format!("`{name}` is a volume detector: there is nothing to redact"),
            );
        }
        let mut scan = scan_list;
        for index in &redact_hits {
            if !scan.contains(index) {
                scan.push(*index);
            }
        }
        let highest = scan
            .iter()
            .filter_map(|index| settings.detectors.get(*index))
            .map(|detector| detector.rank)
            .fold(declared, u8::max);
        let redact_fields: BTreeSet<String> = redact.fields.iter().cloned().collect();
        if redact_fields.iter().any(String::is_empty) {
            self.error_at_field(
                &format!("{field}.redact.fields"),
                "a field name cannot be empty",
            );
        }
        Some(Arc::new(RouteRisk {
            declared,
            scan,
            redact_fields,
            redact_hits,
            highest,
        }))
    }

    fn detector_indices(
        &mut self,
        field: &str,
        names: &[Spanned<String>],
        settings: &RiskSettings,
    ) -> Vec<usize> {
        let mut indices = Vec::new();
        for name in names {
            match settings
                .detectors
                .iter()
                .position(|d| &d.name == name.get_ref())
            {
                Some(index) if !indices.contains(&index) => indices.push(index),
                Some(_) => {}
                None => {
                    let message = format!(
                        "unknown detector `{}` (define it under [[risk.detectors]])",
                        name.get_ref()
                    );
                    self.error_at(field, name, message);
                }
            }
        }
        indices
    }
}
