//! Culling against a real source: read the fleet and the status checks (live, concurrently, or
//! recorded), make the plan, and apply it with every action in the audit log.

use super::audit::Audit;
use super::budget::{self, CULL_GROUP, CULL_RUN, CULLED_AT, Claim};
use super::{Action, Budget, Decision, Plan, PlanInput};
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::{PartStatus, SourceInfo, SourcePart};
use crate::source::{self, FleetSource};
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to cull: what `cull` and `hook` are told.
#[derive(Debug, Clone)]
pub struct CullSettings {
    /// Act; without it nothing is changed.
    pub apply: bool,
    /// Terminate or reboot.
    pub action: Action,
    /// Minutes an instance must have been impaired before it counts.
    pub threshold_minutes: i64,
    /// Per-group limits.
    pub budget: Budget,
    /// Count scheduled retirement / system-reboot events as impairment.
    pub include_events: bool,
    /// The cull contract, when several have role cull.
    pub cull_contract: Option<String>,
    /// Recorded describe-instance-status output (offline runs).
    pub status: Option<PathBuf>,
    /// Where every action is appended (JSON Lines).
    pub audit_log: Option<PathBuf>,
    /// Instances per TerminateInstances/RebootInstances call.
    pub batch: usize,
    /// The budget's window: claims of every run in it count.
    pub budget_window: chrono::Duration,
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
    /// Status checks of a region that could not be read, in words (the region is failed too).
    pub warnings: Vec<String>,
    /// Claims of earlier and concurrent runs (instances tagged `checker:culled-at`).
    pub claims: Vec<Claim>,
}

/// The claims an instance's tags make, if any.
fn claim_of(id: &str, tags: &[(String, String)]) -> Option<Claim> {
    Claim::from_tags(id, |k| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    })
}

/// Without status checks (nothing will be culled), the fleet of every account of `--accounts`
/// or `--org`; `None` for the credentials' own account.
async fn read_accounts(
    set: &ContractSet,
    live_opts: &crate::live::LiveOptions,
) -> Result<Option<Gathered>> {
    let Some(accounts) = crate::live::resolve_accounts(live_opts).await? else {
        return Ok(None);
    };
    let filters = crate::live::server_filters(set);
    let secrets = set.secret_policy();
    let plan = crate::live::ScanPlan {
        filters: &filters,
        user_data: set.reads_user_data().then_some(&secrets),
        eval: None,
    };
    let live = crate::live::scan_accounts(&accounts, live_opts, &plan).await;
    let fleet = source::from_live(live);
    Ok(Some(Gathered {
        fleet: fleet.instances,
        source: fleet.source,
        statuses: Vec::new(),
        live: None,
        warnings: Vec::new(),
        claims: Vec::new(),
    }))
}

/// Reads the fleet and, when `want_status`, the status checks: live, both at once; or recorded.
pub async fn gather(
    set: &ContractSet,
    from: &FleetSource,
    opts: &CullSettings,
    want_status: bool,
) -> Result<Gathered> {
    let live_opts = match from {
        FleetSource::Recorded(files) => {
            let fleet = source::read_files(files, &set.secret_policy())?;
            let statuses = match (&opts.status, want_status) {
                (Some(p), _) => super::read_status_file(p)?,
                (None, true) => {
                    return Err(Error::usage(
                        "with recorded --fleet files, cull needs recorded status checks: pass --status FILE (aws ec2 describe-instance-status --output json)",
                    ));
                }
                (None, false) => Vec::new(),
            };
            let claims = fleet
                .instances
                .iter()
                .filter_map(|i| Claim::from_tags(&i.id, |k| i.tags.get(k).map(String::as_str)))
                .collect();
            return Ok(Gathered {
                fleet: fleet.instances,
                source: fleet.source,
                statuses,
                live: None,
                warnings: Vec::new(),
                claims,
            });
        }
        FleetSource::Live(o) => o,
    };
    // Reading only (the hook with --no-cull): every account at once.
    if !want_status && let Some(g) = read_accounts(set, live_opts).await? {
        return Ok(g);
    }
    let one = crate::live::one_account(live_opts).await?;
    let live_opts = &one;
    let (sdk, regions) = source::connect(live_opts).await?;
    let filters = crate::live::server_filters(set);
    let conditions = super::status_conditions(opts.include_events);
    let secrets = set.secret_policy();
    let (mut live, status_results) = {
        let scan = source::scan_logged(
            &sdk,
            &regions,
            live_opts,
            &filters,
            set.reads_user_data(),
            &secrets,
        );
        let statuses = read_statuses(&sdk, &regions, live_opts.concurrency(), &conditions);
        if want_status {
            tokio::join!(scan, statuses)
        } else {
            (scan.await, Vec::new())
        }
    };
    let mut statuses = Vec::new();
    let mut warnings = Vec::new();
    let mut claims = Vec::new();
    for (region, r) in status_results {
        match r {
            Ok((list, tagged)) => {
                statuses.extend(list.into_iter().map(|s| (region.clone(), s)));
                claims.extend(tagged.iter().filter_map(|i| claim_of(&i.id, &i.tags)));
            }
            Err(e) => {
                warnings.push(format!(
                    "status checks or cull claims of region {region} could not be read: {e}"
                ));
                mark_failed(&mut live.parts, &region, &e.to_string());
            }
        }
    }
    let fleet = source::from_live(live);
    Ok(Gathered {
        fleet: fleet.instances,
        source: fleet.source,
        statuses,
        live: Some(sdk),
        warnings,
        claims,
    })
}

/// Per region: its status checks and the claims of earlier runs, or why they could not be read.
type StatusRead = (
    String,
    std::result::Result<
        (Vec<checker_ec2::RawStatus>, Vec<checker_ec2::RawInstance>),
        checker_ec2::Ec2Error,
    >,
);

/// Reads every region's status checks, then its claims, all regions at once.
async fn read_statuses(
    sdk: &checker_ec2::SdkConfig,
    regions: &[String],
    concurrency: usize,
    conditions: &[(String, Vec<String>)],
) -> Vec<StatusRead> {
    let clients: Vec<checker_ec2::RegionClient> = regions
        .iter()
        .map(|r| checker_ec2::RegionClient::new(sdk, r, concurrency))
        .collect();
    let mut jobs: FuturesUnordered<_> = clients
        .iter()
        .map(|c| async {
            // The status checks, then the claims of earlier runs (both needed to cull).
            let read = match c.statuses(conditions).await {
                Ok(st) => c.tagged(CULLED_AT).await.map(|t| (st, t)),
                Err(e) => Err(e),
            };
            (c.region.clone(), read)
        })
        .collect();
    let mut out = Vec::new();
    while let Some(r) = jobs.next().await {
        out.push(r);
    }
    out
}

/// A region whose status checks failed is failed, whatever its instances did.
fn mark_failed(parts: &mut Vec<SourcePart>, region: &str, error: &str) {
    match parts.iter_mut().find(|p| p.name == region) {
        Some(p) => {
            p.status = PartStatus::Failed;
            p.error = Some(format!("DescribeInstanceStatus: {error}"));
        }
        None => parts.push(SourcePart {
            name: region.to_string(),
            status: PartStatus::Failed,
            instances: 0,
            error: Some(error.to_string()),
            api_calls: None,
            api_calls_by_action: None,
            note: None,
            sequential_calls: None,
            account: None,
        }),
    }
}

/// The plan for what was gathered.
pub fn make_plan(
    set: &ContractSet,
    g: &Gathered,
    opts: &CullSettings,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let contract = super::cull_contract(set, opts.cull_contract.as_deref())?;
    let (members, problems) = super::members(set, contract, &g.fleet);
    let input = PlanInput {
        contract: contract.name.clone(),
        members,
        impaired: super::impairments(&g.statuses, opts.include_events),
        partial_regions: g.source.failed().map(|p| p.name.clone()).collect(),
        contract_problems: problems,
        now,
        threshold: chrono::Duration::minutes(opts.threshold_minutes),
        budget: opts.budget,
        action: opts.action,
        claims: g.claims.clone(),
        window: opts.budget_window,
    };
    Ok(super::plan(&input))
}

/// Set by SIGINT or SIGTERM: no new batch starts; what was started is recorded.
pub fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        flag.store(true, Ordering::SeqCst);
    });
    stop
}

/// How acting ended, for the plan and the exit status.
#[derive(Default)]
struct Applied {
    errors: Vec<String>,
    stopped: bool,
}

/// Acts on the plan, region by region: claims the chosen instances (tags), re-reads the claims
/// and keeps what the window's budget leaves after other runs (releasing the rest), then acts in
/// batches, each recorded in the audit log before and after its call. A failed batch is
/// recorded and the others still run; a signal stops new batches. Every result is in the plan.
pub async fn apply(
    plan: &mut Plan,
    sdk: &checker_ec2::SdkConfig,
    opts: &CullSettings,
    concurrency: usize,
    now: DateTime<Utc>,
    stop: &AtomicBool,
) -> Result<()> {
    plan.dry_run = false;
    let run_id = format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), std::process::id());
    let audit = Audit::new(opts.audit_log.clone(), &run_id, &plan.contract, plan.action);
    let mut by_region: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, e) in plan.entries.iter().enumerate() {
        if e.decision == Decision::Act {
            by_region.entry(e.region.clone()).or_default().push(k);
        }
    }
    let mut applied = Applied::default();
    for (region, idx) in by_region {
        let client = checker_ec2::RegionClient::new(sdk, &region, concurrency);
        if let Err(e) = apply_region(
            plan,
            &client,
            &idx,
            opts,
            &audit,
            &run_id,
            now,
            stop,
            &mut applied,
        )
        .await
        {
            // The audit log cannot be written: nothing more is done anywhere.
            applied.errors.push(e.to_string());
            break;
        }
    }
    if applied.stopped {
        applied.errors.push(
            "stopped by a signal: no new batch was started; every started one is recorded".into(),
        );
    }
    if applied.errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Incomplete(applied.errors.join("; ")))
    }
}

/// One region: claim, confirm, act in batches.
#[allow(
    clippy::too_many_arguments,
    reason = "one caller; the pieces of one apply"
)]
async fn apply_region(
    plan: &mut Plan,
    client: &checker_ec2::RegionClient,
    idx: &[usize],
    opts: &CullSettings,
    audit: &Audit,
    run_id: &str,
    now: DateTime<Utc>,
    stop: &AtomicBool,
    applied: &mut Applied,
) -> Result<()> {
    let region = client.region.clone();
    let kept = match claim(plan, client, idx, opts, audit, run_id, now).await? {
        Ok(kept) => kept,
        Err(e) => {
            applied.errors.push(format!("{region}: {e}"));
            return Ok(());
        }
    };
    for batch in kept.chunks(opts.batch.max(1)) {
        if stop.load(Ordering::SeqCst) {
            applied.stopped = true;
            let rest: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|k| plan.entries[*k].result.is_none())
                .collect();
            for k in &rest {
                plan.entries[*k].result = Some("not-started: stopped by a signal".into());
            }
            let entries: Vec<&super::PlanEntry> = rest.iter().map(|k| &plan.entries[*k]).collect();
            audit.record(
                "not-started",
                &entries,
                |_| serde_json::json!({"reason": "stopped by a signal"}),
            )?;
            return Ok(());
        }
        let ids: Vec<String> = batch
            .iter()
            .map(|k| plan.entries[*k].instance.clone())
            .collect();
        let entries: Vec<&super::PlanEntry> = batch.iter().map(|k| &plan.entries[*k]).collect();
        audit.record(
            "intent",
            &entries,
            |e| serde_json::json!({"reason": e.reason, "impairedSince": e.impaired_since}),
        )?;
        match client.act_chunk(&ids, opts.action == Action::Reboot).await {
            Ok(results) => {
                for r in results {
                    if let Some(k) = batch.iter().find(|k| plan.entries[**k].instance == r.id) {
                        plan.entries[*k].result = Some(r.state.clone());
                    }
                }
                let entries: Vec<&super::PlanEntry> =
                    batch.iter().map(|k| &plan.entries[*k]).collect();
                audit.record(
                    "result",
                    &entries,
                    |e| serde_json::json!({"result": e.result}),
                )?;
            }
            Err(e) => {
                let msg = e.to_string();
                for k in batch {
                    plan.entries[*k].result = Some(format!("failed: {msg}"));
                }
                let entries: Vec<&super::PlanEntry> =
                    batch.iter().map(|k| &plan.entries[*k]).collect();
                audit.record("failed", &entries, |_| serde_json::json!({"error": msg}))?;
                applied.errors.push(format!("{region}: {msg}"));
            }
        }
    }
    Ok(())
}

/// Claims the chosen instances, re-reads every claim, keeps what the window leaves after other
/// runs' claims and releases the rest. The outer error is the audit log's (fatal); the inner
/// one is EC2's (this region is not acted on).
async fn claim(
    plan: &mut Plan,
    client: &checker_ec2::RegionClient,
    idx: &[usize],
    opts: &CullSettings,
    audit: &Audit,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Vec<usize>, checker_ec2::Ec2Error>> {
    // Group by group: one CreateTags call per group (the group is a tag value).
    let mut per_group: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for k in idx {
        per_group
            .entry(plan.entries[*k].group.clone().unwrap_or_default())
            .or_default()
            .push(*k);
    }
    for (g, ks) in &per_group {
        let entries: Vec<&super::PlanEntry> = ks.iter().map(|k| &plan.entries[*k]).collect();
        audit.record("claim", &entries, |_| serde_json::json!({}))?;
        let ids: Vec<String> = ks
            .iter()
            .map(|k| plan.entries[*k].instance.clone())
            .collect();
        let tags = Claim {
            instance: String::new(),
            group: g.clone(),
            run: run_id.to_string(),
            at: now,
        }
        .tags();
        if let Err(e) = client.tag(&ids, &tags).await {
            return Ok(Err(e));
        }
    }
    let visible: Vec<Claim> = match client.tagged(CULLED_AT).await {
        Ok(t) => t.iter().filter_map(|i| claim_of(&i.id, &i.tags)).collect(),
        Err(e) => return Ok(Err(e)),
    };
    let budgets: BTreeMap<String, usize> = plan
        .groups
        .iter()
        .map(|g| (g.group.clone(), g.allowed + g.used_in_window))
        .collect();
    let keep = budget::keep(&budgets, &visible, run_id, now, opts.budget_window);
    let (kept, released): (Vec<usize>, Vec<usize>) = idx
        .iter()
        .copied()
        .partition(|k| keep.contains(&plan.entries[*k].instance));
    if !released.is_empty() {
        for k in &released {
            let e = &mut plan.entries[*k];
            e.decision = Decision::Deferred;
            e.reason
                .push_str("; deferred: another run claimed the group's budget in the window first");
        }
        let entries: Vec<&super::PlanEntry> = released.iter().map(|k| &plan.entries[*k]).collect();
        audit.record("release", &entries, |_| serde_json::json!({}))?;
        let ids: Vec<String> = released
            .iter()
            .map(|k| plan.entries[*k].instance.clone())
            .collect();
        let keys = [CULLED_AT, CULL_RUN, CULL_GROUP].map(str::to_string);
        if let Err(e) = client.untag(&ids, &keys).await {
            return Ok(Err(e));
        }
    }
    Ok(Ok(kept))
}
