//! `gatehouse quickstart`: writes a complete example into DIR when it is absent (config,
//! policies, schema, agent key, tool secrets, operator token), then serves it with its
//! two bundled example tools and its example MCP server, and prints what to try.

mod files;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::config::{Config, McpServer, McpTransport, Tool};
use gatehouse_core::model::ToolName;
use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::example_mcp::ExampleMcp;
use gatehouse_kit::example_tool::ExampleTool;

use crate::Failure;
use crate::policy::println_out;
use crate::serve::{load_config, start, wait_for_signal};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the example lives; written only when absent.
    #[arg(long, default_value = "gatehouse-quickstart")]
    dir: PathBuf,
    /// Override the data-plane listener.
    #[arg(long)]
    data_listen: Option<SocketAddr>,
    /// Override the control-plane listener.
    #[arg(long)]
    control_listen: Option<SocketAddr>,
    /// Override where the example MCP server `helpdesk` listens (and the gateway finds it).
    #[arg(long)]
    mcp_listen: Option<SocketAddr>,
    /// Write the example and exit without serving.
    #[arg(long)]
    no_serve: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config_path = args.dir.join("gatehouse.toml");
    if config_path.exists() {
        println_out(&format!(
            "using the existing example in {}",
            args.dir.display()
        ));
    } else {
        files::write_example(&args.dir)
            .with_context(|| format!("cannot write the example into `{}`", args.dir.display()))?;
        println_out(&format!(
            "wrote a complete example into {}",
            args.dir.display()
        ));
    }
    if args.no_serve {
        return Ok(());
    }
    let mut config = load_config(&config_path)?;
    if let Some(addr) = args.data_listen {
        config.gateway.data_listen = addr;
    }
    if let Some(addr) = args.control_listen {
        config.gateway.control_listen = addr;
    }
    if let Some(addr) = args.mcp_listen {
        move_example_mcp(&mut config, addr)?;
    }
    let runtime = crate::runtime()?;
    runtime.block_on(serve_example(config, &args.dir))
}

async fn serve_example(config: Config, dir: &Path) -> Result<(), Failure> {
    let mut examples = Vec::new();
    for tool in config.tools.values() {
        examples.push(start_example_tool(tool).await?);
    }
    // Run as the example when the config still reaches `helpdesk` over HTTP.
    let helpdesk = config.mcp_servers.get(&ToolName::new(files::MCP_SERVER));
    let over_http = |server: &&McpServer| matches!(server.transport, McpTransport::Http { .. });
    if let Some(server) = helpdesk.filter(over_http) {
        examples.push(start_example_mcp(server).await?);
    }
    let mcp = helpdesk.is_some();
    let gateway = start(config).await?;
    println_out(&files::what_to_try(
        dir,
        gateway.data_addr(),
        gateway.control_addr(),
        mcp,
    ));
    wait_for_signal().await;
    gateway.shutdown().await;
    for stop in examples {
        let _ = stop.send(true);
    }
    Ok(())
}

/// Points the example MCP server's URL at `addr`, where it will then be started.
fn move_example_mcp(config: &mut Config, addr: SocketAddr) -> Result<(), Failure> {
    let server = config
        .mcp_servers
        .get_mut(&ToolName::new(files::MCP_SERVER))
        .and_then(|server| match &mut server.transport {
            McpTransport::Http { url, .. } => Some(url),
            McpTransport::Stdio(_) => None,
        });
    let Some(url) = server else {
        return Err(Failure::Other(anyhow::anyhow!(
            "--mcp-listen needs an HTTP `[mcp_servers.{}]` in the example's config",
            files::MCP_SERVER
        )));
    };
    url.authority = addr.to_string();
    Ok(())
}

/// Runs the bundled example service where the config says the tool lives.
async fn start_example_tool(tool: &Tool) -> anyhow::Result<tokio::sync::watch::Sender<bool>> {
    let addr: SocketAddr = tool.upstream.authority.parse().with_context(|| {
        format!(
            "tool `{}` must listen on an `ip:port` for the example",
            tool.name
        )
    })?;
    let secret = tool
        .auth
        .as_ref()
        .map(|auth| auth.secret.expose().to_owned());
    let example = Arc::new(ExampleTool::new(tool.name.as_str(), secret.as_deref()));
    let (_, stop, _) = spawn_server(addr, move |request| {
        let example = Arc::clone(&example);
        async move { example.handle(request).await }
    })
    .await
    .with_context(|| format!("cannot start the example tool `{}` on {addr}", tool.name))?;
    Ok(stop)
}

/// Runs the bundled example MCP server where the config says the server lives.
async fn start_example_mcp(server: &McpServer) -> anyhow::Result<tokio::sync::watch::Sender<bool>> {
    let McpTransport::Http { url, auth } = &server.transport else {
        anyhow::bail!(
            "MCP server `{}` must be reached over HTTP for the example",
            server.name
        );
    };
    let addr: SocketAddr = url.authority.parse().with_context(|| {
        format!(
            "MCP server `{}` must listen on an `ip:port` for the example",
            server.name
        )
    })?;
    let secret = auth.as_ref().map(|auth| auth.secret.expose().to_owned());
    let example = Arc::new(ExampleMcp::new(secret.as_deref()));
    let (_, stop, _) = spawn_server(addr, move |request| {
        let example = Arc::clone(&example);
        async move { example.handle(request).await }
    })
    .await
    .with_context(|| {
        format!(
            "cannot start the example MCP server `{}` on {addr}",
            server.name
        )
    })?;
    Ok(stop)
}
