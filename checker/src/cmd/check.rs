//! `checker check`: evaluate every contract against a fleet.

use super::{ContractArgs, Ctx, FleetArgs, ReportArgs, release_at_exit, warn_failed_regions};
use checker::{ExitStatus, Result};
use chrono::Utc;

/// `checker check`.
#[derive(Debug, clap::Args)]
#[command(after_help = checker::exit::HELP)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// Reads the fleet, evaluates, renders.
pub fn run(a: &Args, ctx: &Ctx) -> Result<ExitStatus> {
    a.report.out.check()?;
    let set = a.contracts.load()?;
    let fleet = checker::source::read(&a.fleet.source()?, &set)?;
    warn_failed_regions(&fleet.source);
    let t = std::time::Instant::now();
    let report = checker::eval::build(
        "check",
        &set,
        &fleet.instances,
        fleet.source.clone(),
        a.report.judgement(),
        a.report.now.unwrap_or_else(Utc::now),
    );
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "evaluated");
    let t = std::time::Instant::now();
    let status = a.report.finish(&report, ctx)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "report written");
    release_at_exit((set, fleet, report));
    Ok(status)
}
