//! History across hook runs: `history.jsonl` carried forward from a directory or from the hook's
//! previous fire on Taskcluster (a local fake of the hooks and queue APIs behind the proxy).

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOOK: &str = "project-releng/checker";

/// `checker hook` on the 2018 fleet (no cull), `extra` flags and `env` added.
fn hook(art: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec![
        "hook",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--no-cull",
        "--now",
        "2018-02-14T12:00:00Z",
        "--artifacts",
        art.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    checker_env(&args, env)
}

/// The records of `art/history.jsonl`, each valid against the published schema.
fn lines(art: &Path) -> Vec<Value> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/schema/checker-history.schema.json"))
            .expect("schema"),
    )
    .expect("schema json");
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let out: Vec<Value> = std::fs::read_to_string(art.join("history.jsonl"))
        .expect("history.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for r in &out {
        let errors: Vec<String> = v.iter_errors(r).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
    out
}

#[test]
fn three_hook_runs_carry_the_history_forward_and_keep_the_newest_n() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut prev: Option<std::path::PathBuf> = None;
    for run in 1..=3 {
        let art = dir.path().join(format!("run{run}"));
        let from = prev.as_ref().map(|p| p.to_str().expect("utf8").to_string());
        let mut extra = vec!["--history-keep", "2"];
        if let Some(f) = &from {
            extra.extend(["--history-from", f.as_str()]);
        }
        let r = hook(&art, &extra, &[]);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        let h = lines(&art);
        assert_eq!(h.len(), run.min(2), "run {run}: {h:?}");
        let last = h.last().expect("a record");
        assert_eq!(last["format"], "checker-history");
        assert_eq!(last["exitCode"], r.code);
        assert!(last["instances"].as_u64().expect("instances") > 0);
        assert!(!last["consumers"].as_array().expect("consumers").is_empty());
        let state = if run == 1 { "none" } else { "read" };
        assert_eq!(last["previous"]["state"], state, "run {run}");
        assert_eq!(last["previous"]["carried"], run.min(3) - 1, "run {run}");
        prev = Some(art);
    }
}

#[test]
fn a_corrupt_previous_history_keeps_its_good_lines_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first");
    assert!(hook(&first, &[], &[]).code <= 1);
    let good = std::fs::read_to_string(first.join("history.jsonl")).expect("history");
    let prev = dir.path().join("prev");
    write(&prev, "history.jsonl", &format!("{good}{{not json\n{good}"));
    let art = dir.path().join("art");
    let r = hook(&art, &["--history-from", prev.to_str().expect("utf8")], &[]);
    assert!(
        r.code <= 1,
        "a corrupt history never fails the run: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("warning: history:") && r.stderr.contains("line 2"),
        "{}",
        r.stderr
    );
    let h = lines(&art);
    assert_eq!(h.len(), 3);
    assert_eq!(h[2]["previous"]["state"], "corrupt");
    assert_eq!(h[2]["previous"]["carried"], 2);
    // A missing one starts a new history, and says so.
    let art2 = dir.path().join("art2");
    let r = hook(
        &art2,
        &[
            "--history-from",
            dir.path().join("nope").to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(
        r.code <= 1 && r.stderr.contains("a new history starts"),
        "{}",
        r.stderr
    );
    assert_eq!(lines(&art2)[0]["previous"]["state"], "missing");
}

fn fire(task: &str, created: &str, state: &str) -> Value {
    json!({"hookGroupId": "project-releng", "hookId": "checker", "firedBy": "schedule",
        "taskId": task, "taskCreateTime": created, "result": "success",
        "taskState": state, "error": ""})
}

async fn fake_tc(fires: Vec<Value>, page: usize) -> MockServer {
    let tc = MockServer::start().await;
    let url = "/api/hooks/v1/hooks/project-releng/checker/last-fires".to_string();
    let pages: Vec<&[Value]> = fires.chunks(page).collect();
    for (i, p) in pages.iter().enumerate() {
        let mut body = json!({"lastFires": p});
        if i + 1 < pages.len() {
            body["continuationToken"] = json!(format!("tok{}", i + 1));
        }
        let m = Mock::given(method("GET")).and(path(url.clone()));
        let m = if i == 0 {
            m.and(wiremock::matchers::query_param_is_missing(
                "continuationToken",
            ))
        } else {
            m.and(query_param("continuationToken", format!("tok{i}")))
        };
        m.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&tc)
            .await;
    }
    tc
}

async fn hook_on(tc: &MockServer, art: &Path) -> Run {
    let (art, uri) = (art.to_path_buf(), tc.uri());
    tokio::task::spawn_blocking(move || {
        hook(
            &art,
            &["--history-hook", HOOK],
            &[("TASKCLUSTER_PROXY_URL", &uri), ("TASK_ID", "THISTASK")],
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_previous_history_comes_from_the_newest_completed_fire_across_a_thousand_fires() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first");
    assert!(hook(&first, &[], &[]).code <= 1);
    let good = std::fs::read_to_string(first.join("history.jsonl")).expect("history");
    // 1,000 fires over four pages; the newest completed one other than this task is NEWEST,
    // on the last page; a newer pending fire and this task itself are skipped.
    let mut fires: Vec<Value> = (0..997)
        .map(|i| {
            fire(
                &format!("OLD{i}"),
                &format!("2018-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60),
                "completed",
            )
        })
        .collect();
    fires.push(fire("NEWEST", "2018-02-14T11:50:00.000Z", "failed"));
    fires.push(fire("PENDING", "2018-02-14T11:55:00.000Z", "pending"));
    fires.push(fire("THISTASK", "2018-02-14T12:00:00.000Z", "running"));
    let tc = fake_tc(fires, 300).await;
    Mock::given(method("GET"))
        .and(path(
            "/api/queue/v1/task/NEWEST/artifacts/public%2Fchecker%2Fhistory.jsonl",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(good))
        .mount(&tc)
        .await;
    let art = dir.path().join("art");
    let r = hook_on(&tc, &art).await;
    assert!(r.code <= 1, "{}", r.stderr);
    let h = lines(&art);
    assert_eq!(h.len(), 2, "{}", r.stderr);
    assert_eq!(h[1]["previous"]["state"], "read");
    assert_eq!(h[1]["previous"]["from"], "taskcluster:NEWEST");
    assert_eq!(h[1]["taskId"], "THISTASK");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_404_or_an_unreachable_taskcluster_starts_a_new_history_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let tc = fake_tc(
        vec![fire("PREV", "2018-02-14T11:50:00.000Z", "completed")],
        10,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/queue/v1/task/PREV/artifacts/public%2Fchecker%2Fhistory.jsonl",
        ))
        .respond_with(ResponseTemplate::new(404))
        .mount(&tc)
        .await;
    let art = dir.path().join("art");
    let r = hook_on(&tc, &art).await;
    assert!(r.code <= 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no artifact public/checker/history.jsonl (HTTP 404); a new history starts"),
        "{}",
        r.stderr
    );
    let h = lines(&art);
    assert_eq!(
        (h.len(), &h[0]["previous"]["state"]),
        (1, &json!("missing"))
    );
    // The hooks API fails: unreachable, never a failed run.
    let down = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&down)
        .await;
    let art = dir.path().join("art2");
    let r = hook_on(&down, &art).await;
    assert!(r.code <= 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("hooks:list-last-fires:project-releng/checker"),
        "{}",
        r.stderr
    );
    assert_eq!(lines(&art)[0]["previous"]["state"], "unreachable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_artifact_from_taskcluster_keeps_its_good_lines_and_the_page_shows_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first");
    assert!(hook(&first, &[], &[]).code <= 1);
    let good = std::fs::read_to_string(first.join("history.jsonl")).expect("history");
    let tc = fake_tc(
        vec![fire("PREV", "2018-02-14T11:50:00.000Z", "completed")],
        10,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/queue/v1/task/PREV/artifacts/public%2Fchecker%2Fhistory.jsonl",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("{good}\u{0}garbage\n{good}")),
        )
        .mount(&tc)
        .await;
    let art = dir.path().join("art");
    let r = hook_on(&tc, &art).await;
    assert!(
        r.code <= 1,
        "a corrupt history never fails the run: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("warning: history: taskcluster:PREV:") && r.stderr.contains("line 2"),
        "{}",
        r.stderr
    );
    let h = lines(&art);
    assert_eq!(h.len(), 3);
    assert_eq!(h[2]["previous"]["state"], "corrupt");
    assert_eq!(h[2]["previous"]["carried"], 2);
    // The page beside it strips the three runs (the two carried and this one).
    let page = std::fs::read_to_string(art.join("history.html")).expect("history.html");
    assert!(page.contains(" x 3 run(s)</caption>"), "{page}");
}
