//! Culling against a real source: read the fleet and the status checks (live, concurrently, or
//! recorded), make the plan, and apply it with every action in the audit log.

use super::{Action, Budget, Plan, PlanInput};
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::{PartStatus, SourceInfo, SourcePart};
use crate::source::{self, FleetSource};
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
            return Ok(Gathered {
                fleet: fleet.instances,
                source: fleet.source,
                statuses,
                live: None,
                warnings: Vec::new(),
            });
        }
        FleetSource::Live(o) => o,
    };
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
        let statuses = async {
            let clients: Vec<checker_ec2::RegionClient> = regions
                .iter()
                .map(|r| checker_ec2::RegionClient::new(&sdk, r, live_opts.concurrency()))
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
    let mut warnings = Vec::new();
    for (region, r) in status_results {
        match r {
            Ok(list) => statuses.extend(list.into_iter().map(|s| (region.clone(), s))),
            Err(e) => {
                warnings.push(format!(
                    "status checks of region {region} could not be read: {e}"
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
    })
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
            sequential_calls: None,
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
    };
    Ok(super::plan(&input))
}

/// Acts on the plan; records each result in the plan and the audit log.
pub async fn apply(
    plan: &mut Plan,
    sdk: &checker_ec2::SdkConfig,
    opts: &CullSettings,
    concurrency: usize,
    now: DateTime<Utc>,
) -> Result<()> {
    plan.dry_run = false;
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
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
            let Some(e) = plan.entries.iter_mut().find(|e| e.instance == r.id) else {
                continue;
            };
            e.result = Some(r.state.clone());
            let Some(log) = &opts.audit_log else {
                continue;
            };
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
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Incomplete(errors.join("; ")))
    }
}
