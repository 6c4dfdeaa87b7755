use http_body_util::Full;

use super::*;

const SECRET: &str = "s3cret";

fn server() -> ExampleMcp {
    ExampleMcp::new(Some(SECRET))
}

/// The reply to `method` with `params`, through the JSON-RPC layer.
fn ask(server: &ExampleMcp, method: &str, params: Value) -> Value {
    let Value::Object(params) = params else {
        panic!("params must be an object");
    };
    server.answer(&Id::Number(1), method, &params)
}

fn call(server: &ExampleMcp, tool: &str, arguments: Value) -> Value {
    ask(
        server,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )["result"]
        .clone()
}

async fn post(
    server: &ExampleMcp,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(Method::POST).uri("/mcp");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = server.handle(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

const BEARER: (&str, &str) = ("authorization", "Bearer s3cret");

#[test]
fn initialize_answers_the_asked_revision_when_spoken_and_the_newest_otherwise() {
    let server = server();
    for (asked, answered) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
    ] {
        let reply = ask(
            &server,
            "initialize",
            json!({"protocolVersion": asked, "capabilities": {}}),
        );
        assert_eq!(reply["result"]["protocolVersion"], answered, "{asked}");
        assert_eq!(
            reply["result"]["capabilities"]["tools"]["listChanged"],
            false
        );
    }
    assert_eq!(ask(&server, "ping", json!({}))["result"], json!({}));
}

#[test]
fn the_four_tools_are_listed_with_object_schemas() {
    let reply = ask(&server(), "tools/list", json!({}));
    let tools = reply["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "create_ticket",
            "get_ticket",
            "search_tickets",
            "delete_ticket"
        ]
    );
    for tool in tools {
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{tool}");
        for required in schema["required"].as_array().unwrap() {
            assert!(
                schema["properties"]
                    .get(required.as_str().unwrap())
                    .is_some(),
                "{tool}"
            );
        }
    }
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["query"]));
    assert_eq!(tools[3]["annotations"]["destructiveHint"], true);
}

#[test]
fn tickets_are_created_read_searched_and_deleted() {
    let server = server();
    let created = call(&server, "create_ticket", json!({"title": "Disk full"}));
    assert_eq!(created["isError"], false);
    assert_eq!(
        created["structuredContent"],
        json!({"id": 1, "title": "Disk full", "status": "open"})
    );
    let text: Value =
        serde_json::from_str(created["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, created["structuredContent"]);
    call(&server, "create_ticket", json!({"title": "disk slow"}));
    call(&server, "create_ticket", json!({"title": "printer"}));

    let read = call(&server, "get_ticket", json!({"id": 2}));
    assert_eq!(read["structuredContent"]["title"], "disk slow");
    assert_eq!(
        call(&server, "get_ticket", json!({"id": 0}))["structuredContent"]["title"],
        "example"
    );

    let found = call(&server, "search_tickets", json!({"query": "DISK"}));
    assert_eq!(
        found["structuredContent"]["tickets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let limited = call(&server, "search_tickets", json!({"query": "", "limit": 1}));
    assert_eq!(
        limited["structuredContent"]["tickets"],
        json!([{"id": 1, "title": "Disk full", "status": "open"}])
    );

    let deleted = call(&server, "delete_ticket", json!({"id": 1}));
    assert_eq!(deleted["structuredContent"], json!({"deleted": 1}));
    let gone = call(&server, "get_ticket", json!({"id": 1}));
    assert_eq!(
        (gone["isError"].clone(), gone["content"][0]["text"].clone()),
        (json!(true), json!("no ticket #1"))
    );
    assert_eq!(
        call(&server, "delete_ticket", json!({"id": 1}))["isError"],
        true
    );
}

#[test]
fn bad_arguments_are_tool_errors_and_unknown_names_are_protocol_errors() {
    let server = server();
    for (tool, arguments, why) in [
        ("create_ticket", json!({}), "`title` is required"),
        (
            "create_ticket",
            json!({"title": 7}),
            "`title` must be a string",
        ),
        (
            "create_ticket",
            json!({"title": " "}),
            "`title` must not be empty",
        ),
        (
            "create_ticket",
            json!({"title": "x", "owner": "me"}),
            "unexpected argument `owner`",
        ),
        (
            "get_ticket",
            json!({"id": "1"}),
            "`id` must be a non-negative integer",
        ),
        (
            "get_ticket",
            json!({"id": -1}),
            "`id` must be a non-negative integer",
        ),
        (
            "search_tickets",
            json!({"query": "x", "limit": 1.5}),
            "`limit` must be a non-negative integer",
        ),
        ("delete_ticket", json!({}), "`id` is required"),
    ] {
        let result = call(&server, tool, arguments);
        assert_eq!(result["isError"], true, "{tool}");
        assert_eq!(result["content"][0]["text"], why, "{tool}");
    }
    let unknown = ask(
        &server,
        "tools/call",
        json!({"name": "drop_tables", "arguments": {}}),
    );
    assert_eq!(unknown["error"]["code"], code::INVALID_PARAMS);
    assert_eq!(unknown["error"]["message"], "Unknown tool: drop_tables");
    let nameless = ask(&server, "tools/call", json!({"arguments": {}}));
    assert_eq!(nameless["error"]["code"], code::INVALID_PARAMS);
    let method = ask(&server, "resources/list", json!({}));
    assert_eq!(method["error"]["code"], code::METHOD_NOT_FOUND);
    assert_eq!(method["id"], 1);
}

#[tokio::test]
async fn requests_get_json_without_a_session_and_notifications_get_202() {
    let server = server();
    let init = r#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#;
    let (status, headers, body) = post(&server, &[BEARER], init).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(
        headers.get("mcp-session-id").is_none(),
        "stateless: no session"
    );
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["id"], "a");

    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (status, _, body) = post(&server, &[BEARER, (VERSION_HEADER, "2025-11-25")], note).await;
    assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, ""));
}

#[tokio::test]
async fn the_door_wants_the_secret_a_post_and_a_spoken_revision() {
    let server = server();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for auth in [None, Some("Bearer wrong"), Some("s3cret")] {
        let headers: Vec<(&str, &str)> = auth
            .map(|auth| ("authorization", auth))
            .into_iter()
            .collect();
        let (status, headers, _) = post(&server, &headers, ping).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    let get = Request::builder()
        .method(Method::GET)
        .header("authorization", "Bearer s3cret")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = server.handle(get).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");

    let (status, _, body) = post(&server, &[BEARER, (VERSION_HEADER, "2026-07-28")], ping).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unsupported mcp-protocol-version"), "{body}");
    let (status, _, body) = post(&server, &[BEARER], "{\"jsonrpc\":").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        code::PARSE_ERROR
    );
    let (status, _, _) = post(&server, &[BEARER], &"x".repeat(MAX_BODY + 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[test]
fn without_a_secret_every_caller_is_let_in() {
    let open = ExampleMcp::new(None);
    assert!(open.authorized(&HeaderMap::new()));
    assert!(!server().authorized(&HeaderMap::new()));
}
