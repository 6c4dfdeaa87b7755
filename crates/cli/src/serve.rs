//! `gatehouse serve`: load the config strictly (exit 64 on any problem, before binding a
//! port), start the gateway, run until Ctrl-C or SIGTERM, then shut down gracefully.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_core::clock::SystemClock;
use gatehouse_core::config::{self, Config};
use gatehouse_gateway::{Gateway, StartError};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The config file.
    #[arg(long, default_value = "gatehouse.toml")]
    config: PathBuf,
    /// Initialise the store first (as `gatehouse store init`): create a missing one, or
    /// move a damaged one aside and start with a new, empty store.
    #[arg(long)]
    init: bool,
}

pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    let config = load_config(&args.config)?;
    if args.init {
        let outcome = crate::store::init(&config.gateway.data_dir)?;
        tracing::warn!("{outcome}");
    }
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let gateway = start(config).await?;
        wait_for_signal().await;
        tracing::info!("shutting down");
        gateway.shutdown().await;
        Ok(())
    })
}

/// Loads and resolves the config; every problem is listed, exit 64.
pub(crate) fn load_config(path: &Path) -> Result<Config, Failure> {
    config::load(path)
        .map_err(|errors| Failure::Config(format!("invalid configuration:\n{errors}")))
}

/// Starts the gateway; a policy that fails validation, or TLS files that do not load, are
/// config problems (exit 64).
pub(crate) async fn start(config: Config) -> Result<Gateway, Failure> {
    match Gateway::start(config, Arc::new(SystemClock)).await {
        Ok(gateway) => Ok(gateway),
        Err(StartError::Policy(errors)) => {
            Err(Failure::Config(format!("invalid policy:\n{errors}")))
        }
        // A certificate or key that does not load is a configuration problem too.
        Err(error @ StartError::Tls { .. }) => Err(Failure::Config(error.to_string())),
        Err(error) => Err(Failure::Other(
            anyhow::Error::new(error).context("cannot start the gateway"),
        )),
    }
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
