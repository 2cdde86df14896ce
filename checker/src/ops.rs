//! The fleet-acting commands: `checker cull` and `checker hook` (check + diff + cull in one
//! scheduled run, writing its artifacts). Both read the fleet and the status checks once, live
//! or from recorded files, then plan; only `--apply` touches EC2.

use crate::cli::{
    ContractArgs, FleetArgs, ReportArgs, build_report, connect, emit, live_source, load_contracts,
    print_diags, recorded_fleet, scan_logged, warn_failed_regions,
};
use crate::contract::ContractSet;
use crate::cull::{Action, Budget, Plan, PlanInput};
use crate::exit;
use crate::fleet::Instance;
use crate::render::Format;
use crate::report::{SourceInfo, SourcePart};
use chrono::{DateTime, Utc};
use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt};
use std::path::PathBuf;

/// Cull options shared by `cull` and `hook`.
#[derive(Debug, Clone, Args)]
pub struct CullOptions {
    /// Act: terminate (or reboot) the planned instances. Without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    /// What to do to impaired instances.
    #[arg(long, value_enum, default_value_t = Action::Terminate)]
    pub action: Action,
    /// Minutes an instance must have been impaired (earliest ImpairedSince) before it counts.
    #[arg(long, value_name = "MINUTES", default_value_t = 10)]
    pub threshold_minutes: i64,
    /// Per group and run: at most this percent of the group (rounded up).
    #[arg(long, value_name = "PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_percent: u32,
    /// Per group and run: at most this many.
    #[arg(long, value_name = "N")]
    pub max_per_group: Option<usize>,
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
    /// Append every action (JSON Lines) to this file.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Instances per TerminateInstances/RebootInstances call.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub batch: usize,
}

/// `checker cull`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes:\n  0  a plan was made (and applied with --apply); nothing refused\n  1  refused: the cull contract is broken (violated, or matches nothing while instances are impaired)\n  2  bad input\n  3  refused: partial data (a region failed), or an AWS error while acting"
)]
pub struct CullArgs {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    cull: CullOptions,
    /// Output format (json: the plan; human; markdown).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the plan here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = crate::cli::parse_time)]
    now: Option<DateTime<Utc>>,
}

/// `checker hook`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes (the task's status):\n  0  all clean: contracts hold, no breaking drift, cull plan made\n  1  contract violations, a breaking change since the snapshot, or cull refused on a broken cull contract\n  2  bad input (contracts, snapshot)\n  3  incomplete: a region failed; nothing was culled\nArtifacts in --artifacts: report.json, summary.md, junit.xml, diff.json and diff.md (with --snapshot), cull-plan.json, audit.jsonl (with --apply)."
)]
pub struct HookArgs {
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
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = crate::cli::parse_time)]
    now: Option<DateTime<Utc>>,
}

/// What one read of the fleet produced.
pub struct Gathered {
    /// The instances.
    pub fleet: Vec<Instance>,
    /// Where they came from.
    pub source: SourceInfo,
    /// Status checks, by region.
    pub statuses: Vec<(String, checker_ec2::RawStatus)>,
    /// The live connection, for acting.
    pub live: Option<checker_ec2::SdkConfig>,
}

async fn gather(
    set: &ContractSet,
    a: &FleetArgs,
    opts: &CullOptions,
    want_status: bool,
) -> Result<Gathered, i32> {
    if let Some((fleet, source)) = recorded_fleet(a, set)? {
        let statuses = match (&opts.status, want_status) {
            (Some(p), _) => crate::cull::read_status_file(p).map_err(|d| {
                print_diags(&d);
                exit::BAD_INPUT
            })?,
            (None, true) => {
                eprintln!(
                    "error: with recorded --fleet files, cull needs recorded status checks: pass --status FILE (aws ec2 describe-instance-status --output json)"
                );
                return Err(exit::BAD_INPUT);
            }
            (None, false) => Vec::new(),
        };
        return Ok(Gathered {
            fleet,
            source,
            statuses,
            live: None,
        });
    }
    let (sdk, regions) = connect(&a.aws).await?;
    let filters = crate::live::server_filters(set);
    let conditions = crate::cull::status_conditions(opts.include_events);
    let secrets = set.secret_policy();
    let (mut live, status_results) = {
        let scan = scan_logged(
            &sdk,
            &regions,
            &a.aws,
            &filters,
            set.reads_user_data(),
            &secrets,
        );
        let statuses = async {
            let clients: Vec<checker_ec2::RegionClient> = regions
                .iter()
                .map(|r| checker_ec2::RegionClient::new(&sdk, r, a.aws.concurrency))
                .collect();
            let mut jobs: FuturesUnordered<_> = clients
                .iter()
                .map(|c| async { (c.region.clone(), c.statuses(&conditions).await) })
                .collect();
            let mut out = Vec::new();
            while let Some(r) = jobs.next().await {
                out.push(r);
            }
            out
        };
        if want_status {
            tokio::join!(scan, statuses)
        } else {
            (scan.await, Vec::new())
        }
    };
    let mut statuses = Vec::new();
    for (region, r) in status_results {
        match r {
            Ok(list) => statuses.extend(list.into_iter().map(|s| (region.clone(), s))),
            Err(e) => {
                eprintln!("warning: status checks of region {region} could not be read: {e}");
                match live.parts.iter_mut().find(|p| p.name == region) {
                    Some(p) => {
                        p.status = "failed";
                        p.error = Some(format!("DescribeInstanceStatus: {e}"));
                    }
                    None => live.parts.push(SourcePart {
                        name: region.clone(),
                        status: "failed",
                        instances: 0,
                        error: Some(e.to_string()),
                        api_calls: None,
                        sequential_calls: None,
                    }),
                }
            }
        }
    }
    warn_failed_regions(&live.parts);
    let (fleet, source) = live_source(live);
    Ok(Gathered {
        fleet,
        source,
        statuses,
        live: Some(sdk),
    })
}

fn make_plan(
    set: &ContractSet,
    g: &Gathered,
    opts: &CullOptions,
    now: DateTime<Utc>,
) -> Result<Plan, String> {
    let contract = crate::cull::cull_contract(set, opts.cull_contract.as_deref())?;
    let (members, problems) = crate::cull::members(set, contract, &g.fleet);
    let input = PlanInput {
        contract: contract.name.clone(),
        members,
        impaired: crate::cull::impairments(&g.statuses, opts.include_events),
        partial_regions: g
            .source
            .parts
            .iter()
            .filter(|p| p.status != "ok")
            .map(|p| p.name.clone())
            .collect(),
        contract_problems: problems,
        now,
        threshold: chrono::Duration::minutes(opts.threshold_minutes),
        budget: Budget {
            max_count: opts.max_per_group,
            max_percent: opts.max_percent,
            min_healthy: opts.min_healthy,
        },
        action: opts.action,
    };
    Ok(crate::cull::plan(&input))
}

/// Acts on the plan; records each result in the plan and the audit log. Exit 3 on AWS errors.
async fn apply(
    plan: &mut Plan,
    sdk: &checker_ec2::SdkConfig,
    opts: &CullOptions,
    concurrency: usize,
    now: DateTime<Utc>,
) -> Result<(), String> {
    plan.dry_run = false;
    let mut by_region: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for e in plan.chosen() {
        by_region
            .entry(e.region.clone())
            .or_default()
            .push(e.instance.clone());
    }
    let mut errors = Vec::new();
    let run_id = format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), std::process::id());
    for (region, ids) in by_region {
        let client = checker_ec2::RegionClient::new(sdk, &region, concurrency);
        let results = match client
            .act(&ids, opts.action == Action::Reboot, opts.batch)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{region}: {e}"));
                continue;
            }
        };
        for r in results {
            if let Some(e) = plan.entries.iter_mut().find(|e| e.instance == r.id) {
                e.result = Some(r.state.clone());
                if let Some(log) = &opts.audit_log {
                    let line = serde_json::json!({
                        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "run": run_id,
                        "action": plan.action,
                        "instance": e.instance,
                        "region": e.region,
                        "group": e.group,
                        "reason": e.reason,
                        "impairedSince": e.impaired_since,
                        "result": r.state,
                        "contract": plan.contract,
                    });
                    if let Err(err) = crate::fsio::append_line(log, &line.to_string()) {
                        errors.push(format!(
                            "cannot append to the audit log {}: {err}",
                            log.display()
                        ));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn plan_exit(plan: &Plan) -> i32 {
    match plan.refusal_kind {
        Some("partial-data") => exit::INCOMPLETE,
        Some(_) => exit::VIOLATIONS,
        None => exit::CLEAN,
    }
}

/// Renders a plan.
pub fn render_plan(p: &Plan, format: Format) -> String {
    use std::fmt::Write as _;
    match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(p).unwrap_or_default()),
        Format::Junit => {
            use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
            let mut report = quick_junit::Report::new("checker cull");
            let mut suite = TestSuite::new(format!("cull contract {}", p.contract));
            let contract = match &p.refused {
                Some(r) => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(r.clone());
                    st
                }
                None => TestCaseStatus::success(),
            };
            suite.add_test_case(TestCase::new(
                "cull contract holds and the data is complete",
                contract,
            ));
            for g in &p.groups {
                let mut tc = TestCase::new(format!("group {}", g.group), TestCaseStatus::success());
                tc.set_system_out(format!(
                    "{} instances, {} impaired, budget {}, acting on {}, deferred {}",
                    g.size, g.impaired, g.allowed, g.acting, g.deferred
                ));
                suite.add_test_case(tc);
            }
            if p.dry_run {
                suite.add_property(quick_junit::Property::new("dry-run", "true"));
            }
            report.add_test_suite(suite);
            report.to_string().unwrap_or_default()
        }
        Format::Markdown => {
            let mut s = String::new();
            let mode = if p.dry_run { "dry run" } else { "applied" };
            let _ = writeln!(s, "## checker cull ({mode}, contract `{}`)\n", p.contract);
            if let Some(r) = &p.refused {
                let _ = writeln!(s, "**Refused**: {r}\n");
            }
            let _ = writeln!(
                s,
                "| group | size | impaired | allowed | acting | deferred |\n|---|---:|---:|---:|---:|---:|"
            );
            for g in &p.groups {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    g.group, g.size, g.impaired, g.allowed, g.acting, g.deferred
                );
            }
            let _ = writeln!(
                s,
                "\n| instance | region | group | decision | since | reason |\n|---|---|---|---|---|---|"
            );
            for e in &p.entries {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    e.instance,
                    e.region,
                    e.group.as_deref().unwrap_or(""),
                    e.decision,
                    e.impaired_since.as_deref().unwrap_or(""),
                    e.reason.replace('|', "\\|")
                );
            }
            s
        }
        Format::Human => {
            let mut s = String::new();
            let mode = if p.dry_run {
                "dry run: nothing is changed (--apply acts)"
            } else {
                "APPLIED"
            };
            let _ = writeln!(
                s,
                "checker cull, contract {}, action {:?}, threshold {} min: {mode}",
                p.contract, p.action, p.threshold_minutes
            );
            if let Some(r) = &p.refused {
                let _ = writeln!(s, "REFUSED: {r}");
            }
            for g in &p.groups {
                let _ = writeln!(
                    s,
                    "  group {}: {} instances, {} impaired, budget {}, acting on {}, deferred {}",
                    g.group, g.size, g.impaired, g.allowed, g.acting, g.deferred
                );
            }
            for e in &p.entries {
                let _ = writeln!(
                    s,
                    "  {:<16} {} {} [{}] since {}: {}{}",
                    e.decision,
                    e.instance,
                    e.region,
                    e.group.as_deref().unwrap_or("-"),
                    e.impaired_since.as_deref().unwrap_or("?"),
                    e.reason,
                    e.result
                        .as_ref()
                        .map(|r| format!(" → {r}"))
                        .unwrap_or_default()
                );
            }
            let acting = p.chosen().count();
            let _ = writeln!(
                s,
                "{} {acting} instance(s), {} impaired in all",
                if p.dry_run {
                    "would act on"
                } else {
                    "acted on"
                },
                p.entries.len()
            );
            s
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            exit::INCOMPLETE
        })
}

/// `checker cull`.
pub fn cull(a: &CullArgs) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Err(e) = crate::cull::cull_contract(&set, a.cull.cull_contract.as_deref()) {
        eprintln!("error: {e}");
        return exit::BAD_INPUT;
    }
    if a.cull.apply && !a.fleet.fleet.is_empty() {
        eprintln!(
            "error: --apply acts on live EC2; recorded --fleet files can only be planned (drop --apply)"
        );
        return exit::BAD_INPUT;
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let now = a.now.unwrap_or_else(Utc::now);
    rt.block_on(async {
        let g = match gather(&set, &a.fleet, &a.cull, true).await {
            Ok(g) => g,
            Err(c) => return c,
        };
        let mut plan = match make_plan(&set, &g, &a.cull, now) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::BAD_INPUT;
            }
        };
        let mut code = plan_exit(&plan);
        if let Some(r) = &plan.refused {
            eprintln!("error: cull refused: {r}");
        }
        if a.cull.apply
            && plan.refused.is_none()
            && let Some(sdk) = &g.live
            && let Err(e) = apply(&mut plan, sdk, &a.cull, a.fleet.aws.concurrency, now).await
        {
            eprintln!("error: {e}");
            code = exit::INCOMPLETE;
        }
        match emit(&render_plan(&plan, a.format), a.output.as_ref()) {
            Ok(()) => code,
            Err(c) => c,
        }
    })
}

/// `checker hook`: check + diff + cull, artifacts in a directory.
pub fn hook(a: &HookArgs) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let old = match a.snapshot.as_deref().map(crate::snapshot::read).transpose() {
        Ok(s) => s,
        Err(d) => {
            print_diags(&d);
            return exit::BAD_INPUT;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&a.artifacts) {
        eprintln!("error: cannot create {}: {e}", a.artifacts.display());
        return exit::INCOMPLETE;
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    let now = a.now.unwrap_or_else(Utc::now);
    let want_cull = !a.no_cull;
    rt.block_on(async {
        let g = match gather(
            &set,
            &a.fleet,
            &a.cull,
            want_cull && (a.fleet.fleet.is_empty() || a.cull.status.is_some()),
        )
        .await
        {
            Ok(g) => g,
            Err(c) => return c,
        };
        let dir = &a.artifacts;
        let mut codes = Vec::new();
        let mut summary = String::new();
        // Check.
        let args = ReportArgs {
            format: Format::Json,
            output: None,
            fail_on_warn: false,
            max_unknown: 0,
            now: Some(now),
        };
        let report = build_report("hook", &set, &g.fleet, g.source.clone(), &args);
        codes.push(report.summary.exit_code);
        let write_failed = std::cell::Cell::new(false);
        let write = |name: &str, text: &str| {
            if emit(text, Some(&dir.join(name))).is_err() {
                write_failed.set(true);
            }
        };
        write("report.json", &crate::render::json(&report));
        write("junit.xml", &crate::render::junit(&report));
        summary.push_str(&crate::render::markdown(&report));
        // Diff.
        if let (Some(snap), Some(old)) = (&a.snapshot, &old) {
            let new = crate::snapshot::take(&set, &g.fleet);
            let (d, _) = crate::cli::run_diff(
                &set,
                snap,
                old,
                new,
                Some(&g.fleet),
                g.source.clone(),
                false,
                now,
            );
            codes.push(d.exit_code);
            write(
                "diff.json",
                &crate::cli::render_diff(&d, Format::Json, false),
            );
            let md = crate::cli::render_diff(&d, Format::Markdown, false);
            write("diff.md", &md);
            summary.push('\n');
            summary.push_str(&md);
        }
        // Cull.
        if want_cull && (a.fleet.fleet.is_empty() || a.cull.status.is_some()) {
            match make_plan(&set, &g, &a.cull, now) {
                Ok(mut plan) => {
                    codes.push(plan_exit(&plan));
                    let mut opts = a.cull.clone();
                    if opts.audit_log.is_none() {
                        opts.audit_log = Some(dir.join("audit.jsonl"));
                    }
                    if opts.apply
                        && plan.refused.is_none()
                        && let Some(sdk) = &g.live
                        && let Err(e) =
                            apply(&mut plan, sdk, &opts, a.fleet.aws.concurrency, now).await
                    {
                        eprintln!("error: {e}");
                        codes.push(exit::INCOMPLETE);
                    }
                    write("cull-plan.json", &render_plan(&plan, Format::Json));
                    summary.push('\n');
                    summary.push_str(&render_plan(&plan, Format::Markdown));
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::BAD_INPUT;
                }
            }
        }
        write("summary.md", &summary);
        if write_failed.get() {
            codes.push(exit::INCOMPLETE);
        }
        let code = if codes.contains(&exit::INCOMPLETE) {
            exit::INCOMPLETE
        } else if codes.contains(&exit::VIOLATIONS) {
            exit::VIOLATIONS
        } else {
            exit::CLEAN
        };
        eprintln!("checker hook: artifacts in {} → exit {code}", dir.display());
        code
    })
}
