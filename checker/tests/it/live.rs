//! Live EC2 through wiremock: the real Query-protocol XML the SDK parses, asserted on both the
//! report and the requests the mock received.

use crate::support::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header_regex, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

pub struct Inst<'a> {
    pub id: &'a str,
    pub az: &'a str,
    pub key: Option<&'a str>,
    pub tags: Vec<(&'a str, &'a str)>,
}

pub fn inst<'a>(id: &'a str, az: &'a str, key: &'a str, name: &'a str) -> Inst<'a> {
    Inst {
        id,
        az,
        key: Some(key),
        tags: vec![("Name", name), ("Owner", "ec2-manager-production")],
    }
}

pub fn describe_instances(instances: &[Inst<'_>], next: Option<&str>) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"{NS}\"><requestId>req-1</requestId><reservationSet>"
    );
    for i in instances {
        x.push_str(&format!(
            "<item><reservationId>r-{id}</reservationId><ownerId>123456789012</ownerId><instancesSet><item><instanceId>{id}</instanceId><imageId>ami-0abc</imageId><instanceState><code>16</code><name>running</name></instanceState><privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName>{key}<instanceType>c4.2xlarge</instanceType><launchTime>2018-02-14T01:00:00.000Z</launchTime><placement><availabilityZone>{az}</availabilityZone><tenancy>default</tenancy></placement><instanceLifecycle>spot</instanceLifecycle><tagSet>{tags}</tagSet></item></instancesSet></item>",
            id = i.id,
            az = i.az,
            key = i.key.map(|k| format!("<keyName>{k}</keyName>")).unwrap_or_default(),
            tags = i.tags.iter().map(|(k, v)| format!("<item><key>{k}</key><value>{v}</value></item>")).collect::<String>()
        ));
    }
    x.push_str("</reservationSet>");
    if let Some(t) = next {
        x.push_str(&format!("<nextToken>{t}</nextToken>"));
    }
    x.push_str("</DescribeInstancesResponse>");
    x
}

pub fn zones_xml(zones: &[&str]) -> String {
    let typed: Vec<(&str, &str)> = zones.iter().map(|z| (*z, "availability-zone")).collect();
    typed_zones_xml(&typed)
}

/// A zone listing with each zone's type (`availability-zone`, `local-zone`, `wavelength-zone`).
pub fn typed_zones_xml(zones: &[(&str, &str)]) -> String {
    let items: String = zones.iter().map(|(z, t)| format!("<item><zoneName>{z}</zoneName><zoneState>available</zoneState><zoneType>{t}</zoneType></item>")).collect();
    format!(
        "<DescribeAvailabilityZonesResponse xmlns=\"{NS}\"><requestId>r</requestId><availabilityZoneInfo>{items}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>"
    )
}

pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>req-err</RequestID></Response>"
    )
}

pub fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml;charset=UTF-8")
        .set_body_string(body)
}

pub fn region(r: &str) -> wiremock::matchers::HeaderRegexMatcher {
    header_regex("authorization", &format!("/{r}/ec2/aws4_request"))
}

pub fn action(a: &str) -> wiremock::matchers::BodyContainsMatcher {
    body_string_contains(format!("Action={a}&"))
}

/// Contracts that select by tag:Owner and read no user-data.
pub fn owner_contracts(dir: &std::path::Path) -> String {
    let c = dir.join("c");
    write_json(
        &c,
        "prov.json",
        &json!({
            "kind": "provider", "name": "prov", "description": "d",
            "selector": {"conditions": [{"output": "tag:Owner", "one-of": ["ec2-manager-production", "aws-provisioner-v1-managed"]}]},
            "groupBy": "workerType",
            "variables": {"workerType": {"set": "workerTypes"}},
            "sets": {"workerTypes": ["gecko-t-win10-64", "gecko-t-win7-32"]},
            "outputs": {"tag:Name": {"template": "{workerType}"}}
        }),
    );
    write_json(
        &c,
        "cons.json",
        &json!({
            "kind": "consumer", "name": "cull", "owner": "o", "description": "d",
            "selector": {"conditions": [{"output": "tag:Owner", "equals": "ec2-manager-production"}, {"output": "tag:Name", "glob": "*gecko*win*"}]},
            "clauses": [
                {"id": "cull-wt", "kind": "derives", "fact": "wt", "from": {"output": "KeyName"}, "split": {"separator": ":", "index": 1}, "why": "w"},
                {"id": "cull-wt-known", "kind": "member-of", "fact": "wt", "set": "workerTypes", "why": "w"}
            ]
        }),
    );
    c.to_str().expect("utf8").to_string()
}

pub fn live_args<'a>(contracts: &'a str, uri: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "check",
        "--contracts",
        contracts,
        "--endpoint-url",
        uri,
        "--format",
        "json",
        "--retry-initial-backoff-ms",
        "5",
        "--retry-mode",
        "standard",
        "--no-shard",
    ];
    v.extend_from_slice(extra);
    v
}

pub async fn run(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        checker(&a)
    })
    .await
    .expect("join")
}

pub fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_string).collect()
}

pub async fn requests(server: &MockServer, act: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(&format!("Action={act}&")))
        .collect()
}

/// `checker check` of us-east-1 against `server`, one attempt per call.
pub async fn check_one_region(server: &MockServer) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1", "--retry-attempts", "1"],
    )))
    .await
}

/// `checker check` of `region` against `server`, sharded by zone.
pub async fn check_sharded(server: &MockServer, region: &str) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let uri = server.uri();
    let mut args = live_args(&c, &uri, &["--region", region]);
    args.retain(|a| *a != "--no-shard");
    run(owned(args)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn follows_next_token_across_pages() {
    let server = MockServer::start().await;
    let p1 = [
        inst(
            "i-1",
            "us-east-1a",
            "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234",
            "gecko-t-win7-32",
        ),
        inst(
            "i-2",
            "us-east-1b",
            "aws-provisioner-v1-managed:ffe27db",
            "gecko-t-win10-64",
        ),
    ];
    let p2 = [inst(
        "i-3",
        "us-east-1a",
        "aws-provisioner-v1-managed:gecko-t-win10-64:abc1234",
        "gecko-t-win10-64",
    )];
    Mock::given(method("POST"))
        .and(path("/"))
        .and(action("DescribeInstances"))
        .and(body_string_contains("NextToken=page-2"))
        .respond_with(xml(describe_instances(&p2, None)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(action("DescribeInstances"))
        .respond_with(xml(describe_instances(&p1, Some("page-2"))))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1"],
    )))
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["source"]["kind"], "live");
    assert_eq!(v["source"]["instances"], 3);
    let f = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .find(|f| f["clause"] == "cull-wt-known")
        .expect("finding");
    assert_eq!(f["count"], 1);
    assert_eq!(f["samples"], json!(["i-2"]));
    // MaxResults=1000 on every page.
    for r in requests(&server, "DescribeInstances").await {
        assert!(String::from_utf8_lossy(&r.body).contains("MaxResults=1000"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_three_regions_at_once() {
    let server = MockServer::start().await;
    for (r, id) in [
        ("us-east-1", "i-e1"),
        ("us-west-2", "i-w2"),
        ("eu-central-1", "i-c1"),
    ] {
        let az = format!("{r}a");
        let body = describe_instances(
            &[inst(
                id,
                &az,
                "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234",
                "gecko-t-win7-32",
            )],
            None,
        );
        Mock::given(method("POST"))
            .and(region(r))
            .and(action("DescribeInstances"))
            .respond_with(xml(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &[
            "--region",
            "us-east-1",
            "--region",
            "us-west-2",
            "--region",
            "eu-central-1",
        ],
    )))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let parts: Vec<(String, u64)> = v["source"]["parts"]
        .as_array()
        .expect("arr")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["instances"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            ("eu-central-1".into(), 1),
            ("us-east-1".into(), 1),
            ("us-west-2".into(), 1)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_and_every_instance_is_seen_exactly_once() {
    let server = MockServer::start().await;
    let p1 = [inst(
        "i-1",
        "us-east-1a",
        "aws-provisioner-v1-managed:ffe27db",
        "gecko-t-win7-32",
    )];
    let p2 = [inst(
        "i-2",
        "us-east-1a",
        "aws-provisioner-v1-managed:ffe27db",
        "gecko-t-win7-32",
    )];
    let throttle = ResponseTemplate::new(503)
        .insert_header("content-type", "text/xml")
        .set_body_string(error_xml("RequestLimitExceeded", "Request limit exceeded."));
    // Each page is throttled twice before it is served.
    Mock::given(action("DescribeInstances"))
        .and(body_string_contains("NextToken=t2"))
        .respond_with(throttle.clone())
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .and(body_string_contains("NextToken=t2"))
        .respond_with(xml(describe_instances(&p2, None)))
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .respond_with(throttle)
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .respond_with(xml(describe_instances(&p1, Some("t2"))))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1", "--retry-attempts", "4"],
    )))
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["source"]["instances"], 2);
    let f = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .find(|f| f["clause"] == "cull-wt-known")
        .expect("finding");
    assert_eq!(f["count"], 2);
    assert_eq!(f["samples"], json!(["i-1", "i-2"]));
    assert_eq!(
        requests(&server, "DescribeInstances").await.len(),
        6,
        "2 pages, each throttled twice"
    );
}

/// us-east-1 answers with one instance, us-west-1 with 500s; a check of both in `format`.
async fn us_west_1_failing(server: &MockServer, format: &str) -> Run {
    Mock::given(region("us-west-1"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_string(error_xml("InternalError", "An internal error has occurred")),
        )
        .mount(server)
        .await;
    let body = describe_instances(
        &[inst(
            "i-ok",
            "us-east-1a",
            "aws-provisioner-v1-managed:ffe27db",
            "gecko-t-win7-32",
        )],
        None,
    );
    Mock::given(region("us-east-1"))
        .and(action("DescribeInstances"))
        .respond_with(xml(body))
        .mount(server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let uri = server.uri();
    let mut a = live_args(
        &c,
        &uri,
        &[
            "--region",
            "us-east-1",
            "--region",
            "us-west-1",
            "--retry-attempts",
            "2",
        ],
    );
    a[6] = format;
    run(owned(a)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_failing_with_500s_is_named_and_the_others_are_still_reported() {
    let server = MockServer::start().await;
    let r = us_west_1_failing(&server, "json").await;
    // us-east-1's instance violates a contract: a violation found beats the incomplete read
    // (exit 1, status violations); the failed region is still named and reported.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("region us-west-1 could not be read"),
        "{}",
        r.stderr
    );
    let v = r.json();
    assert_eq!(v["summary"]["status"], "violations");
    let failed: Vec<&Value> = v["source"]["parts"]
        .as_array()
        .expect("arr")
        .iter()
        .filter(|p| p["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "us-west-1");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("InternalError"),
        "{}",
        failed[0]
    );
    assert!(
        v["findings"]
            .as_array()
            .expect("arr")
            .iter()
            .any(|f| f["code"] == "region-failed")
    );
    // us-east-1 was still evaluated: its violation is in the report.
    assert!(
        v["findings"]
            .as_array()
            .expect("arr")
            .iter()
            .any(|f| f["clause"] == "cull-wt-known" && f["samples"] == json!(["i-ok"]))
    );
}

/// JUnit agrees with the exit code: the region that could not be read is a failing case (it
/// was all-skipped while the run exited 3).
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_region_is_a_failing_junit_case() {
    let server = MockServer::start().await;
    let j = us_west_1_failing(&server, "junit").await;
    assert_eq!(j.code, 1, "{}", j.stderr);
    assert!(
        j.stdout
            .contains(r#"<testcase name="read us-west-1" classname="source" assertions="0">"#),
        "{}",
        j.stdout
    );
    assert!(
        j.stdout.contains("us-west-1 could not be read") && j.stdout.contains("<error"),
        "{}",
        j.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_xml_is_a_clear_error_not_a_panic() {
    let server = MockServer::start().await;
    // A proxy's error page served with 200, where EC2 XML was expected.
    Mock::given(action("DescribeInstances"))
        .respond_with(xml("<<html>><body>502 Bad Gateway</body></html>".into()))
        .mount(&server)
        .await;
    let r = check_one_region(&server).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"));
    assert!(
        r.stderr.contains("us-east-1 could not be read")
            && r.stderr.contains("could not be parsed"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_page_naming_a_next_page_fails_the_region_and_stops_paging() {
    let server = MockServer::start().await;
    // Its end names a next page (which checker requests early, before reading the page), but the
    // page itself is broken: the region fails, the early request is dropped, paging stops.
    Mock::given(action("DescribeInstances"))
        .and(body_string_contains("NextToken=page-2"))
        .respond_with(xml(describe_instances(&[], None)))
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .respond_with(xml(
            "<DescribeInstancesResponse><reservationSet><item><instancesSet></reservationSet><nextToken>page-2</nextToken></DescribeInstancesResponse>"
                .into(),
        ))
        .mount(&server)
        .await;
    let r = check_one_region(&server).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("us-east-1 could not be read"),
        "{}",
        r.stderr
    );
    let calls = requests(&server, "DescribeInstances").await.len();
    assert!(
        (1..=2).contains(&calls),
        "page 1 and at most the early request for page 2: {calls}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_page_fails_the_region_instead_of_looking_smaller() {
    let server = MockServer::start().await;
    // The SDK's XML reader would return i-1 from this and drop the rest silently.
    Mock::given(action("DescribeInstances"))
        .respond_with(xml(
            "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1"
                .into(),
        ))
        .mount(&server)
        .await;
    let r = check_one_region(&server).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_says_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(action("DescribeInstances"))
        .respond_with(ResponseTemplate::new(401).set_body_string(error_xml(
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        )))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1"],
    )))
    .await;
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("AWS refused the credentials (AuthFailure"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--profile"), "{}", r.stderr);
    assert_eq!(
        requests(&server, "DescribeInstances").await.len(),
        1,
        "auth failures are not retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_filters_come_from_the_selectors() {
    let server = MockServer::start().await;
    Mock::given(action("DescribeInstances"))
        .respond_with(xml(describe_instances(&[], None)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1"],
    )))
    .await;
    // Nothing came back: that is not clean (source-empty, exit 3).
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["findings"][0]["code"], "source-empty");
    let reqs = requests(&server, "DescribeInstances").await;
    assert_eq!(reqs.len(), 1);
    let body = String::from_utf8_lossy(&reqs[0].body).replace("%3A", ":");
    assert!(body.contains("Version=2016-11-15"), "{body}");
    // States, and tag:Owner: both selectors constrain it, so the union of their values is sent.
    assert!(
        body.contains("Name=instance-state-name")
            && body.contains("Value.1=pending")
            && body.contains("Value.2=running"),
        "{body}"
    );
    assert!(body.contains("Name=tag:Owner"), "{body}");
    assert!(
        body.contains("=aws-provisioner-v1-managed") && body.contains("=ec2-manager-production"),
        "{body}"
    );
    // tag:Name is constrained by the consumer only, so it cannot be sent (EC2 ANDs filter names).
    assert!(!body.contains("Name=tag:Name"), "{body}");
}

/// An endpoint that answers every DescribeInstances page with the same NextToken: the region
/// fails loudly after the repeat instead of looping (it looped at ~2,500 calls a second, spending
/// the account's request tokens the provisioner shares), and the report says how many calls of
/// each action were made.
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_next_token_fails_the_region_instead_of_looping() {
    let server = MockServer::start().await;
    let page = describe_instances(
        &[inst(
            "i-1",
            "us-east-1a",
            "aws-provisioner-v1-managed:ffe27db",
            "gecko-t-win7-32",
        )],
        Some("same-token"),
    );
    Mock::given(action("DescribeInstances"))
        .respond_with(xml(page))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1"],
    )))
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("NextToken it had already returned"),
        "{}",
        r.stderr
    );
    let calls = requests(&server, "DescribeInstances").await.len();
    assert!(calls <= 4, "{calls} calls");
    let v = r.json();
    let part = &v["source"]["parts"][0];
    assert_eq!(part["status"], "failed");
    assert_eq!(
        part["apiCallsByAction"]["DescribeInstances"], calls as u64,
        "{part}"
    );
}
