//! `checker check`: evaluate every contract against a fleet.

use super::{
    ContractArgs, Ctx, FleetArgs, ReportArgs, release_at_exit, warn_failed_regions,
    warn_unseen_reads,
};
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
    /// A snapshot of a healthy day: a consumer that selected instances then and selects none
    /// now has lost its input, an error (input-lost).
    #[arg(long, value_name = "SNAPSHOT")]
    baseline: Option<std::path::PathBuf>,
    #[command(flatten)]
    report: ReportArgs,
}

/// Reads the fleet, evaluates, renders.
pub fn run(a: &Args, ctx: &Ctx) -> Result<ExitStatus> {
    a.report.out.check()?;
    let set = a.contracts.load()?;
    // Read the baseline before any (possibly long) scan: a bad file fails fast.
    let baseline = a
        .baseline
        .as_deref()
        .map(checker::snapshot::read)
        .transpose()?;
    let from = a.fleet.source()?;
    let now = a.report.now.unwrap_or_else(Utc::now);
    // Only the evaluation is needed: a live fleet is evaluated as it is read, page by page, and
    // no record is kept (a baseline needs only what each consumer selected: its tallies).
    let set = std::sync::Arc::new(set);
    let (source, ev) = checker::eval::read_evaluated(from.as_ref(), &set, now)?;
    warn_failed_regions(&source);
    warn_unseen_reads(&ev.unseen);
    let t = std::time::Instant::now();
    let lost = baseline
        .map(|b| checker::snapshot::lost_input_findings(&set, &b, &ev))
        .unwrap_or_default();
    let report =
        checker::eval::report_of("check", &set, ev, source, lost, a.report.judgement(), now);
    let status = a.report.finish(&report, ctx)?;
    tracing::info!(
        ms = t.elapsed().as_millis() as u64,
        since_start_ms = checker::build::started().elapsed().as_millis() as u64,
        "report written"
    );
    release_at_exit((set, report));
    Ok(status)
}
