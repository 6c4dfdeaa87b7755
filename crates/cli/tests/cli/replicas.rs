//! Two real `gatehouse serve` replicas on one PostgreSQL database: a credential minted
//! by one is honoured by the other, an assertion is single-use across both, events from
//! both land in one log, and a revocation or a workflow's end on one stops calls on the
//! other within moments (announced through the database, not polled).
//!
//! Needs `GATEHOUSE_TEST_POSTGRES` (set by `scripts/test`); skips without it unless
//! `GATEHOUSE_REQUIRE_POSTGRES=1`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::client::{Reply, send};
use http::Method;

use crate::lifecycle::{free_port, start_tool};
use crate::{example, gatehouse};

const AGENT: &str = "spiffe://acme/agent/triage-bot";

struct Replica {
    child: Child,
    data: String,
    control: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test database, or `None` (after saying so) when tests may skip.
fn admin_url() -> Option<String> {
    match std::env::var("GATEHOUSE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("GATEHOUSE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES names no database"
            );
            eprintln!("skipped: GATEHOUSE_TEST_POSTGRES is not set (scripts/test sets it)");
            None
        }
    }
}

/// A fresh schema in the test database, as a `store` URL; `None` when tests may skip.
fn database_named(name: &str) -> Option<(String, String)> {
    let admin = admin_url()?;
    let schema = format!("{name}_{}", std::process::id());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options=-c%20search_path%3D{schema}");
    Some((url, schema))
}

/// One replica: the example's config on its own ports, on the shared store.
async fn replica(example: &Path, name: &str, store: &str, tool: std::net::SocketAddr) -> Replica {
    let (data, control) = (free_port(), free_port());
    let text = std::fs::read_to_string(example.join("gatehouse.toml")).unwrap();
    let text = text
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{data}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{control}"))
        .replace("http://127.0.0.1:8090", &format!("http://{tool}"))
        .replacen(
            "audience = \"gatehouse\"",
            &format!("audience = \"gatehouse\"\nstore = \"{store}\""),
            1,
        );
    let config = example.join(format!("{name}.toml"));
    std::fs::write(&config, text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("GATEHOUSE_LOG", "info")
        .stdout(std::fs::File::create(example.join(format!("{name}.out"))).unwrap())
        .stderr(std::fs::File::create(example.join(format!("{name}.err"))).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let replica = Replica {
        child,
        data: format!("http://127.0.0.1:{data}"),
        control: format!("http://127.0.0.1:{control}"),
    };
    for _ in 0..400 {
        if send(Method::GET, &format!("{}/readyz", replica.control), &[], "")
            .await
            .is_ok_and(|reply| reply.status == 200)
        {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = std::fs::read_to_string(example.join(format!("{name}.err"))).unwrap_or_default();
    panic!("replica {name} did not come up:\n{log}");
}

fn assertion(example: &Path) -> String {
    let key = example.join("keys/triage-bot.key");
    let output = gatehouse(&[
        "agent",
        "assertion",
        "--key",
        key.to_str().unwrap(),
        "--agent",
        AGENT,
    ]);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn exchange(replica: &Replica, assertion: &str, workflow: &str) -> Reply {
    let body = format!("assertion={assertion}&workflow={workflow}&task_class=triage");
    send(
        Method::POST,
        &format!("{}/v1/token", replica.data),
        &[("content-type", "application/x-www-form-urlencoded")],
        body,
    )
    .await
    .unwrap()
}

async fn credential(example: &Path, replica: &Replica, workflow: &str) -> String {
    let reply = exchange(replica, &assertion(example), workflow).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("Bearer {token}")
}

/// The status of one call, or 0 when the answer was cut off: a revocation arriving
/// while a call is in flight cuts it, which is what it is meant to do.
async fn create_ticket(replica: &Replica, auth: &str) -> u16 {
    send(
        Method::POST,
        &format!("{}/tools/tickets/tickets", replica.data),
        &[("authorization", auth)],
        r#"{"title":"x"}"#,
    )
    .await
    .map_or(0, |reply| reply.status.as_u16())
}

fn operator(example: &Path, replica: &Replica, args: &[&str]) {
    let token_file = example.join("operator.token");
    let mut all = args.to_vec();
    all.extend([
        "--control",
        &replica.control,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&all)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Calls through `replica` until one is refused; how long that took.
async fn until_refused(replica: &Replica, auth: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let status = create_ticket(replica, auth).await;
        if status == 401 {
            return start.elapsed();
        }
        assert!(status == 201 || status == 0, "{status}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the other replica still served the call after 5 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_postgres_share_credentials_assertions_events_and_revocations() {
    // The synchronous PostgreSQL client runs a runtime of its own: off this one's workers.
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("replicas")) else {
        return;
    };
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let a = replica(&example, "a", &store, tool).await;
    let b = replica(&example, "b", &store, tool).await;

    // A credential minted by A works on B, and the other way round.
    let auth = credential(&example, &a, "wf-shared").await;
    assert_eq!(create_ticket(&a, &auth).await, 201);
    assert_eq!(create_ticket(&b, &auth).await, 201);
    let from_b = credential(&example, &b, "wf-shared").await;
    assert_eq!(create_ticket(&a, &from_b).await, 201);

    // An assertion is single-use across replicas.
    let once = assertion(&example);
    assert_eq!(exchange(&a, &once, "wf-once").await.status, 200);
    let replayed = exchange(&b, &once, "wf-once").await;
    assert_eq!(replayed.status, 401, "{}", replayed.text());

    // Events of calls on both replicas are in the one log, read through either.
    let mut seen = 0;
    for _ in 0..200 {
        let reply = send(
            Method::GET,
            &format!("{}/v1/events?workflow=wf-shared&limit=100", b.control),
            &[(
                "authorization",
                &format!("Bearer {}", operator_token(&example)),
            )],
            "",
        )
        .await
        .unwrap();
        seen = reply.json().unwrap()["events"]
            .as_array()
            .map_or(0, |events| {
                events
                    .iter()
                    .filter(|event| event["intent"] == "ticket.create")
                    .count()
            });
        if seen == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen, 3, "events of both replicas' calls");

    // Credentials revoked one by one on A: how long until B refuses each.
    let mut latencies = Vec::new();
    for n in 0..30 {
        let token = credential(&example, &a, &format!("wf-revoke-{n}")).await;
        assert_eq!(create_ticket(&b, &token).await, 201);
        let jwt = token.trim_start_matches("Bearer ").to_owned();
        let reply = send(
            Method::POST,
            &format!("{}/v1/revocations", a.control),
            &[
                (
                    "authorization",
                    &format!("Bearer {}", operator_token(&example)),
                ),
                ("content-type", "application/json"),
            ],
            serde_json::json!({ "kind": "token", "subject": jwt, "reason": "test" }).to_string(),
        )
        .await
        .unwrap();
        assert!(reply.status.is_success(), "{}", reply.text());
        latencies.push(until_refused(&b, &token).await);
    }
    latencies.sort_unstable();
    let (p50, p99) = (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
    assert!(
        p99 <= Duration::from_millis(100),
        "p99 {p99:?} over 100 ms: {latencies:?}"
    );
    eprintln!(
        "propagation of 30 token revocations, control-plane answer on A to refusal on B: \
         p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies.last().unwrap()
    );

    // A workflow ended on A stops serving on B.
    let ended = credential(&example, &a, "wf-ended").await;
    assert_eq!(create_ticket(&b, &ended).await, 201);
    operator(
        &example,
        &a,
        &["workflows", "end", "wf-ended", "--reason", "test"],
    );
    let workflow_latency = until_refused(&b, &ended).await;

    // An agent revoked on A is refused on B: its calls mid-workflow, and new credentials.
    assert_eq!(create_ticket(&b, &auth).await, 201);
    let revoked_at = Instant::now();
    operator(
        &example,
        &a,
        &["revoke", "agent", AGENT, "--reason", "test"],
    );
    let cli_returned = revoked_at.elapsed();
    let calls_refused = until_refused(&b, &auth).await;
    let exchange_refused = loop {
        let reply = exchange(&b, &assertion(&example), "wf-new").await;
        if reply.status == 401 {
            break revoked_at.elapsed();
        }
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            revoked_at.elapsed() < Duration::from_secs(2),
            "B still issues credentials"
        );
    };
    assert!(calls_refused < Duration::from_secs(1), "{calls_refused:?}");
    eprintln!(
        "propagation: workflow end refused on B {workflow_latency:?} after the CLI returned; \
         agent revocation: CLI took {cli_returned:?}, B refused calls {calls_refused:?} after \
         that and new credentials {exchange_refused:?} after the CLI started"
    );

    drop((a, b));
    tokio::task::block_in_place(|| {
        let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap();
        if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    });
}

fn operator_token(example: &Path) -> String {
    std::fs::read_to_string(example.join("operator.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Runs SQL as the test database's administrator (off the async workers).
fn admin_sql(sql: &str) {
    let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap();
    let sql = sql.to_owned();
    tokio::task::block_in_place(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client.batch_execute(&sql).unwrap();
    });
}

async fn ready_status(replica: &Replica) -> u16 {
    send(Method::GET, &format!("{}/readyz", replica.control), &[], "")
        .await
        .map_or(0, |reply| reply.status.as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_cut_off_from_postgres_refuses_calls_and_recovers_by_itself() {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("stale")) else {
        return;
    };
    // The replica logs in as a role of its own, which the test can lock out of the
    // database without touching other tests' connections.
    let role = format!("{schema}_replica");
    let Some(as_role) = store
        .contains("://postgres@")
        .then(|| store.replacen("://postgres@", &format!("://{role}@"), 1))
    else {
        eprintln!("skipped: the test database URL does not log in as `postgres`");
        return;
    };
    admin_sql(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
         GRANT ALL ON SCHEMA {schema} TO {role}"
    ));
    let (_dir, example) = example();
    rewrite_staleness(&example, 300);
    let tool = start_tool(&example).await;
    let a = replica(&example, "a", &as_role, tool).await;
    let auth = credential(&example, &a, "wf-stale").await;
    assert_eq!(create_ticket(&a, &auth).await, 201);

    admin_sql(&format!(
        "ALTER ROLE {role} NOLOGIN; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
    ));
    let cut = Instant::now();
    let mut refused = None;
    while cut.elapsed() < Duration::from_secs(10) {
        let reply = send(
            Method::POST,
            &format!("{}/tools/tickets/tickets", a.data),
            &[("authorization", &auth)],
            r#"{"title":"x"}"#,
        )
        .await
        .unwrap();
        if reply.status == 503 {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a deaf replica kept serving calls");
    let refused_after = cut.elapsed();
    let problem = refused.json().unwrap();
    assert_eq!(
        problem["type"], "urn:gatehouse:problem:stale-state",
        "{problem}"
    );
    assert_eq!(ready_status(&a).await, 503);

    admin_sql(&format!("ALTER ROLE {role} LOGIN"));
    let back = Instant::now();
    let mut recovered = false;
    while back.elapsed() < Duration::from_secs(10) {
        if create_ticket(&a, &auth).await == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recovered, "the replica did not recover by itself");
    assert_eq!(ready_status(&a).await, 200);
    eprintln!(
        "staleness: refused {refused_after:?} after the cut (max 300 ms), serving again {:?} after the database let it back",
        back.elapsed()
    );
    drop(a);
    admin_sql(&format!(
        "DROP SCHEMA {schema} CASCADE; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; \
         DROP ROLE {role}"
    ));
}

fn rewrite_staleness(example: &Path, ms: u64) {
    let path = example.join("gatehouse.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "audience = \"gatehouse\"",
        &format!("audience = \"gatehouse\"\nmax_staleness_ms = {ms}"),
        1,
    );
    std::fs::write(path, text).unwrap();
}

async fn approve_on(example: &Path, replica: &Replica, id: &str) -> u16 {
    send(
        Method::POST,
        &format!("{}/v1/approvals/{id}/approve", replica.control),
        &[
            (
                "authorization",
                &format!("Bearer {}", operator_token(example)),
            ),
            ("content-type", "application/json"),
        ],
        r#"{"reason":"looks fine"}"#,
    )
    .await
    .unwrap()
    .status
    .as_u16()
}

async fn park(replica: &Replica, auth: &str) -> String {
    let parked = send(
        Method::GET,
        &format!("{}/tools/tickets/tickets", replica.data),
        &[("authorization", auth)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(parked.status, 202, "{}", parked.text());
    parked.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parked_call_outlives_its_replica_and_two_approvers_on_two_replicas_run_it_once() {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("approvals")) else {
        return;
    };
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            r#"intent = "ticket.list", data_class = "internal" }"#,
            r#"intent = "ticket.list", data_class = "internal", tier = "high" }"#,
        )
    });
    let tool = start_tool(&example).await;
    let a = replica(&example, "a", &store, tool).await;
    let b = replica(&example, "b", &store, tool).await;
    let auth = credential(&example, &a, "wf-approvals").await;

    // Approved on both replicas at the same instant: exactly one approval counts.
    for _ in 0..5 {
        let id = park(&a, &auth).await;
        let (on_a, on_b) =
            tokio::join!(approve_on(&example, &a, &id), approve_on(&example, &b, &id));
        let mut statuses = [on_a, on_b];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "one approval wins, the other is told it lost"
        );
    }

    // Parked on A, which then dies: approved on B, run by B, its result served by B.
    let id = park(&a, &auth).await;
    drop(a);
    assert_eq!(approve_on(&example, &b, &id).await, 200);
    let poll = format!("{}/v1/approvals/{id}", b.data);
    let mut answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
        .await
        .unwrap();
    for _ in 0..200 {
        if answer.status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
            .await
            .unwrap();
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.text().contains("tickets"), "{}", answer.text());

    drop(b);
    admin_sql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// A PostgreSQL of this test's own (it gets restarted), from `scripts/postgres.sh`.
struct OwnDatabase {
    url: String,
    dir: String,
}

impl OwnDatabase {
    fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");
        // Below the ephemeral port range, away from the shared test database's port.
        let port = 26_000 + std::process::id() % 6_000;
        let output = Command::new(script)
            .arg("start")
            .env_remove("GATEHOUSE_TEST_POSTGRES")
            .env("GATEHOUSE_PG_PORT", port.to_string())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let exports = String::from_utf8(output.stdout).unwrap();
        let value = |name: &str| {
            exports
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}='")))
                .and_then(|rest| rest.strip_suffix('\''))
                .unwrap()
                .to_owned()
        };
        Self {
            url: value("GATEHOUSE_TEST_POSTGRES"),
            dir: value("GATEHOUSE_PG_DIR"),
        }
    }

    fn restart(&self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");
        let status = Command::new(script)
            .args(["restart", &self.dir])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");
        let _ = Command::new(script).args(["stop", &self.dir]).status();
    }
}

/// An upstream that records the decision id of every call that reaches it.
async fn counting_upstream() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
        let record = Arc::clone(&record);
        async move {
            let decision = request
                .headers()
                .get("gatehouse-decision-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            record.lock().unwrap().push(decision);
            http::Response::new(gatehouse_gateway::body::full(r#"{"id":1}"#))
        }
    })
    .await
    .unwrap();
    std::mem::forget(stop);
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_under_load_loses_no_event_overspends_nothing_and_the_replica_recovers()
{
    // This test restarts a PostgreSQL of its own, but runs only where the others do.
    if admin_url().is_none() {
        return;
    }
    let database = tokio::task::block_in_place(OwnDatabase::start);
    const BUDGET: u64 = 300;
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("calls = 500", &format!("calls = {BUDGET}"))
    });
    let (upstream, reached) = counting_upstream().await;
    let a = replica(&example, "a", &database.url, upstream).await;
    let auth = credential(&example, &a, "wf-restart").await;
    let url = format!("{}/tools/tickets/tickets/1", a.data);

    let load = |url: String, auth: String| async move {
        let (mut ok, mut refused) = (0_u64, 0_u64);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let status = send(Method::GET, &url, &[("authorization", &auth)], "")
                .await
                .map_or(0, |reply| reply.status.as_u16());
            match status {
                200 => ok += 1,
                429 => return (ok, refused),
                _ => refused += 1,
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        (ok, refused)
    };
    let clients: Vec<_> = (0..8)
        .map(|_| tokio::spawn(load(url.clone(), auth.clone())))
        .collect();
    let warm = Instant::now();
    while reached.lock().unwrap().len() < 100 {
        assert!(
            warm.elapsed() < Duration::from_secs(20),
            "calls never reached the upstream:\n{}",
            std::fs::read_to_string(example.join("a.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restart = Instant::now();
    tokio::task::block_in_place(|| database.restart());
    let restarted_in = restart.elapsed();
    let (mut answered, mut refused) = (0, 0);
    for client in clients {
        let (ok, no) = client.await.unwrap();
        answered += ok;
        refused += no;
    }
    let received = reached.lock().unwrap().clone();
    let upstream_saw = received.len() as u64;
    assert!(
        upstream_saw <= BUDGET,
        "{upstream_saw} calls reached the upstream on a budget of {BUDGET}"
    );
    // Calls the upstream answered while the database was away may be cut (their bytes
    // could not be leased): the agent then gets no 200, and the event says why.
    assert!(answered <= upstream_saw);

    // Every call that reached the upstream has its event once the database is back.
    let drain = Instant::now();
    let operator = format!("Bearer {}", operator_token(&example));
    let mut missing = received.clone();
    while !missing.is_empty() && drain.elapsed() < Duration::from_secs(20) {
        let mut still = Vec::new();
        for id in missing {
            let reply = send(
                Method::GET,
                &format!("{}/v1/events/{id}", a.control),
                &[("authorization", &operator)],
                "",
            )
            .await
            .unwrap();
            if reply.status != 200 {
                still.push(id);
            }
        }
        missing = still;
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if !missing.is_empty() {
        let log = std::fs::read_to_string(example.join("a.err")).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(30).collect();
        panic!(
            "{} of {upstream_saw} calls that reached the upstream have no event; the replica's log ends:\n{}",
            missing.len(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let recorded = upstream_saw;
    assert_eq!(ready_status(&a).await, 200);
    eprintln!(
        "postgres restart: {upstream_saw} calls reached the upstream (budget {BUDGET}), \
         {answered} answered 200, {refused} refused or cut while the database was away, \
         restart took {restarted_in:?}, the events of all {recorded} stored {:?} after the load ended",
        drain.elapsed()
    );
}
