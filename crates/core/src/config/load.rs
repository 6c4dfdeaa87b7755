//! Reading the configuration from disk: the TOML document, the policy files and the
//! schema, then resolving them into a [`Config`].

use std::path::{Path, PathBuf};

use crate::config::resolve::Resolver;
use crate::config::{Config, ConfigError, ConfigErrors, PolicyFile, RawConfig};

/// Parses the TOML document alone (no file access); the config fuzz target's entry.
pub fn parse_document(text: &str) -> Result<RawConfig, ConfigErrors> {
    parse_named(Path::new("<config>"), text)
}

/// Loads and resolves the configuration at `path`, reporting every problem found.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new(path, format!("cannot read config file: {error}")))?;
    let raw = parse_named(path, &text)?;
    let base_dir = base_dir_of(path);
    let mut resolver = Resolver::new(path, &text, &base_dir);
    let policies = read_policies(&base_dir.join(&raw.policy.dir), &mut resolver);
    let schema = read_schema(
        &base_dir,
        raw.policy.schema.as_deref(),
        &raw.policy.dir,
        &mut resolver,
    );
    resolver.resolve(raw, policies, schema)
}

/// Most TOML documents parse; an error is then a field the schema refuses (unknown,
/// of the wrong type or value). To report every such field at once, not only the
/// first, the line of each refused field is blanked and the document read again, up to
/// [`MAX_PARSE_ERRORS`] times. A syntax error or a missing field cannot be blanked away:
/// it is reported and ends the search, and a missing field found after a blanked line
/// is not reported at all (the blanking may have caused it).
fn parse_named(path: &Path, text: &str) -> Result<RawConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut current = text.to_owned();
    for _ in 0..MAX_PARSE_ERRORS {
        let error = match toml::from_str::<RawConfig>(&current) {
            Ok(raw) if errors.is_empty() => return Ok(raw),
            Ok(_) => break,
            Err(error) => error,
        };
        let message = error.message();
        let missing = message.starts_with("missing field");
        if missing && !errors.is_empty() {
            break;
        }
        let mut problem = ConfigError::new(path, message.to_owned());
        let span = error.span();
        if let Some(span) = &span {
            // Blanking keeps every line where it was, so lines of `current` are the file's.
            problem = problem.at_line(line_of(&current, span.start));
        }
        errors.push(problem);
        let blanked = match span {
            Some(span) if !missing && !is_syntax_error(message) => blank_lines(&current, span),
            _ => None,
        };
        match blanked {
            Some(blanked) => current = blanked,
            None => break,
        }
    }
    Err(ConfigErrors(errors))
}

/// Field errors reported before giving up on a document.
const MAX_PARSE_ERRORS: usize = 20;

/// The schema's messages name a field or a type; the parser's describe text.
fn is_syntax_error(message: &str) -> bool {
    !(message.starts_with("unknown field")
        || message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("unknown variant")
        || message.starts_with("invalid length"))
}

/// `text` with every line touched by `span` turned into spaces (newlines kept, so line
/// numbers stay those of the file); `None` when nothing would change.
fn blank_lines(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let start = text.get(..span.start)?.rfind('\n').map_or(0, |at| at + 1);
    let end = text
        .get(span.end.max(span.start)..)?
        .find('\n')
        .map_or(text.len(), |at| span.end.max(span.start) + at);
    let lines = text.get(start..end)?;
    if lines.bytes().all(|byte| byte.is_ascii_whitespace()) {
        return None;
    }
    let blank: String = lines
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    Some(format!("{}{blank}{}", text.get(..start)?, text.get(end..)?))
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .iter()
        .take(end)
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}

fn base_dir_of(path: &Path) -> PathBuf {
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let parent = if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent
    };
    std::fs::canonicalize(&parent).unwrap_or(parent)
}

fn read_policies(dir: &Path, resolver: &mut Resolver<'_>) -> Vec<PolicyFile> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            resolver.error_at_field(
                "policy.dir",
                format!("cannot read policy directory `{}`: {error}", dir.display()),
            );
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cedar"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| read_text(path, resolver))
        .collect()
}

/// The `*.cedar` files of `dir`, in file-name order, read again by a running gateway:
/// the same files and paths [`load`] reads, so the same set has the same version.
pub fn read_policy_dir(dir: &Path) -> Result<Vec<PolicyFile>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read policy directory `{}`: {error}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cedar"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Ok(PolicyFile { path, text }),
            Err(error) => Err(format!("cannot read `{}`: {error}", path.display())),
        })
        .collect()
}

fn read_schema(
    base_dir: &Path,
    explicit: Option<&str>,
    policy_dir: &str,
    resolver: &mut Resolver<'_>,
) -> Option<PolicyFile> {
    if let Some(file) = explicit {
        return read_text(base_dir.join(file), resolver);
    }
    let default = base_dir.join(policy_dir).join("schema.cedarschema");
    default
        .is_file()
        .then(|| read_text(default, resolver))
        .flatten()
}

fn read_text(path: PathBuf, resolver: &mut Resolver<'_>) -> Option<PolicyFile> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(PolicyFile { path, text }),
        Err(error) => {
            resolver.push(ConfigError::new(
                &path,
                format!("cannot read file: {error}"),
            ));
            None
        }
    }
}
