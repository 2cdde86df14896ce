//! `fake-ec2 recv`: the receive-only client, the floor `bench/run` measures checker against.
//!
//! It makes checker's calls with checker's concurrency over checker's HTTP stack, and drops the
//! bytes unparsed except each page's `nextToken`. The calls are those of `RegionClient::scan`
//! (checker-ec2/src/scan.rs): per region, concurrently, DescribeAvailabilityZones and the
//! wildcard probe (one DescribeInstances, MaxResults=5, `availability-zone` `*`); then one
//! paginator per shard of `shard_plan` (a shard per ending of a listed zone, `*a`, `*b`, ..., and
//! one for every other ending), all shards of all regions at once, MaxResults=1000, each next
//! page asked for as soon as its token is known (checker pipelines the same way). The HTTP stack
//! is the one the AWS SDK runs on for an `http://` endpoint: hyper 1 through hyper-util's pooled
//! legacy client, one client (one pool) per region, as checker has one SDK client per region,
//! configured as the SDK's default connector configures it: TCP_NODELAY on and a Tokio pool timer
//! (aws-smithy-http-client 1.5.2 from crates.io, the version in Cargo.lock, src/client.rs:
//! `ConnectorBuilder::default`, `base_connector_with_resolver`, `new_tokio_hyper_builder`).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::BTreeSet;
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Http = Client<HttpConnector, Full<Bytes>>;

/// The characters a zone name can end in, as checker-ec2's `ZONE_NAME_ENDINGS`.
const ZONE_NAME_ENDINGS: &str = "abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ";

#[derive(Debug, clap::Args)]
pub struct RecvArgs {
    /// The endpoint, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    endpoint: String,
    /// Regions scanned, all at once.
    #[arg(long, value_delimiter = ',', required = true)]
    regions: Vec<String>,
    /// A server-side filter, NAME=V1,V2 (repeatable). The default is what checker sends for
    /// bench/contracts (its `server_filters`: the selector's states and `tag:Owner`).
    #[arg(long = "filter", default_values_t = [
        "instance-state-name=pending,running".to_string(),
        "tag:Owner=ec2-manager-production".to_string(),
    ])]
    filters: Vec<String>,
    /// Count the instances received (`<instanceId>` occurrences): for tests, off when measuring.
    #[arg(long)]
    count: bool,
}

/// What one shard or region received.
#[derive(Default, Clone, Copy)]
struct Got {
    zone_calls: usize,
    instance_calls: usize,
    pages: usize,
    bytes: usize,
    instances: usize,
}

impl std::ops::AddAssign for Got {
    fn add_assign(&mut self, o: Got) {
        self.zone_calls += o.zone_calls;
        self.instance_calls += o.instance_calls;
        self.pages += o.pages;
        self.bytes += o.bytes;
        self.instances += o.instances;
    }
}

/// One call: POST the form body, signed-looking enough for the fake to tell the region (it reads
/// the credential scope, as SigV4 carries it); the body read whole.
async fn call(http: &Http, endpoint: &str, region: &str, body: String) -> Result<Bytes, Error> {
    let req = hyper::Request::post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=bench/20260101/{region}/ec2/aws4_request"),
        )
        .body(Full::new(Bytes::from(body)))?;
    let resp = http.request(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        return Err(format!("{region}: HTTP {status}: {head}").into());
    }
    Ok(bytes)
}

/// The form-encoded filters, numbered from 1, as the SDK serialises them.
fn filter_params(filters: &[(String, Vec<String>)]) -> String {
    let mut s = String::new();
    for (n, (name, vals)) in filters.iter().enumerate() {
        let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        s.push_str(&format!("&Filter.{}.Name={}", n + 1, enc(name)));
        for (m, v) in vals.iter().enumerate() {
            s.push_str(&format!("&Filter.{}.Value.{}={}", n + 1, m + 1, enc(v)));
        }
    }
    s
}

/// The text of the last `<tag>` element in `body`'s final 4 KB: the next token sits at the end
/// of a DescribeInstances page, so nothing before is looked at.
fn last_element(body: &[u8], tag: &str) -> Option<String> {
    let tail = &body[body.len().saturating_sub(4096)..];
    let open = format!("<{tag}>");
    let at = find_last(tail, open.as_bytes())? + open.len();
    let end = tail[at..].iter().position(|b| *b == b'<')?;
    Some(String::from_utf8_lossy(&tail[at..at + end]).into_owned())
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Every zone name in a DescribeAvailabilityZones answer (a small body: read whole).
fn zone_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    text.split("<zoneName>")
        .skip(1)
        .filter_map(|s| s.split('<').next().map(str::to_string))
        .collect()
}

/// checker-ec2's `shard_plan`: one shard per listed ending, one for the rest.
fn shard_plan(zones: &[String]) -> Vec<Vec<String>> {
    let ends: BTreeSet<char> = zones
        .iter()
        .filter_map(|z| z.chars().last())
        .filter(|c| ZONE_NAME_ENDINGS.contains(*c))
        .collect();
    let mut plan: Vec<Vec<String>> = ends.iter().map(|c| vec![format!("*{c}")]).collect();
    let rest: Vec<String> = ZONE_NAME_ENDINGS
        .chars()
        .filter(|c| !ends.contains(c))
        .map(|c| format!("*{c}"))
        .collect();
    if !rest.is_empty() {
        plan.push(rest);
    }
    plan
}

/// What a region's calls share.
struct Region {
    http: Http,
    endpoint: String,
    region: String,
    filters: Vec<(String, Vec<String>)>,
    count: bool,
}

impl Region {
    /// One DescribeInstances chain with `zone` added to the filters.
    async fn paginate(&self, zone: Vec<String>, max: usize) -> Result<Got, Error> {
        let mut f = self.filters.clone();
        f.push(("availability-zone".into(), zone));
        let base = format!(
            "Action=DescribeInstances&Version=2016-11-15{}&MaxResults={max}",
            filter_params(&f)
        );
        let mut got = Got::default();
        let mut token: Option<String> = None;
        loop {
            let body = match &token {
                Some(t) => format!(
                    "{base}&NextToken={}",
                    form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
                ),
                None => base.clone(),
            };
            let page = call(&self.http, &self.endpoint, &self.region, body).await?;
            got.instance_calls += 1;
            got.pages += 1;
            got.bytes += page.len();
            if self.count {
                got.instances += count(&page, b"<instanceId>");
            }
            token = last_element(&page, "nextToken").filter(|t| !t.is_empty());
            if token.is_none() || max < 1000 {
                return Ok(got);
            }
        }
    }

    /// The region as checker scans it: zones and the wildcard probe at once, then every shard.
    async fn scan(self: std::sync::Arc<Self>) -> Result<Got, Error> {
        let zones = async {
            let b = call(
                &self.http,
                &self.endpoint,
                &self.region,
                "Action=DescribeAvailabilityZones&Version=2016-11-15&AllAvailabilityZones=true"
                    .into(),
            )
            .await?;
            Ok::<_, Error>((zone_names(&b), b.len()))
        };
        let (zones, probe) = tokio::join!(zones, self.paginate(vec!["*".into()], 5));
        let ((zones, zone_bytes), probe) = (zones?, probe?);
        let mut got = Got {
            zone_calls: 1,
            instance_calls: probe.instance_calls,
            bytes: zone_bytes + probe.bytes,
            ..Got::default()
        };
        let mut shards = tokio::task::JoinSet::new();
        for zone in shard_plan(&zones) {
            let me = self.clone();
            shards.spawn(async move { me.paginate(zone, 1000).await });
        }
        while let Some(r) = shards.join_next().await {
            got += r??;
        }
        Ok(got)
    }
}

/// Runs the client; prints one JSON line: the calls made, pages, bytes, seconds (first call to
/// last byte).
pub async fn run(a: RecvArgs) -> Result<(), Error> {
    let mut filters = Vec::new();
    for f in &a.filters {
        let (name, vals) = f
            .split_once('=')
            .ok_or_else(|| format!("--filter {f:?}: expected NAME=V1,V2"))?;
        filters.push((
            name.to_string(),
            vals.split(',').map(str::to_string).collect(),
        ));
    }
    let started = Instant::now();
    let mut regions = tokio::task::JoinSet::new();
    for region in &a.regions {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        let r = std::sync::Arc::new(Region {
            http: Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(conn),
            endpoint: format!("{}/", a.endpoint.trim_end_matches('/')),
            region: region.clone(),
            filters: filters.clone(),
            count: a.count,
        });
        regions.spawn(r.scan());
    }
    let mut got = Got::default();
    while let Some(r) = regions.join_next().await {
        got += r??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "calls": {"DescribeAvailabilityZones": got.zone_calls, "DescribeInstances": got.instance_calls},
            "pages": got.pages, "bytes": got.bytes, "instances": got.instances, "seconds": seconds,
        })
    );
    Ok(())
}
