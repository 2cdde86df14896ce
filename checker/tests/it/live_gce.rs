//! Live GCE (issue 26 item 1): a wiremock Compute REST API and OAuth token endpoint on
//! 127.0.0.1. Credentials are an `authorized_user` Application Default Credentials file (what
//! `gcloud auth application-default login` writes) named by GOOGLE_APPLICATION_CREDENTIALS, whose
//! `token_uri` is the fake: google-cloud-auth 1.19.0 takes the token endpoint from it
//! (`src/credentials/user_account.rs`, `token_uri.or(authorized_user.token_uri)`). None of
//! these tests could pass before this commit: checker had no live GCP source (`--project` was
//! not an argument).

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PROJECT: &str = "example-fxci-level1";
const TOKEN: &str = "ya29.planted-access-token-4711";
const PAGE: usize = 5;

fn example() -> Vec<Value> {
    serde_json::from_value(example_fleet(GCE)).expect("an array")
}

/// Page `n` of `fleet` in the aggregatedList shape, `PAGE` instances a page.
fn page(fleet: &[Value], n: usize) -> Value {
    let mut items = serde_json::Map::new();
    for i in fleet.iter().skip(n * PAGE).take(PAGE) {
        let z = i["zone"]
            .as_str()
            .expect("zone")
            .rsplit('/')
            .next()
            .expect("z");
        items
            .entry(format!("zones/{z}"))
            .or_insert_with(|| json!({"instances": []}))["instances"]
            .as_array_mut()
            .expect("array")
            .push(i.clone());
    }
    items.insert(
        "zones/empty-1a".into(),
        json!({"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}),
    );
    let mut doc = json!({"kind": "compute#instanceAggregatedList", "items": items});
    if (n + 1) * PAGE < fleet.len() {
        doc["nextPageToken"] = json!(format!("t{}", n + 1));
    }
    doc
}

/// The page a request asks for.
fn asked(req: &Request) -> usize {
    req.url
        .query_pairs()
        .find(|(k, _)| k == "pageToken")
        .and_then(|(_, v)| v.trim_start_matches('t').parse().ok())
        .unwrap_or(0)
}

/// A fake with a token endpoint; the ADC file pointing at it is written into `dir`.
async fn fake(dir: &Path) -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}),
        ))
        .mount(&server)
        .await;
    let adc = json!({"type": "authorized_user", "client_id": "id", "client_secret": "s",
        "refresh_token": "r", "token_uri": format!("{}/token", server.uri())});
    let f = write_json(dir, "adc.json", &adc);
    (server, f.to_str().expect("utf-8").to_string())
}

/// Serves `fleet` as pages.
async fn serve(server: &MockServer, fleet: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(format!("/projects/{PROJECT}/aggregated/instances")))
        .respond_with(move |req: &Request| {
            ResponseTemplate::new(200).set_body_json(page(&fleet, asked(req)))
        })
        .mount(server)
        .await;
}

/// Runs checker against the fake.
async fn run(server: &MockServer, adc: &str, args: &[&str]) -> Run {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(
        [
            "--project",
            PROJECT,
            "--gcp-endpoint-url",
            &server.uri(),
            "--gcp-retry-initial-backoff-ms",
            "1",
        ]
        .map(String::from),
    );
    let adc = adc.to_string();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = all.iter().map(String::as_str).collect();
        checker_env(&a, &[("GOOGLE_APPLICATION_CREDENTIALS", &adc)])
    })
    .await
    .expect("join")
}

async fn check(server: &MockServer, adc: &str) -> (Run, Value) {
    let c = contracts();
    let r = run(
        server,
        adc,
        &["check", "--contracts", &c, "--format", "json"],
    )
    .await;
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r, v)
}

async fn listings(server: &MockServer) -> Vec<Request> {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs.into_iter()
        .filter(|r| r.url.path().contains("/aggregated/instances"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_fleet_served_in_pages_checks_clean_and_the_token_goes_only_in_the_header() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let fleet = example();
    let pages = fleet.len().div_ceil(PAGE);
    serve(&server, fleet).await;
    let (r, v) = check(&server, &adc).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let sel = |name: &str| {
        v["consumers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == name)
            .and_then(|c| c["selected"].as_u64())
    };
    assert_eq!(sel("worker-runner-google"), Some(18), "{v}");
    let reqs = listings(&server).await;
    assert_eq!(reqs.len(), pages);
    for q in &reqs {
        let auth = q.headers.get("authorization").and_then(|h| h.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {TOKEN}").as_str()));
        let query: String = q.url.query().unwrap_or_default().to_string();
        assert!(query.contains("maxResults=500"), "{query}");
        assert!(query.contains("returnPartialSuccess=true"), "{query}");
    }
    assert!(!r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN));
    // The permission docs/accounts.md documents is the one method called.
    let by_action = &v["source"]["parts"][0]["apiCallsByAction"];
    let methods: Vec<&String> = by_action.as_object().expect("calls").keys().collect();
    assert_eq!(methods, ["compute.instances.aggregatedList"], "{v}");
    let doc = std::fs::read_to_string(root().join("docs/accounts.md")).expect("doc");
    assert!(doc.contains("`compute.instances.list`") && doc.contains("roles/compute.viewer"));
    assert!(doc.contains("compute.instances.aggregatedList"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_without_taskcluster_metadata_or_external_ip_names_its_consumer() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let mut fleet = example();
    fleet[0]["metadata"]["items"] = json!([]);
    fleet[7]["networkInterfaces"][0]["accessConfigs"] = json!([]);
    serve(&server, fleet).await;
    let (r, v) = check(&server, &adc).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let got: Vec<(String, String)> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("consumer"), s("clause"))
        })
        .collect();
    for want in ["gce-runner-reads-rooturl", "gce-runner-external-ip"] {
        assert!(
            got.contains(&("worker-runner-google".into(), want.into())),
            "{want}: {got:?}"
        );
    }
}

/// Serves `body` (status `code`) for every listing call.
async fn always(server: &MockServer, code: u16, body: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/projects/{PROJECT}/aggregated/instances")))
        .respond_with(ResponseTemplate::new(code).set_body_string(body.to_string()))
        .mount(server)
        .await;
}

/// Exit 3, the project named, `needle` said.
fn assert_failed(r: &Run, needle: &str) {
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(PROJECT), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_zone_or_a_zone_warning_fails_the_project() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let mut p = page(&example(), 0);
    p.as_object_mut().expect("obj").remove("nextPageToken");
    p["unreachables"] = json!(["zones/us-central1-f"]);
    always(&server, 200, &p.to_string()).await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "unreachable");
    server.reset().await;
    let (server, adc) = fake(dir.path()).await;
    let mut p = page(&example(), 0);
    p.as_object_mut().expect("obj").remove("nextPageToken");
    p["items"]["zones/us-east1-b"] = json!({"warning": {"code": "UNREACHABLE", "message": "x"}});
    always(&server, 200, &p.to_string()).await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "UNREACHABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_is_retried_and_when_it_persists_the_project_fails_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let limited = json!({"error": {"code": 403, "message": "Rate Limit Exceeded",
        "errors": [{"reason": "rateLimitExceeded"}]}})
    .to_string();
    Mock::given(method("GET"))
        .and(path(format!("/projects/{PROJECT}/aggregated/instances")))
        .respond_with(ResponseTemplate::new(403).set_body_string(limited.clone()))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    serve(&server, example()).await;
    let (r, _) = check(&server, &adc).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (server, adc) = fake(dir.path()).await;
    always(&server, 403, &limited).await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "rateLimitExceeded");
    assert_eq!(
        listings(&server).await.len(),
        5,
        "five attempts, then the project fails"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_once_then_the_project_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    always(
        &server,
        401,
        r#"{"error": {"code": 401, "message": "Request had invalid authentication credentials."}}"#,
    )
    .await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "refused again after a fresh token");
    assert_eq!(listings(&server).await.len(), 2);
    let tokens = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        tokens.iter().filter(|q| q.url.path() == "/token").count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_page_or_a_repeated_page_token_fails_the_project() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let text = page(&example(), 0).to_string();
    always(&server, 200, &text[..text.len() / 2]).await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "aggregatedList page 1");
    let (server, adc) = fake(dir.path()).await;
    let mut p = page(&example(), 0);
    p["nextPageToken"] = json!("again");
    always(&server, 200, &p.to_string()).await;
    let (r, _) = check(&server, &adc).await;
    assert_failed(&r, "already returned");
    assert_eq!(listings(&server).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn cull_on_gcp_refuses_naming_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    serve(&server, example()).await;
    let c = contracts();
    let r = run(&server, &adc, &["cull", "--contracts", &c]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("checker does not cull on GCP") && r.stderr.contains("worker-manager"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_live_metadata_and_labels_reach_no_output_artifact_or_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, adc) = fake(dir.path()).await;
    let mut fleet = example();
    let planted = ["plantedWorkerConfigSecret77", "plantedlabelsecret88"];
    let item = &mut fleet[0]["metadata"]["items"][0];
    let mut tc: Value = serde_json::from_str(item["value"].as_str().expect("tc")).expect("json");
    tc["workerConfig"]["password"] = json!(planted[0]);
    item["value"] = json!(tc.to_string());
    fleet[0]["labels"]["deploy-token"] = json!(planted[1]);
    let name = fleet[0]["name"].as_str().expect("name").to_string();
    serve(&server, fleet).await;
    let c = contracts();
    let snap = dir.path().join("snap.json");
    let s = snap.to_str().expect("utf-8");
    let artifacts = dir.path().join("artifacts");
    let art = artifacts.to_str().expect("utf-8");
    let mut everything = String::new();
    for args in [
        vec!["check", "--contracts", &c, "--format", "json", "-vv"],
        vec!["snapshot", "--contracts", &c, "--output", s],
        vec![
            "diff",
            "--snapshot",
            s,
            "--contracts",
            &c,
            "--format",
            "json",
        ],
        vec!["fleet", "record", "--contracts", &c],
        vec![
            "hook",
            "--contracts",
            &c,
            "--snapshot",
            s,
            "--artifacts",
            art,
        ],
    ] {
        let r = run(&server, &adc, &args).await;
        assert!(r.code <= 1, "{args:?}: {}\n{}", r.stdout, r.stderr);
        everything.push_str(&r.stdout);
        everything.push_str(&r.stderr);
    }
    everything.push_str(&std::fs::read_to_string(&snap).expect("snapshot"));
    // The hook read the live project (no cull: the source cannot) and wrote its artifacts.
    let mut names = Vec::new();
    for e in std::fs::read_dir(&artifacts).expect("artifacts") {
        let p = e.expect("entry").path();
        names.push(p.file_name().expect("name").to_string_lossy().into_owned());
        everything.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
    }
    assert!(names.iter().any(|n| n == "report.json"), "{names:?}");
    assert!(everything.contains(&name), "the runs said something");
    for p in planted.iter().chain(&[TOKEN]) {
        assert!(!everything.contains(p), "{p} leaked");
    }
}
