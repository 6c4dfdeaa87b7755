//! A batch of events as one block: its JSON lines in id order in one text, the bounds of
//! its ids and times, and the distinct values of the fields queries filter on.

use std::collections::BTreeSet;

use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::DecisionId;
use memchr::memmem::Finder;

/// A field queries filter on by equality, indexed once per block and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Field {
    Workflow,
    Agent,
    Intent,
    Tool,
    Outcome,
}

impl Field {
    /// Most selective first: a query is driven by the first of these it names.
    const ALL: [Self; 5] = [
        Self::Workflow,
        Self::Agent,
        Self::Intent,
        Self::Tool,
        Self::Outcome,
    ];

    /// The name stored in `event_keys.field`.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Agent => "agent",
            Self::Intent => "intent",
            Self::Tool => "tool",
            Self::Outcome => "outcome",
        }
    }

    fn of(self, event: &Event) -> Option<&str> {
        match self {
            Self::Workflow => event.workflow.as_deref(),
            Self::Agent => event.agent.as_deref(),
            Self::Intent => event.intent.as_deref(),
            Self::Tool => event.tool.as_deref(),
            Self::Outcome => Some(event.outcome.as_str()),
        }
    }

    /// The value `filter` wants this field to have, if it names one.
    fn wanted_in(self, filter: &EventFilter) -> Option<&str> {
        match self {
            Self::Workflow => filter.workflow.as_deref(),
            Self::Agent => filter.agent.as_deref(),
            Self::Intent => filter.intent.as_deref(),
            Self::Tool => filter.tool.as_deref(),
            Self::Outcome => filter.outcome.map(|outcome| outcome.as_str()),
        }
    }

    /// The fields `filter` narrows by equality, with their values, most selective first.
    pub(super) fn wanted(filter: &EventFilter) -> Vec<(Self, &str)> {
        Self::ALL
            .into_iter()
            .filter_map(|field| field.wanted_in(filter).map(|value| (field, value)))
            .collect()
    }
}

/// One batch, ready to store.
#[derive(Debug)]
pub(super) struct Block<'l> {
    /// The batch's events, in id order.
    pub(super) events: Vec<&'l EventLine<'l>>,
    pub(super) first_id: DecisionId,
    pub(super) last_id: DecisionId,
    pub(super) min_time_ms: i64,
    pub(super) max_time_ms: i64,
    /// The lines, one per event in id order, each ending in a newline.
    pub(super) text: String,
    /// Every (field, value) some event of the block has.
    pub(super) keys: BTreeSet<(Field, &'l str)>,
}

impl<'l> Block<'l> {
    /// The block of a batch; `None` for an empty batch.
    pub(super) fn new(batch: &'l [EventLine<'l>]) -> Option<Self> {
        let mut events: Vec<&EventLine<'_>> = batch.iter().collect();
        events.sort_by_key(|line| line.event.id);
        let first_id = events.first()?.event.id;
        let last_id = events.last()?.event.id;
        let times = events.iter().map(|line| line.event.time_ms);
        let min_time_ms = times.clone().min()?;
        let max_time_ms = times.max()?;
        let mut text = String::with_capacity(events.iter().map(|l| l.json.len() + 1).sum());
        let mut keys = BTreeSet::new();
        for line in &events {
            text.push_str(&line.json);
            text.push('\n');
            for field in Field::ALL {
                if let Some(value) = field.of(line.event) {
                    keys.insert((field, value));
                }
            }
        }
        Some(Self {
            events,
            first_id,
            last_id,
            min_time_ms,
            max_time_ms,
            text,
            keys,
        })
    }
}

/// The lines of a stored block's text. A JSON line holds no raw newline (JSON escapes it
/// inside strings), so a newline only ever ends a line.
pub(super) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_terminator('\n')
}

/// Text every line of an event matching a filter's equality parts contains: each field
/// and value as `serde_json` writes them, `"agent":"bot-1"`. A quote inside a JSON string
/// is always escaped, so a needle occurs only as the field itself: a line without one
/// cannot match and is never decoded, and one with all of them is decoded and checked.
/// A block is searched for the first needle as one text (SIMD `memmem`), not line by
/// line, since reading the blocks of a rare value is most of a filtered query's time.
#[derive(Debug)]
pub(super) struct LineTest {
    needles: Vec<Finder<'static>>,
}

impl LineTest {
    pub(super) fn new(filter: &EventFilter) -> Self {
        let needles = Field::wanted(filter)
            .into_iter()
            .filter_map(|(field, value)| {
                let value = serde_json::to_string(value).ok()?;
                let needle = format!("\"{}\":{value}", field.as_str());
                Some(Finder::new(needle.as_bytes()).into_owned())
            })
            .collect();
        Self { needles }
    }

    /// The lines of a block's text holding every needle.
    pub(super) fn lines_in<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let Some((first, others)) = self.needles.split_first() else {
            return lines(text).collect();
        };
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(hit) = bytes.get(from..).and_then(|rest| first.find(rest)) {
            let hit = from + hit;
            let start = bytes
                .get(..hit)
                .and_then(|before| memchr::memrchr(b'\n', before))
                .map_or(0, |newline| newline + 1);
            let end = bytes
                .get(hit..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map_or(bytes.len(), |newline| hit + newline);
            // Newlines are ASCII, so both ends are character boundaries.
            if let Some(line) = text.get(start..end)
                && others
                    .iter()
                    .all(|needle| needle.find(line.as_bytes()).is_some())
            {
                found.push(line);
            }
            from = end + 1;
        }
        found
    }
}

/// Whether `event` matches every part of `filter` but `after` and the limit, which the
/// walk over blocks applies.
pub(super) fn matches(event: &Event, filter: &EventFilter) -> bool {
    Field::ALL.into_iter().all(|field| {
        field
            .wanted_in(filter)
            .is_none_or(|value| field.of(event) == Some(value))
    }) && filter.since_ms.is_none_or(|since| event.time_ms >= since)
        && filter.until_ms.is_none_or(|until| event.time_ms < until)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::{EventKind, Outcome};

    use super::*;

    fn event(n: u128, time_ms: i64, agent: &str) -> Event {
        let mut event = Event {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            ..Event::blank(DecisionId::from_u128(n), time_ms, EventKind::Tool)
        };
        event.agent = Some(agent.into());
        event.outcome = Outcome::Allow;
        event
    }

    #[test]
    fn a_block_holds_its_lines_in_id_order_with_bounds_and_keys() {
        let events = [event(3, 10, "b"), event(1, 30, "a"), event(2, 20, "a")];
        let lines = EventLine::all(&events);
        let block = Block::new(&lines).unwrap();
        assert_eq!(block.first_id, DecisionId::from_u128(1));
        assert_eq!(block.last_id, DecisionId::from_u128(3));
        assert_eq!((block.min_time_ms, block.max_time_ms), (10, 30));
        let ids: Vec<Event> = super::lines(&block.text)
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            ids,
            [events[1].clone(), events[2].clone(), events[0].clone()]
        );
        let keys: Vec<_> = block.keys.iter().copied().collect();
        assert_eq!(
            keys,
            [
                (Field::Agent, "a"),
                (Field::Agent, "b"),
                (Field::Outcome, "allow")
            ]
        );
    }

    #[test]
    fn the_line_test_passes_every_matching_line_and_spares_decoding_others() {
        let mut tricky = event(1, 1, "bot-1");
        tricky.tool = Some("quote \" back\\slash ünï".into());
        tricky.intent = Some("ticket.read".into());
        tricky.workflow = Some("wf".into());
        tricky.outcome = Outcome::Pending;
        tricky.reason = Some(r#"says "agent":"bot-2" inside"#.to_owned());
        let line = EventLine::new(&tricky).json;
        let filter = EventFilter {
            agent: tricky.agent.clone(),
            workflow: tricky.workflow.clone(),
            tool: tricky.tool.clone(),
            intent: tricky.intent.clone(),
            outcome: Some(Outcome::Pending),
            ..EventFilter::default()
        };
        assert_eq!(LineTest::new(&filter).lines_in(&line), [line.as_str()]);
        assert!(matches(&tricky, &filter));
        for other in [
            EventFilter {
                agent: Some("bot-2".into()),
                ..EventFilter::default()
            },
            EventFilter {
                agent: Some("bot-".into()),
                ..EventFilter::default()
            },
            EventFilter {
                outcome: Some(Outcome::Allow),
                ..EventFilter::default()
            },
        ] {
            assert!(
                LineTest::new(&other).lines_in(&line).is_empty(),
                "{other:?}"
            );
        }
    }

    #[test]
    fn an_empty_batch_is_no_block() {
        assert!(Block::new(&[]).is_none());
    }

    #[test]
    fn a_newline_inside_a_value_stays_inside_its_line() {
        let mut odd = event(1, 1, "a");
        odd.reason = Some("two\nlines".to_owned());
        let lines = EventLine::all(std::slice::from_ref(&odd));
        let block = Block::new(&lines).unwrap();
        let read: Vec<Event> = super::lines(&block.text)
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(read, [odd]);
    }
}
