//! `gatehouse quickstart`: writes a complete example into DIR when it is absent (config,
//! policies, schema, agent key, tool secrets, operator token), then serves it with its
//! two bundled example tools and prints what to try.

mod files;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::config::{Config, Tool};
use gatehouse_gateway::example_tool::ExampleTool;
use gatehouse_gateway::server::spawn_server;

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
    let runtime = crate::runtime()?;
    runtime.block_on(serve_example(config, &args.dir))
}

async fn serve_example(config: Config, dir: &Path) -> Result<(), Failure> {
    let mut tools = Vec::new();
    for tool in config.tools.values() {
        tools.push(start_example_tool(tool).await?);
    }
    let gateway = start(config).await?;
    println_out(&files::what_to_try(
        dir,
        gateway.data_addr(),
        gateway.control_addr(),
    ));
    wait_for_signal().await;
    gateway.shutdown().await;
    for stop in tools {
        let _ = stop.send(true);
    }
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
