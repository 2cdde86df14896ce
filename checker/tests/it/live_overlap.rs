//! A region's user-data sample is fetched as soon as that region is read, while slower regions
//! are still being read (not after every region's scan). Shown by the order the endpoint
//! receives the calls, not by timing: us-west-2's second page is only asked for after its
//! first page's one-second delay, so us-east-1's user-data call must arrive before it.

use crate::live::*;
use crate::support::*;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, MockServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_regions_user_data_is_fetched_while_other_regions_are_still_read() {
    use base64::Engine;
    let server = MockServer::start().await;
    let east = [inst(
        "i-0e1",
        "us-east-1a",
        "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234",
        "gecko-t-win7-32",
    )];
    let west1 = [inst(
        "i-0a1",
        "us-west-2a",
        "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234",
        "gecko-t-win7-32",
    )];
    let west2 = [inst(
        "i-0a2",
        "us-west-2a",
        "aws-provisioner-v1-managed:gecko-t-win7-32:abc1234",
        "gecko-t-win7-32",
    )];
    Mock::given(action("DescribeInstances"))
        .and(region("us-east-1"))
        .respond_with(xml(describe_instances(&east, None)))
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .and(region("us-west-2"))
        .and(body_string_contains("NextToken=west-2"))
        .respond_with(xml(describe_instances(&west2, None)))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .and(region("us-west-2"))
        .respond_with(
            xml(describe_instances(&west1, Some("west-2"))).set_delay(Duration::from_secs(1)),
        )
        .mount(&server)
        .await;
    let ud =
        base64::engine::general_purpose::STANDARD.encode(r#"{"workerType":"gecko-t-win7-32"}"#);
    Mock::given(action("DescribeInstanceAttribute"))
        .respond_with(xml(format!("<DescribeInstanceAttributeResponse xmlns=\"{NS}\"><requestId>r</requestId><instanceId>i-0e1</instanceId><userData><value>{ud}</value></userData></DescribeInstanceAttributeResponse>")))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = owner_contracts(dir.path());
    let path = std::path::Path::new(&c).join("cons.json");
    let mut cons: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    cons["clauses"].as_array_mut().expect("arr").push(
        json!({"id": "cull-ud", "kind": "present", "output": "userData.workerType", "why": "w"}),
    );
    write_json(std::path::Path::new(&c), "cons.json", &cons);
    let r = run(owned(live_args(
        &c,
        &server.uri(),
        &["--region", "us-east-1", "--region", "us-west-2"],
    )))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["userDataSampled"], 3);
    let order: Vec<String> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|q| {
            let b = String::from_utf8_lossy(&q.body).to_string();
            let auth = q
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let reg = if auth.contains("/us-east-1/") {
                "east"
            } else {
                "west"
            };
            if b.contains("Action=DescribeInstanceAttribute") {
                format!(
                    "{reg} user-data {}",
                    if b.contains("i-0e1") { "i-0e1" } else { "west" }
                )
            } else if b.contains("NextToken=west-2") {
                format!("{reg} page 2")
            } else {
                format!("{reg} {}", b.split('&').next().unwrap_or(""))
            }
        })
        .collect();
    let at = |s: &str| {
        order
            .iter()
            .position(|o| o == s)
            .unwrap_or_else(|| panic!("{s} not in {order:?}"))
    };
    assert!(at("east user-data i-0e1") < at("west page 2"), "{order:?}");
}
