//! Errors found while building a [`crate::PolicyEngine`]: each names the file and, where
//! Cedar gives a source location, the line, so a user can fix every problem in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::Diagnostic;

/// What kind of problem a [`PolicyError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// A policy file is not valid Cedar.
    Parse,
    /// The schema fragment is invalid, or does not combine with the generated declarations.
    Schema,
    /// A policy does not type-check against the schema (strict mode).
    Validation,
    /// Two policies share an id.
    DuplicateId,
    /// A policy file holds a template, which Gatehouse does not support yet.
    Template,
    /// An agent, tool or group from the configuration does not fit the schema.
    Entities,
}

/// One problem found in the policies or schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    /// The policy or schema file, when the problem lies in one.
    pub file: Option<PathBuf>,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// The id of the policy concerned, where known.
    pub policy: Option<String>,
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: None,
            line: None,
            policy: None,
            message: message.into(),
        }
    }

    #[must_use]
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    #[must_use]
    pub(crate) fn for_policy(mut self, id: impl Into<String>) -> Self {
        self.policy = Some(id.into());
        self
    }

    /// Converts a Cedar diagnostic whose labels point into `text`, the file's content.
    pub(crate) fn from_diagnostic(
        kind: PolicyErrorKind,
        file: Option<&Path>,
        text: &str,
        diagnostic: &dyn Diagnostic,
    ) -> Self {
        let offset = diagnostic
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset());
        Self {
            kind,
            file: file.map(Path::to_path_buf),
            line: offset.map(|offset| line_of(text, offset)),
            policy: None,
            message: describe(diagnostic),
        }
    }
}

/// A diagnostic's message with its causes and help, which Cedar keeps apart.
pub(crate) fn describe(diagnostic: &dyn Diagnostic) -> String {
    let mut message = diagnostic.to_string();
    let mut source = diagnostic.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message = format!("{message}: {cause_text}");
        }
        source = cause.source();
    }
    if let Some(help) = diagnostic.help() {
        message = format!("{message} (help: {help})");
    }
    message
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}", file.display())?,
            None => f.write_str("<generated schema>")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(policy) = &self.policy {
            write!(f, ": policy `{policy}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found, so a user fixes them all in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl From<PolicyError> for PolicyErrors {
    fn from(error: PolicyError) -> Self {
        Self(vec![error])
    }
}

/// The 1-based line of a byte offset; offsets past the end count as the last line.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    let newlines = text.bytes().take(end).filter(|&byte| byte == b'\n').count();
    newlines + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let text = "a\nbc\nd";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 99), 3);
    }

    #[test]
    fn display_names_file_line_and_policy() {
        let error = PolicyError::new(PolicyErrorKind::Validation, "bad")
            .in_file(Path::new("policies/base.cedar"))
            .for_policy("base:0");
        let error = PolicyError {
            line: Some(3),
            ..error
        };
        assert_eq!(
            error.to_string(),
            "policies/base.cedar:3: policy `base:0`: bad"
        );
    }
}
