//! What token exchanges' admissions cost the SQLite store, for callgrind rather than the
//! clock: admits COUNT exchanges (default 20,000) in batches of BATCH (default 1, what
//! the broker's writer gathers at light load), each claiming a fresh `jti` and creating
//! a fresh workflow, into a file in a temporary directory.
//!
//!     cargo build --release -p gatehouse-store --example admit_cost
//!     valgrind --tool=callgrind --toggle-collect='*SqliteStore*admit*' \
//!         target/release/examples/admit_cost 20000 1

use std::error::Error;

use gatehouse_core::model::{AgentId, SegmentName, TaskClassName, WorkflowId};
use gatehouse_core::workflow::{Budget, Workflow};
use gatehouse_store::{Admission, SqliteStore, Store};

/// 2026-05-28, in Unix seconds.
const NOW: i64 = 1_780_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(20_000), |count| count.parse())?;
    let batch: usize = args.next().map_or(Ok(1), |batch| batch.parse())?;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("gatehouse.db"))?;
    let mut admissions = Vec::with_capacity(batch);
    for n in 0..count {
        admissions.push(admission(n));
        if admissions.len() == batch || n + 1 == count {
            store.admit(&admissions, NOW)?;
            admissions.clear();
        }
    }
    Ok(())
}

/// An exchange as the quickstart's triage bot makes it, opening workflow `n`.
fn admission(n: u64) -> Admission {
    let budget = Budget {
        calls: 1_000,
        writes: 100,
        bytes: 10 << 20,
    };
    let workflow = Workflow::new(
        WorkflowId::new(format!("wf-exchange-{n}")),
        AgentId::new("spiffe://acme/agent/triage-bot"),
        TaskClassName::new("triage"),
        SegmentName::new("tickets"),
        budget,
        NOW,
        3_600,
    );
    Admission {
        issuer: "spiffe://acme/agent/triage-bot".to_owned(),
        jti: format!("{n:032x}"),
        expires_at: NOW + 300,
        workflow: Some(workflow),
    }
}
