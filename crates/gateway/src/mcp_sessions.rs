//! Sessions of the handshake era (2025-06-18, 2025-11-25): `initialize` opens one, bound
//! to the server, the agent and the workflow of the credential that opened it, so a
//! session id is useless to anyone else. The stateless era (2026-07-28) has none.
//!
//! A session remembers the request ids it has seen (bounded), since JSON-RPC ids must
//! not repeat within a session and a repeat is either a bug or a replay, and the log
//! level its agent set with `logging/setLevel`, if any.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

use gatehouse_core::mcp::jsonrpc::Id;

/// Sessions idle longer than this are forgotten.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// Open sessions one workflow may hold; the oldest goes when a new one would exceed it.
const PER_WORKFLOW: usize = 32;
/// Request ids remembered per session for reuse detection.
const REMEMBERED_IDS: usize = 4096;
/// Longest text request id a session accepts: with `REMEMBERED_IDS`, a session's
/// memory of ids stays near a megabyte whatever the agent sends.
pub const MAX_ID_BYTES: usize = 128;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub server: String,
    pub agent: String,
    pub workflow: String,
}

#[derive(Debug)]
struct Session {
    owner: Owner,
    version: String,
    last_seen: Instant,
    created: Instant,
    ids: HashSet<Id>,
    order: VecDeque<Id>,
    log_level: Option<String>,
}

/// Why a session lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// Unknown, idle too long, ended, or another caller's.
    Unknown,
    /// The request id was already used in this session.
    IdReused,
    /// The request id is longer than [`MAX_ID_BYTES`].
    IdTooLong,
}

/// Every open session.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session and returns its id.
    pub fn open(&self, owner: Owner, version: &str) -> String {
        let id = random_id();
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, session| now.duration_since(session.last_seen) < IDLE);
        let mut mine: Vec<(&String, Instant)> = open
            .iter()
            .filter(|(_, session)| session.owner == owner)
            .map(|(id, session)| (id, session.created))
            .collect();
        if mine.len() >= PER_WORKFLOW {
            mine.sort_by_key(|(_, created)| *created);
            if let Some((oldest, _)) = mine.first() {
                let oldest = (*oldest).clone();
                open.remove(&oldest);
            }
        }
        open.insert(
            id.clone(),
            Session {
                owner,
                version: version.to_owned(),
                last_seen: now,
                created: now,
                ids: HashSet::new(),
                order: VecDeque::new(),
                log_level: None,
            },
        );
        id
    }

    /// The session's protocol version, if `id` is open and `owner`'s; records
    /// `request_id` and refuses one already seen.
    pub fn use_session(
        &self,
        id: &str,
        owner: &Owner,
        request_id: Option<&Id>,
    ) -> Result<String, SessionError> {
        if let Some(Id::Text(text)) = request_id
            && text.len() > MAX_ID_BYTES
        {
            return Err(SessionError::IdTooLong);
        }
        let now = Instant::now();
        let mut open = self.lock();
        let session = open.get_mut(id).ok_or(SessionError::Unknown)?;
        if session.owner != *owner || now.duration_since(session.last_seen) >= IDLE {
            return Err(SessionError::Unknown);
        }
        session.last_seen = now;
        if let Some(request_id) = request_id {
            if !session.ids.insert(request_id.clone()) {
                return Err(SessionError::IdReused);
            }
            session.order.push_back(request_id.clone());
            if session.order.len() > REMEMBERED_IDS
                && let Some(forgotten) = session.order.pop_front()
            {
                session.ids.remove(&forgotten);
            }
        }
        Ok(session.version.clone())
    }

    /// Remembers the log level `owner` set for session `id`; false when there is no
    /// such session of `owner`'s.
    pub fn set_log_level(&self, id: &str, owner: &Owner, level: &str) -> bool {
        let mut open = self.lock();
        match open.get_mut(id) {
            Some(session) if session.owner == *owner => {
                session.log_level = Some(level.to_owned());
                true
            }
            _ => false,
        }
    }

    /// The log level `owner` set for session `id`, if any.
    pub fn log_level(&self, id: &str, owner: &Owner) -> Option<String> {
        let open = self.lock();
        let session = open.get(id).filter(|session| session.owner == *owner)?;
        session.log_level.clone()
    }

    /// Ends `owner`'s session `id`; false when there was none.
    pub fn close(&self, id: &str, owner: &Owner) -> bool {
        let mut open = self.lock();
        match open.get(id) {
            Some(session) if session.owner == *owner => open.remove(id).is_some(),
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(agent: &str) -> Owner {
        Owner {
            server: "everything".to_owned(),
            agent: agent.to_owned(),
            workflow: "wf-1".to_owned(),
        }
    }

    #[test]
    fn a_session_is_its_owners_alone() {
        let sessions = Sessions::default();
        let id = sessions.open(owner("a"), "2025-11-25");
        assert_eq!(
            sessions.use_session(&id, &owner("a"), None),
            Ok("2025-11-25".to_owned())
        );
        assert_eq!(
            sessions.use_session(&id, &owner("b"), None),
            Err(SessionError::Unknown)
        );
        assert!(!sessions.close(&id, &owner("b")));
        assert!(sessions.close(&id, &owner("a")));
        assert_eq!(
            sessions.use_session(&id, &owner("a"), None),
            Err(SessionError::Unknown)
        );
    }

    #[test]
    fn a_log_level_is_the_sessions_owners_alone() {
        let sessions = Sessions::default();
        let id = sessions.open(owner("a"), "2025-11-25");
        assert_eq!(sessions.log_level(&id, &owner("a")), None);
        assert!(!sessions.set_log_level(&id, &owner("b"), "debug"));
        assert!(sessions.set_log_level(&id, &owner("a"), "info"));
        assert_eq!(
            sessions.log_level(&id, &owner("a")),
            Some("info".to_owned())
        );
        assert_eq!(sessions.log_level(&id, &owner("b")), None);
        assert!(!sessions.set_log_level("nope", &owner("a"), "info"));
    }

    #[test]
    fn a_request_id_is_used_once_per_session() {
        let sessions = Sessions::default();
        let id = sessions.open(owner("a"), "2025-11-25");
        let first = Id::Number(1);
        assert!(sessions.use_session(&id, &owner("a"), Some(&first)).is_ok());
        assert_eq!(
            sessions.use_session(&id, &owner("a"), Some(&first)),
            Err(SessionError::IdReused)
        );
        let text = Id::Text("1".to_owned());
        assert!(sessions.use_session(&id, &owner("a"), Some(&text)).is_ok());
    }

    #[test]
    fn a_request_id_longer_than_the_bound_is_refused_and_not_remembered() {
        let sessions = Sessions::default();
        let bot = owner("bot");
        let id = sessions.open(bot.clone(), "2025-11-25");
        let long = Id::Text("x".repeat(30_000));
        assert_eq!(
            sessions.use_session(&id, &bot, Some(&long)),
            Err(SessionError::IdTooLong)
        );
        let longest = Id::Text("y".repeat(MAX_ID_BYTES));
        assert!(sessions.use_session(&id, &bot, Some(&longest)).is_ok());
        assert_eq!(
            sessions.use_session(&id, &bot, Some(&longest)),
            Err(SessionError::IdReused)
        );
    }

    #[test]
    fn a_workflow_holds_a_bounded_number_of_sessions() {
        let sessions = Sessions::default();
        let first = sessions.open(owner("a"), "2025-11-25");
        for _ in 0..PER_WORKFLOW {
            sessions.open(owner("a"), "2025-11-25");
        }
        assert_eq!(
            sessions.use_session(&first, &owner("a"), None),
            Err(SessionError::Unknown)
        );
        assert_eq!(sessions.lock().len(), PER_WORKFLOW);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::collections::HashMap;

        #[derive(Debug, Clone)]
        enum Op {
            Open {
                owner: usize,
            },
            Use {
                session: usize,
                owner: usize,
                id: i64,
            },
            Close {
                session: usize,
                owner: usize,
            },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0..3usize).prop_map(|owner| Op::Open { owner }),
                (0..8usize, 0..3usize, 0..6i64).prop_map(|(session, owner, id)| Op::Use {
                    session,
                    owner,
                    id
                }),
                (0..8usize, 0..3usize).prop_map(|(session, owner)| Op::Close { session, owner }),
            ]
        }

        /// The model: which sessions are open, whose they are, which ids they saw.
        #[derive(Debug, Default)]
        struct Model {
            open: HashMap<usize, (usize, HashSet<i64>)>,
        }

        proptest! {
            /// Against a model (well inside the per-workflow and id-memory bounds): a
            /// session answers only its owner, only while open, and each id once.
            #[test]
            fn sessions_follow_the_model(ops in proptest::collection::vec(op(), 1..60)) {
                let sessions = Sessions::default();
                let owners = [owner("a"), owner("b"), owner("c")];
                let mut ids: Vec<String> = Vec::new();
                let mut model = Model::default();
                for op in ops {
                    match op {
                        Op::Open { owner } => {
                            if ids.len() < 8 {
                                let id = sessions.open(owners[owner].clone(), "2025-11-25");
                                prop_assert!(!ids.contains(&id));
                                model.open.insert(ids.len(), (owner, HashSet::new()));
                                ids.push(id);
                            }
                        }
                        Op::Use { session, owner, id } => {
                            let Some(name) = ids.get(session) else { continue };
                            let got = sessions.use_session(name, &owners[owner], Some(&Id::Number(id)));
                            let expected = match model.open.get_mut(&session) {
                                Some((holder, seen)) if *holder == owner => {
                                    if seen.insert(id) { Ok("2025-11-25".to_owned()) } else { Err(SessionError::IdReused) }
                                }
                                _ => Err(SessionError::Unknown),
                            };
                            prop_assert_eq!(got, expected);
                        }
                        Op::Close { session, owner } => {
                            let Some(name) = ids.get(session) else { continue };
                            let closed = sessions.close(name, &owners[owner]);
                            let expected = model.open.get(&session).is_some_and(|(holder, _)| *holder == owner);
                            prop_assert_eq!(closed, expected);
                            if expected {
                                model.open.remove(&session);
                            }
                        }
                    }
                }
            }
        }
    }
}
