//! The hash chain in SQLite (see `crate::chain` for what is hashed): each block keeps
//! the links of its lines, in line order, as one blob of 32 bytes per line beside its
//! text (`event_lines.chain`). Appending a block reads the previous block's last link
//! in the same transaction, so the chain follows store order exactly; a check reads
//! the blocks in order and recomputes every link.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

use super::block;
pub(super) use crate::chain::Link;
use crate::chain::{BreakKind, ChainBreak, ChainCheck, GENESIS, LINK_LEN, hex, next};

/// The last link of the newest block (`substr` of a blob counts bytes).
const HEAD: &str = "SELECT substr(chain, -32) FROM event_lines ORDER BY block DESC LIMIT 1";
/// The block before a given one, with its last link.
const BEFORE: &str = "SELECT block, substr(chain, -32) FROM event_lines WHERE block < ?1 \
     ORDER BY block DESC LIMIT 1";
const FIRST: &str = "SELECT min(block) FROM event_lines";
/// Where retention left the chain's start: the newest deleted block and its last link.
const ANCHOR: &str = "SELECT block, link FROM event_chain_anchor";
const FIRST_SINCE: &str = "SELECT min(block) FROM event_blocks WHERE reach_time_ms >= ?1";
const WALK: &str = "SELECT block, lines, chain FROM event_lines WHERE block >= ?1 ORDER BY block";

/// The number of the first block a store ever writes.
const FIRST_BLOCK: i64 = 1;

/// The links of `lines` following `previous`, as one blob, and the last of them.
pub(super) fn links<'a>(previous: Link, lines: impl Iterator<Item = &'a str>) -> (Vec<u8>, Link) {
    let mut blob = Vec::with_capacity(lines.size_hint().0 * LINK_LEN);
    let mut link = previous;
    for line in lines {
        link = next(&link, line);
        blob.extend_from_slice(&link);
    }
    (blob, link)
}

/// The newest block's last link, which the next block's first link follows. A store
/// with no events starts from [`GENESIS`], as does one whose newest block has no links
/// (which a check then reports as [`BreakKind::Unlinked`]).
pub(super) fn head(conn: &Connection) -> rusqlite::Result<Link> {
    let last: Option<Option<Vec<u8>>> = conn
        .prepare_cached(HEAD)?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(last.flatten().and_then(as_link).unwrap_or(GENESIS))
}

fn as_link(bytes: Vec<u8>) -> Option<Link> {
    Link::try_from(bytes.as_slice()).ok()
}

/// Links every stored block in order, from the first: what the schema step that added
/// the chain does once to the events stored before it.
pub(crate) fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let blocks: Vec<i64> = conn
        .prepare("SELECT block FROM event_lines ORDER BY block")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut read = conn.prepare("SELECT lines FROM event_lines WHERE block = ?1")?;
    let mut write = conn.prepare("UPDATE event_lines SET chain = ?2 WHERE block = ?1")?;
    let mut previous = GENESIS;
    for number in blocks {
        let text: String = read.query_row([number], |row| row.get(0))?;
        let (blob, last) = links(previous, block::lines(&text));
        write.execute(params![number, blob])?;
        previous = last;
    }
    Ok(())
}

/// Walks the chain from its first block, or from the first block reaching `since_ms`
/// (trusting the link before it), and stops at the first break.
pub(super) fn verify(conn: &Connection, since_ms: Option<i64>) -> rusqlite::Result<ChainCheck> {
    let start: Option<i64> = match since_ms {
        Some(since) => conn.query_row(FIRST_SINCE, [since], |row| row.get(0))?,
        None => conn.query_row(FIRST, [], |row| row.get(0))?,
    };
    let mut walk = Walk {
        check: ChainCheck::starting_at(start),
        previous: GENESIS,
        expected: FIRST_BLOCK,
    };
    let Some(start) = start else {
        return Ok(walk.check);
    };
    walk.start_at(conn, start)?;
    let mut statement = conn.prepare(WALK)?;
    let mut rows = statement.query([start])?;
    while walk.check.first_break.is_none()
        && let Some(row) = rows.next()?
    {
        let number: i64 = row.get(0)?;
        let text = row.get_ref(1)?.as_str()?;
        let chain: Option<&[u8]> = row.get_ref(2)?.as_blob_or_null()?;
        walk.block(number, text, chain);
    }
    Ok(walk.check)
}

/// A check in progress.
struct Walk {
    check: ChainCheck,
    /// The link the next line must follow.
    previous: Link,
    /// The number the next block must have.
    expected: i64,
}

impl Walk {
    /// Takes the link before `start` from the block before it, which must be its
    /// immediate predecessor (or none, when `start` is the first block ever written).
    fn start_at(&mut self, conn: &Connection, start: i64) -> rusqlite::Result<()> {
        let before: Option<(i64, Option<Vec<u8>>)> = conn
            .query_row(BEFORE, [start], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        match before {
            Some((number, link)) if number == start - 1 => {
                self.expected = start;
                match link.and_then(as_link) {
                    Some(link) => self.previous = link,
                    None => self.broken(number, 0, None, BreakKind::Unlinked),
                }
            }
            // A hole before `start` is reported when the walk reaches it.
            Some((number, _)) => self.expected = number + 1,
            // Nothing before `start`: it must be the first block ever written, or the
            // first after those retention deleted (which the anchor names).
            None if start == FIRST_BLOCK => {}
            None => {
                let anchor: Option<(i64, Vec<u8>)> = conn
                    .query_row(ANCHOR, [], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                if let Some((block, link)) = anchor
                    && block == start - 1
                    && let Some(link) = as_link(link)
                {
                    self.expected = start;
                    self.previous = link;
                }
            }
        }
        Ok(())
    }

    /// Checks one block's number and every link in it.
    fn block(&mut self, number: i64, text: &str, chain: Option<&[u8]>) {
        let first_id = || block::lines(text).next().and_then(event_id);
        if number != self.expected {
            return self.broken(number, 0, first_id(), BreakKind::Gap);
        }
        let Some(chain) = chain else {
            return self.broken(number, 0, first_id(), BreakKind::Unlinked);
        };
        let mut stored = chain.chunks(LINK_LEN);
        let mut position = 0;
        for line in block::lines(text) {
            let link = next(&self.previous, line);
            match stored.next() {
                None => return self.broken(number, position, event_id(line), BreakKind::Extra),
                Some(kept) if kept != link.as_slice() => {
                    return self.broken(number, position, event_id(line), BreakKind::Mismatch);
                }
                Some(_) => {}
            }
            self.previous = link;
            self.check.events += 1;
            position += 1;
        }
        if stored.next().is_some() {
            return self.broken(number, position, None, BreakKind::Missing);
        }
        self.check.blocks += 1;
        self.check.head = Some(hex(&self.previous));
        self.expected = number + 1;
    }

    fn broken(&mut self, block: i64, position: u64, event: Option<String>, kind: BreakKind) {
        self.check.first_break = Some(ChainBreak {
            block,
            position,
            event,
            kind,
        });
    }
}

/// The id on a stored line, read for naming a break.
fn event_id(line: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_str::<Id>(line).ok().map(|id| id.id)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::{Event, EventKind, EventLine};
    use gatehouse_core::ids::DecisionId;

    use super::*;
    use crate::sqlite::migrate;

    fn event(n: u128) -> Event {
        Event {
            method: "GET".to_owned(),
            path: format!("/tools/t/{n}"),
            ..Event::blank(DecisionId::from_u128(n), 1_700_000_000_000, EventKind::Tool)
        }
    }

    /// A block as schema 9 wrote it, without links.
    fn insert_unlinked(conn: &Connection, number: i64, events: &[Event]) {
        let text: String = events
            .iter()
            .map(|event| format!("{}\n", EventLine::new(event).json))
            .collect();
        conn.execute(
            "INSERT INTO event_blocks VALUES (?1, ?2, ?2, ?2, 0, 0, 0)",
            params![number, events[0].id.to_string()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO event_lines (block, lines) VALUES (?1, ?2)",
            params![number, text],
        )
        .unwrap();
    }

    #[test]
    fn events_stored_before_the_chain_are_linked_by_the_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate::run_until(&conn, 9).unwrap();
        let old = [event(1), event(2), event(3)];
        insert_unlinked(&conn, 1, &old[..2]);
        insert_unlinked(&conn, 2, &old[2..]);
        migrate::run(&mut conn, "test").unwrap();
        let check = verify(&conn, None).unwrap();
        assert!(check.is_unbroken(), "{check:?}");
        assert_eq!((check.blocks, check.events), (2, 3));
        let lines: Vec<String> = old.iter().map(|e| EventLine::new(e).json).collect();
        let (_, head) = links(GENESIS, lines.iter().map(String::as_str));
        assert_eq!(check.head, Some(hex(&head)));
        // New blocks follow on from the migrated ones.
        let later = [event(4)];
        super::super::insert(&mut conn, "test", &EventLine::all(&later)).unwrap();
        let check = verify(&conn, None).unwrap();
        assert!(check.is_unbroken(), "{check:?}");
        assert_eq!(check.events, 4);
    }

    /// A change made to the stored log behind the store's back.
    #[derive(Debug, Clone)]
    enum Tamper {
        /// Flips one character of one line.
        Edit { block: usize, line: usize },
        /// Swaps two distinct lines of one block.
        Swap { block: usize, line: usize },
        /// Removes one line.
        Delete { block: usize, line: usize },
        /// Removes one whole block that is not the newest.
        Drop { block: usize },
    }

    fn tamper() -> impl proptest::strategy::Strategy<Value = Tamper> {
        use proptest::prelude::*;
        prop_oneof![
            (0..8usize, 0..8usize).prop_map(|(block, line)| Tamper::Edit { block, line }),
            (0..8usize, 0..8usize).prop_map(|(block, line)| Tamper::Swap { block, line }),
            (0..8usize, 0..8usize).prop_map(|(block, line)| Tamper::Delete { block, line }),
            (0..8usize).prop_map(|block| Tamper::Drop { block }),
        ]
    }

    fn stored_lines(conn: &Connection, block: i64) -> Vec<String> {
        let text: String = conn
            .query_row(
                "SELECT lines FROM event_lines WHERE block = ?1",
                [block],
                |row| row.get(0),
            )
            .unwrap();
        block::lines(&text).map(str::to_owned).collect()
    }

    fn store_lines(conn: &Connection, block: i64, lines: &[String]) {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        conn.execute(
            "UPDATE event_lines SET lines = ?2 WHERE block = ?1",
            params![block, text],
        )
        .unwrap();
    }

    /// Applies `tamper` to the log of blocks of `sizes` lines (a swap in a block of
    /// one line changes nothing).
    fn apply(conn: &Connection, sizes: &[usize], tamper: &Tamper) {
        let pick = |block: usize| {
            (
                block % sizes.len(),
                i64::try_from(block % sizes.len()).unwrap() + 1,
            )
        };
        match *tamper {
            Tamper::Edit { block, line } => {
                let (index, number) = pick(block);
                let mut lines = stored_lines(conn, number);
                let line = &mut lines[line % sizes[index]];
                *line = line.replacen("\"GET\"", "\"PUT\"", 1);
                store_lines(conn, number, &lines);
            }
            Tamper::Swap { block, line } => {
                let (index, number) = pick(block);
                let mut lines = stored_lines(conn, number);
                let first = line % sizes[index];
                lines.swap(first, (first + 1) % sizes[index]);
                store_lines(conn, number, &lines);
            }
            Tamper::Delete { block, line } => {
                let (index, number) = pick(block);
                let mut lines = stored_lines(conn, number);
                lines.remove(line % sizes[index]);
                store_lines(conn, number, &lines);
            }
            Tamper::Drop { block } => {
                let number = i64::try_from(block % (sizes.len() - 1)).unwrap() + 1;
                conn.execute("DELETE FROM event_lines WHERE block = ?1", [number])
                    .unwrap();
            }
        }
    }

    proptest::proptest! {
        /// Any one edit, swap or deletion of a line, or removal of a block before the
        /// newest, breaks the chain; untouched, it holds.
        #[test]
        fn any_single_tampering_breaks_the_chain(
            sizes in proptest::collection::vec(1..5usize, 2..6),
            tamper in tamper(),
        ) {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate::run(&mut conn, "test").unwrap();
            let mut n = 0;
            for size in &sizes {
                let batch: Vec<Event> = (0..*size).map(|_| { n += 1; event(n) }).collect();
                super::super::insert(&mut conn, "test", &EventLine::all(&batch)).unwrap();
            }
            let clean = verify(&conn, None).unwrap();
            proptest::prop_assert!(clean.is_unbroken());
            proptest::prop_assert_eq!(clean.events, n as u64);
            let swaps_nothing = matches!(tamper, Tamper::Swap { block, .. } if sizes[block % sizes.len()] == 1);
            apply(&conn, &sizes, &tamper);
            let check = verify(&conn, None).unwrap();
            proptest::prop_assert_eq!(check.is_unbroken(), swaps_nothing, "{:?}", check);
        }
    }

    #[test]
    fn a_block_without_links_is_reported() {
        let conn = Connection::open_in_memory().unwrap();
        migrate::run_until(&conn, 11).unwrap();
        insert_unlinked(&conn, 1, &[event(1)]);
        let check = verify(&conn, None).unwrap();
        let found = check.first_break.unwrap();
        assert_eq!((found.block, found.kind), (1, BreakKind::Unlinked));
        assert_eq!(found.event, Some(DecisionId::from_u128(1).to_string()));
    }
}
