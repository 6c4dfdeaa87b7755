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

fn parse_named(path: &Path, text: &str) -> Result<RawConfig, ConfigErrors> {
    toml::from_str(text).map_err(|error| {
        let mut problem = ConfigError::new(path, error.message().to_owned());
        if let Some(span) = error.span() {
            problem = problem.at_line(line_of(text, span.start));
        }
        ConfigErrors::from(problem)
    })
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
