//! A fake EC2 endpoint for benchmarks: DescribeInstances, DescribeInstanceStatus,
//! DescribeInstanceAttribute, DescribeRegions and DescribeAvailabilityZones in the real Query
//! protocol XML, over a deterministic fleet of N instances per region that is generated on the
//! fly, honouring MaxResults/NextToken and the filters checker and Cloud Custodian
//! send, after a configurable latency per call. `GET /stats` returns the calls served, `POST
//! /reset` zeroes the counts.
//!
//! Instance k of region r is a pure function of (r, k): the same run twice serves the same bytes.
//! Pages are spliced from per-(region, zone, worker type) templates on every request
//! ([`template`]), so the fake holds no pages: its memory is the pages in flight, whatever the
//! fleet's size (10,000,000 instances are 43 GB of XML).
//!
//! `fake-ec2 recv` is the receive-only client checker is measured against (see [`recv`]).

mod fleet;
mod recv;
mod template;

use base64::Engine;
use clap::Parser;
use fleet::NS;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::collections::BTreeMap;
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
    /// Write every page with `write!`, instance by instance, as the fake did before templates
    /// (slower; for tests and to measure what templates save).
    #[arg(long, hide = true)]
    reference_pages: bool,
    /// Keep every DescribeInstances and DescribeInstanceStatus page served, and serve it again
    /// for the same call: the fake then costs the client's machine nothing but sending after a
    /// warm-up run, as a real endpoint costs it nothing (splicing is 1 to 2 ms of CPU a page,
    /// taken from the two cores checker runs on). Holds the fleet's pages: 4.3 GB at 1,000,000
    /// instances; not for 10,000,000.
    #[arg(long)]
    cache_pages: bool,
}

/// How long before a call's deadline its page is spliced (a page takes one to a few ms).
const LEAD: Duration = Duration::from_millis(25);

#[derive(Default)]
struct Stats {
    calls: BTreeMap<&'static str, AtomicUsize>,
}

struct State {
    args: Args,
    stats: Stats,
    /// Every region's templates, built at start.
    templates: template::Templates,
    buffers: Arc<template::Pool>,
    /// With `--cache-pages`: (region, request body) to the page served.
    cache: std::sync::Mutex<std::collections::HashMap<(String, Bytes), Bytes>>,
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
    let p: fleet::Params = form_urlencoded::parse(&body).into_owned().collect();
    let action = fleet::param(&p, "Action").unwrap_or("").to_string();
    if let Some(c) = state.stats.calls.get(action.as_str()) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    // The latency is the call's total service time: the page is generated within it, so a call
    // takes max(latency, generation time), as a real service's latency includes its work. The page
    // is spliced in the call's last `LEAD` only, so that the fake holds the pages about to be sent,
    // not every call's page for the whole latency.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(state.args.latency_ms);
    if !state.args.regions.contains(&region) && action != "DescribeRegions" {
        tokio::time::sleep_until(deadline).await;
        return Ok(error("UnauthorizedOperation", 403));
    }
    let a = &state.args;
    let resp = match action.as_str() {
        "DescribeInstances" | "DescribeInstanceStatus" if a.cache_pages => {
            let key = (region.clone(), body.clone());
            let cached = state.cache.lock().ok().and_then(|c| c.get(&key).cloned());
            let page = match cached {
                Some(page) => page,
                None => {
                    let st = state.clone();
                    let status = action == "DescribeInstanceStatus";
                    let page = tokio::task::spawn_blocking(move || {
                        let a = &st.args;
                        let w = fleet::walk(
                            &region,
                            a.zones,
                            a.per_region,
                            a.impaired_every,
                            &p,
                            status,
                        );
                        Bytes::from(st.templates.page(&w, Vec::new()))
                    })
                    .await
                    .unwrap_or_default();
                    if let Ok(mut c) = state.cache.lock() {
                        c.insert(key, page.clone());
                    }
                    page
                }
            };
            xml_response(page)
        }
        "DescribeInstances" | "DescribeInstanceStatus" => {
            let st = state.clone();
            let status = action == "DescribeInstanceStatus";
            tokio::time::sleep_until(deadline.checked_sub(LEAD).unwrap_or(deadline)).await;
            // Splicing a page is CPU work (about a millisecond): keep it off the reactor.
            let body = tokio::task::spawn_blocking(move || {
                let a = &st.args;
                let w = fleet::walk(&region, a.zones, a.per_region, a.impaired_every, &p, status);
                if a.reference_pages {
                    Bytes::from(fleet::reference_page(&w))
                } else {
                    let page = st.templates.page(&w, st.buffers.take());
                    Bytes::from_owner(template::Pooled(page, st.buffers.clone()))
                }
            })
            .await
            .unwrap_or_default();
            xml_response(body)
        }
        "DescribeInstanceAttribute" => {
            let id = fleet::param(&p, "InstanceId").unwrap_or("");
            let ud = serde_json::json!({"workerType": "gecko-t-win10-64", "provisionerId": "aws-provisioner-v1", "region": region, "securityToken": fleet::h(&[id, "token"], 32)});
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
    let templates = template::Templates::new(&args.regions, args.zones);
    let state = Arc::new(State {
        args,
        stats,
        templates,
        buffers: template::Pool::new(),
        cache: Default::default(),
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
