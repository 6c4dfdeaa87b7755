//! Route path templates such as `/repos/{owner}/{repo}/issues` or `/files/{path*}`.

use std::collections::HashSet;

use crate::path::{PathError, SafePath, parse_request_path};

/// A route's path: literal segments and `{name}` parameters, each matching exactly one
/// segment, optionally ending in `{name*}`, which matches one or more segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    // INVARIANT: literals are decoded safe segments, names are unique, and a `Rest`
    // part can only be the last one.
    parts: Vec<Part>,
}

/// Why a path template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template does not start with `/`")]
    NotAbsolute,
    #[error("empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("segment `{0}` mixes literal text and a parameter (write `{{name}}` alone)")]
    MixedSegment(String),
    #[error("parameter name `{0}` is not an identifier (letters, digits and `_`)")]
    InvalidName(String),
    #[error("parameter `{0}` appears twice")]
    DuplicateName(String),
    #[error("`{{{0}*}}` must be the last segment")]
    RestNotLast(String),
    #[error("literal segment `{segment}` is not a safe path segment: {reason}")]
    UnsafeLiteral { segment: String, reason: PathError },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
    Rest(String),
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<PathTemplate, TemplateError> {
        let rest = text.strip_prefix('/').ok_or(TemplateError::NotAbsolute)?;
        let parts = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/')
                .map(Part::parse)
                .collect::<Result<Vec<_>, _>>()?
        };
        check_names(&parts)?;
        Ok(PathTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    pub fn matches(&self, path: &SafePath<'_>) -> bool {
        let segments = path.segments();
        let fits = match self.parts.last() {
            Some(Part::Rest(_)) => segments.len() >= self.parts.len(),
            _ => segments.len() == self.parts.len(),
        };
        fits && self
            .parts
            .iter()
            .zip(segments)
            .all(|(part, segment)| part.matches(segment))
    }

    /// Whether the template has a `{name}` or `{name*}` parameter.
    pub fn has_param(&self, name: &str) -> bool {
        self.param_index(name).is_some()
    }

    /// The decoded value of parameter `name` in `path` (which the template matches): one
    /// segment, or for `{name*}` the remaining segments joined with `/`.
    pub fn param(&self, name: &str, path: &SafePath<'_>) -> Option<String> {
        let index = self.param_index(name)?;
        let segments = path.segments().get(index..)?;
        match self.parts.get(index)? {
            Part::Rest(_) => Some(segments.join("/")),
            _ => segments.first().map(|segment| segment.clone().into_owned()),
        }
    }

    fn param_index(&self, name: &str) -> Option<usize> {
        self.parts.iter().position(|part| match part {
            Part::Param(param) | Part::Rest(param) => param == name,
            Part::Literal(_) => false,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How specific the template is: its number of literal segments.
    pub fn literal_count(&self) -> usize {
        self.parts
            .iter()
            .filter(|part| matches!(part, Part::Literal(_)))
            .count()
    }

    /// Whether both templates match exactly the same paths (parameter names aside).
    pub fn same_shape(&self, other: &PathTemplate) -> bool {
        self.parts.len() == other.parts.len()
            && self.parts.iter().zip(&other.parts).all(|pair| match pair {
                (Part::Literal(a), Part::Literal(b)) => a == b,
                (Part::Param(_), Part::Param(_)) | (Part::Rest(_), Part::Rest(_)) => true,
                _ => false,
            })
    }

    /// Sort key, greatest first: more literal segments, then literals further left, then
    /// single-segment parameters before a rest parameter.
    pub(crate) fn precedence(&self) -> (usize, Vec<u8>) {
        let ranks = self.parts.iter().map(Part::rank).collect();
        (self.literal_count(), ranks)
    }
}

impl Part {
    fn parse(segment: &str) -> Result<Part, TemplateError> {
        if segment.is_empty() {
            return Err(TemplateError::EmptySegment);
        }
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            return Ok(match inner.strip_suffix('*') {
                Some(name) => Part::Rest(identifier(name)?),
                None => Part::Param(identifier(inner)?),
            });
        }
        if segment.contains(['{', '}']) {
            return Err(TemplateError::MixedSegment(segment.to_owned()));
        }
        literal(segment).map(Part::Literal)
    }

    fn matches(&self, segment: &str) -> bool {
        match self {
            Part::Literal(literal) => literal == segment,
            // SafePath segments are never empty, so a parameter always has a value.
            Part::Param(_) | Part::Rest(_) => true,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Part::Literal(_) => 2,
            Part::Param(_) => 1,
            Part::Rest(_) => 0,
        }
    }
}

/// Names are unique, and a rest parameter comes last.
fn check_names(parts: &[Part]) -> Result<(), TemplateError> {
    let mut names = HashSet::new();
    for (index, part) in parts.iter().enumerate() {
        let name = match part {
            Part::Literal(_) => continue,
            Part::Param(name) => name,
            Part::Rest(name) if index + 1 < parts.len() => {
                return Err(TemplateError::RestNotLast(name.clone()));
            }
            Part::Rest(name) => name,
        };
        if !names.insert(name) {
            return Err(TemplateError::DuplicateName(name.clone()));
        }
    }
    Ok(())
}

fn identifier(name: &str) -> Result<String, TemplateError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(TemplateError::InvalidName(name.to_owned()));
    }
    Ok(name.to_owned())
}

/// A literal segment obeys the request-path rules, and is compared decoded.
fn literal(segment: &str) -> Result<String, TemplateError> {
    let unsafe_literal = |reason| TemplateError::UnsafeLiteral {
        segment: segment.to_owned(),
        reason,
    };
    let absolute = format!("/{segment}");
    let path = parse_request_path(absolute.as_bytes()).map_err(unsafe_literal)?;
    match path.segments() {
        [decoded] => Ok(decoded.clone().into_owned()),
        _ => Err(unsafe_literal(PathError::EmptySegment)),
    }
}
