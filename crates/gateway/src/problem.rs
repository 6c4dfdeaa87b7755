//! Refusals as problem documents (RFC 9457, `application/problem+json`): stable `type`,
//! the decision id, and nothing internal.

use bytes::Bytes;
use gatehouse_core::ids::DecisionId;
use gatehouse_core::refusal::Refusal;
use http::{HeaderName, HeaderValue, Response, StatusCode, header};

use crate::body::{ResponseBody, full};

pub const PROBLEM_JSON: &str = "application/problem+json";
pub const DECISION_HEADER: &str = "gatehouse-decision-id";

/// The problem document for `refusal`, carrying `decision` when one was made.
pub fn problem_response(refusal: &Refusal, decision: Option<DecisionId>) -> Response<ResponseBody> {
    let mut document = serde_json::json!({
        "type": refusal.problem_type(),
        "title": refusal.title(),
        "status": refusal.status(),
        "detail": refusal.detail(),
    });
    if let Some(object) = document.as_object_mut() {
        if let Some(id) = decision {
            object.insert("decision_id".into(), id.to_string().into());
        }
        for (name, value) in refusal.extensions() {
            object.insert(name.into(), value);
        }
    }
    let status =
        StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &document, PROBLEM_JSON);
    if let Some(id) = decision {
        insert_decision_header(&mut response, id);
    }
    if let Refusal::Unauthenticated(_) | Refusal::InvalidAssertion(_) = refusal {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gatehouse\""),
        );
    }
    response
}

/// A JSON response with the given content type.
pub fn json_response(
    status: StatusCode,
    value: &serde_json::Value,
    content_type: &'static str,
) -> Response<ResponseBody> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(full(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn insert_decision_header<B>(response: &mut Response<B>, id: DecisionId) {
    if let Ok(value) = decision_value(id) {
        response.headers_mut().insert(decision_header(), value);
    }
}

/// The name of [`DECISION_HEADER`], built at compile time rather than checked per call.
pub fn decision_header() -> HeaderName {
    const { HeaderName::from_static(DECISION_HEADER) }
}

/// The decision id as a header value (always valid: Crockford base32 is ASCII).
pub fn decision_value(id: DecisionId) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    HeaderValue::from_bytes(&id.encode())
}

/// The error and its sources, for the event (never for the agent).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
