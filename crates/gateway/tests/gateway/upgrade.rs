//! WebSocket upgrades (issue 13 item 2): refused unless the route opts in with
//! `upgrade = ["websocket"]`; with it, the handshake is decided like any call and the
//! tool then speaks WebSocket with the agent through Gatehouse. The tool here is a
//! hand-driven WebSocket server on a raw socket, recording what it received.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_core::refusal::RefusalKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::Harness;

/// RFC 6455's example key and the accept value it must produce.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What the tool received: its handshake's head, and the text of each frame.
#[derive(Default)]
struct Received {
    heads: Vec<String>,
    messages: Vec<String>,
}

/// A WebSocket tool: answers the handshake with `101`, then each text frame with
/// `echo: …`.
async fn websocket_tool() -> (SocketAddr, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let record = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                record.lock().unwrap().heads.push(head);
                let answer = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
                while let Some(text) = read_frame(&mut stream).await {
                    record.lock().unwrap().messages.push(text.clone());
                    stream
                        .write_all(&frame(&format!("echo: {text}"), false))
                        .await
                        .unwrap();
                }
            });
        }
    });
    (addr, received)
}

/// The bytes up to the blank line ending a message head.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream.read_u8().await.unwrap();
        head.push(byte);
    }
    String::from_utf8(head).unwrap()
}

/// One short text frame, masked as a client's must be; `None` at the end.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let first = stream.read_u8().await.ok()?;
    assert_eq!(first, 0x81, "a final text frame");
    let second = stream.read_u8().await.ok()?;
    let masked = second & 0x80 != 0;
    let mut mask = [0u8; 4];
    if masked {
        stream.read_exact(&mut mask).await.ok()?;
    }
    let mut payload = vec![0u8; usize::from(second & 0x7f)];
    stream.read_exact(&mut payload).await.ok()?;
    if masked {
        for (index, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[index % 4];
        }
    }
    Some(String::from_utf8(payload).unwrap())
}

/// A short text frame, masked (a client's) or not (a server's).
fn frame(text: &str, masked: bool) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let length = u8::try_from(text.len()).unwrap();
    assert!(length < 126);
    let mut bytes = vec![0x81, if masked { 0x80 | length } else { length }];
    if masked {
        bytes.extend_from_slice(&mask);
    }
    bytes.extend(text.bytes().enumerate().map(
        |(index, byte)| {
            if masked { byte ^ mask[index % 4] } else { byte }
        },
    ));
    bytes
}

/// The harness with its `dead` tool at `tool`, its route opting in when `opt_in`.
async fn harness(tool: SocketAddr, opt_in: bool) -> Harness {
    let route = r#"{ method = "GET", path = "/x", intent = "dead.read" }"#;
    let upgraded =
        r#"{ method = "GET", path = "/x", intent = "dead.read", upgrade = ["websocket"] }"#;
    let mut builder = Harness::builder().edit(
        "url = \"http://127.0.0.1:9\"",
        &format!("url = \"http://{tool}\""),
    );
    if opt_in {
        builder = builder.edit(route, upgraded);
    }
    builder.start().await
}

/// Sends the handshake through the data plane; the connection and the response head.
async fn handshake(harness: &Harness, token: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(harness.gateway().data_addr())
        .await
        .unwrap();
    let request = format!(
        "GET /tools/dead/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nGatehouse_Agent: someone-else\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream))
        .await
        .unwrap();
    (stream, head)
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn a_websocket_route_lets_the_upgrade_through_and_relays_frames_both_ways() {
    let (tool, received) = websocket_tool().await;
    let harness = harness(tool, true).await;
    let token = harness.token().await;
    let (mut stream, head) = handshake(&harness, &token).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        header(&head, "sec-websocket-accept"),
        Some(ACCEPT),
        "{head}"
    );
    let id = header(&head, "gatehouse-decision-id").unwrap().to_owned();

    stream.write_all(&frame("hello", true)).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut stream))
        .await
        .unwrap();
    assert_eq!(echoed.as_deref(), Some("echo: hello"));
    stream.write_all(&frame("again", true)).await.unwrap();
    assert_eq!(
        read_frame(&mut stream).await.as_deref(),
        Some("echo: again")
    );
    drop(stream);

    // What the tool received: the upgrade, the key, Gatehouse's own identity headers
    // and no agent credential or forged identity.
    let tool_head = received.lock().unwrap().heads[0].to_ascii_lowercase();
    assert!(tool_head.starts_with("get /x http/1.1\r\n"), "{tool_head}");
    assert!(
        tool_head.contains("\r\nupgrade: websocket\r\n"),
        "{tool_head}"
    );
    assert!(
        tool_head.contains("\r\nconnection: upgrade\r\n"),
        "{tool_head}"
    );
    assert!(tool_head.contains(&format!("sec-websocket-key: {}", KEY.to_ascii_lowercase())));
    assert!(
        tool_head.contains("\r\ngatehouse-agent: spiffe://"),
        "{tool_head}"
    );
    assert!(!tool_head.contains("someone-else"), "{tool_head}");
    assert!(!tool_head.contains("authorization"), "{tool_head}");
    assert_eq!(received.lock().unwrap().messages, ["hello", "again"]);

    // The event is recorded when the tunnel closes, with the bytes each way.
    let event = harness.event(&id).await;
    assert_eq!(event.status, 101);
    assert_eq!(event.bytes_out, 2 * 13, "two echo frames of 2 + 11 bytes");
    assert_eq!(event.bytes_in, 2 * 11, "two masked frames of 6 + 5 bytes");
    harness.stop().await;
}

#[tokio::test]
async fn without_the_opt_in_an_upgrade_is_refused_and_the_tool_sees_nothing() {
    let (tool, received) = websocket_tool().await;
    let harness = harness(tool, false).await;
    let token = harness.token().await;
    let (_stream, head) = handshake(&harness, &token).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let id = header(&head, "gatehouse-decision-id").unwrap().to_owned();
    let event = harness.event(&id).await;
    assert_eq!(event.refusal, Some(RefusalKind::UnsafeRequest));
    assert!(received.lock().unwrap().heads.is_empty());
    harness.stop().await;
}
