//! A fake Compute Engine REST endpoint for benchmarks: `GET
//! /projects/P/aggregated/instances` over a deterministic project of N instances, 500 a page
//! (`pageToken` is the page number), every page generated when asked (nothing is kept: memory
//! does not grow with N), each instance the Firefox CI 2026 example's first one with its name
//! and zone changed; `POST /token` answers an OAuth token; `GET /stats` the listing calls served.
//!
//! `fake-gce recv URL PROJECT` is the receive-only client: the same calls, one after another on
//! one connection, reading each body and finding its `nextPageToken`, nothing else.
//!
//! The crate serves Azure too (`serve-azure`, `recv-azure`: a fake Resource Graph, see
//! [`azure`]), so both clouds' benchmarks (`bench/gcp`, `bench/azure`) build one tool.

mod azure;
mod wire;

use clap::Parser;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Parser)]
enum Cmd {
    /// Serve.
    Serve {
        /// Port on 127.0.0.1 (0: any; the chosen port is printed on stdout).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Latency added to every listing call (a page), in milliseconds: real clouds answer
        /// a page in 100-500 ms.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Instances in the project.
        #[arg(long, default_value_t = 100_000)]
        instances: usize,
        /// The instance every generated one is made from (a gcloud JSON array's first element).
        #[arg(long, default_value = "examples/firefox-ci-2026/fleet-gce.json")]
        template: String,
    },
    /// The receive-only client.
    Recv {
        /// host:port of the fake.
        addr: String,
        /// The project.
        project: String,
    },
    /// Serve Azure: Resource Graph, ARM's subscription read, a token authority.
    ServeAzure {
        /// Port on 127.0.0.1 (0: any; the chosen port is printed on stdout).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Latency added to every listing call (a page), in milliseconds: real clouds answer
        /// a page in 100-500 ms.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// VMs in the subscription.
        #[arg(long, default_value_t = 100_000)]
        vms: usize,
        /// The recorded `az vm list -d` VMs every generated one is made from.
        #[arg(long, default_value = "examples/firefox-ci-2026/fleet-azure.json")]
        template: String,
    },
    /// The Azure receive-only client.
    RecvAzure {
        /// host:port of the fake.
        addr: String,
        /// The subscription.
        #[arg(default_value = azure::SUBSCRIPTION)]
        subscription: String,
    },
}

const PAGE: usize = 500;
const ZONES: [&str; 4] = [
    "us-central1-a",
    "us-central1-b",
    "us-central1-f",
    "us-west1-b",
];

struct State {
    template: String,
    instances: usize,
    calls: AtomicUsize,
}

/// The example's first instance with `@@NAME@@` and `@@ZONE@@` where its name and zone were.
fn template(path: &str) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let i = &v[0];
    let name = i["name"].as_str().unwrap_or_default().to_string();
    let zone = i["zone"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let s = serde_json::to_string(i).map_err(std::io::Error::other)?;
    Ok(s.replace(&name, "@@NAME@@").replace(&zone, "@@ZONE@@"))
}

/// Page `n` of the project.
fn page(state: &State, n: usize) -> String {
    let first = n * PAGE;
    let last = (first + PAGE).min(state.instances);
    let mut per_zone: Vec<Vec<String>> = vec![Vec::new(); ZONES.len()];
    for k in first..last {
        let z = k % ZONES.len();
        per_zone[z].push(
            state
                .template
                .replace("@@NAME@@", &format!("bench-worker-{k:08}"))
                .replace("@@ZONE@@", ZONES[z]),
        );
    }
    let items: Vec<String> = ZONES
        .iter()
        .zip(per_zone)
        .map(|(z, is)| {
            if is.is_empty() {
                format!("\"zones/{z}\":{{\"warning\":{{\"code\":\"NO_RESULTS_ON_PAGE\"}}}}")
            } else {
                format!("\"zones/{z}\":{{\"instances\":[{}]}}", is.join(","))
            }
        })
        .collect();
    let next = if last < state.instances {
        format!(",\"nextPageToken\":\"{}\"", n + 1)
    } else {
        String::new()
    };
    format!(
        "{{\"kind\":\"compute#instanceAggregatedList\",\"items\":{{{}}}{next}}}",
        items.join(",")
    )
}

async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let json = |s: String| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(s)))
            .unwrap_or_default()
    };
    let path = req.uri().path();
    if path == "/token" {
        return Ok(json(
            "{\"access_token\":\"bench-token\",\"expires_in\":3600,\"token_type\":\"Bearer\"}"
                .into(),
        ));
    }
    if path == "/stats" {
        return Ok(json(format!(
            "{{\"compute.instances.aggregatedList\":{}}}",
            state.calls.load(Ordering::Relaxed)
        )));
    }
    state.calls.fetch_add(1, Ordering::Relaxed);
    let n = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("pageToken="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    Ok(json(page(&state, n)))
}

/// The receive-only client: every page, one after another, on one connection.
async fn recv(addr: &str, project: &str) -> std::io::Result<()> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let mut stream = tokio::io::BufReader::new(stream);
    let mut token: Option<String> = None;
    let (mut pages, mut bytes) = (0usize, 0usize);
    loop {
        let q = token
            .as_ref()
            .map(|t| format!("&pageToken={t}"))
            .unwrap_or_default();
        let req = format!(
            "GET /projects/{project}/aggregated/instances?maxResults=500&returnPartialSuccess=true{q} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer bench-token\r\n\r\n"
        );
        stream.get_mut().write_all(req.as_bytes()).await?;
        let body = wire::read_body(&mut stream).await?;
        pages += 1;
        bytes += body.len();
        token = wire::find(&body, "nextPageToken");
        if token.is_none() {
            break;
        }
    }
    println!("{pages} pages, {bytes} bytes");
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (port, latency, service) = match Cmd::parse() {
        Cmd::Recv { addr, project } => return recv(&addr, &project).await,
        Cmd::RecvAzure { addr, subscription } => return azure::recv(&addr, &subscription).await,
        Cmd::Serve {
            port,
            latency_ms,
            instances,
            template: path,
        } => {
            let state = Arc::new(State {
                template: template(&path)?,
                instances,
                calls: AtomicUsize::new(0),
            });
            (port, latency_ms, Service::Gce(state))
        }
        Cmd::ServeAzure {
            port,
            latency_ms,
            vms,
            template,
        } => (
            port,
            latency_ms,
            Service::Azure(Arc::new(azure::Azure::new(&template, vms)?)),
        ),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{}", listener.local_addr()?.port());
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| {
                let service = service.clone();
                async move {
                    let p = req.uri().path();
                    if latency > 0
                        && (p.ends_with("/aggregated/instances")
                            || p.ends_with("Microsoft.ResourceGraph/resources"))
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
                    }
                    match service {
                        Service::Gce(s) => handle(s, req).await,
                        Service::Azure(a) => a.handle(req).await,
                    }
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

/// What is served.
#[derive(Clone)]
enum Service {
    Gce(Arc<State>),
    Azure(Arc<azure::Azure>),
}
