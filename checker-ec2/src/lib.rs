//! The one place checker talks to EC2. Everything the SDK returns is turned into plain data
//! ([`RawInstance`], [`RawStatus`]) at this boundary, so nothing else imports `aws_sdk_ec2`, and
//! SDK errors become an [`Ec2Error`] that says what happened in words.
//!
//! Scans stream: each DescribeInstances page is converted and handed to the caller as it arrives;
//! no whole-region response is ever held.

use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, InstanceAttributeName};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tracing::debug;

pub use aws_config::SdkConfig;

mod account;
mod act;
mod body;
mod error;
mod fastxml;
mod fields;
mod scan;
mod seen;

pub use account::{AssumeRole, OrgAccount, caller_account, org_accounts, session_name};
pub use act::{ActionResult, InstanceAction, RawStatus};
use body::*;
use error::classify;
pub use error::{Ec2Error, require_credentials};
pub use fields::{At, Ec2Field, Spec, Values, group_list};
pub use scan::RawInstance;

/// Reads one successful DescribeInstances response body (the query API's XML) into its
/// instances and its `nextToken`, as a scan does: for benchmarks and tools that hold a page.
/// A malformed or truncated body is an error.
pub fn read_instances_page(body: &[u8]) -> Result<(Vec<RawInstance>, Option<String>), String> {
    fastxml::describe_instances(body)
}

/// How to reach EC2: the shared arguments of every live command.
#[derive(Debug, Clone)]
pub struct Connection {
    /// A shared-config profile; otherwise the default chain (env, profile, SSO, web identity, IMDS).
    pub profile: Option<String>,
    /// Another endpoint (moto, LocalStack, a mock).
    pub endpoint_url: Option<String>,
    /// Attempts per call, first included.
    pub retry_attempts: u32,
    /// Backoff before the first retry; later ones grow exponentially with jitter.
    pub initial_backoff: Duration,
    /// `adaptive` (client-side rate limiting on throttling, the default) or `standard`.
    pub adaptive: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one call, every attempt and backoff included: how long an endpoint that
    /// does not answer takes to be reported unreachable.
    pub attempt_timeout: Duration,
    /// Calls in flight per region.
    pub concurrency: usize,
    /// User-data calls (DescribeInstanceAttribute, tiny answers) in flight per region: the
    /// sample goes out at once when the region is read, paced by the API budget, not queued
    /// behind the scan's limit.
    pub user_data_concurrency: usize,
    /// The client-side API budget.
    pub rate: ApiRate,
    /// Credentials given to checker itself (read from a Taskcluster secret); otherwise the
    /// default chain.
    pub credentials: Option<Box<StaticCredentials>>,
    /// Another account's role chain, assumed with the credentials above.
    pub assume_role: Option<AssumeRole>,
}

/// AWS credentials checker was handed. Never printed: `Debug` shows only the key id's prefix.
#[derive(Clone)]
pub struct StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.access_key_id.chars().take(4).collect();
        write!(f, "StaticCredentials({shown}…, <secret withheld>)")
    }
}

/// A client-side budget of API calls, per region and category, because EC2's request tokens are
/// per account and region and the provisioner (worker-manager) spends the same buckets. The
/// defaults are half of EC2's documented refill and bucket size: non-mutating actions refill
/// 20 per second up to 100, and the resource-intensive TerminateInstances 5 per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiRate {
    /// Describe* calls per second.
    pub describe_per_second: f64,
    /// Describe* calls that may go at once after a pause.
    pub describe_burst: u32,
    /// Terminate/Reboot/CreateTags/DeleteTags calls per second.
    pub mutate_per_second: f64,
    /// Mutating calls that may go at once.
    pub mutate_burst: u32,
}

impl Default for ApiRate {
    fn default() -> Self {
        ApiRate {
            describe_per_second: 10.0,
            describe_burst: 50,
            mutate_per_second: 2.5,
            mutate_burst: 5,
        }
    }
}

type Limiter = governor::DefaultDirectRateLimiter;

/// A token bucket of `per_second` refill and `burst` size.
fn limiter(per_second: f64, burst: u32) -> Limiter {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let burst = std::num::NonZeroU32::new(burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let quota = governor::Quota::with_period(period)
        .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN))
        .allow_burst(burst);
    governor::RateLimiter::direct(quota)
}

/// The process's buckets: one per account, region and category (EC2 meters each account and
/// region apart), shared by every client of the account's region.
type Buckets = std::sync::Mutex<std::collections::HashMap<(String, String, bool), Arc<Limiter>>>;
static BUCKETS: std::sync::LazyLock<Buckets> = std::sync::LazyLock::new(Default::default);
/// The rate the buckets are made with (set by [`load_config`]).
static RATE: std::sync::OnceLock<ApiRate> = std::sync::OnceLock::new();

fn bucket(account: &str, region: &str, mutating: bool) -> Arc<Limiter> {
    let rate = RATE.get().copied().unwrap_or_default();
    let mut b = BUCKETS.lock().unwrap_or_else(|e| e.into_inner());
    b.entry((account.to_string(), region.to_string(), mutating))
        .or_insert_with(|| {
            Arc::new(if mutating {
                limiter(rate.mutate_per_second, rate.mutate_burst)
            } else {
                limiter(rate.describe_per_second, rate.describe_burst)
            })
        })
        .clone()
}

/// Pagination that cannot loop: a NextToken EC2 already gave, or more pages than any account
/// holds, fails the region instead of spending the account's request tokens without end.
#[derive(Default)]
pub(crate) struct PageGuard {
    seen: std::collections::HashSet<String>,
}

/// 100,000 pages of 1,000: a hundred million instances, far past EC2's per-region limits.
const MAX_PAGES: usize = 100_000;

impl PageGuard {
    /// Accepts the next page's token, or says why paging must stop.
    pub(crate) fn next(&mut self, token: &str, api: &str) -> Result<(), Ec2Error> {
        if self.seen.len() >= MAX_PAGES {
            return Err(Ec2Error::Other(format!(
                "{api} gave more than {MAX_PAGES} pages: stopped paging (a looping endpoint?)"
            )));
        }
        if !self.seen.insert(token.to_string()) {
            return Err(Ec2Error::Other(format!(
                "{api} returned a NextToken it had already returned: stopped paging rather than loop (the endpoint is paginating in a circle)"
            )));
        }
        Ok(())
    }
}

/// The actions that spend the mutating bucket.
const MUTATING: [&str; 4] = [
    "TerminateInstances",
    "RebootInstances",
    "CreateTags",
    "DeleteTags",
];

impl Default for Connection {
    fn default() -> Self {
        Connection {
            profile: None,
            endpoint_url: None,
            retry_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            adaptive: true,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(30),
            concurrency: 8,
            user_data_concurrency: 32,
            rate: ApiRate::default(),
            credentials: None,
            assume_role: None,
        }
    }
}

/// Loads the SDK configuration through aws-config's default chain, with our retry and timeouts.
pub async fn load_config(c: &Connection) -> SdkConfig {
    let _ = RATE.set(c.rate);
    let mut retry = if c.adaptive {
        RetryConfig::adaptive()
    } else {
        RetryConfig::standard()
    };
    retry = retry
        .with_max_attempts(c.retry_attempts.max(1))
        .with_initial_backoff(c.initial_backoff)
        .with_max_backoff(Duration::from_secs(20));
    // `attempt_timeout` bounds a whole call, retries and backoff included: an endpoint that
    // never answers is "unreachable" after it, not after every attempt's timeout in turn (five
    // 30 s attempts, twice over with the zone fallback, took 308 s).
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(c.connect_timeout.min(c.attempt_timeout))
        .operation_attempt_timeout(c.attempt_timeout)
        .operation_timeout(c.attempt_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(p) = &c.profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = &c.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(k) = &c.credentials {
        loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
            k.access_key_id.clone(),
            k.secret_access_key.clone(),
            k.session_token.clone(),
            None,
            "checker-taskcluster-secret",
        ));
    }
    let conf = loader.load().await;
    match &c.assume_role {
        Some(chain) => {
            let sts_region = conf
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into());
            account::assume(conf, chain, &sts_region).await
        }
        None => conf,
    }
}

/// An EC2 client for one region.
#[derive(Clone)]
pub struct RegionClient {
    /// The region.
    pub region: String,
    client: aws_sdk_ec2::Client,
    permits: Arc<Semaphore>,
    user_data_permits: Arc<Semaphore>,
    calls: Arc<AtomicUsize>,
    by_action: Arc<std::sync::Mutex<std::collections::BTreeMap<&'static str, usize>>>,
    describe: Arc<Limiter>,
    mutate: Arc<Limiter>,
}

impl RegionClient {
    /// A client for `region`, allowing `concurrency` calls in flight.
    pub fn new(sdk: &SdkConfig, region: &str, concurrency: usize) -> Self {
        Self::in_account(sdk, "", region, concurrency)
    }

    /// A client for `region` of `account` (`sdk` holds that account's credentials): its API
    /// budget is the account's own.
    pub fn in_account(sdk: &SdkConfig, account: &str, region: &str, concurrency: usize) -> Self {
        let conf = aws_sdk_ec2::config::Builder::from(sdk)
            .region(aws_sdk_ec2::config::Region::new(region.to_string()))
            .interceptor(CompleteXml)
            .build();
        RegionClient {
            region: region.to_string(),
            client: aws_sdk_ec2::Client::from_conf(conf),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            user_data_permits: Arc::new(Semaphore::new(concurrency.max(1))),
            calls: Arc::new(AtomicUsize::new(0)),
            by_action: Arc::default(),
            describe: bucket(account, region, false),
            mutate: bucket(account, region, true),
        }
    }

    /// Allows `n` user-data calls in flight (default: the scan's concurrency).
    pub fn with_user_data_concurrency(mut self, n: usize) -> Self {
        self.user_data_permits = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// API calls made so far (attempts that the SDK retried count once).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// API calls made so far, per action.
    pub fn calls_by_action(&self) -> std::collections::BTreeMap<String, usize> {
        self.by_action
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
            .unwrap_or_default()
    }

    /// Waits for a token of the action's bucket and a slot of the region's concurrency.
    async fn permit(&self, action: &'static str) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.by_action.lock() {
            *m.entry(action).or_insert(0) += 1;
        }
        if MUTATING.contains(&action) {
            self.mutate.until_ready().await;
        } else {
            self.describe.until_ready().await;
        }
        // We never close the semaphores, so this is always Some.
        if action == "DescribeInstanceAttribute" {
            self.user_data_permits.acquire().await.ok()
        } else {
            self.permits.acquire().await.ok()
        }
    }

    /// The enabled regions (DescribeRegions).
    pub async fn regions(&self) -> Result<Vec<String>, Ec2Error> {
        let _p = self.permit("DescribeRegions").await;
        let t = Instant::now();
        let out = self
            .client
            .describe_regions()
            .send()
            .await
            .map_err(classify)?;
        let mut names: Vec<String> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        names.sort();
        debug!(region = %self.region, regions = names.len(), ms = t.elapsed().as_millis() as u64, "DescribeRegions");
        Ok(names)
    }

    /// Every zone of the region that can hold an instance (DescribeAvailabilityZones with
    /// AllAvailabilityZones, so no zone is left out by the account's defaults): its Availability
    /// Zones and every Local and Wavelength Zone but those the account has not opted into, where
    /// EC2 cannot place an instance. Each becomes a shard: the shards cover every zone an
    /// instance of this region can be in, whatever state the listing would otherwise filter.
    pub async fn zones(&self) -> Result<Vec<String>, Ec2Error> {
        let _p = self.permit("DescribeAvailabilityZones").await;
        let t = Instant::now();
        let out = self
            .client
            .describe_availability_zones()
            .all_availability_zones(true)
            .send()
            .await
            .map_err(classify)?;
        let mut names: Vec<String> = out
            .availability_zones()
            .iter()
            .filter(|z| {
                z.opt_in_status()
                    != Some(&aws_sdk_ec2::types::AvailabilityZoneOptInStatus::NotOptedIn)
            })
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        debug!(region = %self.region, zones = names.len(), ms = t.elapsed().as_millis() as u64, "DescribeAvailabilityZones");
        Ok(names)
    }
}

/// What a region scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    /// Paginators run.
    pub shards: usize,
    /// Pages fetched in all.
    pub pages: usize,
    /// The longest chain of sequential calls: the zone listing (when sharded) plus the longest
    /// shard's pages. The latency floor is this times the latency.
    pub max_sequential_pages: usize,
    /// Distinct instances.
    pub instances: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// How the scan departed from its plan (the zones could not be listed: one chain).
    pub note: Option<String>,
}

fn to_filters(filters: &[(String, Vec<String>)]) -> Vec<Filter> {
    filters
        .iter()
        .map(|(n, v)| {
            Filter::builder()
                .name(n)
                .set_values(Some(v.clone()))
                .build()
        })
        .collect()
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    /// The bucket lets a burst go at once, then refuses until it refills; a repeated NextToken
    /// stops paging.
    #[test]
    fn the_bucket_allows_its_burst_then_paces_and_pages_cannot_loop() {
        let l = limiter(2.0, 3);
        assert!((0..3).all(|_| l.check().is_ok()));
        assert!(l.check().is_err(), "the fourth call must wait");
        let mut g = PageGuard::default();
        assert!(g.next("a", "X").is_ok() && g.next("b", "X").is_ok());
        assert!(g.next("a", "X").is_err());
    }
}
