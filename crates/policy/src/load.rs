//! Policy loading: parse each `policies/*.cedar` file, give every policy its id (the
//! `@id` annotation, else `<file stem>:<index>`), refuse templates and duplicate ids,
//! then validate the whole set against the schema in strict mode. A file loaded before
//! with the same path and text keeps what it was parsed into, already validated: Cedar
//! validates each policy on its own, so a reload parses and validates only the files
//! that changed (a replica following another's set does the same).

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use gatehouse_core::config::PolicyFile;

use crate::error::{PolicyError, PolicyErrorKind, PolicyErrors};

/// The policies of every file, in file order, each with the index of its file.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) policies: Vec<(Policy, usize)>,
    /// Each file with what it was parsed into, for the next load to reuse.
    pub(crate) files: Vec<ParsedFile>,
    /// Indices of the files parsed by this load (the others were reused).
    fresh: Vec<usize>,
}

/// One file and its policies, with their final ids; validated once they are in an engine.
#[derive(Debug, Clone)]
pub(crate) struct ParsedFile {
    path: PathBuf,
    text: String,
    policies: Vec<Policy>,
}

impl ParsedFile {
    fn is(&self, file: &PolicyFile) -> bool {
        self.path == file.path && self.text == file.text
    }
}

/// Parses every file not in `earlier` (same path and text) and assigns ids; collects
/// every problem before failing.
pub(crate) fn parse(files: &[PolicyFile], earlier: &[ParsedFile]) -> Result<Loaded, PolicyErrors> {
    let mut errors = Vec::new();
    let mut loaded = Loaded {
        policies: Vec::new(),
        files: Vec::with_capacity(files.len()),
        fresh: Vec::new(),
    };
    for (index, file) in files.iter().enumerate() {
        let parsed = match earlier.iter().find(|parsed| parsed.is(file)) {
            Some(parsed) => parsed.policies.clone(),
            None => match parse_file(file) {
                Ok(parsed) => {
                    loaded.fresh.push(index);
                    parsed
                }
                Err(mut found) => {
                    errors.append(&mut found);
                    continue;
                }
            },
        };
        let policies = parsed.iter().map(|policy| (policy.clone(), index));
        loaded.policies.extend(policies);
        loaded.files.push(ParsedFile {
            path: file.path.clone(),
            text: file.text.clone(),
            policies: parsed,
        });
    }
    errors.extend(duplicate_ids(files, &loaded.policies));
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(PolicyErrors(errors))
    }
}

/// Validates the policies of the files parsed by this load against the schema in strict
/// mode (the others were validated against the same schema when first loaded); the
/// whole set on success.
pub(crate) fn validate(
    files: &[PolicyFile],
    loaded: &Loaded,
    schema: &Schema,
) -> Result<PolicySet, PolicyErrors> {
    let fresh = loaded.set_of(|file| loaded.fresh.contains(&file))?;
    let result = Validator::new(schema.clone()).validate(&fresh, ValidationMode::Strict);
    let file_of: HashMap<&PolicyId, usize> = loaded
        .policies
        .iter()
        .map(|(policy, file)| (policy.id(), *file))
        .collect();
    let errors: Vec<PolicyError> = result
        .validation_errors()
        .map(|error| {
            let id = error.policy_id();
            let file = file_of.get(id).and_then(|&index| files.get(index));
            let (path, text) = file.map_or((None, ""), |f| (Some(f.path.as_path()), &*f.text));
            PolicyError::from_diagnostic(PolicyErrorKind::Validation, path, text, error)
                .for_policy(id.to_string())
        })
        .collect();
    if errors.is_empty() {
        loaded.set_of(|_| true)
    } else {
        Err(PolicyErrors(errors))
    }
}

impl Loaded {
    /// The policies of the files `keep` picks, in one set.
    fn set_of(&self, keep: impl Fn(usize) -> bool) -> Result<PolicySet, PolicyErrors> {
        let policies = self.policies.iter().filter(|(_, file)| keep(*file));
        PolicySet::from_policies(policies.map(|(policy, _)| policy.clone())).map_err(|error| {
            PolicyError::new(PolicyErrorKind::DuplicateId, error.to_string()).into()
        })
    }
}

/// Parses one file; policies come back in source order with their final ids.
fn parse_file(file: &PolicyFile) -> Result<Vec<Policy>, Vec<PolicyError>> {
    let set = PolicySet::from_str(&file.text).map_err(|errors| {
        errors
            .iter()
            .map(|error| {
                PolicyError::from_diagnostic(
                    PolicyErrorKind::Parse,
                    Some(&file.path),
                    &file.text,
                    error,
                )
            })
            .collect::<Vec<_>>()
    })?;
    let templates: Vec<PolicyError> = set
        .templates()
        .map(|template| template_error(file, template.id()))
        .collect();
    if !templates.is_empty() {
        return Err(templates);
    }
    let mut numbered: Vec<(usize, &Policy)> = set
        .policies()
        .map(|policy| (source_index(policy.id()), policy))
        .collect();
    numbered.sort_by_key(|(index, _)| *index);
    let stem = file_stem(file);
    Ok(numbered
        .into_iter()
        .map(|(index, policy)| {
            let id = policy
                .annotation("id")
                .map_or_else(|| format!("{stem}:{index}"), str::to_owned);
            policy.new_id(PolicyId::new(id))
        })
        .collect())
}

fn template_error(file: &PolicyFile, id: &PolicyId) -> PolicyError {
    let index = source_index(id);
    PolicyError::new(
        PolicyErrorKind::Template,
        format!(
            "policy {index} is a template (it has `?principal` or `?resource`); templates \
             are not supported yet, write a static policy"
        ),
    )
    .in_file(&file.path)
}

/// The position of a policy in its file: Cedar names them `policy0`, `policy1`, … in
/// source order when parsing a whole file.
fn source_index(id: &PolicyId) -> usize {
    // INVARIANT: `PolicySet::from_str` assigns `policy<N>`; a foreign id sorts last.
    let id: &str = id.as_ref();
    id.strip_prefix("policy")
        .and_then(|number| number.parse().ok())
        .unwrap_or(usize::MAX)
}

fn file_stem(file: &PolicyFile) -> String {
    file.path.file_stem().map_or_else(
        || file.path.display().to_string(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}

fn duplicate_ids(files: &[PolicyFile], policies: &[(Policy, usize)]) -> Vec<PolicyError> {
    let mut first: HashMap<&PolicyId, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (policy, file) in policies {
        let Some(&earlier) = first.get(policy.id()) else {
            first.insert(policy.id(), *file);
            continue;
        };
        let (Some(here), Some(there)) = (files.get(*file), files.get(earlier)) else {
            continue;
        };
        let message = format!(
            "policy id `{}` is already used in `{}`; ids must be unique across files",
            policy.id(),
            there.path.display()
        );
        errors.push(
            PolicyError::new(PolicyErrorKind::DuplicateId, message)
                .in_file(&here.path)
                .for_policy(policy.id().to_string()),
        );
    }
    errors
}
