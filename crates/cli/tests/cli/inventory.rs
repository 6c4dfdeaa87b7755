//! `gatehouse inventory [suggest]` against a real `gatehouse serve`: the routes agents
//! can reach with the agents that used them, and the unmapped routes they asked for,
//! folded into templates that, pasted into the config, classify the same calls.

use gatehouse_kit::client::send;
use http::Method;

use crate::lifecycle::{AGENT, Served, credential, operator, serve, start_tool};
use crate::{example, rewrite};

fn ok_stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn call(
    served: &Served,
    token: &str,
    method: Method,
    path: &str,
) -> gatehouse_kit::client::Reply {
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets{path}", served.data);
    send(
        method,
        &url,
        &[("authorization", auth.as_str())],
        r#"{"title":"x"}"#,
    )
    .await
    .unwrap()
}

/// The inventory as JSON, once `calls` tool calls are recorded.
async fn inventory(example: &std::path::Path, served: &Served, calls: usize) -> serde_json::Value {
    let config = example.join("gatehouse.toml");
    for _ in 0..200 {
        let out = ok_stdout(&operator(
            example,
            served,
            &[
                "inventory",
                "--format",
                "json",
                "--config",
                config.to_str().unwrap(),
            ],
        ));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let recorded: u64 = json["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["calls"].as_u64().unwrap())
            .sum::<u64>()
            + json["unmapped"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["calls"].as_u64().unwrap())
                .sum::<u64>();
        if recorded as usize >= calls {
            return json;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let out = operator(example, served, &["events", "--json", "--limit", "20"]);
    panic!(
        "the calls were not recorded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unmapped_routes_are_listed_as_templates_whose_suggested_config_classifies_the_same_calls()
{
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-inventory").await;
    assert_eq!(
        call(&served, &token, Method::POST, "/tickets").await.status,
        201
    );
    for path in [
        "/orders/17",
        "/orders/18",
        "/orders/550e8400-e29b-41d4-a716-446655440000/items",
    ] {
        assert_eq!(
            call(&served, &token, Method::GET, path).await.status,
            404,
            "{path}"
        );
    }

    let json = inventory(&example, &served, 4).await;
    let create = json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["intent"] == "ticket.create")
        .unwrap();
    assert_eq!(create["calls"], 1);
    assert_eq!(create["agents"], serde_json::json!([AGENT]));
    assert_eq!(create["tier"], "low");
    let unmapped: Vec<(String, u64)> = json["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["path"].as_str().unwrap().to_owned(),
                row["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        unmapped,
        vec![
            ("/orders/{id}".to_owned(), 2),
            ("/orders/{id}/items".to_owned(), 1)
        ]
    );
    for format in ["table", "csv", "md"] {
        let config = example.join("gatehouse.toml");
        let out = ok_stdout(&operator(
            &example,
            &served,
            &[
                "inventory",
                "--format",
                format,
                "--config",
                config.to_str().unwrap(),
            ],
        ));
        assert!(
            out.contains("ticket.create") && out.contains("/orders/{id}"),
            "{format}: {out}"
        );
    }

    let config = example.join("gatehouse.toml");
    let suggested = ok_stdout(&operator(
        &example,
        &served,
        &["inventory", "suggest", "--config", config.to_str().unwrap()],
    ));
    assert!(
        suggested.contains(
            r#"{ method = "GET", path = "/orders/{id}", intent = "tickets.get_orders" },"#
        ),
        "{suggested}"
    );

    // Pasted into the tool's routes, the same calls are classified (and then refused
    // only because no task class carries the new intents yet).
    let (data, control) = (served.data.clone(), served.control.clone());
    drop(served);
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            "routes = [\n  { method = \"POST\", path = \"/tickets\"",
            &format!("routes = [\n{suggested}\n  {{ method = \"POST\", path = \"/tickets\""),
        )
        .replace(data.trim_start_matches("http://"), "127.0.0.1:8080")
        .replace(control.trim_start_matches("http://"), "127.0.0.1:8081")
        .replace(&format!("http://{tool}"), "http://127.0.0.1:8090")
    });
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-inventory-2").await;
    let reply = call(&served, &token, Method::GET, "/orders/19").await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(
        reply.json().unwrap()["type"],
        "urn:gatehouse:problem:out-of-scope"
    );
    // The inventory now lists the route, with the call it classified.
    let json = inventory(&example, &served, 5).await;
    let orders = json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["intent"] == "tickets.get_orders")
        .unwrap();
    assert_eq!(orders["path"], "/orders/{id}");
    assert_eq!(orders["calls"], 1);
}

fn unmapped_counts(json: &serde_json::Value) -> Vec<(String, String, u64, u64)> {
    json["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["method"].as_str().unwrap().to_owned(),
                row["path"].as_str().unwrap().to_owned(),
                row["calls"].as_u64().unwrap(),
                row["discovered"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discovering_tool_forwards_unmapped_calls_whose_suggested_routes_then_classify_them() {
    let (_dir, example) = example();
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            "[tools.tickets]\n",
            "[tools.tickets]\nenforce = false\ndiscover = true\n",
        )
    });
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-discover").await;
    // No route maps `/orders`: the tool itself answers each call.
    let created = call(&served, &token, Method::POST, "/orders").await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json().unwrap()["tool"], "tickets");
    assert_eq!(
        call(&served, &token, Method::GET, "/orders/1").await.status,
        200
    );
    let missing = call(&served, &token, Method::GET, "/orders/99").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json().unwrap()["error"],
        "not found",
        "{}",
        missing.text()
    );
    // Request hygiene still holds without a route.
    let smuggled = call(&served, &token, Method::GET, "/orders/1;x=y").await;
    assert_eq!(smuggled.status, 400, "{}", smuggled.text());

    let json = inventory(&example, &served, 3).await;
    assert_eq!(
        unmapped_counts(&json),
        vec![
            ("GET".to_owned(), "/orders/{id}".to_owned(), 2, 2),
            ("POST".to_owned(), "/orders".to_owned(), 1, 1),
        ]
    );
    let config = example.join("gatehouse.toml");
    let table = ok_stdout(&operator(
        &example,
        &served,
        &["inventory", "--config", config.to_str().unwrap()],
    ));
    assert!(
        table.contains("GET  /orders/{id}  2  2 discovered"),
        "{table}"
    );
    let suggested = ok_stdout(&operator(
        &example,
        &served,
        &["inventory", "suggest", "--config", config.to_str().unwrap()],
    ));
    assert!(
        suggested.contains(
            r#"{ method = "GET", path = "/orders/{id}", intent = "tickets.get_orders" },"#
        ) && suggested
            .contains(r#"{ method = "POST", path = "/orders", intent = "tickets.post_orders" },"#),
        "{suggested}"
    );

    // Pasted into the tool's routes (and the tool enforced again), the same calls are
    // classified: refused now only because no task class carries the new intents.
    let (data, control) = (served.data.clone(), served.control.clone());
    drop(served);
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("enforce = false\ndiscover = true\n", "")
            .replace(
                "routes = [\n  { method = \"POST\", path = \"/tickets\"",
                &format!("routes = [\n{suggested}\n  {{ method = \"POST\", path = \"/tickets\""),
            )
            .replace(data.trim_start_matches("http://"), "127.0.0.1:8080")
            .replace(control.trim_start_matches("http://"), "127.0.0.1:8081")
            .replace(&format!("http://{tool}"), "http://127.0.0.1:8090")
    });
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-discover-2").await;
    for (method, path) in [(Method::GET, "/orders/1"), (Method::POST, "/orders")] {
        let reply = call(&served, &token, method, path).await;
        assert_eq!(reply.status, 403, "{}", reply.text());
        assert_eq!(
            reply.json().unwrap()["type"],
            "urn:gatehouse:problem:out-of-scope"
        );
    }
    let json = inventory(&example, &served, 5).await;
    for intent in ["tickets.get_orders", "tickets.post_orders"] {
        let row = json["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["intent"] == intent)
            .unwrap();
        assert_eq!(row["calls"], 1, "{intent}");
    }
}
