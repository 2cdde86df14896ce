//! A fake EC2 endpoint for benchmarks: DescribeInstances, DescribeInstanceStatus,
//! DescribeInstanceAttribute, DescribeRegions and DescribeAvailabilityZones in the real Query
//! protocol XML, over a deterministic fleet of N instances per region that is generated on the
//! fly, honouring MaxResults/NextToken and the filters checker and Cloud Custodian
//! send, after a configurable latency per call. `GET /stats` returns the calls served. Pages are
//! generated on first request and then served from memory (see `State::pages`).
//!
//! Instance k of region r is a pure function of (r, k): the same run twice serves the same bytes.
//!
//! `fake-ec2 recv` is the receive-only client checker is measured against (see [`recv`]).

mod recv;

use base64::Engine;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Serves (the flags below), or runs the receive-only client (`recv`).
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    serve: Args,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// The receive-only client: checker's calls, the bytes dropped unparsed.
    Recv(recv::RecvArgs),
}

#[derive(Debug, clap::Args, Clone)]
struct Args {
    /// Port on 127.0.0.1 (0: any; the chosen port is printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Instances per region.
    #[arg(long, default_value_t = 1000)]
    per_region: usize,
    /// Regions served (DescribeRegions lists them).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east-1,us-east-2,us-west-1,us-west-2"
    )]
    regions: Vec<String>,
    /// Availability zones per region.
    #[arg(long, default_value_t = 3)]
    zones: usize,
    /// Latency added to every call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// One instance in this many has an impaired instance status check.
    #[arg(long, default_value_t = 50)]
    impaired_every: usize,
}

const WORKER_TYPES: [&str; 7] = [
    "gecko-t-win10-64",
    "gecko-t-win10-64-gpu",
    "gecko-t-win7-32",
    "gecko-t-win7-32-gpu",
    "gecko-1-b-win2012",
    "gecko-2-b-win2012",
    "gecko-3-b-win2012",
];
const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

#[derive(Default)]
struct Stats {
    calls: BTreeMap<&'static str, AtomicUsize>,
}

struct State {
    args: Args,
    stats: Stats,
    /// Pages already generated, by region and request body. The endpoint shares the machine's
    /// two cores with the program it measures; a real EC2 endpoint does its work elsewhere. So a
    /// page is generated once (the benchmark's warm-up run) and served from here afterwards,
    /// within the same latency.
    pages: std::sync::Mutex<std::collections::HashMap<(String, Bytes), Bytes>>,
}

/// A deterministic hex string of `n` characters for `parts` (FNV-1a, then splitmix64): ids that
/// look random, cost nothing, and are the same on every run. The endpoint shares the machine's
/// cores with the program under test, so it must be cheap.
fn h(parts: &[&str], n: usize) -> String {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(b'/')) {
            x ^= u64::from(b);
            x = x.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut out = String::with_capacity(n + 16);
    while out.len() < n {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let _ = write!(out, "{z:016x}");
    }
    out.truncate(n);
    out
}

/// The fields filters look at; the XML is written only for instances that pass.
struct Inst {
    id: String,
    zone: String,
    wt: &'static str,
    key: String,
    owner: &'static str,
    impaired: bool,
}

fn inst(region: &str, zones: usize, impaired_every: usize, k: usize) -> Inst {
    let ks = k.to_string();
    Inst {
        id: format!("i-0{}", h(&[region, &ks], 16)),
        zone: format!("{region}{}", (b'a' + (k % zones) as u8) as char),
        wt: WORKER_TYPES[(k / zones) % WORKER_TYPES.len()],
        key: "aws-provisioner-v1-managed:ffe27db".into(),
        owner: "ec2-manager-production",
        impaired: impaired_every > 0 && k % impaired_every == impaired_every - 1,
    }
}

fn instance_xml(out: &mut String, region: &str, i: &Inst, k: usize) {
    let ip = format!("10.{}.{}.{}", k / 65536 % 256, k / 256 % 256, k % 256);
    let eni = h(&[&i.id, "eni"], 17);
    let vol = h(&[&i.id, "vol"], 17);
    let _ = write!(
        out,
        "<item><instanceId>{id}</instanceId><imageId>ami-0{ami}</imageId><instanceState><code>16</code><name>running</name></instanceState>\
<privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><dnsName></dnsName><reason></reason><keyName>{key}</keyName><amiLaunchIndex>0</amiLaunchIndex><productCodes/>\
<instanceType>c5.2xlarge</instanceType><launchTime>2018-02-14T0{hour}:12:33.000Z</launchTime><placement><availabilityZone>{zone}</availabilityZone><groupName></groupName><tenancy>default</tenancy></placement>\
<platform>windows</platform><monitoring><state>disabled</state></monitoring><subnetId>subnet-0{sub}</subnetId><vpcId>vpc-0{vpc}</vpcId><privateIpAddress>{ip}</privateIpAddress>\
<sourceDestCheck>true</sourceDestCheck><groupSet><item><groupId>sg-0{sg}</groupId><groupName>livelog-direct</groupName></item><item><groupId>sg-0{sg2}</groupId><groupName>rdp-only</groupName></item></groupSet>\
<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/sda1</rootDeviceName><blockDeviceMapping>\
<item><deviceName>/dev/sda1</deviceName><ebs><volumeId>vol-0{vol}</volumeId><status>attached</status><attachTime>2018-02-14T01:12:34.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>\
<item><deviceName>xvdb</deviceName><ebs><volumeId>vol-1{vol}</volumeId><status>attached</status><attachTime>2018-02-14T01:12:34.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item></blockDeviceMapping>\
<instanceLifecycle>spot</instanceLifecycle><spotInstanceRequestId>sir-{sir}</spotInstanceRequestId><virtualizationType>hvm</virtualizationType><clientToken>{ct}</clientToken>\
<tagSet><item><key>Name</key><value>{wt}</value></item><item><key>Owner</key><value>{owner}</value></item><item><key>WorkerType</key><value>{owner}/{wt}</value></item></tagSet><hypervisor>xen</hypervisor>\
<networkInterfaceSet><item><networkInterfaceId>eni-0{eni}</networkInterfaceId><subnetId>subnet-0{sub}</subnetId><vpcId>vpc-0{vpc}</vpcId><description></description><ownerId>692406183521</ownerId><status>in-use</status>\
<macAddress>0e:{m1}:{m2}:{m3}:{m4}:{m5}</macAddress><privateIpAddress>{ip}</privateIpAddress><privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><sourceDestCheck>true</sourceDestCheck>\
<groupSet><item><groupId>sg-0{sg}</groupId><groupName>livelog-direct</groupName></item></groupSet><attachment><attachmentId>eni-attach-0{eni}</attachmentId><deviceIndex>0</deviceIndex><status>attached</status>\
<attachTime>2018-02-14T01:12:33.000Z</attachTime><deleteOnTermination>true</deleteOnTermination><networkCardIndex>0</networkCardIndex></attachment><privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress>\
<privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><primary>true</primary></item></privateIpAddressesSet><ipv6AddressesSet/><interfaceType>interface</interfaceType></item></networkInterfaceSet>\
<ebsOptimized>true</ebsOptimized><enaSupport>true</enaSupport><cpuOptions><coreCount>4</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions><capacityReservationSpecification><capacityReservationPreference>open</capacityReservationPreference></capacityReservationSpecification>\
<hibernationOptions><configured>false</configured></hibernationOptions><metadataOptions><state>applied</state><httpTokens>optional</httpTokens><httpPutResponseHopLimit>1</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint></metadataOptions>\
<enclaveOptions><enabled>false</enabled></enclaveOptions><platformDetails>Windows</platformDetails><usageOperation>RunInstances:0002</usageOperation><usageOperationUpdateTime>2018-02-14T01:12:33.000Z</usageOperationUpdateTime>\
<privateDnsNameOptions><hostnameType>ip-name</hostnameType></privateDnsNameOptions><maintenanceOptions><autoRecovery>default</autoRecovery></maintenanceOptions></item>",
        id = i.id,
        ami = h(&[region, i.wt], 16),
        dash = ip.replace('.', "-"),
        key = i.key,
        hour = k % 10,
        zone = i.zone,
        sub = h(&[&i.zone, "subnet"], 16),
        vpc = h(&[region, "vpc"], 16),
        sg = h(&[region, "sg"], 16),
        sg2 = h(&[region, "sg2"], 16),
        vol = vol,
        sir = h(&[&i.id, "sir"], 8),
        ct = h(&[&i.id, "ct"], 24),
        wt = i.wt,
        owner = i.owner,
        eni = eni,
        m1 = &eni[0..2],
        m2 = &eni[2..4],
        m3 = &eni[4..6],
        m4 = &eni[6..8],
        m5 = &eni[8..10],
    );
}

type Params = Vec<(String, String)>;

fn param<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// Filter.N.Name / Filter.N.Value.M pairs.
fn filters(p: &Params) -> Vec<(String, Vec<String>)> {
    let mut out: BTreeMap<usize, (String, Vec<String>)> = BTreeMap::new();
    for (k, v) in p {
        let mut parts = k.split('.');
        if parts.next() != Some("Filter") {
            continue;
        }
        let Some(n) = parts.next().and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        let e = out.entry(n).or_default();
        match parts.next() {
            Some("Name") => e.0 = v.clone(),
            Some("Value") => e.1.push(v.clone()),
            _ => {}
        }
    }
    out.into_values().collect()
}

fn glob(pattern: &str, s: &str) -> bool {
    // EC2 filter globs: * and ?.
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

fn matches(i: &Inst, fs: &[(String, Vec<String>)]) -> bool {
    fs.iter().all(|(name, vals)| {
        let field: Option<String> = match name.as_str() {
            "availability-zone" => Some(i.zone.clone()),
            "instance-state-name" => Some("running".into()),
            "key-name" => Some(i.key.clone()),
            "tag:Name" => Some(i.wt.into()),
            "tag:Owner" => Some(i.owner.into()),
            "tag:WorkerType" => Some(format!("{}/{}", i.owner, i.wt)),
            "tag-key" => {
                return vals
                    .iter()
                    .any(|v| ["Name", "Owner", "WorkerType"].contains(&v.as_str()));
            }
            "instance-status.status" => Some(if i.impaired {
                "impaired".into()
            } else {
                "ok".into()
            }),
            "system-status.status" => Some("ok".into()),
            "instance-id" => Some(i.id.clone()),
            _ => None,
        };
        match field {
            Some(f) => vals.iter().any(|v| glob(v, &f)),
            None => true,
        }
    })
}

fn region_of(req_auth: Option<&str>) -> String {
    // Credential=AKID/20180214/us-east-1/ec2/aws4_request
    req_auth
        .and_then(|a| a.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

fn xml_response(body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    r
}

fn error(code: &str, status: u16) -> Response<Full<Bytes>> {
    let mut r = xml_response(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{code}</Message></Error></Errors><RequestID>fake</RequestID></Response>"
    ));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    r
}

/// Pages over instance indexes: `NextToken` is the next index. Instance ids are resolved only for
/// the indexes a filter on ids names.
fn page(state: &State, region: &str, p: &Params, status: bool) -> String {
    let a = &state.args;
    let fs = filters(p);
    let max = param(p, "MaxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(5, 1000);
    let mut k = param(p, "NextToken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    // An availability-zone filter of one zone (exact, or `*` and its last letter) lets us stride
    // over that zone's instances only; anything else is matched instance by instance.
    let zone_filter: Option<usize> =
        fs.iter()
            .find(|(n, _)| n == "availability-zone")
            .and_then(|(_, v)| {
                if v.len() == 1 {
                    // An exact zone (`us-east-1a`) or checker's shard by ending (`*a`).
                    v[0].strip_prefix(region)
                        .or_else(|| v[0].strip_prefix('*'))
                        .filter(|z| z.len() == 1)
                        .and_then(|z| z.bytes().next())
                        .filter(|b| b.is_ascii_lowercase() && ((b - b'a') as usize) < a.zones)
                        .map(|b| (b - b'a') as usize)
                } else {
                    None
                }
            });
    let step = if zone_filter.is_some() { a.zones } else { 1 };
    if let Some(z) = zone_filter
        && k % a.zones != z
    {
        k = k - k % a.zones + z;
    }
    let ids: Vec<&str> = p
        .iter()
        .filter(|(n, _)| n.starts_with("InstanceId."))
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = String::with_capacity(max * if status { 700 } else { 5200 });
    let mut n = 0;
    let mut next = None;
    while k < a.per_region {
        let i = inst(region, a.zones, a.impaired_every, k);
        let include = matches(&i, &fs) && (ids.is_empty() || ids.contains(&i.id.as_str()));
        if include {
            if n == max {
                next = Some(k);
                break;
            }
            if status {
                let st = if i.impaired { "impaired" } else { "ok" };
                let details = if i.impaired {
                    "<details><item><name>reachability</name><status>failed</status><impairedSince>2018-02-14T01:00:00.000Z</impairedSince></item></details>"
                } else {
                    "<details><item><name>reachability</name><status>passed</status></item></details>"
                };
                let _ = write!(
                    out,
                    "<item><instanceId>{}</instanceId><availabilityZone>{}</availabilityZone><instanceState><code>16</code><name>running</name></instanceState><systemStatus><status>ok</status><details><item><name>reachability</name><status>passed</status></item></details></systemStatus><instanceStatus><status>{st}</status>{details}</instanceStatus></item>",
                    i.id, i.zone
                );
            } else {
                let _ = write!(
                    out,
                    "<item><reservationId>r-0{}</reservationId><ownerId>692406183521</ownerId><groupSet/><instancesSet>",
                    h(&[&i.id, "r"], 16)
                );
                instance_xml(&mut out, region, &i, k);
                out.push_str("</instancesSet><requesterId>043234062703</requesterId></item>");
            }
            n += 1;
        }
        k += step;
    }
    let token = next
        .map(|t| format!("<nextToken>{t}</nextToken>"))
        .unwrap_or_default();
    if status {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstanceStatusResponse xmlns=\"{NS}\"><requestId>fake</requestId><instanceStatusSet>{out}</instanceStatusSet>{token}</DescribeInstanceStatusResponse>"
        )
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"{NS}\"><requestId>fake</requestId><reservationSet>{out}</reservationSet>{token}</DescribeInstancesResponse>"
        )
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.method() == hyper::Method::GET && req.uri().path() == "/stats" {
        let m: BTreeMap<&str, usize> = state
            .stats
            .calls
            .iter()
            .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
            .collect();
        return Ok(Response::new(Full::new(Bytes::from(
            serde_json::json!(m).to_string(),
        ))));
    }
    if req.method() == hyper::Method::POST && req.uri().path() == "/reset" {
        state
            .stats
            .calls
            .values()
            .for_each(|v| v.store(0, Ordering::Relaxed));
        return Ok(Response::new(Full::new(Bytes::from("{}"))));
    }
    let region = region_of(
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
    );
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(error("MalformedQueryString", 400)),
    };
    let p: Params = form_urlencoded::parse(&body).into_owned().collect();
    let action = param(&p, "Action").unwrap_or("").to_string();
    if let Some(c) = state.stats.calls.get(action.as_str()) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    // The latency is the call's total service time: the page is generated while it runs, so
    // a call takes max(latency, generation time), as a real service's latency includes its work.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(state.args.latency_ms);
    if !state.args.regions.contains(&region) && action != "DescribeRegions" {
        tokio::time::sleep_until(deadline).await;
        return Ok(error("UnauthorizedOperation", 403));
    }
    let a = &state.args;
    let resp = match action.as_str() {
        "DescribeInstances" | "DescribeInstanceStatus" => {
            let cache_key = (region.clone(), body.clone());
            let cached = state
                .pages
                .lock()
                .ok()
                .and_then(|c| c.get(&cache_key).cloned());
            let body = match cached {
                Some(b) => b,
                None => {
                    let st = state.clone();
                    let r = region.clone();
                    let status = action == "DescribeInstanceStatus";
                    // Generating a page is CPU work: keep it off the reactor.
                    let b = Bytes::from(
                        tokio::task::spawn_blocking(move || page(&st, &r, &p, status))
                            .await
                            .unwrap_or_default(),
                    );
                    if let Ok(mut c) = state.pages.lock() {
                        c.insert(cache_key, b.clone());
                    }
                    b
                }
            };
            xml_response(body)
        }
        "DescribeInstanceAttribute" => {
            let id = param(&p, "InstanceId").unwrap_or("");
            let ud = serde_json::json!({"workerType": "gecko-t-win10-64", "provisionerId": "aws-provisioner-v1", "region": region, "securityToken": h(&[id, "token"], 32)});
            let b64 = base64::engine::general_purpose::STANDARD.encode(ud.to_string());
            xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstanceAttributeResponse xmlns=\"{NS}\"><requestId>fake</requestId><instanceId>{id}</instanceId><userData><value>{b64}</value></userData></DescribeInstanceAttributeResponse>"
            ))
        }
        "DescribeRegions" => {
            let items: String = a.regions.iter().map(|r| format!("<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>")).collect();
            xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRegionsResponse xmlns=\"{NS}\"><requestId>fake</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
            ))
        }
        "DescribeAvailabilityZones" => {
            let items: String = (0..a.zones).map(|z| format!("<item><zoneName>{region}{}</zoneName><zoneState>available</zoneState><regionName>{region}</regionName><zoneType>availability-zone</zoneType></item>", (b'a' + z as u8) as char)).collect();
            xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeAvailabilityZonesResponse xmlns=\"{NS}\"><requestId>fake</requestId><availabilityZoneInfo>{items}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>"
            ))
        }
        "TerminateInstances" | "RebootInstances" => error("DryRunOperation", 412),
        _ => error("InvalidAction", 400),
    };
    tokio::time::sleep_until(deadline).await;
    Ok(resp)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Recv(a)) = cli.cmd {
        return recv::run(a).await.map_err(std::io::Error::other);
    }
    let args = cli.serve;
    let mut stats = Stats::default();
    for a in [
        "DescribeInstances",
        "DescribeInstanceStatus",
        "DescribeInstanceAttribute",
        "DescribeRegions",
        "DescribeAvailabilityZones",
        "TerminateInstances",
        "RebootInstances",
    ] {
        stats.calls.insert(a, AtomicUsize::new(0));
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("{}", listener.local_addr()?.port());
    let state = Arc::new(State {
        args,
        stats,
        pages: Default::default(),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}
