//! The claim sets Gatehouse reads and writes, and the time checks every token passes.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::refusal::AuthFailure;

/// The `typ` header of a task credential, so an identity assertion can never be
/// presented where a credential belongs (or the other way round).
pub const TASK_TOKEN_TYP: &str = "gatehouse-task+jwt";

/// An identity assertion (agent → gateway). Also fits a SPIFFE JWT-SVID; unknown claims
/// are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl AssertionClaims {
    /// Parses the claims, naming the first required claim that is missing or of the
    /// wrong type so an agent's developer can fix the assertion; unknown claims are
    /// ignored.
    pub fn parse(json: &[u8]) -> Result<Self, AuthFailure> {
        let mut map: Map<String, Value> =
            serde_json::from_slice(json).map_err(|_| AuthFailure::Malformed)?;
        Ok(Self {
            iss: required(&mut map, "iss")?,
            sub: required(&mut map, "sub")?,
            aud: required(&mut map, "aud")?,
            exp: required(&mut map, "exp")?,
            iat: optional(&mut map, "iat")?,
            nbf: optional(&mut map, "nbf")?,
            jti: optional(&mut map, "jti")?,
        })
    }

    pub fn times(&self) -> TimeClaims {
        TimeClaims {
            iat: self.iat,
            nbf: self.nbf,
            exp: self.exp,
        }
    }
}

fn required<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<T, AuthFailure> {
    optional(map, claim)?.ok_or(AuthFailure::MissingClaim(claim))
}

/// A claim that is absent or `null` is `None`.
fn optional<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<T>, AuthFailure> {
    match map.remove(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|_| AuthFailure::BadClaim(claim)),
    }
}

/// The `aud` claim: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(one) => one == aud,
            Self::Many(many) => many.iter().any(|one| one == aud),
        }
    }
}

/// A task credential (gateway → agent), bound to one agent, workflow, task class and
/// segment, carrying its intent scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskClaims {
    pub iss: String,
    /// The agent.
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The workflow.
    pub wf: String,
    /// The task class.
    pub tc: String,
    /// The segment.
    pub seg: String,
    /// The intents.
    pub scope: Vec<String>,
}

impl TaskClaims {
    pub fn times(&self) -> TimeClaims {
        TimeClaims {
            iat: Some(self.iat),
            nbf: None,
            exp: self.exp,
        }
    }
}

/// The time claims of a token, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeClaims {
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// Checks expiry, not-before and issued-at against `now`, each with `leeway_secs` of
/// clock skew, and, when `max_lifetime` is set, that `exp - iat` does not exceed it.
/// Without `iat` the lifetime counts from `nbf`, else from `now`, so leaving `iat` out
/// cannot buy a longer-lived token.
pub fn check_times(
    times: &TimeClaims,
    now: UnixTime,
    leeway_secs: i64,
    max_lifetime: Option<Duration>,
) -> Result<(), AuthFailure> {
    let now = now.secs();
    let leeway = leeway_secs.max(0);
    if now >= times.exp.saturating_add(leeway) {
        return Err(AuthFailure::Expired);
    }
    let starts = times.nbf.into_iter().chain(times.iat).max();
    if starts.is_some_and(|starts| starts > now.saturating_add(leeway)) {
        return Err(AuthFailure::NotYetValid);
    }
    if let Some(max) = max_lifetime {
        let issued = times.iat.or(times.nbf).unwrap_or(now);
        let max = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
        if times.exp.saturating_sub(issued) > max {
            return Err(AuthFailure::LifetimeTooLong);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_claims_name_the_missing_or_mistyped_claim() {
        let parse = |json: &str| AssertionClaims::parse(json.as_bytes());
        let full = r#"{"iss":"a","sub":"a","aud":"g","exp":5,"jti":"j","extra":1}"#;
        assert_eq!(parse(full).unwrap().jti.as_deref(), Some("j"));
        assert_eq!(
            parse(r#"{"iss":"a","aud":"g","exp":5}"#),
            Err(AuthFailure::MissingClaim("sub"))
        );
        assert_eq!(
            parse(r#"{"iss":"a","sub":"a","aud":"g","exp":"5"}"#),
            Err(AuthFailure::BadClaim("exp"))
        );
        assert_eq!(
            parse(r#"{"iss":"a","sub":"a","aud":["g"],"exp":5,"nbf":null}"#)
                .unwrap()
                .nbf,
            None
        );
        assert_eq!(parse("[1]"), Err(AuthFailure::Malformed));
    }

    const NOW: i64 = 1_800_000_000;

    fn check(
        iat: Option<i64>,
        nbf: Option<i64>,
        exp: i64,
        max: Option<u64>,
    ) -> Result<(), AuthFailure> {
        let times = TimeClaims { iat, nbf, exp };
        check_times(
            &times,
            UnixTime::from_secs(NOW),
            30,
            max.map(Duration::from_secs),
        )
    }

    #[test]
    fn a_current_token_passes() {
        assert_eq!(
            check(Some(NOW - 10), Some(NOW - 10), NOW + 60, Some(300)),
            Ok(())
        );
    }

    #[test]
    fn expiry_allows_the_leeway_and_no_more() {
        assert_eq!(check(None, None, NOW - 29, None), Ok(()));
        assert_eq!(check(None, None, NOW - 30, None), Err(AuthFailure::Expired));
        assert_eq!(check(None, None, i64::MIN, None), Err(AuthFailure::Expired));
    }

    #[test]
    fn future_nbf_or_iat_is_not_yet_valid() {
        assert_eq!(check(None, Some(NOW + 30), NOW + 60, None), Ok(()));
        assert_eq!(
            check(None, Some(NOW + 31), NOW + 60, None),
            Err(AuthFailure::NotYetValid)
        );
        assert_eq!(
            check(Some(NOW + 31), None, NOW + 60, None),
            Err(AuthFailure::NotYetValid)
        );
    }

    #[test]
    fn lifetime_counts_from_iat_then_nbf_then_now() {
        assert_eq!(check(Some(NOW), None, NOW + 300, Some(300)), Ok(()));
        assert_eq!(
            check(Some(NOW), None, NOW + 301, Some(300)),
            Err(AuthFailure::LifetimeTooLong)
        );
        assert_eq!(
            check(None, Some(NOW - 100), NOW + 250, Some(300)),
            Err(AuthFailure::LifetimeTooLong)
        );
        assert_eq!(
            check(None, None, NOW + 301, Some(300)),
            Err(AuthFailure::LifetimeTooLong)
        );
        assert_eq!(check(None, None, i64::MAX, None), Ok(()));
    }

    #[test]
    fn negative_leeway_counts_as_none() {
        let times = TimeClaims {
            iat: None,
            nbf: None,
            exp: NOW + 1,
        };
        assert_eq!(
            check_times(&times, UnixTime::from_secs(NOW), -100, None),
            Ok(())
        );
    }

    #[test]
    fn audience_is_one_string_or_many() {
        let one: Audience = serde_json::from_str(r#""gatehouse""#).unwrap();
        let many: Audience = serde_json::from_str(r#"["a","gatehouse"]"#).unwrap();
        assert!(one.contains("gatehouse") && many.contains("gatehouse"));
        assert!(!one.contains("other") && !many.contains("other"));
        assert!(serde_json::from_str::<Audience>("42").is_err());
    }

    #[test]
    fn assertion_claims_ignore_unknown_members_and_omit_absent_ones() {
        let json = r#"{"iss":"i","sub":"s","aud":"a","exp":5,"extra":true}"#;
        let claims: AssertionClaims = serde_json::from_str(json).unwrap();
        assert_eq!(
            claims.times(),
            TimeClaims {
                iat: None,
                nbf: None,
                exp: 5
            }
        );
        let back = serde_json::to_string(&claims).unwrap();
        assert_eq!(back, r#"{"iss":"i","sub":"s","aud":"a","exp":5}"#);
    }
}
