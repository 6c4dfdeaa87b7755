//! The words of ARCHITECTURE.md, "Crates" as types: agents, tools, segments, intents, tiers.

use serde::{Deserialize, Serialize};

use crate::closed_set::closed_set;

/// `name_type!(/// doc  Name)`: a name that is text on the wire and in the store
/// (`serde(transparent)`), shared rather than copied (`Arc<str>`), and a type of its own
/// so that two kinds of names cannot be passed for each other.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(::std::sync::Arc<str>);

        impl $name {
            pub fn new(value: impl Into<::std::sync::Arc<str>>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        // A name reads as the text it is (`Option<AgentId>::as_deref` is an
        // `Option<&str>`); making one from text is explicit, through `new` or `From`.
        impl ::std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        // A name equals the text it is, as a `String` equals a `&str`; two kinds of
        // names still never compare.
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value.into())
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }
    };
}

pub(crate) use name_type;

name_type!(
    /// A workload identity, e.g. `spiffe://acme/agent/triage-bot`.
    AgentId
);
name_type!(
    /// A group of agents, used by policy (`principal in Group::"triage"`).
    GroupName
);
name_type!(
    /// An internal system behind the gateway.
    ToolName
);
name_type!(
    /// An isolation boundary (`data`, `control`, `ops`, …).
    SegmentName
);
name_type!(
    /// The meaning of an operation, e.g. `ticket.create`.
    Intent
);
name_type!(
    /// A named kind of work (`triage`, `remediation`, …).
    TaskClassName
);
name_type!(
    /// One autonomous run of an agent on one task.
    WorkflowId
);
name_type!(
    /// A person (or service) known to the control plane: an approver, confirmer,
    /// operator or auditor, and the owner an agent names.
    OperatorName
);
name_type!(
    /// The id of one Cedar policy (its `@id`, or the one given by its file and place).
    PolicyId
);
name_type!(
    /// The version of a policy set: the digest of its files (`PolicyEngine::version`).
    PolicySetVersion
);
name_type!(
    /// What a response may contain (`public`, `internal`, `sanitized`, `raw`, `pii`, …).
    DataClass
);

closed_set! {
    /// How much human involvement a call needs before it proceeds; ordered from least
    /// to most.
    pub enum Tier, error UnknownTier, "tier";
    /// Proceeds directly.
    Low => "low",
    /// Proceeds after a confirmation.
    Medium => "medium",
    /// Proceeds after a human approval.
    High => "high",
}

closed_set! {
    /// Whether an intent reads or changes state; writes count against a separate budget
    /// and fall in the `write` action group of policy.
    pub enum Access, error UnknownAccess, "access";
    Read => "read",
    Write => "write",
}

/// An attribute value of an agent, as policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Long(i64),
    String(String),
    Set(Vec<AttrValue>),
}
