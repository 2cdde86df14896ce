//! `checker diff`: what changed since a snapshot, and which consumers each change touches.

use super::{ContractArgs, Ctx, FleetArgs, OutputArgs, parse_time, warn_failed_regions};
use checker::report::{SourceInfo, SourceKind};
use checker::{Error, ExitStatus, Result};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// `checker diff`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes:\n  0  no change (or changes that break nothing, without --fail-on-drift)\n  1  a change breaks a consumer's contract (with --fail-on-drift: any change)\n  2  bad input: a missing, corrupt or newer-format snapshot, bad contracts\n  3  the source could not be read completely"
)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    /// The recorded snapshot to compare with.
    #[arg(long, value_name = "FILE")]
    snapshot: PathBuf,
    /// Compare with a second snapshot instead of a fleet (contracts cannot be evaluated then).
    #[arg(long, value_name = "FILE", conflicts_with = "fleet")]
    to: Option<PathBuf>,
    #[command(flatten)]
    fleet: FleetArgs,
    /// After showing the diff, write the new snapshot over --snapshot (atomically).
    #[arg(long)]
    update: bool,
    /// Any change fails (exit 1), not only breaking ones.
    #[arg(long)]
    fail_on_drift: bool,
    #[command(flatten)]
    out: OutputArgs,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

/// Diffs, optionally updates the snapshot, renders.
pub fn run(a: &Args, ctx: &Ctx) -> Result<ExitStatus> {
    a.out.check()?;
    let set = std::sync::Arc::new(a.contracts.load()?);
    // Read the snapshot before any (possibly long) scan.
    let old = checker::snapshot::read(&a.snapshot)?;
    let (new, groups, source) = match &a.to {
        Some(to) => (
            checker::snapshot::read(to)?,
            None,
            SourceInfo {
                kind: SourceKind::Snapshot,
                ..Default::default()
            },
        ),
        None => {
            // Folded as the source reads (a live fleet page by page): no record is kept.
            let (source, new, groups) = checker::snapshot::read_diffed(
                a.fleet.source()?.as_ref(),
                &set,
                &old,
                a.now.unwrap_or_else(Utc::now),
            )?;
            warn_failed_regions(&source);
            (new, Some(groups), source)
        }
    };
    let (mut report, new_text) = checker::snapshot::report(
        &set,
        (&a.snapshot, &old),
        new,
        groups.as_ref(),
        source,
        a.fail_on_drift,
    )?;
    if a.update {
        if report.exit_code == ExitStatus::Incomplete {
            eprintln!(
                "error: the source was read only in part; {} is left as it is",
                a.snapshot.display()
            );
        } else {
            checker::fsio::write_atomic(&a.snapshot, new_text.as_bytes()).map_err(|e| {
                Error::Incomplete(format!(
                    "cannot update {}: {e}; the previous snapshot is intact",
                    a.snapshot.display()
                ))
            })?;
            report.updated = true;
        }
    }
    let text = checker::render::diff(&report, a.out.format, a.out.color(ctx))?;
    a.out.write(&text)?;
    Ok(report.exit_code)
}
