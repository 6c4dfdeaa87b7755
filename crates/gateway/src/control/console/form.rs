//! Reading a console form post (`application/x-www-form-urlencoded`), small and strict:
//! a size cap, UTF-8 only, and no repeated field (so a smuggled second `csrf` cannot
//! win over the first).

use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

/// Forms are a token, a reason and a CSRF token: a few KiB at most.
const MAX_FORM: usize = 16 * 1024;

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    #[error("the form is unreadable or larger than {MAX_FORM} bytes")]
    Unreadable,
    #[error("a form field is not UTF-8 once decoded")]
    NotUtf8,
    #[error("form field `{0}` is repeated")]
    Repeated(String),
}

/// The decoded fields of a form post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Field `name`, if sent.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads and decodes the request body as a form.
pub(crate) async fn read(request: Request<Incoming>) -> Result<Form, FormError> {
    let bytes = Limited::new(request.into_body(), MAX_FORM)
        .collect()
        .await
        .map_err(|_| FormError::Unreadable)?
        .to_bytes();
    let text = std::str::from_utf8(&bytes).map_err(|_| FormError::NotUtf8)?;
    parse(text)
}

/// Decodes `a=1&b=two+words` into fields.
pub(crate) fn parse(text: &str) -> Result<Form, FormError> {
    match gatehouse_core::form::distinct_pairs(text) {
        Ok(fields) => Ok(Form { fields }),
        Err(gatehouse_core::form::FormError::NotUtf8) => Err(FormError::NotUtf8),
        Err(gatehouse_core::form::FormError::Repeated(key)) => Err(FormError::Repeated(key)),
    }
}
