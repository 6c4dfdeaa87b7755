//! Response risk class (issue 14, item 9): what a response was found to carry. A route
//! or MCP tool declares the data class it may return and names detectors to scan its
//! responses with; the highest class seen goes on the event, named JSON fields and
//! detector hits can be redacted, and a task class may cap the class its credentials
//! receive. Pure: the gateway feeds bytes in (`dataplane/risk.rs`, `mcp/call.rs`).

pub mod detect;
mod redact;

use std::collections::BTreeSet;
use std::ops::Range;

use crate::event::ResponseRisk;
use crate::model::DataClass;

pub use detect::DetectorKind;

/// Most detectors one configuration may define (a route's hits are a bit set).
pub const MAX_DETECTORS: usize = 64;

/// `[risk]`: the order of data classes and the detectors routes may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSettings {
    /// Data classes from least to most sensitive; a class's rank is its index.
    pub classes: Vec<DataClass>,
    pub detectors: Vec<Detector>,
    /// How much of a scanned response is held back before its head is sent, so it can
    /// still be refused or redacted whole.
    pub hold_bytes: u64,
}

impl RiskSettings {
    pub fn rank(&self, class: &str) -> Option<u8> {
        self.classes
            .iter()
            .position(|known| known.as_str() == class)
            .and_then(|index| u8::try_from(index).ok())
    }

    /// The class of `rank`: shared with the configuration, not copied. A rank always
    /// comes from [`rank`](Self::rank), so the empty name is never reached in practice.
    fn class_name(&self, rank: u8) -> DataClass {
        self.classes
            .get(usize::from(rank))
            .cloned()
            .unwrap_or_else(|| DataClass::from(""))
    }
}

/// One `[[risk.detectors]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    pub name: String,
    pub kind: DetectorKind,
    /// The class a hit raises the response to, and its rank.
    pub class: DataClass,
    pub rank: u8,
    /// `volume` only: the response length that counts as a hit.
    pub bytes: u64,
}

/// What one route or MCP tool asks of its responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRisk {
    /// The route's own data class and its rank: the least a response is recorded as.
    pub declared: u8,
    /// Indices into [`RiskSettings::detectors`], in configuration order.
    pub scan: Vec<usize>,
    /// JSON object members whose values are replaced wherever they appear.
    pub redact_fields: BTreeSet<String>,
    /// Detectors (indices, each also in `scan`) whose hits are replaced.
    pub redact_hits: Vec<usize>,
    /// The highest class any of `scan` can report, or `declared`.
    pub highest: u8,
}

impl RouteRisk {
    /// Whether the response must be held whole to be served: it is redacted, or the
    /// caller's ceiling is below what a detector could find.
    pub fn must_hold_whole(&self, ceiling: Option<u8>) -> bool {
        self.redacts() || ceiling.is_some_and(|ceiling| ceiling < self.highest)
    }

    pub fn redacts(&self) -> bool {
        !self.redact_fields.is_empty() || !self.redact_hits.is_empty()
    }
}

/// Why a response could not be judged as its route requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unjudged {
    #[error("the response is not JSON, so its fields `{0}` cannot be redacted")]
    NotJson(String),
}

/// The verdict on a whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The body to send instead, when something was redacted.
    pub replaced: Option<Vec<u8>>,
    pub risk: ResponseRisk,
    /// The rank of `risk.class`.
    pub rank: u8,
}

/// Judges a whole response: redacts what the route names, then records the highest
/// class of what is left.
pub fn judge_whole(
    settings: &RiskSettings,
    route: &RouteRisk,
    body: &[u8],
) -> Result<Judged, Unjudged> {
    let mut tally = Tally::default();
    tally.scan(settings, route, body);
    let detected = tally.hits;
    let (replaced, redacted) = if route.redacts() {
        let (text, count) = redact::redact(settings, route, body)?;
        (Some(text), count)
    } else {
        (None, 0)
    };
    let mut left = Tally::default();
    left.scan(settings, route, replaced.as_deref().unwrap_or(body));
    // Volume counts the bytes the upstream sent, redacted or not.
    left.bytes = tally.bytes;
    let (mut risk, rank) = left.finish(settings, route);
    risk.detected = names(
        settings,
        detected | volume_hits(settings, route, tally.bytes),
    );
    risk.redacted = redacted;
    Ok(Judged {
        replaced,
        risk,
        rank,
    })
}

/// Judges an answer already parsed (an MCP result): redacts it in place, then records
/// the highest class of what is left.
pub fn judge_json(
    settings: &RiskSettings,
    route: &RouteRisk,
    document: &mut serde_json::Value,
) -> Judged {
    let before = serde_json::to_vec(&*document).unwrap_or_default();
    let mut tally = Tally::default();
    tally.scan(settings, route, &before);
    let redacted = if route.redacts() {
        redact::value(settings, route, document)
    } else {
        0
    };
    let mut left = Tally::default();
    if redacted > 0 {
        left.scan(
            settings,
            route,
            &serde_json::to_vec(&*document).unwrap_or_default(),
        );
    } else {
        left = tally.clone();
    }
    left.bytes = tally.bytes;
    let (mut risk, rank) = left.finish(settings, route);
    risk.detected = names(
        settings,
        tally.hits | volume_hits(settings, route, tally.bytes),
    );
    risk.redacted = redacted;
    Judged {
        replaced: None,
        risk,
        rank,
    }
}

/// A response scanned as it streams: what its detectors found so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bit `i` set: detector `i` found something.
    hits: u64,
    bytes: u64,
    /// The end of the previous chunk, scanned again with the next one's start.
    carry: Vec<u8>,
}

impl Tally {
    /// Scans the next chunk, with what the previous one ended with.
    pub fn scan(&mut self, settings: &RiskSettings, route: &RouteRisk, chunk: &[u8]) {
        self.bytes = self.bytes.saturating_add(chunk.len() as u64);
        if !self.carry.is_empty() {
            let head = chunk
                .get(..detect::CARRY.min(chunk.len()))
                .unwrap_or_default();
            let mut junction = std::mem::take(&mut self.carry);
            junction.extend_from_slice(head);
            self.hits |= hits(settings, route, &junction);
        }
        self.hits |= hits(settings, route, chunk);
        let keep = chunk.len().min(detect::CARRY);
        self.carry = chunk.get(chunk.len() - keep..).unwrap_or_default().to_vec();
    }

    /// Whether what was found so far outranks `ceiling`.
    pub fn exceeds(&self, settings: &RiskSettings, route: &RouteRisk, ceiling: u8) -> bool {
        self.rank(settings, route) > ceiling
    }

    /// The record of the whole response, and its class's rank.
    pub fn finish(&self, settings: &RiskSettings, route: &RouteRisk) -> (ResponseRisk, u8) {
        let rank = self.rank(settings, route);
        let all = self.hits | volume_hits(settings, route, self.bytes);
        let risk = ResponseRisk {
            class: settings.class_name(rank),
            detected: names(settings, all),
            redacted: 0,
            scanned: self.bytes,
        };
        (risk, rank)
    }

    fn rank(&self, settings: &RiskSettings, route: &RouteRisk) -> u8 {
        let all = self.hits | volume_hits(settings, route, self.bytes);
        settings
            .detectors
            .iter()
            .enumerate()
            .filter(|(index, _)| bit(all, *index))
            .map(|(_, detector)| detector.rank)
            .fold(route.declared, u8::max)
    }
}

/// The detectors of `route` that find something in `text`, as bits.
fn hits(settings: &RiskSettings, route: &RouteRisk, text: &[u8]) -> u64 {
    route
        .scan
        .iter()
        .filter_map(|index| settings.detectors.get(*index).map(|d| (*index, d)))
        .filter(|(_, detector)| !detector.kind.find(text).is_empty())
        .fold(0, |bits, (index, _)| {
            bits | (1u64 << (index % MAX_DETECTORS))
        })
}

fn volume_hits(settings: &RiskSettings, route: &RouteRisk, bytes: u64) -> u64 {
    route
        .scan
        .iter()
        .filter_map(|index| settings.detectors.get(*index).map(|d| (*index, d)))
        .filter(|(_, d)| d.kind == DetectorKind::Volume && bytes >= d.bytes)
        .fold(0, |bits, (index, _)| {
            bits | (1u64 << (index % MAX_DETECTORS))
        })
}

fn bit(bits: u64, index: usize) -> bool {
    index < MAX_DETECTORS && bits & (1u64 << index) != 0
}

fn names(settings: &RiskSettings, bits: u64) -> Vec<String> {
    settings
        .detectors
        .iter()
        .enumerate()
        .filter(|(index, _)| bit(bits, *index))
        .map(|(_, detector)| detector.name.clone())
        .collect()
}

/// The spans of `text` the route redacts by detector, sorted, overlaps merged.
fn redacted_spans(
    settings: &RiskSettings,
    route: &RouteRisk,
    text: &[u8],
) -> Vec<(Range<usize>, usize)> {
    let mut spans: Vec<(Range<usize>, usize)> = route
        .redact_hits
        .iter()
        .filter_map(|index| settings.detectors.get(*index).map(|d| (*index, d)))
        .flat_map(|(index, detector)| {
            detector
                .kind
                .find(text)
                .into_iter()
                .map(move |span| (span, index))
        })
        .collect();
    spans.sort_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
    let mut merged: Vec<(Range<usize>, usize)> = Vec::with_capacity(spans.len());
    for (span, index) in spans {
        match merged.last_mut() {
            Some((last, _)) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push((span, index)),
        }
    }
    merged
}

#[cfg(test)]
mod tests;
