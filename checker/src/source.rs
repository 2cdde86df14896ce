//! Where a command's instances come from: recorded `--fleet` files, or a live scan. Every
//! command that reads a fleet goes through here, so they all describe their source alike.

use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::live::{Filters, LiveFleet, LiveOptions, ScanPlan};
use crate::report::{PartStatus, SourceInfo, SourceKind, SourcePart};
use std::path::PathBuf;

/// Records and the report's description of where they came from.
#[derive(Debug, Default)]
pub struct Fleet {
    /// The records, sorted as their source gives them.
    pub instances: Vec<Instance>,
    /// Regions or files, each ok or failed.
    pub source: SourceInfo,
}

/// Where to read a fleet from.
#[derive(Debug, Clone)]
pub enum FleetSource {
    /// `aws ec2 describe-instances` JSON files.
    Recorded(Vec<PathBuf>),
    /// Live EC2.
    Live(Box<LiveOptions>),
}

/// Reads recorded fleet files; every bad instance in every file is reported at once.
pub fn read_files(files: &[PathBuf], secrets: &SecretPolicy) -> Result<Fleet> {
    let mut instances = Vec::new();
    let mut parts = Vec::new();
    let mut diags = Vec::new();
    for f in files {
        match crate::fleet::read_recorded(f, secrets) {
            Ok(v) => {
                parts.push(SourcePart {
                    name: f.display().to_string(),
                    status: PartStatus::Ok,
                    instances: v.len(),
                    error: None,
                    api_calls: None,
                    api_calls_by_action: None,
                    note: None,
                    sequential_calls: None,
                    account: None,
                });
                instances.extend(v);
            }
            Err(d) => diags.extend(d.0),
        }
    }
    if !diags.is_empty() {
        return Err(Error::Input(crate::diag::Diagnostics(diags)));
    }
    let user_data_sampled = instances
        .iter()
        .filter(|i| !matches!(i.user_data, UserData::NotFetched))
        .count();
    let source = SourceInfo {
        kind: SourceKind::Recorded,
        instances: instances.len(),
        user_data_sampled,
        parts,
    };
    Ok(Fleet { instances, source })
}

/// A live scan's records with their source.
pub fn from_live(live: LiveFleet) -> Fleet {
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

/// A multi-threaded runtime for the live commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Incomplete(format!("cannot start the async runtime: {e}")))
}

/// The SDK configuration (aws-config's default chain with the live options) and the regions.
pub async fn connect(opts: &LiveOptions) -> Result<(checker_ec2::SdkConfig, Vec<String>)> {
    let sdk = checker_ec2::load_config(&opts.connection).await;
    if opts.connection.credentials.is_none() {
        // None at all is a configuration problem (exit 2, not retried), said once.
        checker_ec2::require_credentials(&sdk, opts.connection.profile.as_deref())
            .await
            .map_err(|e| Error::Usage(e.to_string()))?;
    }
    let regions = crate::live::resolve_regions(opts, &sdk).await?;
    Ok((sdk, regions))
}

/// The scan's summary at `-v` (`scan done`), with how far into the process it ended.
fn log_scan(live: &LiveFleet) {
    tracing::info!(api_calls = live.api_calls, instances = live.read, shape = ?live.shape, ms = live.elapsed.as_millis() as u64, since_start_ms = crate::build::started().elapsed().as_millis() as u64, "scan done");
}

/// [`crate::live::scan`], with its summary logged (`scan done`, at `-v`).
pub async fn scan_logged(
    sdk: &checker_ec2::SdkConfig,
    regions: &[String],
    opts: &LiveOptions,
    filters: &Filters,
    user_data: bool,
    secrets: &SecretPolicy,
) -> LiveFleet {
    let live = crate::live::scan(sdk, regions, opts, filters, user_data, secrets).await;
    log_scan(&live);
    live
}

/// Scans live EC2 on a fresh runtime. Failed regions are in the result's parts.
pub fn scan_blocking(
    opts: &LiveOptions,
    filters: &Filters,
    user_data: bool,
    secrets: &SecretPolicy,
) -> Result<LiveFleet> {
    let plan = ScanPlan {
        filters,
        user_data: user_data.then_some(secrets),
        eval: None,
    };
    scan_planned(opts, &plan)
}

/// Scans live EC2 (every account of `--accounts`/`--org`, or the credentials' own) as `plan`
/// says, on a fresh runtime.
pub fn scan_planned(opts: &LiveOptions, plan: &ScanPlan<'_>) -> Result<LiveFleet> {
    runtime()?.block_on(async {
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

/// Reads the fleet the contracts need: the files, or a live scan filtered by the contracts'
/// selectors, fetching user-data only when some contract reads it.
pub fn read(from: &FleetSource, set: &ContractSet) -> Result<Fleet> {
    match from {
        FleetSource::Recorded(files) => read_files(files, &set.secret_policy()),
        FleetSource::Live(opts) => {
            let filters = crate::live::server_filters(set);
            tracing::debug!(?filters, "server-side filters");
            let live = scan_blocking(opts, &filters, set.reads_user_data(), &set.secret_policy())?;
            Ok(from_live(live))
        }
    }
}

/// The fleet evaluated, for commands that need only the evaluation (`check`): a live fleet is
/// evaluated page by page as it is read, keeping no records (memory holds the aggregates and
/// the user-data sample, not the fleet); recorded files are read, then evaluated.
pub fn read_evaluated(
    from: &FleetSource,
    set: &std::sync::Arc<ContractSet>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(SourceInfo, crate::eval::Evaluation)> {
    match from {
        FleetSource::Recorded(_) => {
            let fleet = read(from, set)?;
            let ev = crate::eval::evaluate(set, &fleet.instances, now);
            Ok((fleet.source, ev))
        }
        FleetSource::Live(opts) => {
            let filters = crate::live::server_filters(set);
            let secrets = set.secret_policy();
            let plan = ScanPlan {
                filters: &filters,
                user_data: set.reads_user_data().then_some(&secrets),
                eval: Some(crate::live::EvalPlan {
                    set: set.clone(),
                    now,
                }),
            };
            let mut live = scan_planned(opts, &plan)?;
            let ev = live.evaluation.take();
            let fleet = from_live(live);
            let ev = match ev {
                Some(e) => e.finish(set),
                None => crate::eval::evaluate(set, &[], now),
            };
            Ok((fleet.source, ev))
        }
    }
}

/// `warning: region R could not be read: ...`, one line per failed part (`account NAME (ID)
/// could not be read`, `region R of account ID`), and a `note:` line per part read another way
/// than planned.
pub fn failed_region_warnings(src: &SourceInfo) -> Vec<String> {
    let failed = src.failed().map(|p| {
        let what = match &p.account {
            Some(_) if p.name.starts_with("account ") => p.name.clone(),
            Some(a) => format!("region {} of account {a}", p.name),
            None => format!("region {}", p.name),
        };
        format!(
            "warning: {what} could not be read: {}",
            p.error.as_deref().unwrap_or("error")
        )
    });
    let notes = src.parts.iter().filter_map(|p| {
        p.note
            .as_ref()
            .map(|n| format!("note: region {}: {n}", p.name))
    });
    failed.chain(notes).collect()
}
