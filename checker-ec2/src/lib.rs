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

mod fastxml;

/// Hands the SDK an empty document for a successful DescribeInstances response and keeps the
/// real body for [`fastxml`]; error responses go to the SDK untouched.
#[derive(Debug)]
struct StashBody(Arc<std::sync::Mutex<Option<Stashed>>>);

/// A kept body and its announced length.
#[derive(Debug)]
struct Stashed {
    body: aws_smithy_types::body::SdkBody,
    content_length: Option<usize>,
}

const EMPTY_DESCRIBE_INSTANCES: &str = "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet/></DescribeInstancesResponse>";

impl aws_sdk_ec2::config::Intercept for StashBody {
    fn name(&self) -> &'static str {
        "StashBody"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_ec2::config::interceptors::BeforeDeserializationInterceptorContextMut<
            '_,
        >,
        _rc: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), aws_sdk_ec2::error::BoxError> {
        let resp = context.response_mut();
        if resp.status().is_success() {
            let content_length = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.parse::<usize>().ok());
            let body = std::mem::replace(
                resp.body_mut(),
                aws_smithy_types::body::SdkBody::from(EMPTY_DESCRIBE_INSTANCES),
            );
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(Stashed {
                    body,
                    content_length,
                });
            }
        }
        Ok(())
    }
}

/// A DescribeInstances response: the raw body for [`fastxml`], or (should the body not have
/// been kept) what the SDK parsed.
enum Fetched {
    Body(Vec<u8>),
    Parsed(Vec<RawInstance>, Option<String>),
}

/// Reads a body into one buffer sized from its Content-Length. (The SDK's `collect()` grows its
/// buffer chunk by chunk while copying: a profile of a 10,000-instance scan showed it, with the
/// page faults of each regrown buffer, at 12% of the scan's CPU.)
async fn read_body(
    body: aws_smithy_types::body::SdkBody,
    content_length: Option<usize>,
) -> Result<Vec<u8>, aws_smithy_types::byte_stream::error::Error> {
    // A lying Content-Length only costs a reallocation; cap what it can reserve up front.
    let mut buf = Vec::with_capacity(content_length.unwrap_or(0).min(256 << 20));
    let mut stream = aws_smithy_types::byte_stream::ByteStream::new(body);
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf)
}

/// A page request running in its own task; dropping it aborts the request.
struct InFlight(tokio::task::JoinHandle<Result<Fetched, Ec2Error>>);

impl InFlight {
    async fn join(mut self) -> Result<Fetched, Ec2Error> {
        match (&mut self.0).await {
            Ok(r) => r,
            Err(e) => Err(Ec2Error::Other(format!("a page request failed: {e}"))),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.abort();
    }
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

/// An EC2 failure, classified for people.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Ec2Error {
    /// Credentials were refused.
    #[error(
        "AWS refused the credentials ({code}: {message}); check AWS_PROFILE / --profile, or run `aws sts get-caller-identity` with the same settings"
    )]
    Auth {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Not allowed.
    #[error(
        "access denied ({code}: {message}); the role needs the permissions in hooks/iam-policy.json"
    )]
    Denied {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Still throttled after every retry.
    #[error(
        "throttled by EC2 after every retry ({code}: {message}); lower --concurrency or raise --retry-attempts"
    )]
    Throttled {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Any other error EC2 returned.
    #[error("EC2 returned {code}: {message}")]
    Service {
        /// The error code (or the HTTP status).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The response could not be understood.
    #[error("EC2's response could not be parsed ({0}); is --endpoint-url an EC2 endpoint?")]
    Malformed(String),
    /// The endpoint could not be reached.
    #[error("could not reach EC2: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("EC2 did not answer in time: {0}")]
    Timeout(String),
    /// Anything else (no credentials, no region, ...).
    #[error("{0}")]
    Other(String),
}

fn classify<E, R>(err: SdkError<E, R>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = DisplayErrorContext(&err).to_string();
    let chain = error_chain(&err);
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            let message = e.message().unwrap_or("").to_string();
            match code.as_str() {
                "AuthFailure"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "RequestExpired" => Ec2Error::Auth { code, message },
                "UnauthorizedOperation" | "AccessDenied" | "OptInRequired" | "Blocked" => {
                    Ec2Error::Denied { code, message }
                }
                "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
                    Ec2Error::Throttled { code, message }
                }
                "Unknown" => {
                    if text.contains("failed to parse")
                        || text.contains("XML")
                        || text.contains("xml")
                        || text.contains("deserializ")
                    {
                        Ec2Error::Malformed(short(&text))
                    } else {
                        let status = se.raw();
                        Ec2Error::Service {
                            code: format!("{status:?}").chars().take(60).collect(),
                            message: short(&text),
                        }
                    }
                }
                _ => Ec2Error::Service { code, message },
            }
        }
        SdkError::ResponseError(_) => Ec2Error::Malformed(short(&chain)),
        SdkError::TimeoutError(_) => Ec2Error::Timeout(short(&chain)),
        SdkError::DispatchFailure(d) if d.is_timeout() => Ec2Error::Timeout(short(&chain)),
        SdkError::DispatchFailure(_) => Ec2Error::Unreachable(short(&chain)),
        _ => Ec2Error::Other(short(&chain)),
    }
}

/// The error and its sources in words ("a: b: c"), without the SDK's debug dumps.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
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

/// Refuses a successful response whose XML document is cut off. The SDK's XML reader accepts a
/// body that ends in the middle of an element and returns what it read so far: a truncated page
/// would look like a smaller, clean fleet. Checking that the root element is closed turns that
/// into an error (and a failed region) instead.
#[derive(Debug)]
struct CompleteXml;

impl aws_sdk_ec2::config::Intercept for CompleteXml {
    fn name(&self) -> &'static str {
        "CompleteXml"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_ec2::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _rc: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), aws_sdk_ec2::error::BoxError> {
        let resp = context.response();
        if !resp.status().is_success() {
            return Ok(());
        }
        let Some(body) = resp.body().bytes() else {
            return Ok(());
        };
        if xml_is_complete(body) {
            Ok(())
        } else {
            Err(format!(
                "the response body is truncated: its XML root element is never closed ({} bytes)",
                body.len()
            )
            .into())
        }
    }
}

/// Whether the XML document's root element is closed at the end of the body.
fn xml_is_complete(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let mut rest = text.trim();
    // Skip the declaration and comments to find the root element's name.
    while let Some(r) = rest
        .strip_prefix("<?")
        .or_else(|| rest.strip_prefix("<!--"))
    {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match r.find(end) {
            Some(i) => rest = r[i + end.len()..].trim_start(),
            None => return false,
        }
    }
    let Some(r) = rest.strip_prefix('<') else {
        return false;
    };
    let name: String = r
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    if name.is_empty() {
        return false;
    }
    let end = text.trim_end();
    end.ends_with(&format!("</{name}>")) || (end.ends_with("/>") && !r[name.len()..].contains('<'))
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

    /// Fetches one page of DescribeInstances: the SDK signs, sends and retries. A body that
    /// cannot be read is fetched again, up to three times.
    async fn fetch(
        &self,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        token: Option<String>,
    ) -> Result<Fetched, Ec2Error> {
        let mut last = None;
        for _ in 0..3 {
            let slot = Arc::new(std::sync::Mutex::new(None));
            let req = self
                .client
                .describe_instances()
                .max_results(page_size)
                .set_filters(Some(to_filters(filters)))
                .set_next_token(token.clone());
            let sent = Instant::now();
            let out = {
                let _p = self.permit().await;
                req.customize()
                    .interceptor(StashBody(slot.clone()))
                    .send()
                    .await
                    .map_err(classify)?
            };
            let answered = sent.elapsed();
            let stashed = slot.lock().ok().and_then(|mut s| s.take());
            let Some(Stashed {
                body,
                content_length,
            }) = stashed
            else {
                // The interceptor did not see a body (cannot happen for a successful call): use the SDK's parse.
                let page = out
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .map(convert)
                    .collect();
                let next = out
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                return Ok(Fetched::Parsed(page, next));
            };
            match read_body(body, content_length).await {
                Ok(bytes) => {
                    debug!(region = %self.region, bytes = bytes.len(), answered_ms = answered.as_millis() as u64, received_ms = sent.elapsed().as_millis() as u64, "DescribeInstances page received");
                    return Ok(Fetched::Body(bytes));
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(Ec2Error::Unreachable(format!(
            "the response body could not be read: {}",
            last.unwrap_or_default()
        )))
    }

    /// [`RegionClient::fetch`] in a task of its own, so the request is in flight while the
    /// caller reads the previous page.
    fn spawn_fetch(
        &self,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        token: Option<String>,
    ) -> InFlight {
        let client = self.clone();
        let filters = filters.to_vec();
        InFlight(tokio::spawn(async move {
            client.fetch(&filters, page_size, token).await
        }))
    }

    /// One paginated DescribeInstances with `filters`, each page converted and passed to `sink`.
    ///
    /// Pages are pipelined: the next page's token is looked up at the end of the body
    /// ([`fastxml::next_token_hint`]) and its request sent before this page is read, so reading
    /// overlaps the next call's latency. The hint is checked against the token the full read
    /// finds; if they ever differ the early request is dropped and the right one sent.
    async fn paginate(
        &self,
        shard: &str,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        sink: &(dyn Fn(Vec<RawInstance>) + Send + Sync),
    ) -> Result<usize, Ec2Error> {
        let mut pages = 0usize;
        let mut pending = self.spawn_fetch(filters, page_size, None);
        loop {
            let t = Instant::now();
            let fetched = pending.join().await?;
            let read = Instant::now();
            let (page, next, early) = match fetched {
                Fetched::Parsed(page, next) => (page, next, None),
                Fetched::Body(bytes) => {
                    let early = fastxml::next_token_hint(&bytes).map(|hint| {
                        let req = self.spawn_fetch(filters, page_size, Some(hint.clone()));
                        (hint, req)
                    });
                    let (page, next) =
                        fastxml::describe_instances(&bytes).map_err(Ec2Error::Malformed)?;
                    (page, next, early)
                }
            };
            pages += 1;
            debug!(region = %self.region, shard, page = pages, instances = page.len(), ms = t.elapsed().as_millis() as u64, parse_ms = read.elapsed().as_millis() as u64, "DescribeInstances");
            sink(page);
            let Some(next) = next else {
                // An early request for a page that does not exist is aborted when dropped.
                return Ok(pages);
            };
            pending = match early {
                Some((hint, req)) if hint == next => req,
                _ => self.spawn_fetch(filters, page_size, Some(next)),
            };
        }
    }

    /// Scans the region: one paginator per availability zone, concurrently, de-duplicated by
    /// instance id. Pages are handed to `sink` as they arrive.
    pub async fn scan(
        &self,
        filters: &[(String, Vec<String>)],
        shard_by_zone: bool,
        sink: &(dyn Fn(Vec<RawInstance>) + Send + Sync),
    ) -> Result<ScanStats, Ec2Error> {
        let started = Instant::now();
        let zones = if shard_by_zone {
            self.zones().await?
        } else {
            Vec::new()
        };
        let seen = std::sync::Mutex::new(HashSet::<String>::new());
        let dedup = |page: Vec<RawInstance>| {
            let fresh: Vec<RawInstance> = match seen.lock() {
                Ok(mut s) => page
                    .into_iter()
                    .filter(|i| s.insert(i.id.clone()))
                    .collect(),
                Err(_) => page,
            };
            if !fresh.is_empty() {
                sink(fresh);
            }
        };
        let mut shard_pages = Vec::new();
        if zones.is_empty() {
            shard_pages.push(self.paginate("all", filters, 1000, &dedup).await?);
        } else {
            let mut jobs: FuturesUnordered<_> = zones
                .iter()
                .map(|z| {
                    let mut f = filters.to_vec();
                    f.push(("availability-zone".into(), vec![z.clone()]));
                    let dedup = &dedup;
                    async move { self.paginate(z, &f, 1000, dedup).await }
                })
                .collect();
            while let Some(r) = jobs.next().await {
                shard_pages.push(r?);
            }
        }
        let instances = seen.lock().map(|s| s.len()).unwrap_or(0);
        Ok(ScanStats {
            shards: shard_pages.len(),
            max_sequential_pages: shard_pages.iter().copied().max().unwrap_or(0)
                + usize::from(shard_by_zone),
            pages: shard_pages.iter().sum(),
            instances,
            elapsed: started.elapsed(),
        })
    }

    /// The base64 user-data of one instance (DescribeInstanceAttribute), `None` when it has none.
    pub async fn user_data(&self, instance_id: &str) -> Result<Option<String>, Ec2Error> {
        let _p = self.permit().await;
        let t = Instant::now();
        let out = self
            .client
            .describe_instance_attribute()
            .instance_id(instance_id)
            .attribute(InstanceAttributeName::UserData)
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instance = instance_id, ms = t.elapsed().as_millis() as u64, "DescribeInstanceAttribute userData");
        Ok(out
            .user_data()
            .and_then(|v| v.value())
            .filter(|v| !v.is_empty())
            .map(str::to_string))
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

#[cfg(test)]
mod tests {
    use super::xml_is_complete;

    #[test]
    fn complete_and_truncated_documents_are_told_apart() {
        assert!(xml_is_complete(
            b"<?xml version=\"1.0\"?>\n<A xmlns=\"x\"><b/></A>\n"
        ));
        assert!(xml_is_complete(b"<A/>"));
        assert!(!xml_is_complete(b"<A><b>1</b>"));
        assert!(!xml_is_complete(b"<?xml version=\"1.0\"?><A><B></B></A"));
        assert!(!xml_is_complete(b""));
    }
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

/// An instance as DescribeInstances returned it, reduced to what checker reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInstance {
    /// Instance id.
    pub id: String,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// State name.
    pub state: Option<String>,
    /// RFC 3339.
    pub launch_time: Option<String>,
    /// Key pair.
    pub key_name: Option<String>,
    /// AMI.
    pub image_id: Option<String>,
    /// Type.
    pub instance_type: Option<String>,
    /// Instance profile ARN.
    pub iam_instance_profile: Option<String>,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// VPC.
    pub vpc_id: Option<String>,
    /// `spot` or none.
    pub instance_lifecycle: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

fn convert(i: &aws_sdk_ec2::types::Instance) -> RawInstance {
    let s = |v: Option<&str>| v.map(str::to_string);
    RawInstance {
        id: i.instance_id().unwrap_or_default().to_string(),
        availability_zone: s(i.placement().and_then(|p| p.availability_zone())),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string()),
        launch_time: i
            .launch_time()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        key_name: s(i.key_name()),
        image_id: s(i.image_id()),
        instance_type: i.instance_type().map(|t| t.as_str().to_string()),
        iam_instance_profile: s(i.iam_instance_profile().and_then(|p| p.arn())),
        subnet_id: s(i.subnet_id()),
        vpc_id: s(i.vpc_id()),
        instance_lifecycle: i.instance_lifecycle().map(|l| l.as_str().to_string()),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    }
}

/// One instance's status checks, as DescribeInstanceStatus reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStatus {
    /// Instance id.
    pub id: String,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Instance state name.
    pub state: Option<String>,
    /// The instance status check (`ok`, `impaired`, ...).
    pub instance_status: Option<String>,
    /// The system status check.
    pub system_status: Option<String>,
    /// The earliest ImpairedSince of any detail, RFC 3339.
    pub impaired_since: Option<String>,
    /// Scheduled event codes (instance-retirement, system-maintenance, ...).
    pub events: Vec<String>,
}

/// What one TerminateInstances/RebootInstances call did to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    /// Instance id.
    pub id: String,
    /// `shutting-down`, `terminated`, `rebooting`, `not-found`.
    pub state: String,
}

impl RegionClient {
    /// DescribeInstanceStatus, once per filter set (EC2 ANDs filter names, so each condition is
    /// its own call set), every page followed, de-duplicated by instance id.
    pub async fn statuses(
        &self,
        condition_sets: &[(String, Vec<String>)],
    ) -> Result<Vec<RawStatus>, Ec2Error> {
        let mut seen: std::collections::BTreeMap<String, RawStatus> =
            std::collections::BTreeMap::new();
        for (name, values) in condition_sets {
            let mut token: Option<String> = None;
            loop {
                let req = self
                    .client
                    .describe_instance_status()
                    .max_results(1000)
                    .filters(
                        Filter::builder()
                            .name(name)
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .set_next_token(token.clone());
                let t = Instant::now();
                let out = {
                    let _p = self.permit().await;
                    req.send().await.map_err(classify)?
                };
                debug!(region = %self.region, filter = %name, statuses = out.instance_statuses().len(), ms = t.elapsed().as_millis() as u64, "DescribeInstanceStatus");
                for s in out.instance_statuses() {
                    let id = s.instance_id().unwrap_or_default().to_string();
                    let mut since: Vec<String> = Vec::new();
                    let summary = |x: Option<&aws_sdk_ec2::types::InstanceStatusSummary>,
                                   since: &mut Vec<String>| {
                        let x = x?;
                        for d in x.details() {
                            if let Some(t) = d.impaired_since().and_then(|t| {
                                t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
                            }) {
                                since.push(t);
                            }
                        }
                        x.status().map(|st| st.as_str().to_string())
                    };
                    let instance_status = summary(s.instance_status(), &mut since);
                    let system_status = summary(s.system_status(), &mut since);
                    since.sort();
                    seen.entry(id.clone()).or_insert(RawStatus {
                        id,
                        availability_zone: s.availability_zone().map(str::to_string),
                        state: s
                            .instance_state()
                            .and_then(|x| x.name())
                            .map(|n| n.as_str().to_string()),
                        instance_status,
                        system_status,
                        impaired_since: since.into_iter().next(),
                        events: s
                            .events()
                            .iter()
                            .filter_map(|e| e.code().map(|c| c.as_str().to_string()))
                            .collect(),
                    });
                }
                token = out
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(seen.into_values().collect())
    }

    /// Terminates (or reboots) instances in batches. Instances already gone are reported as
    /// `not-found`, not as errors, so a re-run is idempotent.
    pub async fn act(
        &self,
        ids: &[String],
        reboot: bool,
        batch: usize,
    ) -> Result<Vec<ActionResult>, Ec2Error> {
        let mut out = Vec::new();
        for chunk in ids.chunks(batch.max(1)) {
            match self.act_batch(chunk, reboot).await {
                Ok(mut r) => out.append(&mut r),
                // One unknown id fails the whole call: retry one by one to find it.
                Err(Ec2Error::Service { code, .. })
                    if code.starts_with("InvalidInstanceID") && chunk.len() > 1 =>
                {
                    for id in chunk {
                        match self.act_batch(std::slice::from_ref(id), reboot).await {
                            Ok(mut r) => out.append(&mut r),
                            Err(Ec2Error::Service { code, .. })
                                if code.starts_with("InvalidInstanceID") =>
                            {
                                out.push(ActionResult {
                                    id: id.clone(),
                                    state: "not-found".into(),
                                })
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(Ec2Error::Service { code, .. }) if code.starts_with("InvalidInstanceID") => out
                    .push(ActionResult {
                        id: chunk[0].clone(),
                        state: "not-found".into(),
                    }),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn act_batch(&self, ids: &[String], reboot: bool) -> Result<Vec<ActionResult>, Ec2Error> {
        let _p = self.permit().await;
        let t = Instant::now();
        if reboot {
            self.client
                .reboot_instances()
                .set_instance_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "RebootInstances");
            return Ok(ids
                .iter()
                .map(|id| ActionResult {
                    id: id.clone(),
                    state: "rebooting".into(),
                })
                .collect());
        }
        let out = self
            .client
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "TerminateInstances");
        Ok(out
            .terminating_instances()
            .iter()
            .map(|c| ActionResult {
                id: c.instance_id().unwrap_or_default().to_string(),
                state: c
                    .current_state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_else(|| "shutting-down".into()),
            })
            .collect())
    }
}
