//! The hash chain over the event log (issue 14, item 1): what a check of it reports.
//!
//! Every stored event is linked to the one before it in store order (block number, then
//! position in the block): its link is `SHA-256(link of the previous event ‖ its JSON
//! line)`, the line exactly as stored, without its newline; the first event's previous
//! link is 32 zero bytes. Editing, removing, inserting or moving an event changes every
//! link from there on, so a check that recomputes the links names the first one that no
//! longer follows. Whoever can rewrite the whole store can also recompute every link:
//! the chain proves the log unbroken against its own head, and an auditor who keeps the
//! head of an earlier check ([`ChainCheck::head`]) can prove nothing before it changed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The length of one link (a SHA-256 digest).
pub const LINK_LEN: usize = 32;

/// One link: SHA-256 of the previous link and a line.
pub(crate) type Link = [u8; LINK_LEN];

/// The link before the first event.
pub(crate) const GENESIS: Link = [0; LINK_LEN];

/// The link after `previous` for `line` (the line exactly as stored, no newline).
pub(crate) fn next(previous: &Link, line: &str) -> Link {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(line.as_bytes());
    hasher.finalize().into()
}

/// What a walk along the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Blocks read.
    pub blocks: u64,
    /// Events whose links were recomputed and matched.
    pub events: u64,
    /// The block the walk started at (the first one, or the first reaching `since`).
    pub from_block: Option<i64>,
    /// The link of the last event read, in lowercase hex: the chain's head when the
    /// check found no break.
    pub head: Option<String>,
    /// The first broken link; `None` when the chain is unbroken.
    pub first_break: Option<ChainBreak>,
}

impl ChainCheck {
    /// A check about to walk from `from_block` (none: there is nothing to walk).
    pub(crate) fn starting_at(from_block: Option<i64>) -> Self {
        Self {
            blocks: 0,
            events: 0,
            from_block,
            head: None,
            first_break: None,
        }
    }

    /// Whether the chain held from the start of the walk to its end.
    pub fn is_unbroken(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The block holding the broken link.
    pub block: i64,
    /// The event's position in its block, from 0.
    pub position: u64,
    /// The id on the line at that position, when it has a readable one.
    pub event: Option<String>,
    pub kind: BreakKind,
}

/// How a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakKind {
    /// The line's link does not follow from the one before: this event, or one before
    /// it in the same block, was edited, removed, inserted or moved.
    Mismatch,
    /// Blocks are missing before this one: block numbers run without holes.
    Gap,
    /// The block holds fewer lines than links: events at its end were removed.
    Missing,
    /// The block holds more lines than links: events were added to it.
    Extra,
    /// The block carries no links at all.
    Unlinked,
}

impl BreakKind {
    /// What this break means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Mismatch => {
                "the link does not follow from the one before (an event here or just before was edited, removed, inserted or moved)"
            }
            Self::Gap => "blocks before this one are missing",
            Self::Missing => "the block has fewer events than links (events were removed)",
            Self::Extra => "the block has more events than links (events were added)",
            Self::Unlinked => "the block carries no links",
        }
    }
}

/// A link as lowercase hex.
pub(crate) fn hex(link: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(link.len() * 2);
    for byte in link {
        for nibble in [byte >> 4, byte & 0x0f] {
            text.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    text
}
