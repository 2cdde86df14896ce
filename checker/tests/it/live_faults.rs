//! Live EC2 under faults: a zone the listing leaves out is still read (the shards cover every
//! zone name by construction), and an endpoint that does not answer fails the region within
//! `--timeout`, not after every retry twice over.

use crate::live::*;
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request};

/// EC2's filter-value match: `*` is any run of characters, everything else is itself.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// The `availability-zone` filter values of a DescribeInstances request, if it has one.
pub fn zone_values(req: &Request) -> Option<Vec<String>> {
    let f: Vec<(String, String)> = form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let prefix = f
        .iter()
        .find(|(k, v)| k.ends_with(".Name") && v == "availability-zone")
        .map(|(k, _)| format!("{}.Value.", k.trim_end_matches(".Name")))?;
    Some(
        f.iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect(),
    )
}

/// A region whose DescribeInstances filters by `availability-zone` as EC2 does (wildcards when
/// `wildcards`, else exact names only, as moto does), over `instances` (id, zone).
pub async fn mount_region(server: &MockServer, instances: Vec<(String, String)>, wildcards: bool) {
    Mock::given(action("DescribeInstances"))
        .respond_with(move |req: &Request| {
            let values = zone_values(req);
            let key = "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234";
            let chosen: Vec<Inst<'_>> = instances
                .iter()
                .filter(|(_, z)| {
                    values.as_ref().is_none_or(|vs| {
                        vs.iter().any(|p| {
                            if wildcards {
                                glob(p.as_bytes(), z.as_bytes())
                            } else {
                                p == z
                            }
                        })
                    })
                })
                .map(|(id, z)| inst(id, z, key, "gecko-t-win7-32"))
                .collect();
            xml(describe_instances(&chosen, None))
        })
        .mount(server)
        .await;
}

/// Ten instances in each of `zones`.
fn fleet(zones: &[&str]) -> Vec<(String, String)> {
    zones
        .iter()
        .flat_map(|z| (0..10).map(move |k| (format!("i-{z}-{k}"), z.to_string())))
        .collect()
}

/// A zone listing that leaves out a zone (us-west-2c) and a Local Zone: 20 of 40 instances
/// were read and the run was clean. The shards cover every zone name, listed or not.
#[tokio::test(flavor = "multi_thread")]
async fn instances_in_zones_the_listing_leaves_out_are_still_read() {
    let server = MockServer::start().await;
    Mock::given(action("DescribeAvailabilityZones"))
        .respond_with(xml(zones_xml(&["us-west-2a", "us-west-2b"])))
        .mount(&server)
        .await;
    let zones = ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2-lax-1a"];
    mount_region(&server, fleet(&zones), true).await;
    let r = check_sharded(&server, "us-west-2").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["source"]["instances"], 40, "{}", r.stdout);
    // The listing, the wildcard probe, and three shards (*a, *b, every other ending): the
    // listing chooses the shards, never what is read.
    assert_eq!(j["source"]["parts"][0]["apiCalls"], 5, "{}", r.stdout);
}

/// An endpoint that matches filter values exactly (moto does): the shards' wildcards would
/// read nothing, so the region is read as one chain, and every instance is there.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_without_wildcards_is_read_as_one_chain_and_nothing_is_lost() {
    let server = MockServer::start().await;
    Mock::given(action("DescribeAvailabilityZones"))
        .respond_with(xml(zones_xml(&["us-west-2a"])))
        .mount(&server)
        .await;
    mount_region(&server, fleet(&["us-west-2a", "us-west-2c"]), false).await;
    let r = check_sharded(&server, "us-west-2").await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["instances"], 20, "{}", r.stdout);
}

/// An endpoint that accepts connections and never answers.
async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let uri = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (uri, task)
}

/// `checker check` of us-east-1 at `uri` with `--timeout 2`, JSON out.
fn check_with_timeout_2(contracts: &str, uri: &str) -> Vec<String> {
    owned(vec![
        "check",
        "--contracts",
        contracts,
        "--endpoint-url",
        uri,
        "--region",
        "us-east-1",
        "--format",
        "json",
        "--timeout",
        "2",
    ])
}

/// A dead endpoint with default retries: the region fails in about --timeout (2 s here), not
/// after five attempts' timeouts spent twice (listing, then the unsharded fallback: 20 s or
/// more with these flags, 308 s with the defaults). The bound is generous: the point is one
/// timeout, not ten.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_never_answers_fails_the_region_within_the_timeout() {
    let (uri, task) = silent_endpoint().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let t = Instant::now();
    let r = run(check_with_timeout_2(&c, &uri)).await;
    let took = t.elapsed();
    task.abort();
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["parts"][0]["status"], "failed");
    assert!(
        took < Duration::from_secs(15),
        "a dead endpoint took {took:?} with --timeout 2"
    );
}

/// An endpoint that answers every call with a 200, a Content-Length of 100,000 and the first
/// bytes of its body, then trickles the rest at 4 bytes a second: fast enough for the SDK's
/// stalled-stream protection (it fails a body only below 1 byte a second), about seven hours
/// to the end.
async fn trickling_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let uri = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut trickles = tokio::task::JoinSet::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            trickles.spawn(async move {
                let mut request = vec![0u8; 64 << 10];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: 100000\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse>";
                let _ = socket.write_all(head.as_bytes()).await;
                while socket.write_all(b" ").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        }
    });
    (uri, task)
}

/// A body that trickles: its read is bounded by --timeout too, and the region fails (the SDK's
/// timeouts end when the headers arrive, and its stalled-stream protection only catches a body
/// that stops; the page reader read the rest with no bound, and the scan hung, holding its share
/// of the page-body budget).
#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_trickles_fails_the_region_within_the_timeout() {
    let (uri, task) = trickling_endpoint().await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let t = Instant::now();
    let mut checking = tokio::spawn(run(check_with_timeout_2(&c, &uri)));
    let r = tokio::select! {
        r = &mut checking => r.expect("join"),
        () = tokio::time::sleep(Duration::from_secs(60)) => {
            // Closing the connections lets the hung run end, so the test fails rather than hangs.
            task.abort();
            let _ = checking.await;
            panic!("check still reading a trickling body after 60 s");
        }
    };
    task.abort();
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["parts"][0]["status"], "failed");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// A closed port: refused at once, retried within the same bound.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_fails_the_region_within_the_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let uri = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let t = Instant::now();
    let r = run(owned(vec![
        "check",
        "--contracts",
        &c,
        "--endpoint-url",
        &uri,
        "--region",
        "us-east-1",
        "--timeout",
        "2",
    ]))
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

/// `fleet record` with a failed region wrote the regions it could read, and that file later
/// checked clean: now it writes nothing and exits 3, naming the region.
#[tokio::test(flavor = "multi_thread")]
async fn fleet_record_with_a_failed_region_writes_nothing() {
    let server = MockServer::start().await;
    Mock::given(action("DescribeInstances"))
        .and(region("us-west-2"))
        .respond_with(
            wiremock::ResponseTemplate::new(503).set_body_string(error_xml("Unavailable", "down")),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount_region(&server, fleet(&["us-east-1a"]), true).await;
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("fleet.json");
    let uri = server.uri();
    let r = run(owned(vec![
        "fleet",
        "record",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
        "--endpoint-url",
        &uri,
        "--no-shard",
        "--retry-attempts",
        "1",
        "--output",
        out.to_str().expect("utf8"),
    ]))
    .await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!out.exists(), "a partial fleet file was written");
    assert!(
        r.stderr.contains("us-west-2 could not be read") && r.stderr.contains("none is written"),
        "{}",
        r.stderr
    );
}
