//! `kill -9` under load, again and again, on one data directory: a counting upstream
//! records every call it receives (its workflow and decision id), several clients call
//! tools as fast as they can, and the real `gatehouse` binary is killed at random points
//! and restarted. At the end no workflow has reached the upstream more often than its
//! budget allows, and every call the upstream received has its event in the store.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_gateway::body::full;
use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::client::{get_with_token, send};
use http::{Method, Response};
use rand::Rng;

use crate::{example, gatehouse, rewrite};

const AGENT: &str = "spiffe://acme/agent/triage-bot";
/// Calls per workflow: a lease slice is 4 calls.
const BUDGET: u64 = 64;
/// Writes per workflow, for the clients that write.
const WRITES: u64 = 16;
/// Bytes per workflow: the clients reading large tickets run out of these first.
const BYTES: u64 = 65_536;
/// The size of one large ticket.
const BIG: usize = 2048;
const KILLS: usize = 24;
const CLIENTS: usize = 6;

/// What the upstream received: per call its workflow, decision id and whether it wrote.
#[derive(Debug, Default)]
struct Received {
    calls: Mutex<Vec<(String, String, bool)>>,
}

/// What clients received: response body bytes per workflow, counted frame by frame.
type Delivered = Arc<Mutex<BTreeMap<String, u64>>>;

async fn counting_upstream() -> (SocketAddr, Arc<Received>) {
    let received = Arc::new(Received::default());
    let seen = Arc::clone(&received);
    let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
        let seen = Arc::clone(&seen);
        async move {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let write = request.method() == Method::POST;
            let call = (
                header("gatehouse-workflow"),
                header("gatehouse-decision-id"),
                write,
            );
            let body = if request.uri().path().starts_with("/tickets/") {
                vec![b't'; BIG]
            } else {
                b"[]".to_vec()
            };
            seen.calls.lock().unwrap().push(call);
            // Keep calls in flight for a moment, so kills land mid-call.
            let pause = rand::thread_rng().gen_range(0..4u64);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(full(body))
                .unwrap()
        }
    })
    .await
    .unwrap();
    std::mem::forget(stop);
    (addr, received)
}

struct Gateway {
    child: Child,
    control: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Points the example at the upstream, free ports and a small budget.
fn configure(example: &Path, upstream: SocketAddr) -> (u16, u16) {
    let (data, control) = (free_port(), free_port());
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("127.0.0.1:8080", &format!("127.0.0.1:{data}"))
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{control}"))
            .replace("http://127.0.0.1:8090", &format!("http://{upstream}"))
            .replace(
                "budget = { calls = 500, writes = 50, bytes = 10485760 }",
                &format!("budget = {{ calls = {BUDGET}, writes = {WRITES}, bytes = {BYTES} }}"),
            )
    });
    (data, control)
}

async fn start(config: &Path, ports: (u16, u16), log: &Path) -> Gateway {
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let gateway = Gateway {
        child,

        control: format!("http://127.0.0.1:{}", ports.1),
    };
    for _ in 0..400 {
        let health = format!("{}/healthz", gateway.control);
        if send(Method::GET, &health, &[], "").await.is_ok() {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "gatehouse serve did not come up: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A task credential for `workflow`, or `None` while the gateway is down.
async fn credential(key: &Path, data: &str, workflow: &str) -> Option<String> {
    let output = gatehouse(&[
        "agent",
        "assertion",
        "--key",
        key.to_str().unwrap(),
        "--agent",
        AGENT,
    ]);
    let assertion = String::from_utf8(output.stdout).unwrap();
    let body = format!(
        "assertion={}&workflow={workflow}&task_class=triage",
        assertion.trim()
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let reply = send(Method::POST, &format!("{data}/v1/token"), &form, body)
        .await
        .ok()?;
    let token = reply.json()?["access_token"].as_str()?.to_owned();
    Some(token)
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

/// What a client of each kind calls: the ticket list (tiny answers), a write every third
/// call, or a large ticket (2 KiB answers, so the byte budget runs out first).
fn request(number: usize, seq: u64, data: &str) -> (Method, String, &'static str) {
    match number % 3 {
        1 if seq.is_multiple_of(3) => (Method::POST, format!("{data}/tools/tickets/tickets"), "{}"),
        2 => (Method::GET, format!("{data}/tools/tickets/tickets/7"), ""),
        _ => (Method::GET, format!("{data}/tools/tickets/tickets"), ""),
    }
}

/// One call; the status and the response body bytes that arrived before it ended or
/// broke off.
async fn call(
    client: &Client,
    (method, url, body): (Method, String, &'static str),
    token: &str,
) -> Option<(u16, u64)> {
    use http_body_util::BodyExt;
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            body.as_bytes(),
        )))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), client.request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(5), body.frame()).await
    {
        bytes += frame.data_ref().map_or(0, |data| data.len() as u64);
    }
    Some((status, bytes))
}

/// One client: calls with its workflow until the budget refuses, then opens the next.
async fn client(
    number: usize,
    key: PathBuf,
    data: String,
    running: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    delivered: Delivered,
) {
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut generation = 0;
    let mut seq = 0;
    let mut token = None;
    while running.load(Ordering::Relaxed) {
        let workflow = format!("wf-{number}-{generation}");
        let Some(current) = token.clone() else {
            token = credential(&key, &data, &workflow).await;
            if token.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            continue;
        };
        seq += 1;
        match call(&client, request(number, seq, &data), &current).await {
            Some((429, _)) => {
                generation += 1;
                token = None;
            }
            Some((status, bytes)) => {
                // A refusal's problem document is not spending; a 200 cut short is.
                if status == 200 {
                    answered.fetch_add(1, Ordering::Relaxed);
                    *delivered.lock().unwrap().entry(workflow).or_default() += bytes;
                }
            }
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Opens workflow `wf-revoked-{number}`, makes one call, and revokes it; its credential
/// once the revocation was answered.
async fn revoke(
    key: &Path,
    data: &str,
    control: &str,
    operator: &str,
    number: usize,
) -> Option<String> {
    let workflow = format!("wf-revoked-{number}");
    let token = credential(key, data, &workflow).await?;
    let url = format!("{data}/tools/tickets/tickets");
    get_with_token(&url, &token).await.ok()?;
    let body = format!(r#"{{"kind":"workflow","subject":"{workflow}","reason":"crash test"}}"#);
    let authorization = format!("Bearer {operator}");
    let reply = send(
        Method::POST,
        &format!("{control}/v1/revocations"),
        &[
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
    .ok()?;
    assert_eq!(reply.status, 200, "{}", reply.text());
    Some(token)
}

/// Revocations a restart forgot: the credential works again, or the audit event is gone.
async fn forgotten(
    data: &str,
    control: &str,
    operator: &str,
    revoked: &[(String, String)],
) -> usize {
    let url = format!("{data}/tools/tickets/tickets");
    let mut forgotten = 0;
    for (workflow, token) in revoked {
        let reply = get_with_token(&url, token).await.unwrap();
        let events = events_of(control, operator, workflow).await;
        let audited = events
            .iter()
            .filter(|(_, reason)| reason.contains("crash test"))
            .count();
        if reply.status != 401 || audited != 1 {
            eprintln!(
                "forgotten revocation of {workflow}: the call answered {}, {audited} audit events: {events:?}",
                reply.status
            );
            forgotten += 1;
        }
    }
    forgotten
}

/// Every event of `workflow`, by id, with its reason.
async fn events_of(control: &str, operator: &str, workflow: &str) -> Vec<(String, String)> {
    let url = format!("{control}/v1/events?workflow={workflow}&limit=1000");
    let reply = get_with_token(&url, operator).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json().unwrap();
    let events = json["events"]
        .as_array()
        .or(json.as_array())
        .unwrap()
        .clone();
    events
        .iter()
        .map(|event| {
            (
                event["id"].as_str().unwrap_or("").to_owned(),
                event["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_never_overspends_a_budget_or_loses_an_event() {
    let started = Instant::now();
    let (_dir, example) = example();
    let (upstream, received) = counting_upstream().await;
    let ports = configure(&example, upstream);
    let config = example.join("gatehouse.toml");
    let log = example.join("stderr.log");
    let key = example.join("keys/triage-bot.key");
    let operator = std::fs::read_to_string(example.join("operator.token")).unwrap();
    let operator = operator.trim();
    let running = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicU64::new(0));
    let delivered = Delivered::default();
    let data = format!("http://127.0.0.1:{}", ports.0);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| {
            tokio::spawn(client(
                number,
                key.clone(),
                data.clone(),
                Arc::clone(&running),
                Arc::clone(&answered),
                Arc::clone(&delivered),
            ))
        })
        .collect();
    let mut revoked = Vec::new();
    for kill in 0..KILLS {
        let mut gateway = start(&config, ports, &log).await;
        let under_load = rand::thread_rng().gen_range(30..250u64);
        tokio::time::sleep(Duration::from_millis(under_load)).await;
        // Every other cycle, a revocation answered, then the kill within 10 ms. (Not every
        // cycle: a revocation writes all workflows' usage, which would hide a lost one.)
        if kill.is_multiple_of(2)
            && let Some(token) = revoke(&key, &data, &gateway.control, operator, kill).await
        {
            revoked.push((format!("wf-revoked-{kill}"), token));
        }
        let after = rand::thread_rng().gen_range(0..10u64);
        tokio::time::sleep(Duration::from_millis(after)).await;
        gateway.child.kill().unwrap();
        gateway.child.wait().unwrap();
    }
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    // The last start records what the last kill left unrecorded.
    let gateway = start(&config, ports, &log).await;
    let calls = received.calls.lock().unwrap().clone();
    let mut per_workflow: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut writes: BTreeMap<String, u64> = BTreeMap::new();
    for (workflow, decision, write) in &calls {
        per_workflow
            .entry(workflow.clone())
            .or_default()
            .push(decision.clone());
        *writes.entry(workflow.clone()).or_default() += u64::from(*write);
    }
    let over = |spent: u64, limit: u64| spent.saturating_sub(limit);
    let overspent_calls: u64 = per_workflow
        .values()
        .map(|ids| over(ids.len() as u64, BUDGET))
        .sum();
    let overspent_writes: u64 = writes.values().map(|&spent| over(spent, WRITES)).sum();
    let delivered = delivered.lock().unwrap().clone();
    let overspent_bytes: u64 = delivered.values().map(|&spent| over(spent, BYTES)).sum();
    let overspend = overspent_calls + overspent_writes + overspent_bytes;
    let most_bytes = delivered.values().max().copied().unwrap_or(0);
    let written: u64 = writes.values().sum();
    let most = per_workflow.values().map(Vec::len).max().unwrap_or(0);
    let mut lost = Vec::new();
    let mut recovered = 0;
    let mut left = 0;
    for (workflow, ids) in &per_workflow {
        let mut events = Vec::new();
        for _ in 0..100 {
            events = events_of(&gateway.control, operator, workflow).await;
            let stored: HashSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
            if ids.iter().all(|id| stored.contains(id.as_str())) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stored: HashSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
        lost.extend(
            ids.iter()
                .filter(|id| !stored.contains(id.as_str()))
                .cloned(),
        );
        recovered += events
            .iter()
            .filter(|(_, reason)| reason.contains("stopped mid-call"))
            .count();
        left += events
            .iter()
            .filter(|(_, reason)| reason.contains("agent disconnected"))
            .count();
    }
    let revocations_forgotten = forgotten(&data, &gateway.control, operator, &revoked).await;
    println!(
        "kill -9 under load: kills {KILLS}, revocations answered then killed within 10 ms {}, \
         forgotten (call allowed or audit event missing) {revocations_forgotten}, calls received by the upstream {}, answered 200 {}, \
         workflows {} (budget {BUDGET} calls, {WRITES} writes, {BYTES} bytes each; most calls \
         one received {most}, writes received {written}, most response bytes one delivered \
         {most_bytes}), overspend {overspend} (calls {overspent_calls}, writes \
         {overspent_writes}, bytes {overspent_bytes}), events lost {}, \
         recorded at restart as stopped mid-call {recovered}, agent left mid-call {left}, \
         {:.1} s",
        revoked.len(),
        calls.len(),
        answered.load(Ordering::Relaxed),
        per_workflow.len(),
        lost.len(),
        started.elapsed().as_secs_f64(),
    );
    assert!(calls.len() > 200, "too little load to prove anything");
    assert_eq!(overspend, 0, "{per_workflow:?} {writes:?} {delivered:?}");
    assert!(
        written > 0 && most_bytes > BYTES / 2,
        "writes and bytes were not exercised"
    );
    assert!(lost.is_empty(), "calls without an event: {lost:?}");
    assert!(revoked.len() >= KILLS / 3, "too few revocations answered");
    assert_eq!(revocations_forgotten, 0);
    for workflow in per_workflow.keys() {
        assert!(
            !workflow.is_empty(),
            "a call reached the upstream without its workflow"
        );
    }
}
