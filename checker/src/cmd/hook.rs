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
    after_help = "Exit codes (the task's status):\n  0  all clean: contracts hold, no breaking drift, cull plan made\n  1  contract violations, a breaking change since the snapshot, or cull refused on a broken cull contract\n  2  bad input (contracts, snapshot) or no AWS credentials: not retried\n  3  incomplete: a region failed; nothing was culled\nArtifacts in --artifacts: report.json, report.html, summary.md, junit.xml, diff.json, diff.md and diff.html (with --snapshot), cull-plan.json and cull-plan.html, audit.jsonl (with --apply), history.jsonl (this run's record after the previous ones: --history-from, --history-hook) and history.html (its consumer x run strip; `checker history`)."
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
    /// Skip culling (check and diff only). Without it, a missing or ambiguous cull contract
    /// (or --cull-contract naming none) fails before the fleet is read, with no artifact.
    #[arg(long)]
    no_cull: bool,
    /// Read the AWS credentials from this Taskcluster secret, through the task's taskcluster
    /// proxy (TASKCLUSTER_PROXY_URL, default http://taskcluster). The secret holds
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN; the task needs
    /// the scope secrets:get:NAME. Without it, the default AWS credential chain.
    #[arg(long, value_name = "NAME")]
    aws_credentials_secret: Option<String>,
    /// Read the previous run's history.jsonl from this directory (outside Taskcluster). The new
    /// history.jsonl (the previous records and this run's, the newest --history-keep) is written
    /// to --artifacts; a missing or corrupt previous history starts a new one, with a warning.
    #[arg(long, value_name = "DIR", conflicts_with = "history_hook")]
    history_from: Option<PathBuf>,
    /// Read the previous history from this hook's (HOOK_GROUP_ID/HOOK_ID) newest completed fire
    /// before this task (TASK_ID), through the taskcluster proxy: its artifact
    /// --history-artifact. Needs the scope hooks:list-last-fires:HOOK (and
    /// queue:get-artifact:NAME for a non-public artifact).
    #[arg(long, value_name = "HOOK")]
    history_hook: Option<String>,
    /// The previous run's history artifact name.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "public/checker/history.jsonl"
    )]
    history_artifact: String,
    /// History records kept (the newest).
    #[arg(long, value_name = "N", default_value_t = checker::history::DEFAULT_KEEP)]
    history_keep: usize,
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
        history: history_from(a),
        history_keep: a.history_keep,
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

/// Where the previous history is, from the flags.
fn history_from(a: &Args) -> checker::history::From {
    use checker::history::From;
    match (&a.history_from, &a.history_hook) {
        (Some(dir), _) => From::Dir(dir.clone()),
        (None, Some(hook)) => From::Taskcluster {
            proxy: checker::taskcluster::proxy_url(),
            hook: hook.clone(),
            task_id: std::env::var("TASK_ID")
                .ok()
                .filter(|s| !s.trim().is_empty()),
            artifact: a.history_artifact.clone(),
        },
        (None, None) => From::Nowhere,
    }
}
