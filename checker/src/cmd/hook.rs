//! `checker hook`: the scheduled job (check + diff + cull), artifacts in a directory.

use super::cull::CullOptions;
use super::{ContractArgs, FleetArgs, parse_time};
use checker::hook::HookRequest;
use checker::{ExitStatus, Result};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// `checker hook`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes (the task's status):\n  0  all clean: contracts hold, no breaking drift, cull plan made\n  1  contract violations, a breaking change since the snapshot, or cull refused on a broken cull contract\n  2  bad input (contracts, snapshot) or no AWS credentials: not retried\n  3  incomplete: a region failed; nothing was culled\nArtifacts in --artifacts: report.json, report.html, summary.md, junit.xml, diff.json and diff.md (with --snapshot), cull-plan.json, audit.jsonl (with --apply)."
)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    cull: CullOptions,
    /// Snapshot to diff against (skipped when absent).
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// Where to write the artifacts.
    #[arg(long, value_name = "DIR")]
    artifacts: PathBuf,
    /// Skip culling (check and diff only).
    #[arg(long)]
    no_cull: bool,
    /// Read the AWS credentials from this Taskcluster secret, through the task's taskcluster
    /// proxy (TASKCLUSTER_PROXY_URL, default http://taskcluster). The secret holds
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN; the task needs
    /// the scope secrets:get:NAME. Without it, the default AWS credential chain.
    #[arg(long, value_name = "NAME")]
    aws_credentials_secret: Option<String>,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

/// Runs the hook and says where its artifacts are.
pub fn run(a: &Args) -> Result<ExitStatus> {
    a.cull.refuse_now_with_apply(a.now)?;
    let set = a.contracts.load()?;
    let mut from = a.fleet.choose(a.cull.status.clone())?;
    if let Some(name) = &a.aws_credentials_secret {
        from = from.with_aws_credentials(|| {
            checker::taskcluster::aws_credentials(&checker::taskcluster::proxy_url(), name)
        })?;
        tracing::info!(secret = %name, "AWS credentials read from the Taskcluster secret");
    }
    let req = HookRequest {
        from: from.build(),
        cull: a.cull.settings(),
        snapshot: a.snapshot.clone(),
        artifacts: a.artifacts.clone(),
        no_cull: a.no_cull,
        now: a.now.unwrap_or_else(Utc::now),
    };
    let out = checker::hook::run(&set, &req)?;
    for m in &out.messages {
        eprintln!("{m}");
    }
    eprintln!(
        "checker hook: artifacts in {} → exit {}",
        a.artifacts.display(),
        out.status
    );
    Ok(out.status)
}
