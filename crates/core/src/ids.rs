//! Decision ids: unique and sortable by time (ULID layout: 48-bit milliseconds, then
//! 80 random bits, in Crockford base32), so an event list sorted by id is in time order.
//! Approval ids: unguessable, since holding one is how an agent polls its parked call.

use std::fmt;
use std::sync::Mutex;

use rand::RngCore;

use crate::clock::UnixTime;
use crate::model::name_type;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The id of one decision (and of the event that records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DecisionId(u128);

impl DecisionId {
    pub fn from_u128(value: u128) -> Self {
        Self(value)
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// Parses the 26-character text form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 26 {
            return None;
        }
        let mut value: u128 = 0;
        for byte in text.bytes() {
            let digit = ALPHABET
                .iter()
                .position(|c| *c == byte.to_ascii_uppercase())?;
            value = value.checked_mul(32)?.checked_add(digit as u128)?;
        }
        Some(Self(value))
    }
}

impl DecisionId {
    /// The 26-character text form as ASCII bytes, without allocating (for headers).
    pub fn encode(self) -> [u8; 26] {
        let mut out = [0u8; 26];
        let mut value = self.0;
        for slot in out.iter_mut().rev() {
            // INVARIANT: value & 31 < 32, a valid index into ALPHABET.
            *slot = ALPHABET.get((value & 31) as usize).copied().unwrap_or(b'0');
            value >>= 5;
        }
        out
    }
}

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.encode();
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl serde::Serialize for DecisionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DecisionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("invalid decision id"))
    }
}

name_type!(
    /// The id of one confirmation or approval. New ones are 128 random bits in lowercase
    /// hex ([`ApprovalId::random`]); one read from the store or a request is taken as the
    /// text it is, since only the store knows whether it names anything.
    ApprovalId
);

impl ApprovalId {
    /// A fresh, unguessable id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self::from(format!("{:032x}", u128::from_be_bytes(bytes)))
    }
}

/// Hands out ids that are strictly increasing within this process, even within one
/// millisecond (the random part is incremented, as monotonic ULIDs do).
#[derive(Debug, Default)]
pub struct IdGenerator {
    last: Mutex<u128>,
}

impl IdGenerator {
    pub fn next(&self, now: UnixTime) -> DecisionId {
        let millis = u128::from(u64::try_from(now.millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF);
        let mut random = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut random);
        let fresh = (millis << 80) | (u128::from_be_bytes(random) >> 48);
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = if fresh > *last {
            fresh
        } else {
            last.saturating_add(1)
        };
        *last = id;
        DecisionId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let generator = IdGenerator::default();
        let id = generator.next(UnixTime::from_secs(1_700_000_000));
        assert_eq!(DecisionId::parse(&id.to_string()), Some(id));
        assert_eq!(id.to_string().len(), 26);
        assert_eq!(id.encode().as_slice(), id.to_string().as_bytes());
        assert_eq!(&DecisionId::from_u128(u128::MAX).encode()[..2], b"7Z");
    }

    #[test]
    fn approval_ids_are_128_random_bits_in_lowercase_hex() {
        let (one, two) = (ApprovalId::random(), ApprovalId::random());
        assert_ne!(one, two);
        assert_eq!(one.len(), 32);
        assert!(
            one.bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_eq!(serde_json::to_string(&one).unwrap(), format!("\"{one}\""));
    }

    #[test]
    fn ids_increase_within_one_millisecond() {
        let generator = IdGenerator::default();
        let now = UnixTime::from_secs(1_700_000_000);
        let ids: Vec<_> = (0..1000).map(|_| generator.next(now)).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let texts: Vec<_> = ids.iter().map(ToString::to_string).collect();
        assert!(texts.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
