//! Token exchanges' writes, grouped: each exchange's single-use `jti` claim and, for a
//! workflow this gateway does not hold yet, its creation (`gatehouse_store::Admission`).
//!
//! One writer task takes every admission queued while the previous batch was being
//! written and writes them in one transaction (`Store::admit`): a busy broker pays one
//! commit (on PostgreSQL, one flush of its log) per batch instead of up to three round
//! trips per exchange. There is no gathering window: an exchange waits at most for the
//! batch being written and its own, so an idle broker answers as fast as before and a
//! busy one's tail is a couple of commits, not a timer. An exchange's answer waits for
//! its batch's commit, so a `kill -9` can never let an assertion be used twice: a `jti`
//! not yet committed has issued no credential.

use std::sync::{Arc, OnceLock};

use gatehouse_store::{Admission, Admitted, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::blocking::store_call;

/// Most admissions written in one transaction.
const MAX_BATCH: usize = 512;

/// The broker's handle on the writer task, started by the first exchange.
#[derive(Debug)]
pub struct Admissions {
    store: Arc<dyn Store>,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

#[derive(Debug)]
struct Pending {
    admission: Admission,
    now_secs: i64,
    answer: oneshot::Sender<Result<Admitted, StoreError>>,
}

impl Admissions {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            queue: OnceLock::new(),
        }
    }

    /// Writes `admission` with whatever else is queued; answers once it is committed.
    pub async fn admit(&self, admission: Admission, now_secs: i64) -> Result<Admitted, StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write(Arc::clone(&self.store), rx));
            tx
        });
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            admission,
            now_secs,
            answer,
        };
        queue.send(pending).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable {
        location: "token exchange writer".to_owned(),
        detail: "the writer stopped".to_owned(),
    }
}

/// The writer: a batch is everything queued when the previous one was done.
async fn write(store: Arc<dyn Store>, mut queue: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        write_batch(&store, batch).await;
    }
}

/// Writes one batch and answers each exchange in it. A batch the store refuses is
/// written again one admission at a time, so one bad admission (or a lost deadlock on
/// a shared store) fails only its own exchange.
async fn write_batch(store: &Arc<dyn Store>, batch: Vec<Pending>) {
    let mut admissions = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    // The earliest clock of the batch: a claim counts as expired only once it has
    // expired for every exchange in it.
    let mut now = i64::MAX;
    for pending in batch {
        admissions.push(pending.admission);
        answers.push(pending.answer);
        now = now.min(pending.now_secs);
    }
    let store = Arc::clone(store);
    let outcomes = store_call("token exchange writer", move || {
        Ok(admit_all(store.as_ref(), &admissions, now))
    })
    .await;
    match outcomes {
        Ok(outcomes) => {
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // The exchange may have gone (its agent hung up): its claim stays.
                let _ = answer.send(outcome);
            }
        }
        Err(error) => {
            for answer in answers {
                let _ = answer.send(Err(StoreError::Unavailable {
                    location: "token exchange writer".to_owned(),
                    detail: error.to_string(),
                }));
            }
        }
    }
}

/// Every admission's outcome, in order: the batch in one transaction or, if the store
/// refuses it, each admission in its own.
fn admit_all(
    store: &dyn Store,
    admissions: &[Admission],
    now: i64,
) -> Vec<Result<Admitted, StoreError>> {
    let batch = store.admit(admissions, now);
    match batch {
        Ok(admitted) if admitted.len() == admissions.len() => {
            admitted.into_iter().map(Ok).collect()
        }
        Err(error) if admissions.len() == 1 => vec![Err(error)],
        Ok(_) | Err(_) => admissions
            .iter()
            .map(|admission| {
                store
                    .admit(std::slice::from_ref(admission), now)
                    .and_then(one)
            })
            .collect(),
    }
}

fn one(mut admitted: Vec<Admitted>) -> Result<Admitted, StoreError> {
    match (admitted.pop(), admitted.is_empty()) {
        (Some(only), true) => Ok(only),
        _ => Err(StoreError::Unavailable {
            location: "token exchange writer".to_owned(),
            detail: "the store did not answer each admission once".to_owned(),
        }),
    }
}
