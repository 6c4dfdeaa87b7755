//! Two real `gatehouse serve` replicas on one PostgreSQL database: a credential minted
//! by one is honoured by the other, an assertion is single-use across both, events from
//! both land in one log, and a revocation or a workflow's end on one stops calls on the
//! other within moments (announced through the database, not polled); so does a policy
//! set applied on one, and an approval decided on one answers a call held on another.
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
    replica_with(example, name, store, tool, str::to_owned).await
}

/// One replica, its config text changed by `edit` first.
async fn replica_with(
    example: &Path,
    name: &str,
    store: &str,
    tool: std::net::SocketAddr,
    edit: impl FnOnce(&str) -> String,
) -> Replica {
    let (data, control) = (free_port(), free_port());
    let text = std::fs::read_to_string(example.join("gatehouse.toml")).unwrap();
    let text = edit(&text)
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
        .env("GATEHOUSE_LOG", "info,gatehouse_gateway::replicas=debug")
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

    // Credentials revoked one by one on A: how long from the call until B refuses each.
    let mut latencies = Vec::new();
    for n in 0..30 {
        let token = credential(&example, &a, &format!("wf-revoke-{n}")).await;
        assert_eq!(read_ticket(&b, &token).await, 200);
        let jwt = token.trim_start_matches("Bearer ").to_owned();
        let body = serde_json::json!({ "kind": "token", "subject": jwt, "reason": "test" });
        let revoke = control(&example, &a, Method::POST, "/v1/revocations", body);
        let (refused_in, _, _) = propagation(revoke, &b, &token, 401).await;
        latencies.push(refused_in);
    }
    // The p99 target is asserted over 200 trials, by
    // `revocations_and_quarantines_on_one_replica_refuse_on_another_within_moments`: of
    // 30, the "p99" is the slowest trial, one core's hiccup away from any bound.
    let [p50, p90, _, max] = percentiles(&mut latencies);
    eprintln!(
        "propagation of 30 token revocations, control-plane call to A to refusal on B: \
         p50 {p50:?}, p90 {p90:?}, max {max:?}"
    );
    assert!(
        p90 <= Duration::from_millis(100),
        "p90 {p90:?} over 100 ms: {latencies:?}"
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

/// An upstream that records the decision id of every call that reaches it and answers
/// `/big` with 1,000 bytes, anything else with 8.
async fn sizing_upstream() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
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
            let body = if request.uri().path().ends_with("/big") {
                format!("\"{}\"", "x".repeat(998))
            } else {
                r#"{"id":1}"#.to_owned()
            };
            http::Response::new(gatehouse_gateway::body::full(body))
        }
    })
    .await
    .unwrap();
    std::mem::forget(stop);
    (addr, seen)
}

/// `calls` GETs of `path` by `clients` concurrent clients, each turning over the
/// replicas; the status of every call and the body bytes of those answered 200.
async fn spread_calls(
    replicas: &[Replica],
    auth: &str,
    path: &str,
    clients: usize,
    calls: usize,
) -> (Vec<u16>, u64) {
    let urls: Vec<String> = replicas
        .iter()
        .map(|replica| format!("{}{path}", replica.data))
        .collect();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (urls, auth) = (urls.clone(), auth.to_owned());
            tokio::spawn(async move {
                let (mut statuses, mut bytes) = (Vec::new(), 0_u64);
                for n in 0..calls / clients {
                    let url = &urls[(client + n) % urls.len()];
                    let reply = send(Method::GET, url, &[("authorization", &auth)], "").await;
                    let status = reply.as_ref().map_or(0, |reply| reply.status.as_u16());
                    if let Ok(reply) = &reply
                        && reply.status == 200
                    {
                        bytes += reply.body.len() as u64;
                    }
                    statuses.push(status);
                }
                (statuses, bytes)
            })
        })
        .collect();
    let (mut statuses, mut bytes) = (Vec::new(), 0);
    for task in tasks {
        let (more, sent) = task.await.unwrap();
        statuses.extend(more);
        bytes += sent;
    }
    (statuses, bytes)
}

async fn stored_workflow(example: &Path, replica: &Replica, id: &str) -> serde_json::Value {
    let reply = send(
        Method::GET,
        &format!("{}/v1/workflows/{id}", replica.control),
        &[(
            "authorization",
            &format!("Bearer {}", operator_token(example)),
        )],
        "",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_let_exactly_the_budget_through_however_calls_are_spread() {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("budgets")) else {
        return;
    };
    const CALLS: u64 = 150;
    const BYTES: u64 = 40_000;
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            "budget = { calls = 500, writes = 50, bytes = 10485760 }",
            &format!("budget = {{ calls = {CALLS}, writes = 50, bytes = {BYTES} }}"),
        )
    });
    let (upstream, reached) = sizing_upstream().await;
    let mut replicas = Vec::new();
    for name in ["a", "b", "c"] {
        replicas.push(replica(&example, name, &store, upstream).await);
    }

    // 450 calls, 30 at a time, spread over three replicas, on a budget of 150 calls.
    let auth = credential(&example, &replicas[0], "wf-exact").await;
    let (statuses, _) = spread_calls(&replicas, &auth, "/tools/tickets/tickets/1", 30, 450).await;
    let ok = statuses.iter().filter(|&&status| status == 200).count() as u64;
    let exhausted = statuses.iter().filter(|&&status| status == 429).count() as u64;
    let upstream_saw = reached.lock().unwrap().len() as u64;
    assert_eq!(upstream_saw, CALLS, "calls that reached the upstream");
    assert_eq!((ok, exhausted), (CALLS, 450 - CALLS), "{statuses:?}");
    let stored = stored_workflow(&example, &replicas[1], "wf-exact").await;
    assert_eq!(stored["usage"]["calls"], CALLS, "{stored}");

    // Resumed on C with 30 more calls: B, paused too, hears of it and serves again, and
    // exactly 30 more calls reach the upstream over the three.
    operator(
        &example,
        &replicas[2],
        &["workflows", "resume", "wf-exact", "--calls", "30"],
    );
    let resumed = Instant::now();
    let on_b = format!("{}/tools/tickets/tickets/1", replicas[1].data);
    loop {
        let reply = send(Method::GET, &on_b, &[("authorization", &auth)], "").await;
        if reply.is_ok_and(|reply| reply.status == 200) {
            break;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(2),
            "B still refuses the resumed workflow"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let resume_seen = resumed.elapsed();
    let (statuses, _) = spread_calls(&replicas, &auth, "/tools/tickets/tickets/1", 30, 150).await;
    let ok = statuses.iter().filter(|&&status| status == 200).count() as u64;
    assert_eq!(
        ok, 29,
        "the 30 calls of the extension, one of them the probe on B"
    );
    assert_eq!(reached.lock().unwrap().len() as u64, CALLS + 30);

    // Responses of 1,000 bytes on a byte budget of 40,000: never a byte more.
    reached.lock().unwrap().clear();
    let auth = credential(&example, &replicas[2], "wf-bytes").await;
    let (statuses, received) =
        spread_calls(&replicas, &auth, "/tools/tickets/tickets/big", 30, 150).await;
    let ok = statuses.iter().filter(|&&status| status == 200).count() as u64;
    assert!(
        received <= BYTES,
        "{received} body bytes on a budget of {BYTES}"
    );
    // The responses cut where the budget ends spend bytes too (as on one node), so a
    // few fewer than 40 arrive whole.
    assert!(
        ok >= 30,
        "most of the byte budget was used: {ok} calls answered"
    );
    let stored = stored_workflow(&example, &replicas[0], "wf-bytes").await;
    let spent = stored["usage"]["bytes"].as_u64().unwrap();
    assert!(spent <= BYTES, "{stored}");
    eprintln!(
        "three replicas: {CALLS} of 450 calls reached the upstream on a budget of {CALLS}, \
         and 30 more after a resume on C (B served again {resume_seen:?} after the CLI \
         returned); {ok} responses of 1,000 bytes arrived whole ({received} bytes, {spent} \
         counted as spent) on a byte budget of {BYTES}"
    );

    drop(replicas);
    drop_schema(&schema);
}

/// Drops a test's schema; a replica's connection still closing may hold a lock on it
/// (the drop then fails harmlessly: the schema is the test's own).
fn drop_schema(schema: &str) {
    let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap();
    let sql = format!("DROP SCHEMA {schema} CASCADE");
    tokio::task::block_in_place(move || {
        if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
            let _ = client.batch_execute(&sql);
        }
    });
}

/// A replica with a data directory of its own (journal, event file, segment keys: the
/// keys copied from `keys_from`'s, so credentials are honoured across replicas).
async fn own_replica(
    example: &Path,
    name: &str,
    store: &str,
    tool: std::net::SocketAddr,
    keys_from: Option<&str>,
) -> Replica {
    let dir = format!("data-{name}");
    if let Some(from) = keys_from {
        let (from, to) = (
            example.join(from).join("keys"),
            example.join(&dir).join("keys"),
        );
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    replica_with(example, name, store, tool, |text| {
        text.replace("data_dir = \"data\"", &format!("data_dir = \"{dir}\""))
            .replace("data/events.jsonl", &format!("{dir}/events.jsonl"))
    })
    .await
}

/// Decision ids among `ids` with no stored event after `within`.
async fn without_events(
    control: &str,
    operator: &str,
    ids: &[String],
    within: Duration,
) -> Vec<String> {
    let start = Instant::now();
    let mut missing = ids.to_vec();
    while !missing.is_empty() && start.elapsed() < within {
        let mut still = Vec::new();
        for id in missing {
            let reply = send(
                Method::GET,
                &format!("{control}/v1/events/{id}"),
                &[("authorization", operator)],
                "",
            )
            .await;
            if !reply.is_ok_and(|reply| reply.status == 200) {
                still.push(id);
            }
        }
        missing = still;
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_outlive_a_postgres_restart_and_a_killed_replica_within_the_budget() {
    // This test restarts a PostgreSQL of its own, but runs only where the others do.
    if admin_url().is_none() {
        return;
    }
    let database = tokio::task::block_in_place(OwnDatabase::start);
    const BUDGET: u64 = 400;
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("calls = 500", &format!("calls = {BUDGET}"))
    });
    let (upstream, reached) = counting_upstream().await;
    let store = database.url.clone();
    let mut a = own_replica(&example, "a", &store, upstream, None).await;
    let b = own_replica(&example, "b", &store, upstream, Some("data-a")).await;
    let c = own_replica(&example, "c", &store, upstream, Some("data-a")).await;
    let auth = credential(&example, &a, "wf-faults").await;
    let urls: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|replica| format!("{}/tools/tickets/tickets/1", replica.data))
        .collect();
    let a_dead = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Twelve clients over the three replicas (over B and C once A is dead), each until
    // the budget refuses it eight times in a row.
    let clients: Vec<_> = (0..12)
        .map(|client| {
            let (urls, auth, a_dead) = (urls.clone(), auth.clone(), Arc::clone(&a_dead));
            tokio::spawn(async move {
                let (mut ok, mut failed, mut exhausted) = (0_u64, 0_u64, 0);
                let start = Instant::now();
                for n in 0.. {
                    if exhausted >= 8 || start.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                    let mut at = (client + n) % 3;
                    if at == 0 && a_dead.load(std::sync::atomic::Ordering::Acquire) {
                        at = 1 + n % 2;
                    }
                    let reply = send(Method::GET, &urls[at], &[("authorization", &auth)], "").await;
                    match reply.map_or(0, |reply| reply.status.as_u16()) {
                        200 => (ok, exhausted) = (ok + 1, 0),
                        429 => exhausted += 1,
                        _ => failed += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                (ok, failed)
            })
        })
        .collect();
    let until_reached = |count: usize| {
        let reached = Arc::clone(&reached);
        async move {
            let start = Instant::now();
            while reached.lock().unwrap().len() < count {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "calls stopped reaching the upstream"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };

    // kill -9 of A, holding a slice of the budget, in the middle of the load.
    until_reached(100).await;
    a_dead.store(true, std::sync::atomic::Ordering::Release);
    let _ = a.child.kill();
    let _ = a.child.wait();

    // Then PostgreSQL restarts under the load: B and C recover by themselves.
    until_reached(160).await;
    let restart = Instant::now();
    tokio::task::block_in_place(|| database.restart());
    let restarted_in = restart.elapsed();
    let back = Instant::now();
    while ready_status(&b).await != 200 || ready_status(&c).await != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "B and C did not recover"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recovered_in = back.elapsed();

    let (mut answered, mut failed) = (0, 0);
    for client in clients {
        let (ok, no) = client.await.unwrap();
        answered += ok;
        failed += no;
    }
    let received = reached.lock().unwrap().clone();
    let upstream_saw = received.len() as u64;
    assert!(
        upstream_saw <= BUDGET,
        "{upstream_saw} calls reached the upstream on a budget of {BUDGET}"
    );
    assert!(answered <= upstream_saw);
    // A's unspent slice stays spent, and so may the slices of calls refused while the
    // database was away: at most a few slices of the budget are forfeit.
    assert!(
        upstream_saw + 3 * gatehouse_core::workflow::slice(BUDGET) >= BUDGET,
        "{upstream_saw} of {BUDGET}"
    );

    // A restarts on its data directory: its journal accounts for the calls it was
    // killed in, so every call that reached the upstream has its event.
    let a = own_replica(&example, "a", &store, upstream, None).await;
    let operator = format!("Bearer {}", operator_token(&example));
    let missing = without_events(&b.control, &operator, &received, Duration::from_secs(20)).await;
    assert!(
        missing.is_empty(),
        "{} of {upstream_saw} calls have no event",
        missing.len()
    );
    eprintln!(
        "faults: {upstream_saw} calls reached the upstream on a budget of {BUDGET} ({} forfeit \
         with A's slice), {answered} answered 200, {failed} failed while A died or the \
         database was away; postgres restart took {restarted_in:?}, B and C ready again \
         {recovered_in:?} after it",
        BUDGET - upstream_saw
    );
    drop((a, b, c));
}

/// An operator's JSON request to a replica's control plane; the reply's JSON.
async fn control(
    example: &Path,
    replica: &Replica,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let reply = send(
        method.clone(),
        &format!("{}{path}", replica.control),
        &[
            (
                "authorization",
                &format!("Bearer {}", operator_token(example)),
            ),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
    .unwrap();
    assert!(
        reply.status.is_success(),
        "{method} {path}: {}",
        reply.text()
    );
    reply.json().unwrap_or_default()
}

/// Lists tickets through `replica`: the answer's status, 0 when cut off.
async fn read_ticket(replica: &Replica, auth: &str) -> u16 {
    send(
        Method::GET,
        &format!("{}/tools/tickets/tickets", replica.data),
        &[("authorization", auth)],
        "",
    )
    .await
    .map_or(0, |reply| reply.status.as_u16())
}

/// Reads through `replica` until the answer is `status`; how long since `since`.
async fn until_status(replica: &Replica, auth: &str, status: u16, since: Instant) -> Duration {
    loop {
        if read_ticket(replica, auth).await == status {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "B did not answer {status} within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One propagation trial: sends `call` (a control-plane request to replica A) and,
/// from the same moment, reads through `b` until it answers `status`. How long from
/// sending the call until B answered so, and until A answered; B reading only after A
/// answered would add A's own time (a revocation answers once its audit event is
/// stored) and hide whatever B did before.
async fn propagation<T>(
    call: impl std::future::Future<Output = T>,
    b: &Replica,
    auth: &str,
    status: u16,
) -> (Duration, Duration, T) {
    let start = Instant::now();
    let answered = async {
        let output = call.await;
        (start.elapsed(), output)
    };
    let ((answered_in, output), seen_in) =
        tokio::join!(answered, until_status(b, auth, status, start));
    (seen_in, answered_in, output)
}

/// p50, p90, p99 and max of `samples`, sorted in place.
fn percentiles(samples: &mut [Duration]) -> [Duration; 4] {
    samples.sort_unstable();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    [at(50), at(90), at(99), samples[samples.len() - 1]]
}

#[tokio::test(flavor = "multi_thread")]
async fn revocations_and_quarantines_on_one_replica_refuse_on_another_within_moments() {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("propagation"))
    else {
        return;
    };
    const TRIALS: usize = 200;
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        format!(
            "{}\n[gateway.limits]\ntoken_rate_per_peer = 10000\ntoken_burst_per_peer = 10000\n",
            text.replace("calls = 500, writes = 50", "calls = 100000, writes = 50")
        )
    });
    let tool = start_tool(&example).await;
    let a = replica(&example, "a", &store, tool).await;
    let b = replica(&example, "b", &store, tool).await;

    // Each trial: a credential served by B, revoked on A; timed from the control-plane
    // call to A until B refuses it (and how long A took to answer).
    let (mut revocations, mut revocations_answered) = (Vec::new(), Vec::new());
    for n in 0..TRIALS {
        let token = credential(&example, &a, &format!("wf-prop-{n}")).await;
        assert_eq!(read_ticket(&b, &token).await, 200);
        let jwt = token.trim_start_matches("Bearer ").to_owned();
        let body = serde_json::json!({ "kind": "token", "subject": jwt, "reason": "trial" });
        let revoke = control(&example, &a, Method::POST, "/v1/revocations", body);
        let (refused_in, answered_in, _) = propagation(revoke, &b, &token, 401).await;
        revocations.push(refused_in);
        revocations_answered.push(answered_in);
    }

    // Each trial: the agent quarantined on A until B refuses its call, then lifted.
    let auth = credential(&example, &a, "wf-prop-quarantine").await;
    let (mut quarantines, mut quarantines_answered) = (Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        assert_eq!(read_ticket(&b, &auth).await, 200);
        let body = serde_json::json!({
            "kind": "agent", "subject": AGENT, "for_secs": 60, "reason": "trial"
        });
        let quarantine = control(&example, &a, Method::POST, "/v1/quarantines", body);
        let (refused_in, answered_in, added) = propagation(quarantine, &b, &auth, 403).await;
        quarantines.push(refused_in);
        quarantines_answered.push(answered_in);
        let id = added["id"].as_str().unwrap().to_owned();
        let lift = format!("/v1/quarantines/{id}");
        control(&example, &a, Method::DELETE, &lift, serde_json::Value::Null).await;
        until_status(&b, &auth, 200, Instant::now()).await;
    }

    for (what, samples) in [
        (
            "token revocation: from the call to A until B refuses",
            &mut revocations,
        ),
        ("token revocation: A's answer", &mut revocations_answered),
        (
            "agent quarantine: from the call to A until B refuses",
            &mut quarantines,
        ),
        ("agent quarantine: A's answer", &mut quarantines_answered),
    ] {
        let [p50, p90, p99, max] = percentiles(samples);
        eprintln!(
            "propagation over {TRIALS} trials, {what}: p50 {p50:?} p90 {p90:?} p99 {p99:?} \
             max {max:?}"
        );
    }
    for (what, samples) in [
        ("revocation", &mut revocations),
        ("quarantine", &mut quarantines),
    ] {
        let [_, _, p99, _] = percentiles(samples);
        assert!(p99 <= Duration::from_millis(100), "{what} p99 {p99:?}");
    }
    drop((a, b));
    drop_schema(&schema);
}

/// Applies replica A's policy files on A; the version put in force.
async fn apply_on(example: &Path, replica: &Replica) -> String {
    let body = serde_json::json!({ "message": "trial" });
    let applied = control(example, replica, Method::POST, "/v1/policies/apply", body).await;
    assert_eq!(applied["changed"], true, "{applied}");
    applied["version"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_set_applied_on_one_replica_is_in_force_on_another_within_moments() {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("policy_follow"))
    else {
        return;
    };
    const TRIALS: usize = 60;
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("calls = 500, writes = 50", "calls = 100000, writes = 50")
    });
    // A reads its own copy of the policies: what B puts in force can only come from A
    // through the database, never from B's files (which stay as they were).
    let own = example.join("policies-a");
    std::fs::create_dir_all(&own).unwrap();
    for entry in std::fs::read_dir(example.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, own.join(path.file_name().unwrap())).unwrap();
    }
    let tool = start_tool(&example).await;
    let a = replica_with(&example, "a", &store, tool, |text| {
        // Its own watcher off: every change on A is the operator's `apply`.
        text.replace("dir = \"policies\"", "dir = \"policies-a\"\nwatch_ms = 0")
    })
    .await;
    let b = replica(&example, "b", &store, tool).await;
    let auth = credential(&example, &a, "wf-policy-follow").await;
    assert_eq!(read_ticket(&b, &auth).await, 200);

    let stop = own.join("stop.cedar");
    // A new text every trial, which neither replica has built before: each apply parses
    // and validates the changed file. Even trials forbid listing, odd ones forbid
    // escalating instead, which lets listing through again.
    let forbid = |n: usize, intent: &str| {
        format!(
            "// trial {n}\n@id(\"no-{intent}\")\nforbid (principal, action == \
             Gatehouse::Action::\"{intent}\", resource);\n"
        )
    };
    let (mut samples, mut answered_samples) = (Vec::new(), Vec::new());
    for n in 0..TRIALS {
        let (expect, intent) = if n % 2 == 0 {
            (403, "ticket.list")
        } else {
            (200, "ticket.escalate")
        };
        std::fs::write(&stop, forbid(n, intent)).unwrap();
        let apply = apply_on(&example, &a);
        let (decided_in, answered_in, _) = propagation(apply, &b, &auth, expect).await;
        samples.push(decided_in);
        answered_samples.push(answered_in);
    }
    // End with the forbid in force (B's own files have none), then leave B's file
    // watcher (1 s) time to look twice: it must not put B's files back in force.
    std::fs::write(&stop, forbid(TRIALS, "ticket.list")).unwrap();
    let last = apply_on(&example, &a).await;
    until_status(&b, &auth, 403, Instant::now()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(read_ticket(&b, &auth).await, 403);
    let listing = control(
        &example,
        &b,
        Method::GET,
        "/v1/policies",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(listing["in_force"], last.as_str(), "{listing}");
    // B's log says whose set it follows: a `policy.reload` event of method FOLLOW.
    let events = control(
        &example,
        &b,
        Method::GET,
        "/v1/events?intent=policy.reload&limit=1000",
        serde_json::Value::Null,
    )
    .await;
    let followed = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["method"] == "FOLLOW" && event["outcome"] == "allow")
        .count();
    assert!(followed >= TRIALS, "{followed} followed, {events}");

    for (what, samples) in [
        ("from the call to A until B decides anew", &mut samples),
        ("A's answer", &mut answered_samples),
    ] {
        let [p50, p90, p99, max] = percentiles(samples);
        eprintln!(
            "policy apply over {TRIALS} trials, {what}: p50 {p50:?} p90 {p90:?} p99 {p99:?} \
             max {max:?}"
        );
    }
    let [_, _, p99, _] = percentiles(&mut samples);
    assert!(p99 <= Duration::from_millis(100), "policy p99 {p99:?}");
    drop((a, b));
    drop_schema(&schema);
}

/// Pending approvals listed on `replica`'s control plane, newest first.
async fn pending_on(example: &Path, replica: &Replica) -> Vec<String> {
    let listing = control(
        example,
        replica,
        Method::GET,
        "/v1/approvals?status=pending",
        serde_json::Value::Null,
    )
    .await;
    listing["approvals"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|approval| approval["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_on_one_replica_answers_a_call_held_on_another_and_a_killed_replicas_parked_call_runs_once()
 {
    let Some((store, schema)) = tokio::task::block_in_place(|| database_named("approvals_held"))
    else {
        return;
    };
    let (_dir, example) = example();
    crate::rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            r#"intent = "ticket.list", data_class = "internal" }"#,
            r#"intent = "ticket.list", data_class = "internal", tier = "high" }"#,
        )
    });
    let (upstream, seen) = counting_upstream().await;
    let a = replica(&example, "a", &store, upstream).await;
    let b = replica(&example, "b", &store, upstream).await;
    let auth = credential(&example, &a, "wf-held").await;

    // The agent waits on B (`Prefer: wait`); an operator approves on A. B hears of it
    // through the database, well before its wait would have run out.
    let held = {
        let (url, auth) = (format!("{}/tools/tickets/tickets", b.data), auth.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = send(
                Method::GET,
                &url,
                &[("authorization", &auth), ("prefer", "wait=20")],
                "",
            )
            .await
            .unwrap();
            (reply, started)
        })
    };
    let id = loop {
        if let Some(id) = pending_on(&example, &a).await.into_iter().next() {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let approved_at = Instant::now();
    assert_eq!(approve_on(&example, &a, &id).await, 200);
    let (reply, _) = held.await.unwrap();
    let waited = approved_at.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("\"id\":1"), "{}", reply.text());
    eprintln!("approved on A, the call held on B answered after {waited:?}");
    assert!(
        waited < Duration::from_secs(3),
        "B answered after {waited:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "the approved call ran once");

    // A third replica parks a call and is killed (SIGKILL); approved on A, the agent
    // fetches the executed call through B, and the tool got it exactly once.
    let c = replica(&example, "c", &store, upstream).await;
    let id = park(&c, &auth).await;
    drop(c);
    assert_eq!(approve_on(&example, &a, &id).await, 200);
    let poll = format!("{}/v1/approvals/{id}", b.data);
    let mut answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
        .await
        .unwrap();
    for _ in 0..250 {
        if answer.status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
            .await
            .unwrap();
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.text().contains("\"id\":1"), "{}", answer.text());
    // Polled again through A and B, approved again on B: nothing runs a second time.
    assert_eq!(approve_on(&example, &b, &id).await, 409);
    for replica in [&a, &b] {
        let again = send(
            Method::GET,
            &format!("{}/v1/approvals/{id}", replica.data),
            &[("authorization", &auth)],
            "",
        )
        .await
        .unwrap();
        assert_eq!(again.status, 200, "{}", again.text());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "each approved call reached the tool exactly once"
    );
    drop((a, b));
    drop_schema(&schema);
}
