//! `checker cull` and `checker hook`: wiremock for the EC2 side, the 2018 replay offline.

use crate::cull_claims::{TagStore, mount_tag_store};
use crate::live::{Inst, describe_instances, error_xml, region, xml};
use crate::support::*;
use serde_json::{Value, json};
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

fn action(a: &str) -> wiremock::matchers::BodyContainsMatcher {
    body_string_contains(format!("Action={a}&"))
}

fn statuses_xml(impaired: &[(String, &str, String)]) -> String {
    let items: String = impaired
        .iter()
        .map(|(id, az, since)| format!("<item><instanceId>{id}</instanceId><availabilityZone>{az}</availabilityZone><instanceState><code>16</code><name>running</name></instanceState><systemStatus><status>ok</status><details><item><name>reachability</name><status>passed</status></item></details></systemStatus><instanceStatus><status>impaired</status><details><item><name>reachability</name><status>failed</status><impairedSince>{since}</impairedSince></item></details></instanceStatus></item>"))
        .collect();
    format!(
        "<DescribeInstanceStatusResponse xmlns=\"{NS}\"><requestId>r</requestId><instanceStatusSet>{items}</instanceStatusSet></DescribeInstanceStatusResponse>"
    )
}

pub fn terminate_xml(body: &str) -> String {
    let items: String = body
        .split('&')
        .filter_map(|kv| kv.strip_prefix("InstanceId.").and_then(|r| r.split_once('=')).map(|(_, id)| id.to_string()))
        .map(|id| format!("<item><instanceId>{id}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState></item>"))
        .collect();
    format!(
        "<TerminateInstancesResponse xmlns=\"{NS}\"><requestId>r</requestId><instancesSet>{items}</instancesSet></TerminateInstancesResponse>"
    )
}

pub fn cull_contracts(dir: &std::path::Path) -> String {
    let c = dir.join("c");
    write_json(
        &c,
        "prov.json",
        &json!({
            "kind": "provider", "name": "wm", "description": "d",
            "selector": {"conditions": [{"output": "tag:ManagedBy", "equals": "taskcluster"}]},
            "groupBy": "pool", "variables": {"pool": {"set": "pools"}},
            "sets": {"pools": ["gecko-t/win10-64", "gecko-t/win7-32"]},
            "outputs": {"tag:Name": {"template": "{pool}"}}
        }),
    );
    write_json(
        &c,
        "cull.json",
        &json!({
            "kind": "consumer", "name": "culling", "owner": "relops", "description": "d", "role": "cull",
            "selector": {"conditions": [{"output": "tag:ManagedBy", "equals": "taskcluster"}, {"output": "tag:Name", "glob": "*win*"}]},
            "clauses": [
                {"id": "cull-pool", "kind": "derives", "fact": "pool", "from": {"output": "tag:Name"}, "why": "grouping"},
                {"id": "cull-pool-known", "kind": "member-of", "fact": "pool", "set": "pools", "why": "known pools only"}
            ]
        }),
    );
    c.to_str().expect("utf8").to_string()
}

fn wm_inst(id: &str, az: &str, name: &str) -> Inst<'static> {
    let id: &'static str = Box::leak(id.to_string().into_boxed_str());
    let az: &'static str = Box::leak(az.to_string().into_boxed_str());
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    Inst {
        id,
        az,
        key: None,
        tags: vec![("Name", name), ("ManagedBy", "taskcluster")],
    }
}

pub async fn run(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        checker(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("join")
}

pub async fn received(server: &MockServer, act: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(&format!("Action={act}&")))
        .collect()
}

pub fn terminated_ids(reqs: &[Request]) -> Vec<String> {
    let mut ids: Vec<String> = reqs
        .iter()
        .flat_map(|r| {
            String::from_utf8_lossy(&r.body)
                .split('&')
                .filter_map(|kv| {
                    kv.strip_prefix("InstanceId.")
                        .and_then(|r| r.split_once('='))
                        .map(|(_, id)| id.to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids
}

/// 100 instances of one pool in us-east-1; `impaired` of them impaired, the k-th since k+30 minutes
/// before now (so i-000 is the most recent); 5 more impaired outside the cull contract's selector.
pub async fn fleet_server(impaired: usize, fresh: usize) -> MockServer {
    fleet_server_with_store(impaired, fresh).await.0
}

/// [`fleet_server`], and its tag store (to seed claims or read them back).
pub async fn fleet_server_with_store(impaired: usize, fresh: usize) -> (MockServer, TagStore) {
    let server = MockServer::start().await;
    let mut insts: Vec<Inst<'static>> = (0..100)
        .map(|k| wm_inst(&format!("i-{k:03}"), "us-east-1a", "gecko-t/win10-64"))
        .collect();
    insts.extend((0..5).map(|k| Inst {
        tags: vec![("Name", "unrelated")],
        ..wm_inst(&format!("i-x{k}"), "us-east-1a", "x")
    }));
    Mock::given(action("DescribeInstances"))
        .and(region("us-east-1"))
        .respond_with(xml(describe_instances(&insts, None)))
        .mount(&server)
        .await;
    let store = mount_tag_store(&server).await;
    // Claims follow the machine's clock (`--now` is refused with `--apply`): so do impairments.
    let now = chrono::Utc::now();
    let mut imp: Vec<(String, &str, String)> = (0..impaired)
        .map(|k| {
            (
                format!("i-{k:03}"),
                "us-east-1a",
                (now - chrono::Duration::minutes(30 + k as i64)).to_rfc3339(),
            )
        })
        .collect();
    imp.extend((0..fresh).map(|k| {
        (
            format!("i-{:03}", 90 + k),
            "us-east-1a",
            (now - chrono::Duration::minutes(3)).to_rfc3339(),
        )
    }));
    imp.extend((0..5).map(|k| {
        (
            format!("i-x{k}"),
            "us-east-1a",
            (now - chrono::Duration::hours(5)).to_rfc3339(),
        )
    }));
    let body = statuses_xml(&imp);
    Mock::given(action("DescribeInstanceStatus"))
        .and(region("us-east-1"))
        .respond_with(xml(body))
        .mount(&server)
        .await;
    Mock::given(action("TerminateInstances"))
        .respond_with(|req: &Request| xml(terminate_xml(&String::from_utf8_lossy(&req.body))))
        .mount(&server)
        .await;
    (server, store)
}

pub fn cull_args(c: &str, uri: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "cull",
        "--contracts",
        c,
        "--endpoint-url",
        uri,
        "--region",
        "us-east-1",
        "--no-shard",
        "--retry-mode",
        "standard",
        "--retry-initial-backoff-ms",
        "5",
        "--format",
        "json",
    ];
    v.extend_from_slice(extra);
    v.into_iter().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_makes_no_terminate_call() {
    let server = fleet_server(50, 0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let r = run(cull_args(&c, &server.uri(), &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let plan = r.json();
    assert_eq!(plan["dryRun"], true);
    assert_eq!(
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .filter(|e| e["decision"] == "act")
            .count(),
        10
    );
    assert!(received(&server, "TerminateInstances").await.is_empty());
    // The status calls are one set per condition: EC2 ANDs filter names.
    let status = received(&server, "DescribeInstanceStatus").await;
    let bodies: Vec<String> = status
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).replace("%2E", "."))
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("Name=instance-status.status"))
            && bodies
                .iter()
                .any(|b| b.contains("Name=system-status.status")),
        "{bodies:?}"
    );
    assert!(
        bodies.iter().all(|b| b.matches("Filter.").count() <= 2),
        "one filter per call: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ten_percent_budget_terminates_exactly_ten_of_fifty_oldest_first() {
    let server = fleet_server(50, 0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let r = run(cull_args(
        &c,
        &server.uri(),
        &["--apply", "--audit-log", audit.to_str().expect("utf8")],
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ids = terminated_ids(&received(&server, "TerminateInstances").await);
    // i-049 is the oldest (impaired 79 min), i-040 the tenth oldest.
    assert_eq!(
        ids,
        (40..50).map(|k| format!("i-{k:03}")).collect::<Vec<_>>()
    );
    let plan = r.json();
    assert_eq!(plan["dryRun"], false);
    assert_eq!(
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .filter(|e| e["decision"] == "deferred")
            .count(),
        40
    );
    assert!(
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .filter(|e| e["decision"] == "act")
            .all(|e| e["result"] == "shutting-down")
    );
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("audit")
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    // Write-ahead: each instance is claimed, then its intent is recorded, then its result.
    let events = |e: &str| lines.iter().filter(|l| l["event"] == e).count();
    assert_eq!(
        (events("claim"), events("intent"), events("result")),
        (10, 10, 10),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 30);
    for l in lines.iter().filter(|l| l["event"] == "intent") {
        assert!(
            l["reason"]
                .as_str()
                .unwrap_or("")
                .contains("instance-status impaired")
        );
        assert_eq!(l["action"], "terminate");
        let i = &l["instance"];
        let pos = |e: &str| {
            lines
                .iter()
                .position(|x| x["event"] == e && &x["instance"] == i)
        };
        assert!(
            pos("claim") < pos("intent") && pos("intent") < pos("result"),
            "{i}"
        );
    }
    assert!(
        lines
            .iter()
            .filter(|l| l["event"] == "result")
            .all(|l| l["result"] == "shutting-down")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recent_impairments_and_instances_outside_the_selector_are_left_alone() {
    let server = fleet_server(2, 3).await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let r = run(cull_args(
        &c,
        &server.uri(),
        &[
            "--apply",
            "--max-percent",
            "100",
            "--audit-log",
            audit.to_str().expect("utf8"),
        ],
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let ids = terminated_ids(&received(&server, "TerminateInstances").await);
    assert_eq!(ids, vec!["i-000".to_string(), "i-001".to_string()]);
    let plan = r.json();
    let decision = |id: &str| {
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .find(|e| e["instance"] == id)
            .map(|e| e["decision"].clone())
    };
    assert_eq!(decision("i-090"), Some(json!("too-recent")));
    assert_eq!(decision("i-x0"), Some(json!("outside-selector")));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_region_failing_means_nothing_is_terminated_anywhere() {
    let server = fleet_server(50, 0).await;
    Mock::given(region("us-west-2"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(error_xml("InternalError", "boom")),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let r = run(cull_args(
        &c,
        &server.uri(),
        &["--apply", "--region", "us-west-2", "--retry-attempts", "2"],
    ))
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(received(&server, "TerminateInstances").await.is_empty());
    let plan = r.json();
    assert_eq!(plan["refusalKind"], "partial-data");
    assert!(plan["refused"].as_str().unwrap_or("").contains("us-west-2"));
}

fn replay_cull(consumers: &str, extra: &[&str]) -> Run {
    let mut a = vec![
        "cull",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
    ];
    let c = format!("examples/taskcluster-2018/consumers-{consumers}");
    a.push(&c);
    a.extend([
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
        "--now",
        NOW,
    ]);
    a.extend_from_slice(extra);
    checker(&a)
}

#[test]
fn replay_2018_the_key_name_cull_contract_refuses_and_names_itself_the_fixed_one_culls() {
    let r = replay_cull("prefix", &["--format", "json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cull refused")
            && r.stderr.contains("impaired-instance-culling")
            && r.stderr.contains("cull-prefix-key-format"),
        "{}",
        r.stderr
    );
    let plan = r.json();
    assert_eq!(plan["refusalKind"], "broken-contract");
    assert!(
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .all(|e| e["decision"] != "act")
    );
    let fixed = replay_cull("postfix", &["--format", "json"]);
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
    let plan = fixed.json();
    let act: Vec<&Value> = plan["entries"]
        .as_array()
        .expect("arr")
        .iter()
        .filter(|e| e["decision"] == "act")
        .collect();
    assert_eq!(act.len(), 1, "10% of the 10 gecko-t-win10-64 workers");
    assert_eq!(act[0]["group"], "gecko-t-win10-64");
    assert!(
        plan["entries"]
            .as_array()
            .expect("arr")
            .iter()
            .any(|e| e["decision"] == "outside-selector"),
        "the golden instance is never culled"
    );
}

#[test]
fn the_plan_has_a_junit_form_that_fails_when_refused() {
    let refused = replay_cull("prefix", &["--format", "junit"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.starts_with("<?xml")
            && refused.stdout.contains("<failure")
            && refused.stdout.contains("cull-prefix-key-format"),
        "{}",
        refused.stdout
    );
    let ok = replay_cull("postfix", &["--format", "junit"]);
    assert_eq!(ok.code, 0);
    assert!(
        !ok.stdout.contains("<failure") && ok.stdout.contains("group gecko-t-win10-64"),
        "{}",
        ok.stdout
    );
}

#[test]
fn apply_is_refused_on_recorded_data() {
    let r = replay_cull("postfix", &["--apply"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--apply acts on live EC2"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_hook_writes_every_artifact_and_a_status_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("snap.json");
    let s = checker(&[
        "snapshot",
        "--contracts",
        "examples/taskcluster-2018/provider-before",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-12.json",
        "--out",
        snap.to_str().expect("utf8"),
    ]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let art = dir.path().join("artifacts");
    let r = checker(&[
        "hook",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--artifacts",
        art.to_str().expect("utf8"),
        "--now",
        NOW,
    ]);
    // Contracts hold and the cull plan is made, but the fleet drifted from the snapshot without
    // breaking anyone: exit 0.
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in [
        "report.json",
        "report.html",
        "summary.md",
        "junit.xml",
        "diff.json",
        "diff.md",
        "cull-plan.json",
    ] {
        assert!(art.join(f).exists(), "{f} missing");
    }
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("cull-plan.json")).expect("plan"))
            .expect("json");
    assert_eq!(plan["dryRun"], true);
    let summary = std::fs::read_to_string(art.join("summary.md")).expect("summary");
    assert!(
        summary.contains("checker hook")
            && summary.contains("checker diff")
            && summary.contains("checker cull"),
        "{summary}"
    );
    for f in [
        "report.json",
        "report.html",
        "summary.md",
        "junit.xml",
        "diff.json",
        "diff.md",
        "cull-plan.json",
    ] {
        assert!(
            !std::fs::read_to_string(art.join(f))
                .expect("artifact")
                .contains("tok-"),
            "secret in {f}"
        );
    }
    // With the pre-fix consumers, the same run fails: violations, and the cull refuses.
    let art2 = dir.path().join("artifacts2");
    let r = checker(&[
        "hook",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
        "--artifacts",
        art2.to_str().expect("utf8"),
        "--now",
        NOW,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(art2.join("cull-plan.json")).expect("plan"))
            .expect("json");
    assert_eq!(plan["refusalKind"], "broken-contract");
}

/// `check` and `hook` read a recorded fleet through the same code and describe it the same way:
/// `userDataSampled` counts the instances whose user-data the file holds, not every instance.
#[test]
fn hook_and_check_describe_a_recorded_fleet_alike() {
    let dir = tempfile::tempdir().expect("tmp");
    let contracts = dir.path().join("contracts");
    std::fs::create_dir_all(&contracts).expect("mkdir");
    write_json(&contracts, "provider.json", &provider());
    write_json(&contracts, "consumer.json", &consumer());
    let ud = json!({"workerType": "wt-a", "securityToken": "s3cr3t"});
    let fleet_file = write_json(
        dir.path(),
        "fleet.json",
        &fleet(vec![
            instance("i-1", "managed:wt-a:0123abc", "wt-a", Some(&ud)),
            instance("i-2", "managed:wt-a:0123abc", "wt-a", None),
            instance("i-3", "managed:wt-b:0123abc", "wt-b", None),
        ]),
    );
    let (c, f) = (contracts.to_str().unwrap(), fleet_file.to_str().unwrap());
    let check = checker(&["check", "--contracts", c, "--fleet", f, "--format", "json"]);
    assert!(check.code <= 1, "{}", check.stderr);
    let check: Value = serde_json::from_str(&check.stdout).expect("json");
    let art = dir.path().join("artifacts");
    let hook = checker(&[
        "hook",
        "--contracts",
        c,
        "--fleet",
        f,
        "--no-cull",
        "--artifacts",
        art.to_str().unwrap(),
    ]);
    assert!(hook.code <= 1, "{}", hook.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(art.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(check["source"]["userDataSampled"], 1);
    assert_eq!(report["source"], check["source"]);
}
