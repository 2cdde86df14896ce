//! Culling against a real source: read the fleet, the status checks and the claims of other
//! runs (live, concurrently, or recorded) and make the plan; [`super::apply`] acts on it.

use super::budget::{CLAIM_FILTER, Claim, LEGACY_CULLED_AT};
use super::{Action, Budget, Plan, PlanInput};
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::{PartStatus, SourceInfo, SourcePart};
use crate::source::{self, FleetSource};
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
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
    /// Claims of earlier and concurrent runs (`checker:claim:<run>` tags, and the legacy `checker:culled-at`).
    pub claims: Vec<Claim>,
}

/// The claims an instance's tags make (one per run that claimed it).
fn claims_of(id: &str, tags: &[(String, String)]) -> Vec<Claim> {
    Claim::from_tags(id, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The `tag-key` filter values that find every claim (this format's and the legacy one).
const CLAIM_KEYS: [&str; 2] = [CLAIM_FILTER, LEGACY_CULLED_AT];

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
                .flat_map(|i| {
                    Claim::from_tags(&i.id, i.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                })
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
                claims.extend(tagged.iter().flat_map(|i| claims_of(&i.id, &i.tags)));
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
                Ok(st) => c.tagged(&CLAIM_KEYS).await.map(|t| (st, t)),
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
        fleet_size: g.fleet.len(),
        may_be_empty: contract.may_be_empty,
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
