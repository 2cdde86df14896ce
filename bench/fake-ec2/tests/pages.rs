//! The pages the fake serves: the same bytes as before pages were spliced from templates, every
//! instance once across checker's shards, and the fake's memory bounded by what is in flight, not
//! by the fleet.

use std::collections::HashSet;
use std::io::{Read, Write};

mod support;
use support::{Fake, fake};

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

/// The instance ids of a page, and its next token.
fn ids_and_token(page: &[u8]) -> (Vec<String>, Option<String>) {
    let text = String::from_utf8_lossy(page);
    let ids = text_of(&text, "instanceId")
        .into_iter()
        .map(str::to_string)
        .collect();
    let token = text_of(&text, "nextToken").first().map(|t| t.to_string());
    (ids, token)
}

/// Every page of one request chain: (body, page) pairs.
fn chain(port: u16, region: &str, first: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut body = first.to_string();
    loop {
        let page = call(port, region, &body);
        let (_, token) = ids_and_token(&page);
        out.push((body.clone(), page));
        match token {
            Some(t) => body = format!("{first}&NextToken={t}"),
            None => return out,
        }
    }
}

/// checker's shards (a zone's ending each, then the rest) and a walk with no zone filter, for
/// DescribeInstances and DescribeInstanceStatus.
fn chains() -> Vec<String> {
    let mut out = Vec::new();
    for action in ["DescribeInstances", "DescribeInstanceStatus"] {
        for z in [&["*a"][..], &["*b"], &["*c"], &["*d", "*e", "*-"]] {
            out.push(shard_body(action, &zones(z), None));
        }
        out.push(format!(
            "Action={action}&Version=2016-11-15&MaxResults=1000"
        ));
    }
    out
}

#[test]
fn spliced_pages_equal_pages_written_value_by_value() {
    // Two fleet shapes (the zone and worker-type classes fall differently), each served twice:
    // from templates, and with `--reference-pages` (every value written with `write!`, as before
    // templates).
    for shape in [
        &FLEET[..],
        &[
            "--per-region",
            "4100",
            "--regions",
            "eu-west-1",
            "--zones",
            "2",
            "--impaired-every",
            "7",
        ],
    ] {
        let spliced = fake(shape);
        let reference = fake(&[shape, &["--reference-pages"][..]].concat());
        let regions = shape[3].split(',');
        let mut pages = 0;
        for region in regions {
            let mut requests: Vec<(String, Vec<u8>)> = bodies()
                .into_iter()
                .map(|(_, b)| (b.clone(), call(reference.1, region, &b)))
                .collect();
            for c in chains() {
                requests.extend(chain(reference.1, region, &c));
            }
            for (body, want) in requests {
                let got = call(spliced.1, region, &body);
                assert!(
                    got == want,
                    "{region} {body}: {} bytes spliced, {} written",
                    got.len(),
                    want.len()
                );
                pages += 1;
            }
        }
        assert!(pages > 30, "{pages}");
    }
}

#[test]
fn every_instance_is_on_one_shards_pages_once() {
    let f = fake(&FLEET);
    let mut all = HashSet::new();
    for region in ["us-east-1", "eu-west-1"] {
        for action in ["DescribeInstances", "DescribeInstanceStatus"] {
            let (mut shards, mut whole) = (Vec::new(), Vec::new());
            for (n, c) in chains().iter().filter(|c| c.contains(action)).enumerate() {
                let ids: Vec<String> = chain(f.1, region, c)
                    .iter()
                    .flat_map(|(_, p)| ids_and_token(p).0)
                    .collect();
                // The last chain has no zone filter: the whole region.
                if n == 4 {
                    whole = ids
                } else {
                    shards.extend(ids)
                }
            }
            let unique: HashSet<&String> = shards.iter().collect();
            assert_eq!(shards.len(), 7000, "{region} {action}");
            assert_eq!(unique.len(), 7000, "{region} {action}: an id twice");
            assert_eq!(whole.len(), 7000, "{region} {action}");
            assert_eq!(unique, whole.iter().collect(), "{region} {action}");
            if action == "DescribeInstances" {
                all.extend(whole);
            }
        }
    }
    assert_eq!(all.len(), 14_000, "an id in both regions");
}

/// The fake's peak resident memory, in KB.
fn peak_kb(f: &Fake) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", f.0.id())).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn memory_is_the_page_in_flight_not_the_pages_served() {
    // 60 different pages of 1,000 instances, 4.3 MB each (257 MB of XML), one after another:
    // a fake that kept what it served would hold them all.
    let f = fake(&["--per-region", "300000", "--regions", "us-east-1"]);
    let base = "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000";
    for p in 0..60 {
        let page = call(f.1, "us-east-1", &format!("{base}&NextToken={}", p * 1000));
        assert!(page.len() > 4_000_000, "{}", page.len());
    }
    let kb = peak_kb(&f);
    assert!(kb < 100_000, "peak RSS {kb} KB after 60 pages");
}
