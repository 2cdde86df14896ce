//! `checker cull`: terminate (or reboot) impaired instances within the cull contract's scope and
//! per-group budgets; a dry run unless `--apply`.

use super::{ContractArgs, FleetArgs, OutputArgs, parse_time, warn_failed_regions};
use checker::cull::{Action, Budget, CullSettings};
use checker::{Error, ExitStatus, Result};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// Cull options shared by `cull` and `hook`.
#[derive(Debug, Clone, clap::Args)]
pub struct CullOptions {
    /// Act: terminate (or reboot) the planned instances. Without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    /// What to do to impaired instances.
    #[arg(long, value_enum, default_value_t = ActionArg::Terminate)]
    pub action: ActionArg,
    /// Minutes an instance must have been impaired (earliest ImpairedSince) before it counts.
    #[arg(long, value_name = "MINUTES", default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..=525_600))]
    pub threshold_minutes: i64,
    /// Per group and budget window: at most this percent of the group (rounded up).
    #[arg(long, value_name = "PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_percent: u32,
    /// Per group and budget window: at most this many.
    #[arg(long, value_name = "N")]
    pub max_per_group: Option<usize>,
    /// The window budgets hold over, across runs (`30m`, `1h`; at most 1h): what earlier and
    /// concurrent runs culled in it counts, read back from the `checker:claim:<run>` tags EC2 keeps
    /// on terminated instances for about an hour.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_window)]
    pub budget_window: chrono::Duration,
    /// Leave a group alone while fewer than this many of its instances are healthy.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_healthy: usize,
    /// Also count scheduled retirement / system-reboot events as impairment.
    #[arg(long)]
    pub include_events: bool,
    /// The cull contract, when several consumer contracts have role cull.
    #[arg(long, value_name = "NAME")]
    pub cull_contract: Option<String>,
    /// Recorded `aws ec2 describe-instance-status --output json` for offline runs (with --fleet).
    #[arg(long, value_name = "FILE")]
    pub status: Option<PathBuf>,
    /// Append every action (JSON Lines, write-ahead: intent before each call, result after) to
    /// this file [default with --apply: checker-audit.jsonl; the hook: its artifacts].
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Instances per TerminateInstances/RebootInstances call.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub batch: usize,
}

/// Parses `--budget-window`: 1 minute to 1 hour.
fn parse_window(s: &str) -> std::result::Result<chrono::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e}: write e.g. 30m or 1h"))?;
    let max = checker::cull::budget::MAX_WINDOW_MINUTES;
    let d = chrono::Duration::from_std(d).map_err(|e| e.to_string())?;
    if d < chrono::Duration::minutes(1) || d > chrono::Duration::minutes(max) {
        return Err(format!(
            "the window is 1 minute to {max} minutes: EC2 lists terminated instances, and the claims tagged on them, for about an hour"
        ));
    }
    Ok(d)
}

/// What to do to the chosen instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ActionArg {
    /// TerminateInstances.
    Terminate,
    /// RebootInstances.
    Reboot,
}

impl CullOptions {
    /// `--now` with `--apply` is refused: claims carry the time they are made and budgets are
    /// counted against it, so they follow the machine's clock (a past `--now` would write claims
    /// the next run ignores and exceed the budget; a future one would hold culling back).
    pub fn refuse_now_with_apply(&self, now: Option<DateTime<Utc>>) -> Result<()> {
        if self.apply && now.is_some() {
            return Err(Error::usage(
                "--now cannot be used with --apply: claims and budgets follow this machine's clock (drop --now, or drop --apply for a dry run as of that time)",
            ));
        }
        Ok(())
    }

    /// The library's settings.
    pub fn settings(&self) -> CullSettings {
        CullSettings {
            apply: self.apply,
            action: match self.action {
                ActionArg::Terminate => Action::Terminate,
                ActionArg::Reboot => Action::Reboot,
            },
            threshold_minutes: self.threshold_minutes,
            budget: Budget {
                max_count: self.max_per_group,
                max_percent: self.max_percent,
                min_healthy: self.min_healthy,
            },
            include_events: self.include_events,
            cull_contract: self.cull_contract.clone(),
            audit_log: self.audit_log.clone(),
            batch: self.batch,
            budget_window: self.budget_window,
        }
    }
}

/// `checker cull`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes:\n  0  a plan was made (and applied with --apply); nothing refused\n  1  refused: the cull contract is broken (violated, or matches nothing while instances are impaired)\n  2  bad input\n  3  refused: partial data (a region failed), or an AWS error while acting"
)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    cull: CullOptions,
    #[command(flatten)]
    out: OutputArgs,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

/// Plans, applies when asked and allowed, renders the plan.
pub fn run(a: &Args) -> Result<ExitStatus> {
    a.out.check()?;
    let set = a.contracts.load()?;
    let mut opts = a.cull.settings();
    if opts.apply && opts.audit_log.is_none() {
        opts.audit_log = Some("checker-audit.jsonl".into());
    }
    checker::cull::cull_contract(&set, opts.cull_contract.as_deref())?;
    let from = a.fleet.choose(a.cull.status.clone())?.build();
    // A live source that cannot read health (Azure) cannot be culled, even as a plan.
    let caps = from.capabilities();
    if caps.scans_live
        && let Some(why) = caps.health.why_not()
    {
        return Err(Error::usage(format!("cull: {why}")));
    }
    // The source says whether it can act (recorded files cannot), in its own words.
    checker::cull::refuse_apply_unless_able(from.as_ref(), &opts)?;
    a.cull.refuse_now_with_apply(a.now)?;
    let now = a.now.unwrap_or_else(Utc::now);
    let rt = checker::source::runtime()?;
    rt.block_on(async {
        let mut g = checker::cull::gather_in_scope(&set, from.as_ref(), &opts, None).await?;
        for w in &g.warnings {
            eprintln!("warning: {w}");
        }
        warn_failed_regions(&g.source);
        let mut plan = checker::cull::make_plan(&set, &mut g, &opts, now)?;
        let mut status = plan.exit_status();
        if let Some(r) = &plan.refused {
            eprintln!("error: cull refused: {r}");
        }
        for s in &plan.suspect_claims {
            eprintln!("warning: {s}; it counts against the budget until it is removed");
        }
        if opts.apply
            && plan.refused.is_none()
            && let Some(actor) = &g.actor
        {
            match checker::cull::apply(
                &mut plan,
                actor.as_ref(),
                &opts,
                now,
                &checker::cull::stop_on_signal(),
            )
            .await
            {
                Ok(warnings) => warnings.iter().for_each(|w| eprintln!("warning: {w}")),
                Err(e) => {
                    eprintln!("{e}");
                    status = ExitStatus::Incomplete;
                }
            }
        }
        a.out.write(&checker::render::plan(&plan, a.out.format)?)?;
        Ok(status)
    })
}
