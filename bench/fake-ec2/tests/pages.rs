//! The pages the fake serves: the same bytes as before pages were spliced from templates, every
//! instance once across checker's shards, and the fake's memory bounded by what is in flight, not
//! by the fleet.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

/// The fake endpoint, killed when dropped.
struct Fake(Child, u16);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fake(extra: &[&str]) -> Fake {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-ec2"))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fake starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the fake prints its port");
    let port = line.trim().parse().expect("a port");
    Fake(child, port)
}

/// One call as the SDK makes it (the region in the credential scope); the response body.
fn call(port: u16, region: &str, body: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\n\
authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{region}/ec2/aws4_request\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{region} {body}: {}",
        String::from_utf8_lossy(&out[..at])
    );
    out.split_off(at)
}

/// FNV-1a, 64 bits: a digest with no dependency.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |x, c| {
        (x ^ u64::from(*c)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn text_of<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    page.split(open.as_str())
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect()
}

/// What checker sends for bench/contracts, with one shard's zone filter.
fn shard_body(action: &str, zone: &str, token: Option<&str>) -> String {
    let mut b = format!(
        "Action={action}&Version=2016-11-15&Filter.1.Name=instance-state-name&Filter.1.Value.1=pending\
&Filter.1.Value.2=running&Filter.2.Name=tag%3AOwner&Filter.2.Value.1=ec2-manager-production\
&Filter.3.Name=availability-zone{zone}&MaxResults=1000"
    );
    if let Some(t) = token {
        b.push_str(&format!("&NextToken={t}"));
    }
    b
}

/// `&Filter.3.Value.N=` for each zone pattern.
fn zones(patterns: &[&str]) -> String {
    patterns
        .iter()
        .enumerate()
        .map(|(n, z)| format!("&Filter.3.Value.{}={}", n + 1, z.replace('*', "%2A")))
        .collect()
}

/// Request bodies covering every way a page is built: zone shards and the rest, the wildcard
/// probe, pages after the first, status pages, tag and id filters, InstanceId lists.
fn bodies() -> Vec<(&'static str, String)> {
    let id = "i-0a4c3fb26b5802e18"; // instance 7 of us-east-1
    vec![
        ("us-east-1", shard_body("DescribeInstances", &zones(&["*b"]), None)),
        ("us-east-1", shard_body("DescribeInstances", &zones(&["*b"]), Some("3001"))),
        ("eu-west-1", shard_body("DescribeInstances", &zones(&["*a"]), Some("3000"))),
        ("us-east-1", shard_body("DescribeInstances", &zones(&["*d", "*e", "*-"]), None)),
        ("us-east-1", shard_body("DescribeInstances", &zones(&["*"]), None).replace("MaxResults=1000", "MaxResults=5")),
        ("eu-west-1", "Action=DescribeInstances&Version=2016-11-15&NextToken=1500".into()),
        ("eu-west-1", "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=gecko-t-win7*&MaxResults=17".into()),
        ("us-east-1", format!("Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-id&Filter.1.Value.1={id}")),
        ("us-east-1", format!("Action=DescribeInstances&Version=2016-11-15&InstanceId.1={id}&InstanceId.2=i-0nothing")),
        ("us-east-1", "Action=DescribeInstanceStatus&Version=2016-11-15&MaxResults=1000&NextToken=1000".into()),
        ("eu-west-1", "Action=DescribeInstanceStatus&Version=2016-11-15&Filter.1.Name=instance-status.status&Filter.1.Value.1=impaired&Filter.2.Name=availability-zone&Filter.2.Value.1=eu-west-1c".into()),
        ("us-east-1", format!("Action=DescribeInstanceStatus&Version=2016-11-15&InstanceId.1={id}")),
    ]
}

const FLEET: [&str; 4] = ["--per-region", "7000", "--regions", "us-east-1,eu-west-1"];

#[test]
fn pages_are_the_bytes_served_before_templates() {
    // Digests of the pages the fake served before templates (d0ce414's bench/fake-ec2, rendering
    // every page with `write!`): (length, FNV-1a 64) per body of `bodies()`.
    let before: [(usize, u64); 12] = GOLDEN;
    let f = fake(&FLEET);
    let got: Vec<(usize, u64)> = bodies()
        .iter()
        .map(|(r, b)| {
            let page = call(f.1, r, b);
            (page.len(), fnv(&page))
        })
        .collect();
    assert_eq!(got, before, "{got:x?}");
}

const GOLDEN: [(usize, u64); 12] = [
    (4279044, 159301394959042274),
    (4284162, 10189063711975916995),
    (4284162, 647598484434051299),
    (203, 15269819807418872079),
    (21573, 10324673548709981910),
    (4278164, 6286215894224682344),
    (72858, 16613399879691793795),
    (4467, 12258858144537597289),
    (4467, 12258858144537597289),
    (431466, 5045425612809594637),
    (22805, 6216126031497511100),
    (649, 4353432140703968767),
];
