//! EC2's live read: server-side filters from the contracts' selectors (so we never fetch what
//! no contract needs), regions (`--region`, `all`), accounts (`--accounts`, `--org`, each entered
//! through its role chain), and each region as a location of the live driver
//! (`crate::source::driver`), which reads every account's regions at once, turns pages into
//! records as they arrive, fetches user-data (one call per instance) only when a contract reads
//! it and then only for a sample per group, and reports a region that fails by name.

use crate::contract::{Condition, ContractSet, Selector};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{Field, OutputPath};
use crate::source::driver::{self, ReadPlan};
use crate::source::{RecordSink, Regions};
use checker_ec2::{Connection, Ec2Error, RawInstance, RegionClient};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod accounts;
mod region;
pub use accounts::{Accounts, OrgScope, one_account, resolve_accounts, scan_accounts};
pub use driver::{LiveFleet, Sample};

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
        OutputPath::Field(_) | OutputPath::UserData(_) => None,
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
    pub sink: Option<Arc<dyn RecordSink>>,
}

/// [`scan`] in one of several accounts: `account`'s own API budget, every record and part
/// marked with it, and no progress bar of its own (the caller shows accounts). Each region is a
/// location of the live driver, which does the rest.
pub async fn scan_in(
    sdk: &checker_ec2::SdkConfig,
    account: Option<&Arc<str>>,
    regions: &[String],
    args: &LiveOptions,
    plan: &ScanPlan<'_>,
) -> LiveFleet {
    let account_id = account.map_or("", |a| a);
    let locations = region::Ec2Region::all(sdk, account_id, regions, args, plan.filters);
    let read = ReadPlan {
        extra: plan.user_data.map(|s| (args.user_data_sample, s.clone())),
        sink: plan.sink.clone(),
    };
    let scope = account.map(|a| (crate::output::Cloud::Ec2.scope_kind(), a.clone()));
    driver::read_scope(scope, locations, &read).await
}

impl From<LiveError> for crate::Error {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NoRegion => crate::Error::Usage(e.to_string()),
            LiveError::Regions(_) => crate::Error::Incomplete(e.to_string()),
        }
    }
}
