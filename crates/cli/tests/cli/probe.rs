//! `gatehouse policy check --probe`: each MCP server asked what it offers, and every
//! configured tool it does not offer, or server that cannot start, reported.

use std::process::Output;
use std::sync::Arc;

use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::example_mcp::ExampleMcp;

use crate::{example, gatehouse, rewrite};

/// The quickstart's example MCP server, on a free port; its address.
async fn start_helpdesk(example: &std::path::Path) -> std::net::SocketAddr {
    let secret = std::fs::read_to_string(example.join("secrets/helpdesk.secret")).unwrap();
    let server = Arc::new(ExampleMcp::new(Some(secret.trim())));
    let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
        let server = Arc::clone(&server);
        async move { server.handle(request).await }
    })
    .await
    .unwrap();
    std::mem::forget(stop);
    addr
}

fn check_probe(example: &std::path::Path) -> Output {
    let config = example.join("gatehouse.toml");
    gatehouse(&[
        "policy",
        "check",
        "--probe",
        "--config",
        config.to_str().unwrap(),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_server_offers_every_configured_tool() {
    let (_dir, example) = example();
    let addr = start_helpdesk(&example).await;
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("127.0.0.1:8092", &addr.to_string())
    });
    let output = tokio::task::spawn_blocking(move || check_probe(&example))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("probe: 1 MCP servers offer every configured tool"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_not_offered_and_a_command_that_cannot_run_are_both_reported() {
    let (_dir, example) = example();
    let addr = start_helpdesk(&example).await;
    rewrite(&example.join("gatehouse.toml"), |text| {
        let text = text.replace("127.0.0.1:8092", &addr.to_string());
        let extra = "[mcp_servers.helpdesk.tools.close_ticket]\nargs = { id = \"long\" }\n\n\
             [mcp_servers.broken]\nsegment = \"data\"\ncommand = \"/nonexistent/mcp-server\"\n\
             timeout_ms = 3000\n\n[approvals]";
        text.replacen("[approvals]", extra, 1)
    });
    let output = tokio::task::spawn_blocking(move || check_probe(&example))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains(
            "mcp server `helpdesk`: tool `close_ticket` is configured but the server does not offer it"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("mcp server `broken`:"), "{stderr}");
}
