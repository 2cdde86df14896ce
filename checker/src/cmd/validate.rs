//! `checker validate`: load and validate contracts, every problem at once.

use super::ContractArgs;
use checker::{ExitStatus, Result};

/// `checker validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
}

/// Prints what was loaded, or every problem (exit 2).
pub fn run(a: &Args) -> Result<ExitStatus> {
    let set = a.contracts.load()?;
    super::warn_unseen_reads(&checker::eval::typo_reads(&set));
    let clauses: usize = set.consumers.iter().map(|c| c.clauses.len()).sum();
    println!(
        "ok: {} files: {} provider manifest(s), {} consumer contract(s) with {} clauses, {} waiver(s)",
        set.files.len(),
        set.providers.len(),
        set.consumers.len(),
        clauses,
        set.waivers.len()
    );
    Ok(ExitStatus::Clean)
}
