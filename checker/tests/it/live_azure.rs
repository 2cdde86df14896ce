//! Live Azure (issue 26 item 2) against a fake Resource Graph, ARM and token authority on
//! 127.0.0.1: `$skipToken` paging, a repeated token, `resultTruncated`, an unreadable
//! subscription, 429 with `Retry-After`, the per-user quota header at 0, an expired token,
//! truncated JSON; the Firefox CI 2026 Azure fleet served live reads as it does recorded; a
//! secret in tags, customData or the token reaches no output. (None of this exists before
//! `cloud::azure`: every test here fails on the old code, where `--subscription` is unknown.)

use crate::support::*;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod identity;

const TOKEN: &str = "tok-s3cr3t-bearer-0451";

/// What the fake Resource Graph does wrong on VM pages.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    None,
    RepeatToken,
    Truncated,
    TruncatedJson,
    TooManyOnce,
    QuotaZero,
    UnauthorizedOnce,
    UnauthorizedAlways,
}

/// Recorded `az vm list -d` VMs as Resource Graph rows (what the query projects).
fn rows_of(az: &Value) -> Vec<Value> {
    az.as_array()
        .expect("array")
        .iter()
        .map(|v| {
            let id = v["id"].as_str().unwrap_or_default();
            let sub = id.split('/').nth(2).unwrap_or_default();
            let ip = v["publicIps"].as_str().unwrap_or_default();
            let mut os = json!({"computerName": v["osProfile"]["computerName"]});
            if v["osProfile"]["customData"].is_string() {
                os["customData"] = v["osProfile"]["customData"].clone();
            }
            json!({
                "id": id, "name": v["name"], "type": "microsoft.compute/virtualmachines",
                "location": v["location"], "subscriptionId": sub, "tags": v["tags"],
                "publicIp": ip.split(',').next().unwrap_or_default(),
                "properties": {
                    "hardwareProfile": v["hardwareProfile"], "priority": v["priority"],
                    "osProfile": os,
                    "storageProfile": {"imageReference": v["storageProfile"]["imageReference"],
                        "osDisk": {"osType": v["storageProfile"]["osDisk"]["osType"]}},
                    "extended": {"instanceView": {"powerState": {"displayStatus": v["powerState"]}}}
                }
            })
        })
        .collect()
}

/// The fake Resource Graph: pages of `page` rows, tokens are offsets.
struct Graph {
    rows: Vec<Value>,
    page: usize,
    fault: Fault,
    vm_calls: Arc<AtomicUsize>,
    times: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for Graph {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.times.lock().expect("lock").push(Instant::now());
        let quota = |t: ResponseTemplate| match self.fault {
            Fault::QuotaZero => t
                .insert_header("x-ms-user-quota-remaining", "0")
                .insert_header("x-ms-user-quota-resets-after", "00:00:01"),
            _ => t.insert_header("x-ms-user-quota-remaining", "14"),
        };
        let body: Value = serde_json::from_slice(&req.body).expect("json body");
        let sub = body["subscriptions"][0].as_str().unwrap_or_default();
        let query = body["query"].as_str().unwrap_or_default();
        let mine: Vec<&Value> = self
            .rows
            .iter()
            .filter(|r| r["subscriptionId"] == sub)
            .collect();
        if query.contains("distinct location") {
            let mut locs: Vec<&str> = mine.iter().filter_map(|r| r["location"].as_str()).collect();
            locs.sort();
            locs.dedup();
            let data: Vec<Value> = locs.iter().map(|l| json!({"location": l})).collect();
            return quota(ResponseTemplate::new(200).set_body_json(
                json!({"totalRecords": data.len(), "count": data.len(), "resultTruncated": "false", "data": data}),
            ));
        }
        let n = self.vm_calls.fetch_add(1, Ordering::SeqCst);
        match self.fault {
            Fault::TooManyOnce if n == 0 => {
                return ResponseTemplate::new(429).insert_header("Retry-After", "1");
            }
            Fault::UnauthorizedOnce if n == 0 => return ResponseTemplate::new(401),
            Fault::UnauthorizedAlways => {
                return ResponseTemplate::new(401).set_body_json(
                    json!({"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}),
                );
            }
            _ => {}
        }
        let loc = query
            .split("location =~ '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap_or_default();
        let mut here: Vec<&Value> = mine.into_iter().filter(|r| r["location"] == loc).collect();
        here.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_string());
        let from: usize = body["options"]["$skipToken"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let to = (from + self.page).min(here.len());
        let data: Vec<&Value> = here[from.min(to)..to].to_vec();
        let mut out = json!({"totalRecords": here.len(), "count": data.len(),
            "resultTruncated": if self.fault == Fault::Truncated { "true" } else { "false" },
            "data": data});
        if to < here.len() {
            out["$skipToken"] = if self.fault == Fault::RepeatToken {
                json!(self.page.to_string())
            } else {
                json!(to.to_string())
            };
        }
        if self.fault == Fault::TruncatedJson {
            let s = out.to_string();
            return ResponseTemplate::new(200).set_body_string(&s[..s.len() / 2]);
        }
        quota(ResponseTemplate::new(200).set_body_json(out))
    }
}

/// A running fake and what it saw.
struct Fake {
    server: MockServer,
    vm_calls: Arc<AtomicUsize>,
    token_calls: Arc<AtomicUsize>,
    times: Arc<Mutex<Vec<Instant>>>,
}

async fn fake(rows: Vec<Value>, page: usize, fault: Fault, denied: &[&str]) -> Fake {
    let server = MockServer::start().await;
    let vm_calls = Arc::new(AtomicUsize::new(0));
    let token_calls = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::new()));
    let tc = token_calls.clone();
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .respond_with(move |_: &Request| {
            tc.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
            )
        })
        .mount(&server)
        .await;
    let denied: Vec<String> = denied.iter().map(|s| s.to_string()).collect();
    Mock::given(method("GET"))
        .and(path_regex("^/subscriptions/[^/]+$"))
        .respond_with(move |req: &Request| {
            let id = req.url.path().rsplit('/').next().unwrap_or_default();
            if denied.iter().any(|d| d == id) {
                ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": format!("no read access to subscription {id}")}}))
            } else {
                ResponseTemplate::new(200).set_body_json(json!({"subscriptionId": id, "state": "Enabled"}))
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .respond_with(Graph {
            rows,
            page,
            fault,
            vm_calls: vm_calls.clone(),
            times: times.clone(),
        })
        .mount(&server)
        .await;
    Fake {
        server,
        vm_calls,
        token_calls,
        times,
    }
}

/// Runs checker against the fake with a client secret for tenant-1.
async fn run(f: &Fake, args: &[&str]) -> Run {
    let uri = f.server.uri();
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--azure-endpoint-url".to_string(), uri.clone()]);
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = all.iter().map(String::as_str).collect();
        checker_env(
            &a,
            &[
                ("AZURE_TENANT_ID", "tenant-1"),
                ("AZURE_CLIENT_ID", "client-1"),
                ("AZURE_CLIENT_SECRET", "client-s3cr3t-9"),
                ("AZURE_AUTHORITY_HOST", &uri),
                ("AZURE_FEDERATED_TOKEN_FILE", ""),
            ],
        )
    })
    .await
    .expect("run")
}

/// The subscription every example VM is in.
fn example_sub(rows: &[Value]) -> String {
    rows[0]["subscriptionId"].as_str().expect("sub").to_string()
}

/// `check --format json` of the live fake.
async fn check_live(f: &Fake, subs: &[&str]) -> (Run, Value) {
    let c = contracts();
    let mut args = vec!["check", "--contracts", &c, "--format", "json"];
    for s in subs {
        args.extend(["--subscription", s]);
    }
    let r = run(f, &args).await;
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r, v)
}

/// `check --format json` of a recorded file.
fn check_recorded(az: &Value) -> (Run, Value) {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("az.json");
    std::fs::write(&p, az.to_string()).expect("write");
    let c = contracts();
    let r = checker(&[
        "check",
        "--contracts",
        &c,
        "--fleet",
        p.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r, v)
}

/// (consumer, selected) per consumer, and (consumer, clause) per error finding.
type Verdicts = (Vec<(String, u64)>, Vec<(String, String)>);

fn verdicts(report: &Value) -> Verdicts {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let sel = report["consumers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (s(&c["name"]), c["selected"].as_u64().unwrap_or(0)))
        .collect();
    let mut f: Vec<(String, String)> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| (s(&x["consumer"]), s(&x["clause"])))
        .collect();
    f.sort();
    (sel, f)
}

fn show(r: &Run) -> String {
    format!(
        "code {}\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_fleet_served_live_in_pages_reads_as_recorded_and_is_clean() {
    let az = example_fleet(AZURE);
    let rows = rows_of(&az);
    let sub = example_sub(&rows);
    let f = fake(rows, 2, Fault::None, &[]).await;
    let (r, live) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 0, "{}", show(&r));
    let (rr, recorded) = check_recorded(&az);
    assert_eq!(rr.code, 0, "{}", show(&rr));
    assert_eq!(verdicts(&live), verdicts(&recorded));
    assert!(
        verdicts(&live).0.iter().any(|(_, n)| *n > 0),
        "{}",
        r.stdout
    );
    assert_eq!(live["source"]["instances"], json!(15), "{}", r.stdout);
    // 15 VMs over their locations in pages of 2: more pages than locations.
    assert!(
        f.vm_calls.load(Ordering::SeqCst) > 8,
        "{}",
        f.vm_calls.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vm_without_worker_pool_id_is_found_and_names_its_consumer() {
    let mut az = example_fleet(AZURE);
    az[0]["tags"]
        .as_object_mut()
        .expect("tags")
        .retain(|k, _| !k.eq_ignore_ascii_case("worker-pool-id"));
    let rows = rows_of(&az);
    let sub = example_sub(&rows);
    let f = fake(rows, 1000, Fault::None, &[]).await;
    let (r, live) = check_live(&f, &[&sub]).await;
    let (_, recorded) = check_recorded(&az);
    assert_eq!(r.code, 1, "{}", show(&r));
    let (_, findings) = verdicts(&live);
    assert!(
        !findings.is_empty() && findings.iter().all(|(c, k)| !c.is_empty() && !k.is_empty()),
        "{findings:?}"
    );
    assert_eq!(verdicts(&live), verdicts(&recorded));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_pool_id_tag_in_another_case_reads_as_azure_treats_it() {
    let mut az = example_fleet(AZURE);
    for vm in az.as_array_mut().expect("vms") {
        let tags = vm["tags"].as_object_mut().expect("tags");
        if let Some(v) = tags.remove("worker-pool-id") {
            tags.insert("Worker-Pool-Id".into(), v);
        }
    }
    let rows = rows_of(&az);
    let sub = example_sub(&rows);
    let f = fake(rows, 1000, Fault::None, &[]).await;
    let (r, _) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 0, "{}", show(&r));
}

/// One fault on the VM pages: the location's part fails, the run exits 3 naming why.
async fn faulty(fault: Fault, needle: &str) {
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 1, fault, &[]).await;
    let (r, v) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 3, "{fault:?}: {}", show(&r));
    let failed: Vec<&Value> = v["source"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["status"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains(needle) || r.stdout.contains(needle),
        "{fault:?}: no {needle:?} in {}",
        show(&r)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_skip_token_fails_the_location() {
    faulty(Fault::RepeatToken, "already returned").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_result_fails_the_location() {
    faulty(Fault::Truncated, "resultTruncated").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_json_fails_the_location() {
    faulty(Fault::TruncatedJson, "not JSON").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_refused_after_refresh_fails_clearly() {
    faulty(
        Fault::UnauthorizedAlways,
        "401 Unauthorized after a fresh token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_subscription_is_a_named_failed_part() {
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let denied = "00000000-0000-0000-0000-00000000dead";
    let f = fake(rows, 1000, Fault::None, &[denied]).await;
    let (r, v) = check_live(&f, &[&sub, denied]).await;
    assert_eq!(r.code, 3, "{}", show(&r));
    let parts = v["source"]["parts"].as_array().expect("parts");
    let bad: Vec<&Value> = parts.iter().filter(|p| p["status"] == "failed").collect();
    assert_eq!(bad.len(), 1, "{parts:?}");
    assert!(
        bad[0]["name"].as_str().unwrap_or_default().contains(denied),
        "{:?}",
        bad[0]
    );
    assert!(
        bad[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("AuthorizationFailed"),
        "{:?}",
        bad[0]
    );
    assert!(r.stderr.contains(denied), "{}", r.stderr);
    assert_eq!(v["source"]["instances"], json!(15), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_retried_after_its_retry_after() {
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 1000, Fault::TooManyOnce, &[]).await;
    let t = Instant::now();
    let (r, _) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 0, "{}", show(&r));
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_once() {
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 1000, Fault::UnauthorizedOnce, &[]).await;
    let (r, _) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(f.token_calls.load(Ordering::SeqCst), 2);
}

/// Every Resource Graph answer says the quota is spent for a second: no query goes out before
/// it resets (the limiter is shared by every location and subscription).
#[tokio::test(flavor = "multi_thread")]
async fn no_query_goes_out_while_the_quota_is_spent() {
    let az = example_fleet(AZURE);
    let mut rows = rows_of(&az);
    // One location, so every query is one after another.
    rows.truncate(1);
    let loc = rows[0]["location"].clone();
    let mut more = rows_of(&az);
    more.retain(|r| r["location"] == loc);
    let sub = example_sub(&more);
    let f = fake(more, 1, Fault::QuotaZero, &[]).await;
    let (r, _) = check_live(&f, &[&sub]).await;
    assert_eq!(r.code, 0, "{}", show(&r));
    let times = f.times.lock().expect("lock").clone();
    assert!(times.len() >= 2, "{}", times.len());
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(900),
            "{:?}",
            w[1] - w[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cull_refuses_on_azure_and_says_why() {
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 1000, Fault::None, &[]).await;
    let c = contracts();
    let r = run(&f, &["cull", "--contracts", &c, "--subscription", &sub]).await;
    assert_eq!(r.code, 2, "{}", show(&r));
    assert!(r.stderr.contains("does not cull on Azure"), "{}", r.stderr);
    assert_eq!(f.vm_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_and_azure_in_one_run_is_a_usage_error() {
    let f = fake(Vec::new(), 1000, Fault::None, &[]).await;
    let c = contracts();
    let r = run(
        &f,
        &[
            "check",
            "--contracts",
            &c,
            "--subscription",
            "s-1",
            "--region",
            "us-east-1",
        ],
    )
    .await;
    assert_eq!(r.code, 2, "{}", show(&r));
    assert!(r.stderr.contains("both clouds"), "{}", r.stderr);
}

/// Every artifact of a hook run, concatenated, after checking the ones every hook writes.
fn hook_artifacts(dir: &std::path::Path) -> String {
    let (mut names, mut all) = (Vec::new(), String::new());
    for e in std::fs::read_dir(dir).expect("the hook's artifacts") {
        let p = e.expect("entry").path();
        names.push(p.file_name().expect("name").to_string_lossy().into_owned());
        all.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
    }
    for want in ["history.jsonl", "report.html", "report.json", "summary.md"] {
        assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
    }
    all
}

/// A token planted in tags and customData, and the bearer token itself, reach no report,
/// snapshot, explanation, record or log.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_tags_custom_data_and_the_token_reach_no_output() {
    let mut az = example_fleet(AZURE);
    let cd = base64::engine::general_purpose::STANDARD.encode(
        r#"{"rootUrl":"https://tc","workerConfig":{"accessToken":"s3cr3t-custom-data-77"}}"#,
    );
    az[0]["tags"]["apiToken"] = json!("s3cr3t-tag-value-88");
    az[0]["osProfile"]["customData"] = json!(cd);
    let rows = rows_of(&az);
    let sub = example_sub(&rows);
    let vm = rows[0]["name"].as_str().expect("name").to_string();
    let f = fake(rows, 3, Fault::None, &[]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("snap.json");
    let rec = dir.path().join("rec.json");
    let (s, rc) = (snap.to_str().expect("utf-8"), rec.to_str().expect("utf-8"));
    let artifacts = dir.path().join("artifacts");
    let art = artifacts.to_str().expect("utf-8");
    let c = contracts();
    let mut everything = String::new();
    for args in [
        vec![
            "-vv",
            "check",
            "--contracts",
            &c,
            "--format",
            "json",
            "--subscription",
            &sub,
        ],
        vec!["-vv", "check", "--contracts", &c, "--subscription", &sub],
        vec!["explain", &vm, "--contracts", &c, "--subscription", &sub],
        vec![
            "snapshot",
            "--contracts",
            &c,
            "--subscription",
            &sub,
            "--output",
            s,
        ],
        vec![
            "diff",
            "--snapshot",
            s,
            "--contracts",
            &c,
            "--subscription",
            &sub,
            "--format",
            "json",
        ],
        vec![
            "fleet",
            "record",
            "--contracts",
            &c,
            "--subscription",
            &sub,
            "--output",
            rc,
        ],
        vec![
            "hook",
            "--contracts",
            &c,
            "--subscription",
            &sub,
            "--snapshot",
            s,
            "--artifacts",
            art,
        ],
    ] {
        let r = run(&f, &args).await;
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", show(&r));
        everything.push_str(&r.stdout);
        everything.push_str(&r.stderr);
    }
    for p in [&snap, &rec] {
        everything.push_str(&std::fs::read_to_string(p).unwrap_or_default());
    }
    // The hook read the live subscription (cull skipped: the source cannot) and wrote its
    // artifacts, every one of them searched below.
    everything.push_str(&hook_artifacts(&artifacts));
    assert!(everything.contains("cull skipped"), "{everything}");
    assert!(everything.contains(&vm), "the VM was read: {everything}");
    for secret in [
        "s3cr3t-tag-value-88",
        "s3cr3t-custom-data-77",
        TOKEN,
        "client-s3cr3t-9",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked:\n{everything}"
        );
    }
}

/// The actions docs/accounts.md lists are exactly those the calls and the query need: ARM's
/// subscription read, the Resource Graph query, and a read of every resource type the query
/// reads.
#[test]
fn the_documented_azure_permissions_match_the_calls_made() {
    let doc = std::fs::read_to_string(root().join("docs/accounts.md")).expect("docs");
    let block = doc
        .split("<!-- azure-actions -->")
        .nth(1)
        .and_then(|s| s.split("<!-- /azure-actions -->").next())
        .expect("the azure-actions block");
    let mut documented: Vec<String> = block
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_lowercase)
        .collect();
    documented.sort();
    let query = checker::cloud::azure::live::vm_query("eastus")
        + checker::cloud::azure::live::LOCATIONS_QUERY;
    let mut needed: Vec<String> = query
        .split("type =~ '")
        .skip(1)
        .filter_map(|s| s.split('\'').next())
        .map(|t| format!("{t}/read"))
        .chain([
            "microsoft.resources/subscriptions/read".to_string(),
            "microsoft.resourcegraph/resources/read".to_string(),
        ])
        .collect();
    needed.sort();
    needed.dedup();
    assert_eq!(documented, needed);
}
