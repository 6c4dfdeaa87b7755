//! What an event of a call in observe mode says: `pass` (enforcing would have done the
//! same), or each thing enforcing would have done instead, in the order the phases met
//! them, joined by `, ` (`would-deny:policy-denied, would-confirm`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::refusal::RefusalKind;

/// An observed call's verdict under enforcement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Observed {
    /// Enforcing would have forwarded the call too.
    Pass,
    /// What enforcing would have done instead; never empty.
    Would(Vec<Would>),
}

/// One thing enforcing would have done to an observed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Would {
    /// Refused it (`would-deny:policy-denied`).
    Deny(RefusalKind),
    /// Held it for a confirmation (`would-confirm`).
    Confirm,
    /// Parked it for an approval (`would-park`).
    Park,
    /// Refused it over the workflow's budget (`would-refuse-budget`).
    RefuseBudget,
}

impl Observed {
    /// Adds what enforcing would have done: the first replaces `Pass`.
    pub fn add(&mut self, would: Would) {
        match self {
            Self::Pass => *self = Self::Would(vec![would]),
            Self::Would(all) => all.push(would),
        }
    }
}

/// Text that is not an observed verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown observe-mode verdict `{0}`")]
pub struct UnknownObserved(pub String);

impl FromStr for Would {
    type Err = UnknownObserved;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "would-confirm" => Self::Confirm,
            "would-park" => Self::Park,
            "would-refuse-budget" => Self::RefuseBudget,
            other => {
                let kind = other
                    .strip_prefix("would-deny:")
                    .and_then(|kind| kind.parse().ok())
                    .ok_or_else(|| UnknownObserved(other.to_owned()))?;
                Self::Deny(kind)
            }
        })
    }
}

impl FromStr for Observed {
    type Err = UnknownObserved;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "pass" {
            return Ok(Self::Pass);
        }
        let all = text
            .split(", ")
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::Would(all))
    }
}

impl fmt::Display for Would {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deny(kind) => write!(f, "would-deny:{kind}"),
            Self::Confirm => f.write_str("would-confirm"),
            Self::Park => f.write_str("would-park"),
            Self::RefuseBudget => f.write_str("would-refuse-budget"),
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("pass"),
            Self::Would(all) => {
                for (index, would) in all.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{would}")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Observed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Observed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_back_from_the_text_they_write() {
        let mut observed = Observed::Pass;
        assert_eq!(observed.to_string(), "pass");
        observed.add(Would::Deny(RefusalKind::PolicyDenied));
        observed.add(Would::Confirm);
        let text = "would-deny:policy-denied, would-confirm";
        assert_eq!(observed.to_string(), text);
        assert_eq!(text.parse::<Observed>(), Ok(observed.clone()));
        let json = serde_json::to_string(&observed).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Observed>(&json).unwrap(), observed);
        for other in ["would-park", "would-refuse-budget", "pass"] {
            assert_eq!(other.parse::<Observed>().unwrap().to_string(), other);
        }
    }

    #[test]
    fn unknown_verdicts_are_named() {
        for bad in ["", "passed", "would-deny:nope", "would-park,would-confirm"] {
            assert_eq!(
                bad.parse::<Observed>(),
                Err(UnknownObserved(bad.to_owned()))
            );
        }
        assert_eq!(
            "would-park, would-wait".parse::<Observed>(),
            Err(UnknownObserved("would-wait".to_owned()))
        );
    }
}
