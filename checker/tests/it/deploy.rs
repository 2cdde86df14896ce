//! Running on Taskcluster: AWS credentials from a secret through the taskcluster proxy,
//! Taskcluster's schemas fetched from the deployment (and cached), pools fetched from the
//! worker-manager API, and the build named in every report. Every server here is a local fake.

use crate::live::{owned, run};
use crate::support::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "project/releng/checker/aws-fleet-culler";
const KEY_ID: &str = "AKIAFROMTHESECRET01";
const SECRET_KEY: &str = "s3cr3t-access-key-never-printed";

async fn proxy_with(secret: ResponseTemplate) -> MockServer {
    let proxy = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/secrets/v1/secret/{SECRET}")))
        .respond_with(secret)
        .mount(&proxy)
        .await;
    proxy
}

/// `checker hook` of one region of `ec2` with the credentials of the secret behind `proxy`.
async fn hook_with_secret(
    proxy: &MockServer,
    ec2: &MockServer,
    artifacts: &std::path::Path,
) -> Run {
    let args = owned(vec![
        "hook",
        "--aws-credentials-secret",
        SECRET,
        "--region",
        "us-east-1",
        "--endpoint-url",
        &ec2.uri(),
        "--no-shard",
        "--retry-attempts",
        "1",
        "--no-cull",
        "--artifacts",
        artifacts.to_str().expect("utf8"),
    ]);
    let proxy_url = proxy.uri();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        checker_env(
            &a,
            &[
                ("TASKCLUSTER_PROXY_URL", &proxy_url),
                ("RUST_LOG", "checker=debug"),
            ],
        )
    })
    .await
    .expect("join")
}

fn empty_page() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml;charset=UTF-8")
        .set_body_string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hook_signs_with_the_credentials_of_the_taskcluster_secret_and_never_prints_them() {
    let proxy = proxy_with(ResponseTemplate::new(200).set_body_json(json!({
        "secret": {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        "expires": "2027-01-01T00:00:00.000Z"
    })))
    .await;
    let ec2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(empty_page())
        .mount(&ec2)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let r = hook_with_secret(&proxy, &ec2, dir.path()).await;
    let reqs = ec2.received_requests().await.unwrap_or_default();
    assert!(!reqs.is_empty(), "no EC2 call: {}", r.stderr);
    for q in &reqs {
        let auth = q
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        assert!(
            auth.contains(&format!("Credential={KEY_ID}/")),
            "signed with another key: {auth}"
        );
    }
    let mut everything = format!("{}{}", r.stdout, r.stderr);
    for e in std::fs::read_dir(dir.path()).expect("artifacts") {
        everything += &std::fs::read_to_string(e.expect("e").path()).unwrap_or_default();
    }
    assert!(!everything.contains(SECRET_KEY), "the secret leaked");
    assert!(!everything.contains(KEY_ID), "the key id leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_malformed_secret_is_bad_input_with_a_clear_message() {
    let ec2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(empty_page())
        .mount(&ec2)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let missing =
        proxy_with(ResponseTemplate::new(404).set_body_string("{\"code\": \"ResourceNotFound\"}"))
            .await;
    let r = hook_with_secret(&missing, &ec2, dir.path()).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no such secret") && r.stderr.contains("secrets:get:"),
        "{}",
        r.stderr
    );
    let malformed = proxy_with(ResponseTemplate::new(200).set_body_json(json!({
        "secret": {"AWS_ACCESS_KEY_ID": KEY_ID, "aws_secret": SECRET_KEY}
    })))
    .await;
    let r = hook_with_secret(&malformed, &ec2, dir.path()).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("malformed") && r.stderr.contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(SECRET_KEY) && !r.stderr.contains(KEY_ID),
        "{}",
        r.stderr
    );
    assert!(
        ec2.received_requests().await.unwrap_or_default().is_empty(),
        "EC2 was called without credentials"
    );
}

/// A fake Taskcluster deployment serving its schemas (from ../shared) and worker pools.
async fn deployment(schemas: &std::path::Path) -> MockServer {
    let tc = MockServer::start().await;
    for rel in [
        "worker-manager/v1/create-worker-pool-request.json",
        "worker-manager/v1/config-aws.json",
        "worker-manager/v1/config-google.json",
        "worker-manager/v1/config-azure.json",
        "worker-manager/v1/azure-arm-templates.json",
        "worker-manager/v1/azure-deployment-resources.json",
        "worker-manager/v1/worker-lifecycle.json",
        "worker-manager/v1/worker-pool-full.json",
        "common/metaschema.json",
    ] {
        let body = std::fs::read_to_string(schemas.join(rel)).expect("schema");
        Mock::given(method("GET"))
            .and(path(format!("/schemas/{rel}")))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&tc)
            .await;
    }
    tc
}

fn without_schema_dir(cache: &std::path::Path) -> [(&'static str, String); 2] {
    [
        ("CHECKER_TASKCLUSTER_SCHEMAS", String::new()),
        ("CHECKER_CACHE_DIR", cache.display().to_string()),
    ]
}

async fn gate_env(args: Vec<String>, env: [(&'static str, String); 2]) -> Run {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        checker_env(&a, &e)
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
async fn schemas_come_from_the_deployment_then_from_the_cache() {
    let schemas = tc_schemas();
    let tc = deployment(&schemas).await;
    let cache = tempfile::tempdir().expect("tmp");
    let args = owned(vec![
        "gate",
        "--pools",
        "examples/firefox-ci-2021/pools",
        "--root-url",
        &tc.uri(),
    ]);
    let r = gate_env(args.clone(), without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let fetched = tc.received_requests().await.unwrap_or_default().len();
    assert!(fetched >= 2, "fetched {fetched}");
    // Offline now: the cache answers.
    tc.reset().await;
    let r = gate_env(args, without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(tc.received_requests().await.unwrap_or_default().is_empty());
}

/// Worker pools are validated offline against the schemas built into checker; aws-provisioner
/// worker types, whose schema is not built in, need one of the two ways, and the error says both.
#[test]
fn without_schemas_or_a_root_url_pools_use_the_built_in_schemas_and_worker_types_say_both_ways() {
    let cache = tempfile::tempdir().expect("tmp");
    let env = without_schema_dir(cache.path());
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = checker_env(&["gate", "--pools", "examples/firefox-ci-2021/pools"], &e);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = checker_env(
        &[
            "gate",
            "--worker-types",
            "tests/fixtures/worker-types",
            "--provider",
            "worker-manager",
        ],
        &e,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--root-url") && r.stderr.contains("--taskcluster-schemas"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
async fn gate_pool_id_fetches_the_pool_from_worker_manager() {
    let schemas = tc_schemas();
    let tc = deployment(&schemas).await;
    let mut pool: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("examples/firefox-ci-2021/pools/gecko-t--t-win10-64.json"),
        )
        .expect("pool"),
    )
    .expect("json");
    // As the API returns it: the definition plus its bookkeeping.
    pool["created"] = json!("2021-05-18T00:00:00.000Z");
    pool["lastModified"] = json!("2021-05-18T00:00:00.000Z");
    let mut broken = pool.clone();
    for lc in broken["config"]["launchConfigs"]
        .as_array_mut()
        .expect("lcs")
    {
        lc["additionalUserData"] = json!({});
    }
    for (id, body) in [
        ("gecko-t(%2F|/)t-win10-64", pool),
        ("gecko-t(%2F|/)broken", broken),
        ("proj-x(%2F|/)gcp", gcp_pool("gecko-1--b-linux-xlarge.json")),
        (
            "proj-x(%2F|/)no-ip",
            gcp_pool("../mutations/gcp-no-external-ip.json"),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(format!(
                "^/api/worker-manager/v1/worker-pool/{id}$"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&tc)
            .await;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let gate = |id: &str| {
        owned(vec![
            "gate",
            "--pool-id",
            id,
            "--root-url",
            &tc.uri(),
            "--format",
            "json",
        ])
    };
    let r = gate_env(gate("gecko-t/t-win10-64"), without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["instances"], 13);
    let r = gate_env(gate("gecko-t/broken"), without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    // A GCP pool is gated too (it was once left out with "not an AWS provider", exit 0).
    let r = gate_env(gate("proj-x/gcp"), without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["gate"]["pools"][0]["implementation"], "google");
    let r = gate_env(gate("proj-x/no-ip"), without_schema_dir(cache.path())).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.json()["gate"]["pools"][0]["reasons"][0]["clause"],
        "worker-runner-google/gce-runner-external-ip"
    );
}

/// A real GCP pool from examples/firefox-ci-2026/pools, as the worker-manager API returns it.
fn gcp_pool(file: &str) -> serde_json::Value {
    let p = root().join("examples/firefox-ci-2026/pools").join(file);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json")
}

#[test]
fn version_and_reports_name_the_build() {
    let v = checker(&["--version"]);
    assert_eq!(v.code, 0);
    let re = regex::Regex::new(
        r"^checker \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}|unknown)(, dirty)?, built \S+\)\n$",
    )
    .expect("re");
    let caps = re
        .captures(&v.stdout)
        .unwrap_or_else(|| panic!("{:?}", v.stdout));
    let r = checker(&[
        "check",
        "--fleet",
        "examples/firefox-ci-2021/fleet.json",
        "--format",
        "json",
    ]);
    let b = &r.json()["build"];
    assert_eq!(b["commit"], caps[1].to_string());
    assert_eq!(b["version"], env!("CARGO_PKG_VERSION"));
    if std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert_ne!(
            &caps[1], "unknown",
            "built in a git checkout: the commit is known"
        );
    }
}

/// A consumer of every worker-manager instance with `n` clauses that all fail.
fn failing_consumer(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let clauses: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("needs-tag-{i}"), "kind": "present", "output": format!("tag:Missing{i}"), "why": "a test"}))
        .collect();
    write_json(
        dir,
        "needy.json",
        &json!({"kind": "consumer", "name": "needy", "owner": "o", "description": "d",
                "selector": {"provider": "worker-manager"}, "clauses": clauses}),
    )
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn gate_writes_a_github_check_within_githubs_limits() {
    tc_schemas();
    let dir = tempfile::tempdir().expect("tmp");
    let needy = failing_consumer(dir.path(), 400);
    let gh = dir.path().join("github");
    let r = checker(&[
        "gate",
        "--contracts",
        "contracts",
        "--contracts",
        needy.to_str().expect("utf8"),
        "--pools",
        "examples/firefox-ci-2021/pools/gecko-t--t-win10-64.json",
        "--github-check",
        gh.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let text = std::fs::read_to_string(gh.join("customCheckRunText.md")).expect("text");
    assert!(text.chars().count() <= 65_535, "{}", text.len());
    assert!(text.contains("cut to GitHub's 65,535 characters"));
    let notes: Value = serde_json::from_str(
        &std::fs::read_to_string(gh.join("customCheckRunAnnotations.json")).expect("a"),
    )
    .expect("json");
    let notes = notes.as_array().expect("array");
    assert_eq!(notes.len(), 50);
    let needy_text = std::fs::read_to_string(&needy).expect("needy");
    let pool = "examples/firefox-ci-2021/pools/gecko-t--t-win10-64.json";
    for n in notes {
        assert_eq!(n["annotation_level"], "failure");
        // At the pool that breaks the consumer (the provisioner's repository has it), the
        // message naming the clause and the line of the contract that holds it.
        assert_eq!(n["path"], pool);
        let clause = n["title"]
            .as_str()
            .expect("title")
            .trim_start_matches("needy ");
        let message = n["message"].as_str().expect("message");
        let written = format!("needy/{clause} ({}:", needy.display());
        let at = message
            .find(&written)
            .unwrap_or_else(|| panic!("{message}"));
        let line: usize = message[at + written.len()..]
            .split(')')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{message}"));
        let lines: Vec<&str> = needy_text.lines().collect();
        assert_eq!(lines[line - 1].trim(), "{", "line {line}");
        assert!(
            lines[line].contains(&format!("\"id\": \"{clause}\"")),
            "line {}: {}",
            line + 1,
            lines[line]
        );
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_one_located_result_per_finding() {
    // The schema's language patterns have a bare `]`, valid in ECMA regexes only; escaped here
    // (same meaning) so the Rust regex engine accepts them.
    let text = std::fs::read_to_string(root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json"))
        .expect("schema")
        .replace("{2}]?$", "{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).expect("json");
    let sarif = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let r = replay("after", "prefix", "14", &["--format", "sarif"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let log: Value = serde_json::from_str(&r.stdout).expect("json");
    let errs: Vec<String> = sarif
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{errs:?}");
    let json = replay("after", "prefix", "14", &["--format", "json"]).json();
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), json["findings"].as_array().expect("f").len());
    let occ = results
        .iter()
        .find(|x| x["properties"]["clause"] == "occ-prefix-worker-type-known")
        .expect("occ's clause");
    assert_eq!(occ["level"], "error");
    let loc = &occ["locations"][0]["physicalLocation"];
    let file = loc["artifactLocation"]["uri"].as_str().expect("uri");
    assert!(file.ends_with("consumers-prefix/occ.json"), "{file}");
    let line = loc["region"]["startLine"].as_u64().expect("line") as usize;
    let text = std::fs::read_to_string(root().join(file)).expect("occ.json");
    assert!(
        text.lines()
            .nth(line - 1)
            .expect("line")
            .trim_start()
            .starts_with('{'),
        "line {line} opens the clause"
    );
    // Diffs and plans have no clause to point at.
    let d = checker(&[
        "diff",
        "--snapshot",
        "snapshots/firefox-ci-2021.json",
        "--fleet",
        "examples/firefox-ci-2021/fleet.json",
        "--format",
        "sarif",
    ]);
    // Refused by the parser: diff does not offer sarif (its --help does not list it).
    assert_eq!(d.code, 2, "{}", d.stderr);
    assert!(
        d.stderr.contains("invalid value 'sarif' for '--format"),
        "{}",
        d.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
async fn gate_reads_a_bundle_of_pools_from_a_ci_tasks_artifact() {
    tc_schemas();
    let read = |f: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(root().join("examples/firefox-ci-2021/pools").join(f))
                .expect("pool"),
        )
        .expect("json")
    };
    let good = json!([
        read("gecko-t--t-win10-64.json"),
        read("infra--build-decision.json")
    ]);
    let mut bad_pool = read("gecko-t--t-win7-32.json");
    bad_pool["config"]["launchConfigs"][2]["launchConfig"]
        .as_object_mut()
        .expect("lc")
        .remove("ImageId");
    let bad = json!([read("gecko-t--t-win10-64.json"), bad_pool]);
    let queue = MockServer::start().await;
    for (name, body) in [("good", good), ("bad", bad)] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/api/queue/v1/task/T/artifacts/public/{name}.json"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&queue)
            .await;
    }
    let url = |n: &str| {
        format!(
            "{}/api/queue/v1/task/T/artifacts/public/{n}.json",
            queue.uri()
        )
    };
    let r = run(owned(vec![
        "gate",
        "--pools",
        &url("good"),
        "--format",
        "json",
    ]))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["instances"], 13 + 41);
    let r = run(owned(vec!["gate", "--pools", &url("bad")])).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        unlocated(&r.stderr).contains("at /1/config/launchConfigs/2/launchConfig")
            && r.stderr.contains("\"ImageId\" is a required property"),
        "{}",
        r.stderr
    );
}

/// A bundle over the HTTP client's default 10 MB (the documented all-pools bundle was 6.7 MB
/// and grows) is read; a smaller --max-response-mb refuses it with exit 3, naming the flag.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
async fn gate_reads_a_pool_bundle_over_ten_megabytes_and_its_limit_is_configurable() {
    tc_schemas();
    let pool: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("examples/firefox-ci-2021/pools/gecko-t--t-win10-64.json"),
        )
        .expect("pool"),
    )
    .expect("json");
    // 11 MiB of it is whitespace: size is what the limit is about.
    let body = format!(
        "[{}{}]",
        " ".repeat(11 << 20),
        serde_json::to_string(&pool).expect("json")
    );
    assert!(body.len() > 11 << 20);
    let queue = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/queue/v1/task/T/artifacts/public/all.json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&queue)
        .await;
    let url = format!(
        "{}/api/queue/v1/task/T/artifacts/public/all.json",
        queue.uri()
    );
    let r = run(owned(vec!["gate", "--pools", &url, "--format", "json"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["instances"], 13);
    let r = run(owned(vec![
        "gate",
        "--pools",
        &url,
        "--max-response-mb",
        "5",
    ]))
    .await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("larger than the limit of 5 MiB")
            && r.stderr.contains("--max-response-mb"),
        "{}",
        r.stderr
    );
}

/// A line break inside AWS_ACCESS_KEY_ID (the environment's, or the Taskcluster secret's)
/// panicked the SDK (exit 101): it is a usage error (exit 2) naming the variable, never its
/// value, before any call.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_break_in_an_access_key_is_exit_2_naming_the_variable_not_its_value() {
    let ec2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(empty_page())
        .mount(&ec2)
        .await;
    let uri = ec2.uri();
    let r = tokio::task::spawn_blocking(move || {
        checker_env(
            &[
                "fleet",
                "record",
                "--region",
                "us-east-1",
                "--endpoint-url",
                &uri,
                "--no-shard",
                "--retry-attempts",
                "1",
            ],
            &[("AWS_ACCESS_KEY_ID", "AKIAPART1\nAKIAPART2")],
        )
    })
    .await
    .expect("join");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("AWS_ACCESS_KEY_ID holds a line break"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("AKIAPART"), "{}", r.stderr);
    assert!(ec2.received_requests().await.unwrap_or_default().is_empty());

    let proxy = proxy_with(ResponseTemplate::new(200).set_body_json(json!({
        "secret": {"AWS_ACCESS_KEY_ID": "AKIAPART1\nAKIAPART2", "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        "expires": "2027-01-01T00:00:00.000Z"
    })))
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let r = hook_with_secret(&proxy, &ec2, dir.path()).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("AWS_ACCESS_KEY_ID holds a line break"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("AKIAPART") && !r.stderr.contains(SECRET_KEY));
    assert!(ec2.received_requests().await.unwrap_or_default().is_empty());
}
