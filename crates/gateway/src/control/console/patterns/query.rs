//! The call-pattern page's query string, parsed strictly: `agent` (optional: without it
//! the page offers the configured agents) and `window` (`6h`, `24h`, `7d`, …: whole
//! hours or days, from one hour to 31 days; 24 hours when absent). Anything else, a key
//! given twice, or a bad value is refused with a message the 400 page shows.

use gatehouse_core::form::{FormError, distinct_pairs};
use gatehouse_core::period::{self, DAY_MS, HOUR_MS};

/// The longest window a chart covers.
const MAX_WINDOW_MS: i64 = 31 * DAY_MS;
/// Agent ids are SPIFFE ids or names; anything longer is not one.
const MAX_AGENT_LEN: usize = 512;

/// What the page was asked to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    pub(crate) agent: Option<String>,
    /// As written, for the form and links: `24h`.
    pub(crate) window: String,
    pub(crate) window_ms: i64,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueryError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error("unknown parameter `{0}`: this page takes `agent` and `window`")]
    Unknown(String),
    #[error(
        "`window` must be whole hours or days from `1h` to `31d`, such as `24h` or `7d`, not `{0}`"
    )]
    Window(String),
    #[error("`agent` must be 1 to 512 characters without control characters")]
    Agent,
}

impl Asked {
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, QueryError> {
        let mut asked = Self {
            agent: None,
            window: "24h".to_owned(),
            window_ms: DAY_MS,
        };
        for (key, value) in distinct_pairs(query.unwrap_or(""))? {
            match key.as_str() {
                "agent" if value.is_empty() => {}
                "agent" => asked.agent = Some(agent(value)?),
                "window" => {
                    asked.window_ms = window(&value)?;
                    asked.window = value;
                }
                _ => return Err(QueryError::Unknown(key)),
            }
        }
        Ok(asked)
    }
}

fn agent(value: String) -> Result<String, QueryError> {
    let fits = value.len() <= MAX_AGENT_LEN && !value.chars().any(char::is_control);
    if fits {
        Ok(value)
    } else {
        Err(QueryError::Agent)
    }
}

/// `Nh` or `Nd` in milliseconds (`gatehouse_core::period`; the inventory page reads
/// its window the same way).
pub(crate) fn window(value: &str) -> Result<i64, QueryError> {
    period::parse(value, HOUR_MS, MAX_WINDOW_MS).ok_or_else(|| QueryError::Window(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_good_values_are_read() {
        let asked = Asked::parse(None).unwrap();
        assert_eq!((asked.agent, asked.window_ms), (None, DAY_MS));
        let asked =
            Asked::parse(Some("agent=spiffe%3A%2F%2Facme%2Fagent%2Fbot&window=7d")).unwrap();
        assert_eq!(asked.agent.as_deref(), Some("spiffe://acme/agent/bot"));
        assert_eq!((asked.window.as_str(), asked.window_ms), ("7d", 7 * DAY_MS));
        assert_eq!(Asked::parse(Some("window=1h")).unwrap().window_ms, HOUR_MS);
        assert_eq!(
            Asked::parse(Some("window=31d")).unwrap().window_ms,
            MAX_WINDOW_MS
        );
        assert_eq!(Asked::parse(Some("agent=")).unwrap().agent, None);
    }

    #[test]
    fn bad_values_unknown_and_repeated_keys_are_refused() {
        for bad in [
            "0h", "32d", "745h", "24", "h", "1.5h", "-1h", "+1h", "24H", "99999d", "1w", "１h",
            "1é", "é",
        ] {
            let error = Asked::parse(Some(&format!("window={bad}"))).unwrap_err();
            assert!(matches!(error, QueryError::Window(_)), "{bad}: {error}");
        }
        assert_eq!(
            Asked::parse(Some("agents=a")).unwrap_err(),
            QueryError::Unknown("agents".to_owned())
        );
        assert!(matches!(
            Asked::parse(Some("agent=a&agent=b")).unwrap_err(),
            QueryError::Form(FormError::Repeated(_))
        ));
        assert_eq!(
            Asked::parse(Some("agent=a%0Ab")).unwrap_err(),
            QueryError::Agent
        );
        let long = "a".repeat(MAX_AGENT_LEN + 1);
        assert_eq!(
            Asked::parse(Some(&format!("agent={long}"))).unwrap_err(),
            QueryError::Agent
        );
        assert!(matches!(
            Asked::parse(Some("agent=%FF")).unwrap_err(),
            QueryError::Form(_)
        ));
    }
}
