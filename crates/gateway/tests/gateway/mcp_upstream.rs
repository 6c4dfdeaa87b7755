//! Gatehouse as an MCP client, against real servers: the reference servers over stdio
//! and Streamable HTTP (installed by `scripts/mcp-deps.sh`; their absence fails the
//! tests), a scripted HTTP server that records headers, and stdio scripts that crash,
//! hang, babble, ask questions back or report progress.

pub(crate) mod scripted;
pub(crate) mod servers;

use std::time::{Duration, Instant};

use gatehouse_core::config::Secret;
use gatehouse_gateway::mcp::jsonrpc::code;
use gatehouse_gateway::mcp_upstream::relay::RELAY_LIMIT;
use gatehouse_gateway::mcp_upstream::{Relay, UpstreamError};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use scripted::Scripted;
use servers::{
    HttpEverything, LONG, Setup, everything_js, filesystem_js, free_port, http, result_of, stdio,
    tool_names,
};

fn echo(message: &str) -> serde_json::Value {
    json!({"name": "echo", "arguments": {"message": message}})
}

#[tokio::test]
async fn stdio_everything_lists_echo_and_echoes_after_one_launch_and_one_handshake() {
    let setup = Setup::new(&[stdio("everything", "node", &[&everything_js()])]);
    let everything = setup.upstream("everything");
    assert_eq!(everything.launches(), 0, "launched before first use");
    let tools = result_of(&everything, "tools/list", json!({})).await;
    assert!(tool_names(&tools).contains(&"echo".to_owned()), "{tools}");
    let echoed = result_of(&everything, "tools/call", echo("through the gate")).await;
    assert_eq!(echoed["content"][0]["text"], "Echo: through the gate");
    let handshake = everything.connect(None, LONG).await.unwrap();
    assert_eq!(handshake.protocol_version, "2025-11-25");
    assert!(handshake.result["capabilities"]["tools"].is_object());
    assert_eq!((everything.launches(), everything.handshakes()), (1, 1));
    setup.upstreams.shutdown().await;
    let after = everything
        .request("tools/list", json!({}), None, LONG)
        .await;
    assert!(
        matches!(after, Err(UpstreamError::Unavailable(_))),
        "{after:?}"
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_launch_and_one_handshake() {
    let setup = Setup::new(&[stdio("everything", "node", &[&everything_js()])]);
    let everything = setup.upstream("everything");
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..6 {
        let everything = std::sync::Arc::clone(&everything);
        calls.spawn(async move {
            let message = format!("call {n}");
            let echoed = result_of(&everything, "tools/call", echo(&message)).await;
            assert_eq!(echoed["content"][0]["text"], format!("Echo: {message}"));
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
    assert_eq!((everything.launches(), everything.handshakes()), (1, 1));
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn the_servers_own_json_rpc_error_comes_back_as_its_error() {
    let setup = Setup::new(&[stdio("everything", "node", &[&everything_js()])]);
    let everything = setup.upstream("everything");
    let answer = everything
        .request("no/such/method", json!({}), None, LONG)
        .await;
    let error = answer.unwrap().unwrap_err();
    assert_eq!(error.code, code::METHOD_NOT_FOUND, "{error:?}");
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn stdio_filesystem_reads_a_file_in_its_directory() {
    let files = tempfile::tempdir().unwrap();
    let root = files.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.txt"), "the gate holds\n").unwrap();
    let root_text = root.to_string_lossy().into_owned();
    let setup = Setup::new(&[stdio("files", "node", &[&filesystem_js(), &root_text])]);
    let files_server = setup.upstream("files");
    let tools = tool_names(&result_of(&files_server, "tools/list", json!({})).await);
    let read = ["read_text_file", "read_file"]
        .into_iter()
        .find(|name| tools.iter().any(|tool| tool == name))
        .unwrap_or_else(|| panic!("no read tool in {tools:?}"));
    let path = root.join("notes.txt").to_string_lossy().into_owned();
    let arguments = json!({"name": read, "arguments": {"path": path}});
    let content = result_of(&files_server, "tools/call", arguments).await;
    assert_eq!(
        content["content"][0]["text"], "the gate holds\n",
        "{content}"
    );
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn http_everything_echoes_and_a_restarted_server_gets_a_new_session_transparently() {
    let port = free_port();
    let server = HttpEverything::start(port).await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let setup = Setup::new(&[http("web", addr, "")]);
    let web = setup.upstream("web");
    let echoed = result_of(&web, "tools/call", echo("one")).await;
    assert_eq!(echoed["content"][0]["text"], "Echo: one");

    server.stop().await;
    let down = web
        .request("tools/call", echo("lost"), None, Duration::from_secs(5))
        .await;
    assert!(
        matches!(down, Err(UpstreamError::Unavailable(_))),
        "{down:?}"
    );

    let server = HttpEverything::start(port).await;
    let echoed = result_of(&web, "tools/call", echo("two")).await;
    assert_eq!(echoed["content"][0]["text"], "Echo: two");
    assert_eq!(web.handshakes(), 2);
    setup.upstreams.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn http_requests_carry_the_secret_and_the_session_and_answers_stream_as_events() {
    let scripted = Scripted::start().await;
    let auth =
        r#"auth = { header = "x-api-key", prefix = "Key ", secret_file = "upstream.secret" }"#;
    let setup = Setup::with_limit(&[http("scripted", scripted.addr, auth)], 8192);
    let upstream = setup.upstream("scripted");
    let secret = Secret::new("current-secret".to_owned());
    let listed = upstream
        .request("tools/list", json!({}), Some(&secret), LONG)
        .await;
    assert_eq!(
        listed.unwrap().unwrap(),
        json!({"tools": [], "streamed": true})
    );

    let seen = scripted.seen();
    let (init, initialized, list) = (&seen[0], &seen[1], &seen[2]);
    assert_eq!(init.rpc_method(), Some("initialize"));
    assert_eq!(init.body["params"]["protocolVersion"], "2025-11-25");
    assert_eq!(init.header("mcp-session-id"), None);
    assert_eq!(init.header("mcp-protocol-version"), None);
    assert_eq!(initialized.rpc_method(), Some("notifications/initialized"));
    assert_eq!(list.rpc_method(), Some("tools/list"));
    for request in [init, initialized, list] {
        assert_eq!(request.header("x-api-key"), Some("Key current-secret"));
        assert_eq!(
            request.header("accept"),
            Some("application/json, text/event-stream")
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    for request in [initialized, list] {
        assert_eq!(request.header("mcp-session-id"), Some("s-1"));
        assert_eq!(request.header("mcp-protocol-version"), Some("2025-06-18"));
    }
    assert!(
        list.body["id"].is_i64(),
        "Gatehouse numbers its own requests"
    );

    // The server's own requests were answered, each in a POST of its own.
    let answers = wait_for(&scripted, 2, |seen| seen.body["id"].is_string()).await;
    let answer = |id: &str| answers.iter().find(|seen| seen.body["id"] == id).unwrap();
    assert_eq!(answer("ask-ping").body["result"], json!({}));
    assert_eq!(
        answer("ask-roots").body["error"]["code"],
        code::METHOD_NOT_FOUND
    );
    assert_eq!(answer("ask-ping").header("mcp-session-id"), Some("s-1"));

    // A server that forgot the session gets a new handshake and the request again.
    scripted.forget_sessions();
    let again = upstream
        .request("tools/list", json!({}), Some(&secret), LONG)
        .await;
    assert!(matches!(again, Ok(Ok(_))), "{again:?}");
    assert_eq!(upstream.handshakes(), 2);

    let big = upstream
        .request("big", json!({}), Some(&secret), LONG)
        .await;
    assert!(matches!(big, Err(UpstreamError::TooLarge)), "{big:?}");
    let silent = upstream
        .request("silent", json!({}), Some(&secret), LONG)
        .await;
    assert!(
        matches!(silent, Err(UpstreamError::Protocol(_))),
        "{silent:?}"
    );

    setup.upstreams.shutdown().await;
    let closed = scripted.seen().into_iter().last().unwrap();
    assert_eq!(closed.method, http::Method::DELETE);
    assert_eq!(closed.header("mcp-session-id"), Some("s-2"));
    assert_eq!(closed.header("x-api-key"), Some("Key current-secret"));
}

/// The requests matching `pick`, once there are `count` of them.
async fn wait_for(
    scripted: &Scripted,
    count: usize,
    pick: impl Fn(&scripted::Seen) -> bool,
) -> Vec<scripted::Seen> {
    for _ in 0..200 {
        let picked: Vec<_> = scripted.seen().into_iter().filter(&pick).collect();
        if picked.len() >= count {
            return picked;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {count} matching requests reached the server");
}

#[tokio::test]
async fn an_oversize_stdio_answer_fails_its_own_request_and_the_next_one_works() {
    let setup = Setup::with_limit(&[stdio("everything", "node", &[&everything_js()])], 8192);
    let everything = setup.upstream("everything");
    let big = everything
        .request("tools/call", echo(&"x".repeat(20_000)), None, LONG)
        .await;
    assert!(matches!(big, Err(UpstreamError::TooLarge)), "{big:?}");
    let echoed = result_of(&everything, "tools/call", echo("small")).await;
    assert_eq!(echoed["content"][0]["text"], "Echo: small");
    assert_eq!(everything.launches(), 1);
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn a_server_that_exits_at_once_is_unavailable_and_relaunched_under_back_off() {
    let setup = Setup::new(&[stdio("crashy", "sh", &["-c", "exit 3"])]);
    let crashy = setup.upstream("crashy");
    let started = Instant::now();
    for _ in 0..4 {
        let answer = crashy
            .request("tools/list", json!({}), None, Duration::from_secs(5))
            .await;
        assert!(
            matches!(answer, Err(UpstreamError::Unavailable(_))),
            "{answer:?}"
        );
    }
    // Launches 2, 3 and 4 waited 100, 200 and 400 ms.
    assert_eq!(crashy.launches(), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );

    // A request that cannot outlast the back-off fails at once, without a launch.
    let quick = Instant::now();
    let answer = crashy
        .request("tools/list", json!({}), None, Duration::from_millis(300))
        .await;
    match answer {
        Err(UpstreamError::Unavailable(why)) => assert!(why.contains("back-off"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(quick.elapsed() < Duration::from_millis(300));
    assert_eq!(crashy.launches(), 4);
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn a_missing_program_is_unavailable_not_a_panic() {
    let setup = Setup::new(&[stdio("ghost", "/nonexistent/mcp-server", &[])]);
    let ghost = setup.upstream("ghost");
    let answer = ghost
        .request("tools/list", json!({}), None, Duration::from_secs(5))
        .await;
    match answer {
        Err(UpstreamError::Unavailable(why)) => assert!(why.contains("cannot launch"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn garbage_and_unknown_ids_on_stdout_are_dropped_and_a_hung_server_times_out() {
    let script =
        r#"echo 'not JSON at all'; echo '{"jsonrpc":"2.0","id":999,"result":{}}'; exec sleep 30"#;
    let setup = Setup::new(&[stdio("hung", "sh", &["-c", script])]);
    let hung = setup.upstream("hung");
    let started = Instant::now();
    let answer = hung
        .request("tools/list", json!({}), None, Duration::from_millis(500))
        .await;
    assert!(matches!(answer, Err(UpstreamError::Timeout)), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let stopping = Instant::now();
    setup.upstreams.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "shutdown waited {:?}",
        stopping.elapsed()
    );
}

/// A stdio server in a few lines of Node: answers `initialize` with `version`; on
/// `tools/list`, writes a log line, a notification and two requests of its own, and
/// answers only once both requests were answered, with the answers it got.
fn asking_server(version: &str) -> String {
    format!(
        r#"
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
const answers = {{}};
let waiting = null;
require('node:readline').createInterface({{ input: process.stdin }}).on('line', (line) => {{
  const message = JSON.parse(line);
  if (message.method === 'initialize') {{
    send({{ jsonrpc: '2.0', id: message.id, result: {{ protocolVersion: '{version}',
      capabilities: {{ tools: {{}} }}, serverInfo: {{ name: 'asker', version: '1' }} }} }});
  }} else if (message.method === 'tools/list') {{
    waiting = message.id;
    process.stdout.write('a log line that is not JSON\n');
    send({{ jsonrpc: '2.0', method: 'notifications/message', params: {{ level: 'info', data: 'hi' }} }});
    send({{ jsonrpc: '2.0', id: 'ask-ping', method: 'ping' }});
    send({{ jsonrpc: '2.0', id: 'ask-roots', method: 'roots/list' }});
  }} else if (message.id === 'ask-ping' || message.id === 'ask-roots') {{
    answers[message.id] = message;
    if (answers['ask-ping'] && answers['ask-roots']) {{
      send({{ jsonrpc: '2.0', id: waiting, result: {{ tools: [], answers }} }});
    }}
  }}
}});
"#
    )
}

#[tokio::test]
async fn requests_from_a_stdio_server_are_answered_so_it_does_not_hang() {
    let script = asking_server("2025-06-18");
    let setup = Setup::new(&[stdio("asker", "node", &["-e", &script])]);
    let asker = setup.upstream("asker");
    let listed = result_of(&asker, "tools/list", json!({})).await;
    assert_eq!(listed["answers"]["ask-ping"]["result"], json!({}));
    assert_eq!(
        listed["answers"]["ask-roots"]["error"]["code"],
        code::METHOD_NOT_FOUND
    );
    let handshake = asker.connect(None, LONG).await.unwrap();
    assert_eq!(handshake.protocol_version, "2025-06-18");
    setup.upstreams.shutdown().await;
}

#[tokio::test]
async fn a_server_answering_with_an_unknown_protocol_version_is_refused() {
    let script = asking_server("1999-01-01");
    let setup = Setup::new(&[stdio("ancient", "node", &["-e", &script])]);
    let ancient = setup.upstream("ancient");
    let answer = ancient.request("tools/list", json!({}), None, LONG).await;
    match answer {
        Err(UpstreamError::Protocol(why)) => assert!(why.contains("1999-01-01"), "{why}"),
        other => panic!("{other:?}"),
    }
    setup.upstreams.shutdown().await;
}

/// A stdio server that reports its `PATH` in its `tools/list` answer.
const PATH_REPORTER: &str = r#"
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  const result = message.method === 'initialize'
    ? { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'env', version: '1' } }
    : { tools: [], path: process.env.PATH ?? null };
  if (message.id !== undefined) {
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }) + '\n');
  }
});
"#;

#[tokio::test]
async fn a_stdio_server_does_not_inherit_variables_holding_upstream_secrets() {
    // PATH stands in for a secret variable: it is surely set. Node is named by its full
    // path, as the child has no PATH to find it by.
    let node = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .unwrap();
    let node = node.to_string_lossy();
    let keeper = r#"[tools.keeper]
url = "http://127.0.0.1:9"
segment = "data"
auth = { secret_env = "PATH" }
"#;
    let explicit = format!(
        "{}env = {{ PATH = \"/set/by/config\" }}\n",
        stdio("explicit", &node, &["-e", PATH_REPORTER])
    );
    let setup = Setup::new(&[
        keeper.to_owned(),
        stdio("inheriting", &node, &["-e", PATH_REPORTER]),
        explicit,
    ]);
    let inheriting = result_of(&setup.upstream("inheriting"), "tools/list", json!({})).await;
    assert_eq!(inheriting["path"], serde_json::Value::Null);
    let explicit = result_of(&setup.upstream("explicit"), "tools/list", json!({})).await;
    assert_eq!(explicit["path"], "/set/by/config");
    setup.upstreams.shutdown().await;
}

/// Everything a relay received so far.
fn relayed(receiver: &mut mpsc::Receiver<Value>) -> Vec<Value> {
    std::iter::from_fn(|| receiver.try_recv().ok()).collect()
}

#[tokio::test]
async fn an_http_requests_own_progress_and_wanted_log_messages_reach_its_relay() {
    let scripted = Scripted::start().await;
    let setup = Setup::new(&[http("scripted", scripted.addr, "")]);
    let upstream = setup.upstream("scripted");
    let (sender, mut receiver) = mpsc::channel(RELAY_LIMIT);
    let relay = Relay::new(sender).progress().logs_from("info");
    let answer = upstream
        .request_relaying("progress", json!({"x": 1}), None, LONG, Some(relay))
        .await
        .unwrap()
        .unwrap();
    // Gatehouse's own token went out, and only what belongs to it came back.
    let token = answer["seen"]["progressToken"].as_str().unwrap();
    assert!(token.starts_with("gatehouse-progress-"), "{answer}");
    let relayed = relayed(&mut receiver);
    assert_eq!(relayed.len(), 2, "{relayed:?}");
    assert_eq!(
        relayed[0],
        json!({"jsonrpc": "2.0", "method": "notifications/progress",
               "params": {"progressToken": token, "progress": 1}})
    );
    assert_eq!(relayed[1]["method"], "notifications/message");
    assert_eq!(relayed[1]["params"]["data"], "kept");

    // Without a relay, the same answer and no token.
    let plain = result_of(&upstream, "progress", json!({})).await;
    assert_eq!(plain, json!({"seen": null}));
    setup.upstreams.shutdown().await;
}

/// A stdio server that, for each `tools/call`, reports `count` progress steps with the
/// token it was sent, one with a token it was not, and a log message, then answers with
/// the `_meta` it received.
const PROGRESSING: &str = r#"
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method === 'initialize') {
    return send({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: message.params.protocolVersion,
      capabilities: { tools: {} }, serverInfo: { name: 'progressing', version: '1' } } });
  }
  if (message.method !== 'tools/call') return;
  const meta = message.params._meta;
  const token = meta && meta.progressToken;
  for (let progress = 0; progress < message.params.arguments.count; progress++) {
    send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress } });
  }
  send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'someone-else', progress: 0 } });
  send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'error', data: 'whose?' } });
  send({ jsonrpc: '2.0', id: message.id, result: { content: [], meta: meta === undefined ? null : meta } });
});
"#;

#[tokio::test]
async fn stdio_progress_reaches_the_relay_of_the_request_whose_token_it_carries_and_is_bounded() {
    let setup = Setup::new(&[stdio("progressing", "node", &["-e", PROGRESSING])]);
    let upstream = setup.upstream("progressing");
    let call = |count: usize| json!({"name": "count", "arguments": {"count": count}});
    let (three, mut to_three) = mpsc::channel(RELAY_LIMIT);
    let (five, mut to_five) = mpsc::channel(RELAY_LIMIT);
    // Log messages are asked for, but a stdio server's are tied to no request.
    let three = Relay::new(three).progress().logs_from("debug");
    let five = Relay::new(five).progress();
    let (first, second) = tokio::join!(
        upstream.request_relaying("tools/call", call(3), None, LONG, Some(three)),
        upstream.request_relaying("tools/call", call(5), None, LONG, Some(five)),
    );
    for (answer, receiver, count) in [(first, &mut to_three, 3), (second, &mut to_five, 5)] {
        let answer = answer.unwrap().unwrap();
        let token = answer["meta"]["progressToken"].as_str().unwrap().to_owned();
        let relayed = relayed(receiver);
        let progress: Vec<&Value> = relayed
            .iter()
            .map(|note| &note["params"]["progress"])
            .collect();
        assert_eq!(progress.len(), count, "{relayed:?}");
        assert!(
            relayed
                .iter()
                .all(|note| note["params"]["progressToken"] == token.as_str()),
            "{relayed:?}"
        );
    }

    let (flood, mut flooded) = mpsc::channel(RELAY_LIMIT);
    let answer = upstream
        .request_relaying(
            "tools/call",
            call(RELAY_LIMIT + 5),
            None,
            LONG,
            Some(Relay::new(flood).progress()),
        )
        .await;
    assert!(matches!(answer, Ok(Ok(_))), "{answer:?}");
    assert_eq!(relayed(&mut flooded).len(), RELAY_LIMIT);

    // Without a relay the server is sent no token at all.
    let plain = result_of(&upstream, "tools/call", call(2)).await;
    assert_eq!(plain["meta"], Value::Null);
    setup.upstreams.shutdown().await;
}
