//! `gatehouse store init`: makes sure the data directory has a sound store. Gatehouse
//! refuses to start on a damaged store, or with none where it ran before (an empty one
//! would forget every revocation); this verb is the explicit way to start a new one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_gateway::datadir::{self, Init};

use crate::Failure;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create the store if missing; move a damaged one aside and create a new, empty one;
    /// keep a sound one as it is.
    Init {
        /// The config file (its `gateway.data_dir` holds the store).
        #[arg(long, default_value = "gatehouse.toml")]
        config: PathBuf,
    },
}

pub(crate) fn run(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Init { config } => {
            let config = crate::serve::load_config(config)?;
            let outcome = init(&config.gateway.data_dir)?;
            crate::policy::println_out(&outcome);
            Ok(())
        }
    }
}

/// Initialises the store of `data_dir`; the line says what happened.
pub(crate) fn init(data_dir: &Path) -> Result<String, Failure> {
    let now = SystemClock.now().secs();
    let path = data_dir.join(datadir::STORE_FILE);
    let outcome = datadir::init(data_dir, now)
        .with_context(|| format!("cannot initialise the store `{}`", path.display()))?;
    Ok(match outcome {
        Init::Created => format!("created a new store `{}`", path.display()),
        Init::Kept => format!("the store `{}` is sound; kept it", path.display()),
        Init::Replaced { damaged } => format!(
            "moved the damaged store to `{}` and created a new, empty store `{}`",
            damaged.display(),
            path.display()
        ),
    })
}
