//! The live source: scan EC2 in many regions at once and turn what comes back into records.
//!
//! Server-side filters come from the contracts' selectors, so we never fetch what no contract
//! needs; each region is sharded by availability zone; pages become records as they arrive;
//! user-data (one call per instance) is fetched only when a contract reads it, and then only for
//! a sample per group. A region that fails is reported by name and the result is incomplete.

use crate::contract::{Condition, ContractSet, Selector};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{Field, OutputPath};
use crate::report::{PartKind, SourcePart};
use crate::source::{RecordSink, Regions};
use checker_ec2::{Connection, Ec2Error, RawInstance, RegionClient};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod accounts;
mod region;
pub use accounts::{Accounts, OrgScope, one_account, resolve_accounts, scan_accounts};

/// How many user-data to fetch per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Up to N per group.
    PerGroup(usize),
    /// Every instance.
    All,
}

impl std::str::FromStr for Sample {
    type Err = String;
    fn from_str(s: &str) -> Result<Sample, String> {
        if s == "all" {
            return Ok(Sample::All);
        }
        s.parse::<usize>()
            .map(Sample::PerGroup)
            .map_err(|_| format!("`{s}` is neither a number nor `all`"))
    }
}

/// The environment variables aws-config's default chain reads credentials from.
pub const CREDENTIAL_VARIABLES: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Whether a credential can go into a signed request: AWS access keys, secret keys and session
/// tokens are printable ASCII, and a line break (a secret pasted with its newline) or another
/// control character cannot be carried in an HTTP header: the SDK panicked on one.
pub fn credential_is_printable(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic())
}

/// Refuses credentials in the environment the SDK could not send, naming the variable (never
/// its value): a usage error (exit 2), before any call.
pub fn check_credential_env() -> crate::Result<()> {
    for var in CREDENTIAL_VARIABLES {
        let Some(v) = std::env::var_os(var) else {
            continue;
        };
        let ok = v
            .to_str()
            .is_some_and(|s| s.is_empty() || credential_is_printable(s));
        if !ok {
            return Err(crate::Error::usage(format!(
                "{var} holds a line break, a space or another character that is not printable ASCII (its value is not shown); AWS credentials are printable ASCII: set {var} again without it (a value pasted with its trailing newline is the usual cause)"
            )));
        }
    }
    Ok(())
}

/// What a live scan reads and how: the command line's AWS arguments, resolved.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The regions to scan.
    pub regions: crate::source::Regions,
    /// The adapter's connection settings.
    pub connection: Connection,
    /// One paginator per zone.
    pub shard: bool,
    /// User-data to fetch per group, when some contract reads it.
    pub user_data_sample: Sample,
    /// Other accounts to scan (`--accounts`, `--org`); none: the credentials' own account.
    pub accounts: Accounts,
    /// The role session name CloudTrail shows in those accounts.
    pub session_name: String,
}

impl LiveOptions {
    /// API calls in flight per region.
    pub fn concurrency(&self) -> usize {
        self.connection.concurrency
    }
}

/// EC2 filters, name to values (values within a name are ORed; names are ANDed).
pub type Filters = Vec<(String, Vec<String>)>;

/// The most EC2 accepts per filter; past it we filter client-side only.
const MAX_FILTER_VALUES: usize = 200;

fn condition_filter(c: &Condition) -> Option<(String, BTreeSet<String>)> {
    let name = |p: &OutputPath| match p {
        OutputPath::Tag(t) => Some(format!("tag:{t}")),
        OutputPath::Field(Field::Ec2(f)) => f.spec().filter.map(str::to_string),
        OutputPath::UserData(_) => None,
    };
    match c {
        Condition::Equals(p, v) => Some((name(p)?, [v.clone()].into())),
        Condition::OneOf(p, vs) => Some((name(p)?, vs.iter().cloned().collect())),
        Condition::Glob(p, _, g) => Some((name(p)?, [g.clone()].into())),
        Condition::MemberOf(p, set) if set.values.len() <= MAX_FILTER_VALUES => {
            Some((name(p)?, set.values.iter().cloned().collect()))
        }
        Condition::Present(OutputPath::Tag(t), true) => {
            Some(("tag-key".into(), [t.clone()].into()))
        }
        // `^literal` regexes on the key name become a `literal*` glob.
        Condition::Matches(p, re) => {
            let src = re.as_str().strip_prefix('^')?;
            let lit: String = src
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || matches!(ch, '-' | '_' | ':' | '/' | '@'))
                .collect();
            if lit.is_empty()
                || lit.len() != src.len() && !src[lit.len()..].starts_with(['(', '[', '.'])
            {
                return None;
            }
            Some((name(p)?, [format!("{lit}*")].into()))
        }
        Condition::Any(cs) => {
            // An OR of conditions on one filter name is that filter with all their values.
            let parts: Option<Vec<_>> = cs.iter().map(condition_filter).collect();
            let parts = parts?;
            let first = parts.first()?.0.clone();
            if parts.iter().all(|(n, _)| *n == first) {
                Some((first, parts.into_iter().flat_map(|(_, v)| v).collect()))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn selector_filters(set: &ContractSet, sel: &Selector) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |(n, v): (String, BTreeSet<String>)| {
        // Two conditions on one name inside one selector AND: keep the first, filter the rest client-side.
        out.entry(n).or_insert(v);
    };
    sel.conditions
        .iter()
        .filter_map(condition_filter)
        .for_each(&mut add);
    if let Some(p) = sel.provider {
        set.providers[p]
            .selector
            .conditions
            .iter()
            .filter_map(condition_filter)
            .for_each(&mut add);
    }
    out
}

/// Server-side filters that fetch every instance some contract selects, and as little else as
/// possible: a filter name is used only when every selector constrains it (values are unioned),
/// since EC2 ANDs filter names. States always filter.
pub fn server_filters(set: &ContractSet) -> Filters {
    let selectors: Vec<&Selector> = set
        .providers
        .iter()
        .map(|p| &p.selector)
        .chain(set.consumers.iter().map(|c| &c.selector))
        .collect();
    let mut states: BTreeSet<String> = BTreeSet::new();
    for s in &selectors {
        states.extend(s.states.iter().cloned());
    }
    let mut common: Option<BTreeMap<String, BTreeSet<String>>> = None;
    for s in &selectors {
        let f = selector_filters(set, s);
        common = Some(match common {
            None => f,
            Some(c) => c
                .into_iter()
                .filter_map(|(n, mut v)| {
                    f.get(&n).map(|w| {
                        v.extend(w.iter().cloned());
                        (n, v)
                    })
                })
                .collect(),
        });
    }
    let mut out: Filters = Vec::new();
    if !states.is_empty() {
        out.push(("instance-state-name".into(), states.into_iter().collect()));
    }
    for (n, v) in common.unwrap_or_default() {
        if v.len() <= MAX_FILTER_VALUES {
            out.push((n, v.into_iter().collect()));
        }
    }
    out
}

/// What a live scan produced.
#[derive(Debug, Default)]
pub struct LiveFleet {
    /// Records from every region that answered completely.
    pub instances: Vec<Instance>,
    /// One part per region, ok or failed.
    pub parts: Vec<SourcePart>,
    /// Instances whose user-data was fetched.
    pub user_data_sampled: usize,
    /// API calls made.
    pub api_calls: usize,
    /// Per region: (shards, pages, longest sequential chain).
    pub shape: Vec<(String, usize, usize, usize)>,
    /// Wall time of the scan: from the first call to the last record (user-data included).
    pub elapsed: std::time::Duration,
    /// Records read (kept in `instances`, or only evaluated).
    pub read: usize,
}

/// Progress on stderr when it is a terminal; silent otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    regions_total: usize,
    regions_done: AtomicUsize,
    pages: AtomicUsize,
    instances: AtomicUsize,
}

impl Progress {
    fn new(regions: usize, shown: bool) -> Self {
        let bar = (shown && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress {
            bar,
            regions_total: regions,
            regions_done: AtomicUsize::new(0),
            pages: AtomicUsize::new(0),
            instances: AtomicUsize::new(0),
        }
    }
    fn update(&self, extra: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "regions {}/{} · pages {} · instances {}{extra}",
                self.regions_done.load(Ordering::Relaxed),
                self.regions_total,
                self.pages.load(Ordering::Relaxed),
                self.instances.load(Ordering::Relaxed)
            ));
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Converts an adapter record; `accounts` shares one copy of each owner account id.
pub fn from_raw(r: RawInstance, region: &str, accounts: &mut crate::fleet::Interner) -> Instance {
    let mut tags = r.tags.into_iter().collect();
    crate::redact::redact_tags(&mut tags);
    Instance {
        scope: r.owner_id.as_deref().map(|o| accounts.intern(o)),
        id: r.id,
        region: region.to_string(),
        fields: crate::fleet::CloudFields::Ec2(r.fields),
        tags,
        user_data: UserData::NotFetched,
        unknown: None,
    }
}

/// A failure before any region was scanned (no region, DescribeRegions failed).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No region configured or given.
    #[error(
        "no region to scan: pass --region REGION (repeatable, or `all`), or set AWS_REGION / a profile region"
    )]
    NoRegion,
    /// Listing the regions failed.
    #[error("could not list the enabled regions: {0}")]
    Regions(Ec2Error),
}

impl LiveError {
    /// No region is a usage error (2); a failed DescribeRegions leaves the data incomplete (3).
    pub fn exit_status(&self) -> crate::exit::ExitStatus {
        match self {
            LiveError::NoRegion => crate::exit::ExitStatus::BadInput,
            LiveError::Regions(_) => crate::exit::ExitStatus::Incomplete,
        }
    }
}

/// Resolves `--region` (`all` = DescribeRegions) against the SDK's default region.
pub async fn resolve_regions(
    args: &LiveOptions,
    sdk: &checker_ec2::SdkConfig,
) -> Result<Vec<String>, LiveError> {
    let default = sdk.region().map(|r| r.to_string());
    match &args.regions {
        Regions::All => {
            let base = default.unwrap_or_else(|| "us-east-1".into());
            let client = RegionClient::new(sdk, &base, 1);
            client.regions().await.map_err(LiveError::Regions)
        }
        Regions::Listed(listed) => Ok(listed.clone()),
        Regions::Default => default.map(|r| vec![r]).ok_or(LiveError::NoRegion),
    }
}

/// API calls per region and in all; each region's longest chain of sequential calls grows by
/// its user-data rounds (`user_data_concurrency` calls at a time, after its scan).
fn count_calls(
    fleet: &mut LiveFleet,
    clients: &[RegionClient],
    fetched: &BTreeMap<String, usize>,
    concurrency: usize,
) {
    fleet.api_calls = clients.iter().map(RegionClient::calls).sum();
    for part in &mut fleet.parts {
        let Some(client) = clients.iter().find(|c| c.region == part.name) else {
            continue;
        };
        part.api_calls = Some(client.calls());
        part.api_calls_by_action = Some(client.calls_by_action());
        let n = fetched.get(&part.name).copied().unwrap_or(0);
        if let Some(seq) = part.sequential_calls.as_mut() {
            *seq += n.div_ceil(concurrency.max(1));
        }
    }
}

/// Each region's part (ok or failed), shape, records and evaluation, in region order. Only the
/// regions that answered completely count: a failed region's pages are dropped, evaluated or not.
fn record_results(fleet: &mut LiveFleet, results: Vec<region::Out>) -> BTreeMap<String, usize> {
    let mut fetched = BTreeMap::new();
    for out in results {
        let region = out.client.region.clone();
        match out.res {
            Ok(stats) => {
                tracing::info!(region = %region, instances = stats.instances, pages = stats.pages, shards = stats.shards, ms = stats.elapsed.as_millis() as u64, "region scanned");
                fleet.parts.push(SourcePart {
                    note: stats.note.clone(),
                    sequential_calls: Some(stats.max_sequential_pages),
                    ..SourcePart::read(region.clone(), PartKind::Region, out.instances)
                });
                fleet.shape.push((
                    region.clone(),
                    stats.shards,
                    stats.pages,
                    stats.max_sequential_pages,
                ));
                fleet.instances.extend(out.records);
                fleet.read += out.instances;
                fleet.user_data_sampled += out.user_data_fetched;
                fetched.insert(region, out.user_data_fetched);
                // The part was read completely: what its sink saw counts.
                if let Some(fold) = out.fold {
                    fold.keep();
                }
            }
            Err(e) => {
                tracing::debug!(region = %region, error = %e, "region failed");
                fleet
                    .parts
                    .push(SourcePart::failed(region, PartKind::Region, e.to_string()));
            }
        }
    }
    fetched
}

/// Scans every region concurrently; fetches a user-data sample when `want_user_data`.
pub async fn scan(
    sdk: &checker_ec2::SdkConfig,
    regions: &[String],
    args: &LiveOptions,
    filters: &Filters,
    want_user_data: bool,
    secrets: &SecretPolicy,
) -> LiveFleet {
    let plan = ScanPlan {
        filters,
        user_data: want_user_data.then_some(secrets),
        sink: None,
    };
    scan_in(sdk, None, regions, args, &plan).await
}

/// What a scan reads and what it does with the records.
pub struct ScanPlan<'a> {
    /// Server-side filters.
    pub filters: &'a Filters,
    /// Fetch the user-data sample (some contract reads it), redacting with this policy.
    pub user_data: Option<&'a SecretPolicy>,
    /// Hand the records to this sink as they are read and keep none (`check` evaluates them
    /// so); a region's records count only if the region is read completely.
    pub sink: Option<std::sync::Arc<dyn RecordSink>>,
}

/// [`scan`] in one of several accounts: `account`'s own API budget, every record and part
/// marked with it, and no progress bar of its own (the caller shows accounts).
pub async fn scan_in(
    sdk: &checker_ec2::SdkConfig,
    account: Option<&std::sync::Arc<str>>,
    regions: &[String],
    args: &LiveOptions,
    plan: &ScanPlan<'_>,
) -> LiveFleet {
    let started = std::time::Instant::now();
    let progress = std::sync::Arc::new(Progress::new(regions.len(), account.is_none()));
    progress.update("");
    let clients: Vec<RegionClient> = regions
        .iter()
        .map(|r| {
            RegionClient::in_account(sdk, account.map_or("", |a| a), r, args.concurrency())
                .with_user_data_concurrency(args.connection.user_data_concurrency)
        })
        .collect();
    // One task per region, so pages of different regions are parsed on every core, and each
    // region fetches its user-data sample as soon as it is read.
    let handles: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            tokio::spawn(region::run(region::Job {
                client,
                progress: progress.clone(),
                filters: plan.filters.clone(),
                shard: args.shard,
                account: account.cloned(),
                user_data: plan.user_data.map(|s| (args.user_data_sample, s.clone())),
                sink: plan.sink.clone(),
            }))
        })
        .collect();
    let mut results = Vec::new();
    for (h, client) in handles.into_iter().zip(&clients) {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => results.push(region::Out {
                client: client.clone(),
                res: Err(Ec2Error::Other(format!("the scan task failed: {e}"))),
                records: Vec::new(),
                fold: None,
                instances: 0,
                user_data_fetched: 0,
            }),
        }
    }
    let mut fleet = LiveFleet::default();
    // Regions in name order, each already sorted by id: the fleet comes out sorted by (region, id).
    results.sort_by(|a, b| a.client.region.cmp(&b.client.region));
    fleet
        .instances
        .reserve(results.iter().map(|r| r.records.len()).sum());
    let fetched = record_results(&mut fleet, results);
    progress.finish();
    count_calls(
        &mut fleet,
        &clients,
        &fetched,
        args.connection.user_data_concurrency,
    );
    fleet.parts.sort_by(|a, b| a.name.cmp(&b.name));
    fleet.shape.sort();
    debug_assert!(
        fleet
            .instances
            .windows(2)
            .all(|w| (&w[0].region, &w[0].id) < (&w[1].region, &w[1].id))
    );
    if let Some(a) = account {
        for p in &mut fleet.parts {
            p.scope = Some(crate::report::Scope::new(
                crate::output::ScopeKind::Account,
                &**a,
            ));
            p.kind = PartKind::RegionOfAccount;
        }
    }
    fleet.elapsed = started.elapsed();
    fleet
}

impl From<LiveError> for crate::Error {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NoRegion => crate::Error::Usage(e.to_string()),
            LiveError::Regions(_) => crate::Error::Incomplete(e.to_string()),
        }
    }
}
