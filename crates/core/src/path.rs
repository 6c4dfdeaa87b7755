//! PLACEHOLDER: the path classifier is being written by a helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
}
