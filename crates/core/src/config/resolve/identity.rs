//! Who may call: agents, the issuers that vouch for them, and the task classes they
//! may obtain credentials for.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::raw::{RawAgent, RawIssuer, RawTaskClass};
use crate::config::resolve::Resolver;
use crate::config::{Agent, AgentKey, IntentInfo, Issuer, Segment, TaskClass};
use crate::model::{AgentId, GroupName, Intent, SegmentName, TaskClassName};
use crate::token::Jwks;
use crate::token::keys::load_verifying_key_pem;
use crate::workflow::Budget;

/// Longest credential lifetime a task class may ask for: credentials live minutes.
const MAX_TTL_MINUTES: u64 = 24 * 60;

impl Resolver<'_> {
    pub(super) fn issuers(
        &mut self,
        raw: &BTreeMap<String, RawIssuer>,
    ) -> BTreeMap<String, Issuer> {
        raw.iter()
            .filter_map(|(name, issuer)| Some((name.clone(), self.issuer(name, issuer)?)))
            .collect()
    }

    fn issuer(&mut self, name: &str, raw: &RawIssuer) -> Option<Issuer> {
        let field = format!("issuers.{name}.jwks_file");
        let path = self.path(raw.jwks_file.get_ref());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                let message = format!("cannot read JWKS file `{}`: {error}", path.display());
                self.error_at(&field, &raw.jwks_file, message);
                return None;
            }
        };
        match Jwks::parse(&text) {
            Ok(jwks) => Some(Issuer {
                name: name.to_owned(),
                issuer: raw.issuer.clone(),
                jwks,
            }),
            Err(error) => {
                let message = format!("invalid JWKS in `{}`: {error}", path.display());
                self.error_at(&field, &raw.jwks_file, message);
                None
            }
        }
    }

    pub(super) fn task_classes(
        &mut self,
        raw: &BTreeMap<String, RawTaskClass>,
        segments: &BTreeMap<SegmentName, Segment>,
    ) -> BTreeMap<TaskClassName, TaskClass> {
        raw.iter()
            .filter_map(|(name, class)| {
                let typed = self.task_class(name, class, segments)?;
                Some((typed.name.clone(), typed))
            })
            .collect()
    }

    fn task_class(
        &mut self,
        name: &str,
        raw: &RawTaskClass,
        segments: &BTreeMap<SegmentName, Segment>,
    ) -> Option<TaskClass> {
        let field = format!("task_classes.{name}");
        let segment = raw.segment.get_ref().as_str();
        if !segments.contains_key(segment) {
            let message = format!("unknown segment `{segment}` (define it under [segments])");
            self.error_at(&format!("{field}.segment"), &raw.segment, message);
        }
        if raw.ttl_minutes == 0 || raw.ttl_minutes > MAX_TTL_MINUTES {
            let message = format!("must be between 1 and {MAX_TTL_MINUTES} minutes");
            self.error_at_field(&format!("{field}.ttl_minutes"), message);
        }
        if raw.intents.is_empty() {
            self.error_at_field(&format!("{field}.intents"), "must name at least one intent");
        }
        if raw.workflow_ttl_minutes == 0 {
            self.error_at_field(&format!("{field}.workflow_ttl_minutes"), "must be positive");
        }
        if raw.budget.calls == 0 {
            let message = "must be positive: a workflow with no calls can do nothing";
            self.error_at_field(&format!("{field}.budget.calls"), message);
        }
        let max_data_class = self.ceiling(
            &format!("{field}.max_data_class"),
            raw.max_data_class.as_ref(),
        );
        Some(TaskClass {
            name: TaskClassName::new(name),
            segment: SegmentName::new(segment),
            intents: raw
                .intents
                .iter()
                .map(|intent| Intent::new(intent.get_ref().as_str()))
                .collect(),
            ttl: Duration::from_secs(raw.ttl_minutes.saturating_mul(60)),
            workflow_ttl: Duration::from_secs(raw.workflow_ttl_minutes.saturating_mul(60)),
            budget: Budget {
                calls: raw.budget.calls,
                writes: raw.budget.writes,
                bytes: raw.budget.bytes,
            },
            confirmer: raw
                .confirmer
                .as_ref()
                .map(|confirmer| confirmer.get_ref().clone()),
            max_data_class,
        })
    }

    /// A task class may only carry intents some route of a tool in its segment defines.
    pub(super) fn check_task_class_intents(
        &mut self,
        raw: &BTreeMap<String, RawTaskClass>,
        intents: &BTreeMap<Intent, IntentInfo>,
    ) {
        for (name, class) in raw {
            for intent in &class.intents {
                if !intents.contains_key(intent.get_ref().as_str()) {
                    let message = format!(
                        "unknown intent `{}`: no tool route or MCP mapping names it",
                        intent.get_ref()
                    );
                    self.error_at(&format!("task_classes.{name}.intents"), intent, message);
                }
            }
        }
    }

    pub(super) fn agents(
        &mut self,
        raw: &BTreeMap<String, RawAgent>,
        issuers: &BTreeMap<String, Issuer>,
        task_classes: &BTreeMap<TaskClassName, TaskClass>,
    ) -> BTreeMap<AgentId, Agent> {
        raw.iter()
            .filter_map(|(id, agent)| {
                let typed = self.agent(id, agent, issuers, task_classes)?;
                Some((typed.id.clone(), typed))
            })
            .collect()
    }

    fn agent(
        &mut self,
        id: &str,
        raw: &RawAgent,
        issuers: &BTreeMap<String, Issuer>,
        task_classes: &BTreeMap<TaskClassName, TaskClass>,
    ) -> Option<Agent> {
        let field = format!("agents.\"{id}\"");
        let key = self.agent_key(&field, raw, issuers);
        let mut allowed = BTreeSet::new();
        for class in &raw.task_classes {
            let name = class.get_ref().as_str();
            if task_classes.contains_key(name) {
                allowed.insert(TaskClassName::new(name));
            } else {
                let message = format!("unknown task class `{name}`");
                self.error_at(&format!("{field}.task_classes"), class, message);
            }
        }
        Some(Agent {
            id: AgentId::new(id),
            key: key?,
            attributes: raw.attributes.clone(),
            groups: raw
                .groups
                .iter()
                .map(|group| GroupName::new(group.as_str()))
                .collect(),
            task_classes: allowed,
            owner: raw.owner.clone(),
        })
    }

    fn agent_key(
        &mut self,
        field: &str,
        raw: &RawAgent,
        issuers: &BTreeMap<String, Issuer>,
    ) -> Option<AgentKey> {
        match (&raw.public_key_file, &raw.issuer) {
            (Some(file), None) => self.agent_public_key(field, file),
            (None, Some(issuer)) => {
                if issuers.contains_key(issuer.get_ref().as_str()) {
                    return Some(AgentKey::Issuer(issuer.get_ref().clone()));
                }
                let message = format!(
                    "unknown issuer `{}` (define it under [issuers])",
                    issuer.get_ref()
                );
                self.error_at(&format!("{field}.issuer"), issuer, message);
                None
            }
            _ => {
                let message = "set exactly one of `public_key_file` or `issuer`";
                self.error_at_field(field, message);
                None
            }
        }
    }

    fn agent_public_key(&mut self, field: &str, file: &toml::Spanned<String>) -> Option<AgentKey> {
        let path = self.path(file.get_ref());
        let field = format!("{field}.public_key_file");
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(error) => {
                let message = format!("cannot read public key `{}`: {error}", path.display());
                self.error_at(&field, file, message);
                return None;
            }
        };
        match load_verifying_key_pem(&pem) {
            Ok(key) => Some(AgentKey::PublicKey(key)),
            Err(error) => {
                let message = format!(
                    "`{}` is not an Ed25519 public key PEM: {error}",
                    path.display()
                );
                self.error_at(&field, file, message);
                None
            }
        }
    }
}
