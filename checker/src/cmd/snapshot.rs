//! `checker snapshot`: a normalized, deterministic, secret-free summary of the fleet.

use super::{ContractArgs, FleetArgs, check_output, warn_failed_regions};
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
    let set = std::sync::Arc::new(a.contracts.load()?);
    // Folded as the source reads (a live fleet page by page): no record is kept.
    let (source, snapshot) = checker::snapshot::read_snapshot(a.fleet.source()?.as_ref(), &set)?;
    warn_failed_regions(&source);
    if source.incomplete() {
        return Err(Error::Incomplete(
            "the source was read only in part; a snapshot of partial data would look like a shrunken fleet, so none is written".into(),
        ));
    }
    let text = checker::snapshot::to_text(&snapshot)?;
    checker::fsio::write_output(&text, a.output.as_deref())?;
    Ok(ExitStatus::Clean)
}
