//! `checker snapshot`: a normalized, deterministic, secret-free summary of the fleet.

use super::{ContractArgs, FleetArgs, check_output, release_at_exit, warn_failed_regions};
use checker::{Error, ExitStatus, Result};
use std::path::PathBuf;

/// `checker snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Write the snapshot here (atomically); default stdout.
    #[arg(long, value_name = "FILE", alias = "out")]
    output: Option<PathBuf>,
}

/// Refuses to write a snapshot of partial data: it would look like a shrunken fleet.
pub fn run(a: &Args) -> Result<ExitStatus> {
    check_output(a.output.as_deref())?;
    let set = a.contracts.load()?;
    let fleet = a.fleet.source()?.read(&set)?;
    warn_failed_regions(&fleet.source);
    if fleet.source.incomplete() {
        return Err(Error::Incomplete(
            "the source was read only in part; a snapshot of partial data would look like a shrunken fleet, so none is written".into(),
        ));
    }
    let text = checker::snapshot::to_text(&checker::snapshot::take(&set, &fleet.instances))?;
    release_at_exit(fleet);
    checker::fsio::write_output(&text, a.output.as_deref())?;
    Ok(ExitStatus::Clean)
}
