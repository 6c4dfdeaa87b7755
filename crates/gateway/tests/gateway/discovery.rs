//! MCP authorization discovery: a 401 at `/mcp/{server}` names the resource's metadata
//! (RFC 9728), which names Gatehouse as the authorization server, whose metadata
//! (RFC 8414) names the token endpoint.

use gatehouse_kit::client::send;
use http::Method;

use crate::harness::Harness;

#[tokio::test]
async fn a_401_at_an_mcp_server_leads_an_sdk_to_the_token_endpoint() {
    let harness = Harness::start().await;
    let host = harness.gateway().data_addr().to_string();
    let base = format!("http://{host}");
    let reply = send(
        Method::POST,
        &harness.data_url("/mcp/helpdesk"),
        &[("host", &host), ("content-type", "application/json")],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 401);
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/mcp/helpdesk");
    assert_eq!(
        reply.headers["www-authenticate"],
        format!("Bearer realm=\"gatehouse\", resource_metadata=\"{metadata_url}\"").as_str()
    );
    assert_eq!(
        reply.json().unwrap()["type"],
        "urn:gatehouse:problem:unauthenticated",
        "the problem document is still there"
    );

    let resource = send(Method::GET, &metadata_url, &[("host", &host)], "")
        .await
        .unwrap();
    assert_eq!(resource.status, 200, "{}", resource.text());
    let resource = resource.json().unwrap();
    assert_eq!(resource["resource"], format!("{base}/mcp/helpdesk"));
    assert_eq!(resource["authorization_servers"][0], base.as_str());
    assert_eq!(resource["bearer_methods_supported"][0], "header");

    let server_url = format!("{base}/.well-known/oauth-authorization-server");
    let server = send(Method::GET, &server_url, &[("host", &host)], "")
        .await
        .unwrap();
    assert_eq!(server.status, 200);
    let server = server.json().unwrap();
    assert_eq!(server["issuer"], base.as_str());
    assert_eq!(server["token_endpoint"], format!("{base}/v1/token"));
    assert_eq!(server["jwks_uri"], format!("{base}/v1/jwks.json"));
}

#[tokio::test]
async fn discovery_answers_loopback_names_only_on_a_loopback_listener() {
    let harness = Harness::start().await;
    let url = harness.data_url("/.well-known/oauth-authorization-server");
    let reply = send(Method::GET, &url, &[("host", "evil.example")], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.text());
    let url = harness.data_url("/.well-known/oauth-protected-resource/tools/tickets");
    let host = harness.gateway().data_addr().to_string();
    let reply = send(Method::GET, &url, &[("host", &host)], "")
        .await
        .unwrap();
    assert_eq!(reply.status, 404, "only MCP servers are described");
}
