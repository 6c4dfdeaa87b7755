//! PLACEHOLDER: the token parser is being written by a helper.
#[derive(Debug, Clone, Default)]
pub struct Jwks {}
