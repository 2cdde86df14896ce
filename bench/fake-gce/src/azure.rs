//! The Azure half of the fake (`fake-gce serve-azure`, `fake-gce recv-azure`): a fake Resource
//! Graph, ARM subscription read and Microsoft Entra token endpoint serving one subscription of N
//! generated VMs, and the receive-only client making checker's calls.
//!
//! The calls are the ones `checker/src/cloud/azure` makes (and `checker/tests/it/live_azure.rs`
//! fakes): `POST /{tenant}/oauth2/v2.0/token`; `GET /subscriptions/{id}`; `POST
//! /providers/Microsoft.ResourceGraph/resources` with `{"subscriptions", "query", "options":
//! {"$top", "$skipToken"}}`, once for the subscription's locations (`distinct location`) and then
//! per location (`location =~ 'L'`) in pages of `$top` rows with `$skipToken` (here the page
//! number). The VMs are the Firefox CI 2026 example's (`examples/firefox-ci-2026/fleet-azure.json`,
//! 15 VMs over 9 locations, the tags worker-manager writes) as Resource Graph rows, VM `k` in
//! location `k % 9` made from that location's example VMs in turn, with its name and computer
//! name changed; every page is generated when asked, nothing is kept.
//!
//! No quota headers are sent: Resource Graph's 15 queries per 5 s per user would bound checker
//! and the receive-only client alike (100 pages of 1,000 take at least ~35 s live).

use crate::wire::{find, read_body};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::AsyncWriteExt;

/// The subscription served (the example's).
pub const SUBSCRIPTION: &str = "108d46d5-fe9b-4850-9a7d-8c914aa6c1f0";
/// The receive-only client's tenant (any tenant is answered).
const TENANT: &str = "bench-tenant";
/// Locations read at once (checker's `cloud::azure::live::IN_FLIGHT`: the scope's budget).
const IN_FLIGHT: usize = 3;

/// The fake's state: per location (sorted), its row templates.
pub struct Azure {
    locations: Vec<(String, Vec<String>)>,
    vms: usize,
    /// Resource Graph calls served.
    calls: AtomicUsize,
}

/// A recorded `az vm list -d` VM as the Resource Graph row checker's query projects (the shape
/// of `rows_of` in checker/tests/it/live_azure.rs), with `@@NAME@@` and `@@COMPUTER@@` where its
/// name and computer name were.
fn row_template(v: &Value) -> std::io::Result<String> {
    let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
    let (id, name, computer) = (
        s(&v["id"]),
        s(&v["name"]),
        s(&v["osProfile"]["computerName"]),
    );
    let sub = id.split('/').nth(2).unwrap_or_default().to_string();
    let ip = s(&v["publicIps"]);
    let row = json!({
        "id": id, "name": name, "type": "microsoft.compute/virtualmachines",
        "location": v["location"], "subscriptionId": sub, "tags": v["tags"],
        "publicIp": ip.split(',').next().unwrap_or_default(),
        "properties": {
            "hardwareProfile": v["hardwareProfile"], "priority": v["priority"],
            "osProfile": {"computerName": computer},
            "storageProfile": {"imageReference": v["storageProfile"]["imageReference"],
                "osDisk": {"osType": v["storageProfile"]["osDisk"]["osType"]}},
            "extended": {"instanceView": {"powerState": {"displayStatus": v["powerState"]}}}
        }
    });
    let text = serde_json::to_string(&row).map_err(std::io::Error::other)?;
    if name.is_empty() || computer.is_empty() {
        return Err(std::io::Error::other(
            "an example VM has no name or computerName",
        ));
    }
    Ok(text
        .replace(&name, "@@NAME@@")
        .replace(&computer, "@@COMPUTER@@"))
}

impl Azure {
    /// `vms` VMs made from the recorded fleet at `path`.
    pub fn new(path: &str, vms: usize) -> std::io::Result<Azure> {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(path)?).map_err(std::io::Error::other)?;
        let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for vm in v.as_array().into_iter().flatten() {
            let loc = vm["location"].as_str().unwrap_or_default().to_string();
            by.entry(loc).or_default().push(row_template(vm)?);
        }
        if by.is_empty() {
            return Err(std::io::Error::other(format!("{path}: no VMs")));
        }
        Ok(Azure {
            locations: by.into_iter().collect(),
            vms,
            calls: AtomicUsize::new(0),
        })
    }

    /// VMs in location `j`.
    fn in_location(&self, j: usize) -> usize {
        let l = self.locations.len();
        self.vms / l + usize::from(j < self.vms % l)
    }

    /// Page `p` (of `top` rows) of location `j`: its `i`-th VM is VM `i * L + j`, named as
    /// worker-manager names VMs (`vm-` and 35 of `[a-z0-9]`) so that name order is `i` order
    /// (the query orders by name).
    fn page(&self, j: usize, p: usize, top: usize) -> String {
        let templates = &self.locations[j].1;
        let total = self.in_location(j);
        let first = (p * top).min(total);
        let last = (first + top).min(total);
        let l = self.locations.len();
        let mut out = String::with_capacity((last - first) * (templates[0].len() + 16) + 256);
        out.push_str(&format!(
            "{{\"totalRecords\":{total},\"count\":{},\"resultTruncated\":\"false\",",
            last - first
        ));
        if last < total {
            out.push_str(&format!("\"$skipToken\":\"{}\",", p + 1));
        }
        out.push_str("\"data\":[");
        for i in first..last {
            let k = i * l + j;
            if i > first {
                out.push(',');
            }
            out.push_str(
                &templates[i % templates.len()]
                    .replace("@@NAME@@", &format!("vm-{j:02}bench{i:028}"))
                    .replace("@@COMPUTER@@", &format!("b{k:014}")),
            );
        }
        out.push_str("]}");
        out
    }

    /// The locations answer.
    fn locations(&self) -> String {
        let data: Vec<Value> = self
            .locations
            .iter()
            .enumerate()
            .filter(|(j, _)| self.in_location(*j) > 0)
            .map(|(_, (l, _))| json!({"location": l}))
            .collect();
        json!({"totalRecords": data.len(), "count": data.len(), "resultTruncated": "false", "data": data})
            .to_string()
    }

    /// A Resource Graph query's answer.
    fn query(&self, body: &[u8]) -> (u16, String) {
        let Ok(b) = serde_json::from_slice::<Value>(body) else {
            return (400, "{\"error\":{\"code\":\"BadRequest\"}}".into());
        };
        let q = b["query"].as_str().unwrap_or_default();
        if q.contains("distinct location") {
            return (200, self.locations());
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let loc = q
            .split("location =~ '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap_or_default();
        let Some(j) = self.locations.iter().position(|(l, _)| l == loc) else {
            return (
                200,
                json!({"totalRecords": 0, "count": 0, "resultTruncated": "false", "data": []})
                    .to_string(),
            );
        };
        let top = b["options"]["$top"].as_u64().unwrap_or(1000).clamp(1, 1000) as usize;
        let p = b["options"]["$skipToken"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        (200, self.page(j, p, top))
    }

    /// Answers one request.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let path = req.uri().path().to_string();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let (status, text) = if path.ends_with("/oauth2/v2.0/token") {
            (
                200,
                "{\"access_token\":\"bench-token\",\"expires_in\":3600,\"token_type\":\"Bearer\"}"
                    .to_string(),
            )
        } else if let Some(id) = path.strip_prefix("/subscriptions/") {
            (
                200,
                json!({"subscriptionId": id, "state": "Enabled"}).to_string(),
            )
        } else if path == "/providers/Microsoft.ResourceGraph/resources" {
            self.query(&body)
        } else if path == "/stats" {
            (
                200,
                json!({"resources": self.calls.load(Ordering::Relaxed)}).to_string(),
            )
        } else {
            (404, "{\"error\":{\"code\":\"NotFound\"}}".into())
        };
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(text)))
            .unwrap_or_default())
    }
}

/// One HTTP/1.1 exchange on a kept-alive connection: the body, read whole.
async fn exchange(
    stream: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<Vec<u8>> {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer bench-token\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(req.as_bytes()).await?;
    read_body(stream).await
}

const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

/// A query body as checker sends it.
fn query_body(sub: &str, query: &str, token: Option<&str>) -> String {
    let mut options = json!({"$top": 1000, "resultFormat": "objectArray"});
    if let Some(t) = token {
        options["$skipToken"] = t.into();
    }
    json!({"subscriptions": [sub], "query": query, "options": options}).to_string()
}

/// Every page of one location, one after another on one connection: (pages, bytes).
async fn location(addr: String, sub: String, loc: String) -> std::io::Result<(usize, usize)> {
    let mut s = tokio::io::BufReader::new(tokio::net::TcpStream::connect(&addr).await?);
    let query = format!(
        "Resources | where type =~ 'microsoft.compute/virtualmachines' and location =~ '{loc}' | order by name asc"
    );
    let (mut pages, mut bytes, mut token) = (0, 0, None::<String>);
    loop {
        let b = exchange(
            &mut s,
            &addr,
            "POST",
            GRAPH,
            &query_body(&sub, &query, token.as_deref()),
        )
        .await?;
        pages += 1;
        bytes += b.len();
        token = find(&b, "$skipToken");
        if token.is_none() {
            return Ok((pages, bytes));
        }
    }
}

/// The receive-only client: the token, the subscription, its locations, then every location's
/// pages, [`IN_FLIGHT`] locations at a time (checker's budget), reading every byte.
pub async fn recv(addr: &str, sub: &str) -> std::io::Result<()> {
    let mut s = tokio::io::BufReader::new(tokio::net::TcpStream::connect(addr).await?);
    let form = "grant_type=client_credentials&client_id=b&client_secret=b&scope=https%3A%2F%2Fmanagement.azure.com%2F.default";
    exchange(
        &mut s,
        addr,
        "POST",
        &format!("/{TENANT}/oauth2/v2.0/token"),
        form,
    )
    .await?;
    exchange(
        &mut s,
        addr,
        "GET",
        &format!("/subscriptions/{sub}?api-version=2022-12-01"),
        "",
    )
    .await?;
    let q = "Resources | where type =~ 'microsoft.compute/virtualmachines' | distinct location | order by location asc";
    let b = exchange(&mut s, addr, "POST", GRAPH, &query_body(sub, q, None)).await?;
    // The locations list is small: parsed, as any client would.
    let v: Value = serde_json::from_slice(&b).map_err(std::io::Error::other)?;
    let locs: Vec<String> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["location"].as_str().map(str::to_string))
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let tasks: Vec<_> = locs
        .into_iter()
        .map(|l| {
            let (addr, sub, permits) = (addr.to_string(), sub.to_string(), permits.clone());
            tokio::spawn(async move {
                let _p = permits.acquire().await.ok();
                location(addr, sub, l).await
            })
        })
        .collect();
    let (mut pages, mut bytes) = (3, b.len());
    for t in tasks {
        let (p, n) = t.await.map_err(std::io::Error::other)??;
        pages += p;
        bytes += n;
    }
    println!("{pages} calls, {bytes} bytes");
    Ok(())
}
