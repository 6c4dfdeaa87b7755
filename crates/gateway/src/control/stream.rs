//! `GET /v1/events/stream`: a live tail of the event log as Server-Sent Events, with the
//! events query's filters (`control/query.rs`). Without `Last-Event-ID` it starts after
//! the newest stored event; with one (an event's `id`, its store position) it resumes
//! right after it.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, header};
use http_body_util::BodyExt;

use crate::body::ResponseBody;
use crate::control::{ControlError, blocking, query};
use crate::state::State;

pub(super) async fn open<B>(
    state: &Arc<State>,
    request: &Request<B>,
) -> Result<Response<ResponseBody>, ControlError> {
    let filter = query::event_filter(request.uri().query().unwrap_or(""))?;
    let resume = request
        .headers()
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| ControlError::BadRequest {
                    reason: "`Last-Event-ID` is not an event position (`block.index`)".to_owned(),
                })
        })
        .transpose()?;
    // Subscribed before the head is read, so no batch falls between the two.
    let stored = state.events.stored();
    let start = match resume {
        Some(position) => Some(position),
        None => {
            let store = Arc::clone(&state.store);
            blocking(move || store.head_position()).await?
        }
    };
    let body = state.tails.open(
        Arc::clone(&state.store),
        stored,
        filter,
        start,
        crate::tail::SSE,
    );
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
