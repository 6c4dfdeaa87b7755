//! Reading a control-plane request body as strict JSON.

use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use crate::control::ControlError;

const MAX_BODY: usize = 64 * 1024;

/// The body as `T`; an empty body reads as `{}`.
pub(super) async fn read<T: DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, ControlError> {
    let bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| ControlError::BadRequest {
            reason: format!("the body is unreadable or larger than {MAX_BODY} bytes"),
        })?
        .to_bytes();
    let text = if bytes.is_empty() {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|error| ControlError::BadRequest {
        reason: format!("invalid JSON body: {error}"),
    })
}
