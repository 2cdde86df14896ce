//! Live EC2: the concurrent region scan of `crate::live` (every account of `--accounts`/`--org`,
//! or the credentials' own), and for culling the status checks and claims read beside it, in
//! one account, with an actor over the same connection.

use super::act::Ec2Actor;
use crate::contract::ContractSet;
use crate::error::Result;
use crate::fleet::SecretPolicy;
use crate::live::{Filters, LiveFleet, LiveOptions, ScanPlan};
use crate::report::{PartKind, PartStatus, SourceInfo, SourceKind, SourcePart};
use crate::source::{
    Can, Capabilities, Fleet, Health, HealthRead, HealthRequest, RecordSink, Source, Tagged,
};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;

/// Live EC2, as the command line's AWS arguments say.
#[derive(Debug, Clone)]
pub struct Live {
    /// What to scan and how.
    pub opts: LiveOptions,
}

impl Live {
    /// Live EC2 with these options.
    pub fn new(opts: LiveOptions) -> Live {
        Live { opts }
    }

    /// Scans with these filters, fetching the user-data sample when `user_data` (`checker
    /// fleet record`), on a fresh runtime. Failed regions are in the result's parts.
    pub fn scan(
        &self,
        filters: &Filters,
        user_data: bool,
        secrets: &SecretPolicy,
    ) -> Result<Fleet> {
        let plan = ScanPlan {
            filters,
            user_data: user_data.then_some(secrets),
            sink: None,
        };
        Ok(from_live(scan_planned(&self.opts, &plan)?))
    }
}

impl Source for Live {
    fn describe(&self) -> String {
        "live EC2".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reads_recorded: false,
            scans_live: true,
            samples_extra_field: Some("user-data"),
            server_filters: true,
            health: Can::Yes,
            act: Can::Yes,
            concurrency: self.opts.concurrency(),
        }
    }

    fn read(&self, set: &ContractSet) -> Result<Fleet> {
        let filters = crate::live::server_filters(set);
        tracing::debug!(?filters, "server-side filters");
        self.scan(&filters, set.reads_user_data(), &set.secret_policy())
    }

    fn read_into(&self, set: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
        let filters = crate::live::server_filters(set);
        let secrets = set.secret_policy();
        let plan = ScanPlan {
            filters: &filters,
            user_data: set.reads_user_data().then_some(&secrets),
            sink: Some(sink),
        };
        Ok(from_live(scan_planned(&self.opts, &plan)?).source)
    }

    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        Box::pin(gather(&self.opts, set, req))
    }
}

/// A live scan's records with their source.
fn from_live(live: LiveFleet) -> Fleet {
    let source = SourceInfo {
        kind: SourceKind::Live,
        instances: live.read,
        user_data_sampled: live.user_data_sampled,
        parts: live.parts,
    };
    Fleet {
        instances: live.instances,
        source,
    }
}

/// The SDK configuration (aws-config's default chain with the live options) and the regions.
async fn connect(opts: &LiveOptions) -> Result<(checker_ec2::SdkConfig, Vec<String>)> {
    let sdk = checker_ec2::load_config(&opts.connection).await;
    if opts.connection.credentials.is_none() {
        // None at all is a configuration problem (exit 2, not retried), said once.
        checker_ec2::require_credentials(&sdk, opts.connection.profile.as_deref())
            .await
            .map_err(|e| crate::Error::Usage(e.to_string()))?;
    }
    let regions = crate::live::resolve_regions(opts, &sdk).await?;
    Ok((sdk, regions))
}

/// The scan's summary at `-v` (`scan done`), with how far into the process it ended.
fn log_scan(live: &LiveFleet) {
    tracing::info!(api_calls = live.api_calls, instances = live.read, shape = ?live.shape, ms = live.elapsed.as_millis() as u64, since_start_ms = crate::build::started().elapsed().as_millis() as u64, "scan done");
}

/// Scans live EC2 (every account of `--accounts`/`--org`, or the credentials' own) as `plan`
/// says, on a fresh runtime.
fn scan_planned(opts: &LiveOptions, plan: &ScanPlan<'_>) -> Result<LiveFleet> {
    crate::source::runtime()?.block_on(async {
        let live = if let Some(accounts) = crate::live::resolve_accounts(opts).await? {
            crate::live::scan_accounts(&accounts, opts, plan).await
        } else {
            let (sdk, regions) = connect(opts).await?;
            crate::live::scan_in(&sdk, None, &regions, opts, plan).await
        };
        log_scan(&live);
        Ok(live)
    })
}

/// Without health checks (nothing will be culled), the fleet of every account of `--accounts`
/// or `--org`; `None` for the credentials' own account.
async fn read_accounts(
    set: &ContractSet,
    opts: &LiveOptions,
    req: &HealthRequest,
) -> Result<Option<HealthRead>> {
    let Some(accounts) = crate::live::resolve_accounts(opts).await? else {
        return Ok(None);
    };
    let filters = crate::live::server_filters(set);
    let secrets = set.secret_policy();
    let plan = ScanPlan {
        filters: &filters,
        user_data: set.reads_user_data().then_some(&secrets),
        sink: req.sink.clone(),
    };
    let live = crate::live::scan_accounts(&accounts, opts, &plan).await;
    Ok(Some(HealthRead {
        fleet: from_live(live),
        ..HealthRead::default()
    }))
}

/// Reads the fleet and, when asked, the status checks and claims, all regions at once, in one
/// account (culling never spans accounts).
async fn gather(opts: &LiveOptions, set: &ContractSet, req: &HealthRequest) -> Result<HealthRead> {
    // Reading only (the hook with --no-cull): every account at once.
    if !req.health
        && let Some(read) = read_accounts(set, opts, req).await?
    {
        return Ok(read);
    }
    let one = crate::live::one_account(opts).await?;
    let (sdk, regions) = connect(&one).await?;
    let filters = crate::live::server_filters(set);
    let conditions = super::status_conditions(req.include_events);
    let secrets = set.secret_policy();
    let (mut live, status_results) = {
        let scan = async {
            // With a sink (`cull`), records are handed over page by page and none is kept.
            let plan = ScanPlan {
                filters: &filters,
                user_data: set.reads_user_data().then_some(&secrets),
                sink: req.sink.clone(),
            };
            let live = crate::live::scan_in(&sdk, None, &regions, &one, &plan).await;
            log_scan(&live);
            live
        };
        let statuses = read_statuses(
            &sdk,
            &regions,
            one.concurrency(),
            &conditions,
            &req.claim_keys,
        );
        if req.health {
            tokio::join!(scan, statuses)
        } else {
            (scan.await, Vec::new())
        }
    };
    let mut read = HealthRead::default();
    for (region, r) in status_results {
        match r {
            Ok((list, tagged)) => {
                read.health
                    .extend(list.into_iter().map(|s| health(&region, s)));
                read.tagged.extend(tagged.into_iter().map(|i| Tagged {
                    id: i.id,
                    tags: i.tags,
                }));
            }
            Err(e) => {
                read.warnings.push(format!(
                    "status checks or cull claims of region {region} could not be read: {e}"
                ));
                mark_failed(&mut live.parts, &region, &e.to_string());
            }
        }
    }
    read.fleet = from_live(live);
    read.actor = Some(Box::new(Ec2Actor {
        sdk,
        concurrency: one.concurrency(),
    }));
    Ok(read)
}

/// An EC2 status check in the seam's terms.
fn health(region: &str, s: checker_ec2::RawStatus) -> Health {
    Health {
        id: s.id,
        region: region.to_string(),
        state: s.state,
        instance_status: s.instance_status,
        system_status: s.system_status,
        impaired_since: s.impaired_since,
        events: s.events,
    }
}

/// Per region: its status checks and the instances carrying claims, or why they could not be
/// read.
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
    claim_keys: &[String],
) -> Vec<StatusRead> {
    let keys: Vec<&str> = claim_keys.iter().map(String::as_str).collect();
    let clients: Vec<checker_ec2::RegionClient> = regions
        .iter()
        .map(|r| checker_ec2::RegionClient::new(sdk, r, concurrency))
        .collect();
    let mut jobs: FuturesUnordered<_> = clients
        .iter()
        .map(|c| async {
            // The status checks, then the claims of earlier runs (both needed to cull).
            let read = match c.statuses(conditions).await {
                Ok(st) => c.tagged(&keys).await.map(|t| (st, t)),
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
        None => parts.push(SourcePart::failed(region, PartKind::Region, error)),
    }
}
