//! Cull claims under overlap and faults (issue 28, items 1-4), against wiremock with EC2's tags
//! kept: overlapping applies, a release that only removes its own claim, claims of failed and
//! throttled applies released, claim times not trusted, and an audit log that cannot be torn.

use crate::cull::{
    cull_args, cull_contracts, fleet_server, fleet_server_with_store, received, run, terminated_ids,
};
use crate::live::{Inst, describe_instances, error_xml, xml};
use crate::support::*;
use serde_json::Value;
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

fn action(a: &str) -> wiremock::matchers::BodyContainsMatcher {
    body_string_contains(format!("Action={a}&"))
}

fn plan_count(plan: &Value, decision: &str) -> usize {
    plan["entries"].as_array().map_or(0, |e| {
        e.iter().filter(|e| e["decision"] == decision).count()
    })
}

/// Two `cull --apply` runs at once, then a third after them, five times over: together they
/// never terminate more than the window's budget (10% of 100), and never one instance twice.
/// On a34efe6 a claim was one shared tag, so the second run overwrote the first's, and a
/// release deleted the tag by key, even the other run's claim: the third run then saw too few
/// claims and culled again.
#[tokio::test(flavor = "multi_thread")]
async fn overlapping_applies_never_exceed_the_budget_nor_act_twice() {
    for trial in 0..5 {
        let server = fleet_server(50, 0).await;
        let dir = tempfile::tempdir().expect("tmp");
        let c = cull_contracts(dir.path());
        let args = |n: usize| {
            let audit = dir.path().join(format!("audit-{n}.jsonl"));
            cull_args(
                &c,
                &server.uri(),
                &["--apply", "--audit-log", audit.to_str().expect("utf8")],
            )
        };
        let (a, b) = tokio::join!(run(args(0)), run(args(1)));
        for r in [&a, &b] {
            assert!(
                matches!(r.code, 0 | 3),
                "trial {trial}: {}\n{}",
                r.stdout,
                r.stderr
            );
        }
        let third = run(args(2)).await;
        assert_eq!(third.code, 0, "{}", third.stderr);
        let ids = terminated_ids(&received(&server, "TerminateInstances").await);
        let mut distinct = ids.clone();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "trial {trial}: acted twice: {ids:?}"
        );
        assert!(
            ids.len() <= 10,
            "trial {trial}: {} terminated against a budget of 10: {ids:?}",
            ids.len()
        );
        // Safety alone would pass if every run yielded: the third, alone, must cull.
        assert!(!ids.is_empty(), "trial {trial}: three runs culled nothing");
    }
}

/// A release names the value it removes: a run's DeleteTags carries its own claim key and the
/// value it wrote, never a bare key (which would delete whatever another run wrote there).
#[tokio::test(flavor = "multi_thread")]
async fn a_release_removes_only_the_claim_its_run_wrote() {
    let (server, store) = fleet_server_with_store(50, 0).await;
    // Another run holds 5 of the group's 10 in the window: this run claims 10, keeps 5.
    {
        let mut s = store.lock().expect("store");
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for k in 40..45 {
            s.entry(format!("i-{k:03}")).or_default().insert(
                "checker:claim:other-run".into(),
                format!("{at} acted gecko-t/win10-64"),
            );
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let r = run(cull_args(
        &c,
        &server.uri(),
        &["--apply", "--max-percent", "15"],
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let plan = r.json();
    // 15% of 100 = 15, 5 used by the other run: 10 planned, all kept.
    assert_eq!(
        terminated_ids(&received(&server, "TerminateInstances").await).len(),
        10
    );
    assert_eq!(plan["outcome"]["acted"], 10, "{}", plan["outcome"]);
    for req in received(&server, "DeleteTags").await {
        let body = String::from_utf8_lossy(&req.body).to_string();
        assert!(
            body.contains("Tag.1.Value="),
            "a release without a value: {body}"
        );
        assert!(
            !body.contains("other-run"),
            "released another run's claim: {body}"
        );
    }
    let s = store.lock().expect("store");
    let other = s
        .values()
        .filter(|t| t.contains_key("checker:claim:other-run"))
        .count();
    assert_eq!(other, 5, "the other run's claims are intact");
    let acted = s
        .values()
        .flat_map(|t| t.iter())
        .filter(|(k, v)| {
            k.starts_with("checker:claim:")
                && *k != "checker:claim:other-run"
                && v.contains(" acted ")
        })
        .count();
    assert_eq!(acted, 10, "this run's claims are marked acted");
}

/// A failed apply releases its claims and says what happened: the next run acts on those
/// instances (on a34efe6 they stayed claimed for an hour, "already-acted" though never
/// terminated, and the summary said "acted on 10").
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_apply_releases_its_claims_and_counts_what_happened() {
    let server = fleet_server(50, 0).await;
    Mock::given(action("TerminateInstances"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string(error_xml("UnauthorizedOperation", "not allowed")),
        )
        .up_to_n_times(10)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let mut args = cull_args(&c, &server.uri(), &["--apply", "--batch", "1"]);
    let f = args.iter().position(|a| a == "json").expect("format");
    args[f] = "human".into();
    let first = run(args).await;
    assert_eq!(first.code, 3, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("acted on 0 of 10 chosen")
            && first.stdout.contains("10 refused by EC2"),
        "{}",
        first.stdout
    );
    let second = run(cull_args(&c, &server.uri(), &["--apply"])).await;
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let plan = second.json();
    assert_eq!(plan_count(&plan, "already-acted"), 0, "{plan}");
    assert_eq!(plan_count(&plan, "claimed"), 0, "{plan}");
    assert_eq!(plan["outcome"]["acted"], 10, "{}", plan["outcome"]);
}

/// Claiming throttled to the end: nothing is acted on, and the summary says so (on a34efe6 it
/// said "acted on 7" with nothing terminated).
#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_claim_acts_on_nothing_and_says_so() {
    let server = fleet_server(50, 0).await;
    Mock::given(action("CreateTags"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string(error_xml("RequestLimitExceeded", "Request limit exceeded.")),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let r = run(cull_args(
        &c,
        &server.uri(),
        &["--apply", "--retry-attempts", "2"],
    ))
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let plan = r.json();
    assert!(received(&server, "TerminateInstances").await.is_empty());
    assert_eq!(plan["outcome"]["acted"], 0, "{}", plan["outcome"]);
    assert_eq!(plan["outcome"]["notStarted"], 10, "{}", plan["outcome"]);
}

/// Claim times are not trusted: a claim dated next year, and one whose time cannot be read,
/// each count against the group's budget and are reported (on a34efe6 the garbled one was
/// dropped, which gave its budget back, and neither was reported).
#[tokio::test(flavor = "multi_thread")]
async fn forged_and_garbled_claims_count_against_the_budget_and_are_reported() {
    let (server, store) = fleet_server_with_store(50, 0).await;
    {
        let mut s = store.lock().expect("store");
        let future = (chrono::Utc::now() + chrono::Duration::days(365))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let t = s.entry("i-070".into()).or_default();
        t.insert("checker:culled-at".into(), future);
        t.insert("checker:cull-group".into(), "gecko-t/win10-64".into());
        let t = s.entry("i-071".into()).or_default();
        t.insert("checker:culled-at".into(), "last tuesday".into());
        t.insert("checker:cull-group".into(), "gecko-t/win10-64".into());
    }
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let r = run(cull_args(&c, &server.uri(), &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let plan = r.json();
    assert_eq!(plan["groups"][0]["usedInWindow"], 2, "{}", plan["groups"]);
    assert_eq!(plan["groups"][0]["allowed"], 8, "{}", plan["groups"]);
    let suspect = plan["suspectClaims"].to_string();
    assert!(
        suspect.contains("i-070") && suspect.contains("forged-looking"),
        "{suspect}"
    );
    assert!(
        suspect.contains("i-071") && suspect.contains("no readable time"),
        "{suspect}"
    );
    assert!(r.stderr.contains("forged-looking"), "{}", r.stderr);
}

/// `--now` with `--apply` is refused (exit 2, nothing read): a past `--now` wrote claims the
/// next run ignored (on a34efe6, 12 terminated against 7).
#[test]
fn now_with_apply_is_refused() {
    for cmd in ["cull", "hook"] {
        let mut args = vec![cmd, "--apply", "--now", NOW, "--region", "us-east-1"];
        if cmd == "hook" {
            args.extend(["--artifacts", "/nonexistent/checker-artifacts"]);
        }
        let r = checker(&args);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("--now cannot be used with --apply"),
            "{}",
            r.stderr
        );
    }
}

/// The disk fills while the audit log is written (a file size limit stands in for it): the
/// log is cut back to its last whole line, nothing is claimed or terminated, exit 3. On
/// a34efe6 half a JSON line was left in the log.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_mid_write_leaves_no_torn_line_and_nothing_is_done() {
    let server = fleet_server(50, 0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let before = format!(
        "{}\n",
        serde_json::json!({"event": "earlier", "pad": "x".repeat(900)})
    );
    std::fs::write(&audit, &before).expect("seed the log");
    let args = cull_args(
        &c,
        &server.uri(),
        &["--apply", "--audit-log", audit.to_str().expect("utf8")],
    );
    // bash's `ulimit -f` counts 1024-byte blocks: the log may grow to 2048 bytes, the ten
    // claim lines need about 3000. SIGXFSZ is ignored so the write fails with EFBIG instead.
    let script = "trap '' XFSZ; ulimit -f 2; exec \"$0\" \"$@\"";
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_checker"))
        .args(&args);
    isolate(&mut cmd);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot append to the audit log"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&audit).expect("log");
    assert_eq!(text, before, "the log is back to its last whole line");
    assert!(received(&server, "CreateTags").await.is_empty());
    assert!(received(&server, "TerminateInstances").await.is_empty());
}

/// Tags as EC2 keeps them: instance -> key -> value.
pub type TagStore = std::sync::Arc<
    std::sync::Mutex<
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    >,
>;

/// EC2's filter value match: `*` any run of characters, `?` one.
fn glob(pattern: &str, s: &str) -> bool {
    let re = regex::escape(pattern)
        .replace("\\*", ".*")
        .replace("\\?", ".");
    regex::Regex::new(&format!("^{re}$")).is_ok_and(|r| r.is_match(s))
}

/// Tags as EC2 keeps them: CreateTags and DeleteTags change a shared store (DeleteTags given a
/// value deletes only a tag that still holds it), and a DescribeInstances filtered by `tag-key`
/// (the cull claims' read; filter values may use wildcards) answers from it.
pub async fn mount_tag_store(server: &MockServer) -> TagStore {
    let store: TagStore = TagStore::default();
    let form = |req: &Request| -> Vec<(String, String)> {
        form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let tags_of = |f: &[(String, String)]| -> Vec<(String, Option<String>)> {
        let get = |k: &str| f.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        (1..)
            .map_while(|n| {
                get(&format!("Tag.{n}.Key")).map(|k| (k, get(&format!("Tag.{n}.Value"))))
            })
            .collect()
    };
    let st = store.clone();
    Mock::given(action("CreateTags"))
        .respond_with(move |req: &Request| {
            let f = form(req);
            let mut s = st.lock().expect("store");
            for (_, id) in f.iter().filter(|(k, _)| k.starts_with("ResourceId.")) {
                for (key, val) in tags_of(&f) {
                    s.entry(id.clone()).or_default().insert(key, val.unwrap_or_default());
                }
            }
            xml(format!("<CreateTagsResponse xmlns=\"{NS}\"><requestId>r</requestId><return>true</return></CreateTagsResponse>"))
        })
        .mount(server)
        .await;
    let st = store.clone();
    Mock::given(action("DeleteTags"))
        .respond_with(move |req: &Request| {
            let f = form(req);
            let mut s = st.lock().expect("store");
            for (_, id) in f.iter().filter(|(k, _)| k.starts_with("ResourceId.")) {
                if let Some(t) = s.get_mut(id) {
                    for (key, val) in tags_of(&f) {
                        if val.is_none() || t.get(&key) == val.as_ref() {
                            t.remove(&key);
                        }
                    }
                }
            }
            xml(format!("<DeleteTagsResponse xmlns=\"{NS}\"><requestId>r</requestId><return>true</return></DeleteTagsResponse>"))
        })
        .mount(server)
        .await;
    let st = store.clone();
    Mock::given(action("DescribeInstances"))
        .and(body_string_contains("tag-key"))
        .respond_with(move |req: &Request| {
            let f = form(req);
            let patterns: Vec<String> = f
                .iter()
                .filter(|(k, _)| k.starts_with("Filter.1.Value."))
                .map(|(_, v)| v.clone())
                .collect();
            let s = st.lock().expect("store");
            let owned: Vec<(String, Vec<(String, String)>)> = s
                .iter()
                .filter(|(_, t)| t.keys().any(|k| patterns.iter().any(|p| glob(p, k))))
                .map(|(id, t)| {
                    (
                        id.clone(),
                        t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    )
                })
                .collect();
            let insts: Vec<Inst<'_>> = owned
                .iter()
                .map(|(id, t)| Inst {
                    id,
                    az: "us-east-1a",
                    key: None,
                    tags: t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
                })
                .collect();
            xml(describe_instances(&insts, None))
        })
        .with_priority(1)
        .mount(server)
        .await;
    store
}
