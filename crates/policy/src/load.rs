//! Policy loading: parse each `policies/*.cedar` file, give every policy its id (the
//! `@id` annotation, else `<file stem>:<index>`), refuse templates and duplicate ids,
//! then validate the whole set against the schema in strict mode.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use gatehouse_core::config::PolicyFile;

use crate::error::{PolicyError, PolicyErrorKind, PolicyErrors};

/// The policies of every file, in file order, each with the index of its file.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) policies: Vec<(Policy, usize)>,
}

/// Parses every file and assigns ids; collects every problem before failing.
pub(crate) fn parse(files: &[PolicyFile]) -> Result<Loaded, PolicyErrors> {
    let mut errors = Vec::new();
    let mut policies = Vec::new();
    for (index, file) in files.iter().enumerate() {
        match parse_file(file) {
            Ok(parsed) => policies.extend(parsed.into_iter().map(|policy| (policy, index))),
            Err(mut found) => errors.append(&mut found),
        }
    }
    errors.extend(duplicate_ids(files, &policies));
    if errors.is_empty() {
        Ok(Loaded { policies })
    } else {
        Err(PolicyErrors(errors))
    }
}

/// Validates the policies against the schema in strict mode.
pub(crate) fn validate(
    files: &[PolicyFile],
    loaded: &Loaded,
    schema: &Schema,
) -> Result<PolicySet, PolicyErrors> {
    let set = loaded.full_set()?;
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
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
        Ok(set)
    } else {
        Err(PolicyErrors(errors))
    }
}

impl Loaded {
    /// Every policy in one set, as Cedar would evaluate them without an index.
    pub(crate) fn full_set(&self) -> Result<PolicySet, PolicyErrors> {
        PolicySet::from_policies(self.policies.iter().map(|(policy, _)| policy.clone())).map_err(
            |error| PolicyError::new(PolicyErrorKind::DuplicateId, error.to_string()).into(),
        )
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
