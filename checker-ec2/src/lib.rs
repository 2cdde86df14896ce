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
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tracing::debug;

pub use aws_config::SdkConfig;

mod act;
mod body;
mod error;
mod fastxml;
mod scan;

pub use act::{ActionResult, RawStatus};
use body::*;
pub use error::Ec2Error;
use error::classify;
pub use scan::RawInstance;

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
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Calls in flight per region.
    pub concurrency: usize,
}

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
        }
    }
}

/// Loads the SDK configuration through aws-config's default chain, with our retry and timeouts.
pub async fn load_config(c: &Connection) -> SdkConfig {
    let mut retry = if c.adaptive {
        RetryConfig::adaptive()
    } else {
        RetryConfig::standard()
    };
    retry = retry
        .with_max_attempts(c.retry_attempts.max(1))
        .with_initial_backoff(c.initial_backoff)
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(c.connect_timeout)
        .operation_attempt_timeout(c.attempt_timeout)
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
    loader.load().await
}

/// An EC2 client for one region.
#[derive(Clone)]
pub struct RegionClient {
    /// The region.
    pub region: String,
    client: aws_sdk_ec2::Client,
    permits: Arc<Semaphore>,
    calls: Arc<AtomicUsize>,
}

impl RegionClient {
    /// A client for `region`, allowing `concurrency` calls in flight.
    pub fn new(sdk: &SdkConfig, region: &str, concurrency: usize) -> Self {
        let conf = aws_sdk_ec2::config::Builder::from(sdk)
            .region(aws_sdk_ec2::config::Region::new(region.to_string()))
            .interceptor(CompleteXml)
            .build();
        RegionClient {
            region: region.to_string(),
            client: aws_sdk_ec2::Client::from_conf(conf),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// API calls made so far (attempts that the SDK retried count once).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    async fn permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        // We never close the semaphore, so this is always Some.
        self.permits.acquire().await.ok()
    }

    /// The enabled regions (DescribeRegions).
    pub async fn regions(&self) -> Result<Vec<String>, Ec2Error> {
        let _p = self.permit().await;
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

    /// Every zone of the region that can hold an instance (DescribeAvailabilityZones): its
    /// Availability Zones and the Local and Wavelength Zones the account has opted into (the
    /// call lists exactly those by default). Each becomes a shard, so a zone left out here is a
    /// zone whose instances are never fetched: every zone type is kept.
    pub async fn zones(&self) -> Result<Vec<String>, Ec2Error> {
        let _p = self.permit().await;
        let t = Instant::now();
        let out = self
            .client
            .describe_availability_zones()
            .send()
            .await
            .map_err(classify)?;
        let mut names: Vec<String> = out
            .availability_zones()
            .iter()
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
