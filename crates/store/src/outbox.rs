//! The store as the outbox of event delivery (issue 14, item 2): events read back in
//! store order after a position, and each sink's cursor (the position of the last event
//! it delivered). A sink reads after its cursor, delivers, and only then moves the
//! cursor, so a sink that was down receives every event, in order, once it is back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an event sits in store order: its block (the batch it was appended in) and its
/// index within the block, from 0. The hash chain follows the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub block: i64,
    pub index: u32,
}

impl fmt::Display for Position {
    /// `block.index`, the form an SSE `id` and `Last-Event-ID` carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.block, self.index)
    }
}

impl FromStr for Position {
    type Err = BadPosition;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadPosition(text.to_owned());
        let (block, index) = text.split_once('.').ok_or_else(bad)?;
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(block) || !all_digits(index) {
            return Err(bad());
        }
        Ok(Self {
            block: block.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        })
    }
}

/// A text that is not a [`Position`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an event position (`block.index`)")]
pub struct BadPosition(pub String);

/// One stored event as read back for delivery: its position and its JSON line exactly
/// as stored (no newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub position: Position,
    pub line: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_from_its_text() {
        let position = Position {
            block: 42,
            index: 7,
        };
        assert_eq!(position.to_string(), "42.7");
        assert_eq!("42.7".parse::<Position>(), Ok(position));
        for bad in [
            "", "42", "42.", ".7", "-1.2", "1.-2", "1.2.3", "a.b", " 1.2",
        ] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_order_by_block_then_index() {
        let at = |block, index| Position { block, index };
        assert!(at(1, 9) < at(2, 0));
        assert!(at(2, 0) < at(2, 1));
    }
}
