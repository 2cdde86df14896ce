//! The receive-only client (`fake-ec2 recv`) against the fake on 127.0.0.1: every page received,
//! and the calls checker's scan makes (checker-ec2/src/scan.rs), no more and no fewer.

use std::io::{Read, Write};
use std::process::Command;

mod support;
use support::fake;

/// The fake's `/stats`, over a plain socket.
fn stats(port: u16) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(b"GET /stats HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let body = out.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).expect("JSON stats")
}

#[test]
fn recv_receives_every_page_with_checkers_calls() {
    // 7,000 a region over 3 zones: 2,334 / 2,333 / 2,333 a zone, 3 pages of 1,000 each.
    let regions = "us-east-1,eu-west-1";
    let f = fake(&["--per-region", "7000", "--regions", regions]);
    let out = Command::new(env!("CARGO_BIN_EXE_fake-ec2"))
        .args(["recv", "--count", "--regions", regions, "--endpoint"])
        .arg(format!("http://127.0.0.1:{}", f.1))
        .output()
        .expect("recv runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    // Every instance, once (the probe's 5 are not counted: they are not a shard's).
    assert_eq!(got["instances"], 2 * 7000);
    // Per region: the zone listing; the probe, 3 zone shards of 3 pages, the other endings' 1.
    let zones = 2;
    let instances = 2 * (1 + 3 * 3 + 1);
    assert_eq!(got["pages"], 2 * (3 * 3 + 1));
    assert_eq!(got["calls"]["DescribeAvailabilityZones"], zones);
    assert_eq!(got["calls"]["DescribeInstances"], instances);
    let served = stats(f.1);
    assert_eq!(served["DescribeAvailabilityZones"], zones);
    assert_eq!(served["DescribeInstances"], instances);
    assert_eq!(served["DescribeRegions"], 0);
    assert!(got["bytes"].as_u64().expect("bytes") > 14_000 * 4_000);
}
