//! Culling under faults and across runs, against wiremock with EC2's tags kept: the
//! write-ahead audit log, failed batches, signals, budgets per window.

use crate::cull::{
    cull_args, cull_contracts, fleet_server, received, run, terminate_xml, terminated_ids,
};
use crate::live::{error_xml, xml};
use crate::support::*;
use serde_json::Value;
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, Request, ResponseTemplate};

fn action(a: &str) -> wiremock::matchers::BodyContainsMatcher {
    body_string_contains(format!("Action={a}&"))
}

fn audit_lines(p: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect()
}

/// One TerminateInstances batch fails: it is recorded as failed, the batches before it keep
/// their results (they were discarded, unaudited), the ones after it still run, exit 3.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_is_recorded_and_the_other_batches_still_run() {
    let server = fleet_server(50, 0).await;
    Mock::given(action("TerminateInstances"))
        .and(body_string_contains("i-045"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string(error_xml("UnauthorizedOperation", "not allowed")),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let r = run(cull_args(
        &c,
        &server.uri(),
        &[
            "--apply",
            "--batch",
            "2",
            "--audit-log",
            audit.to_str().expect("utf8"),
        ],
    ))
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("UnauthorizedOperation"), "{}", r.stderr);
    let lines = audit_lines(&audit);
    let of = |e: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["event"] == e)
            .map(|l| l["instance"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(of("intent").len(), 10, "every batch was tried: {lines:?}");
    assert_eq!(of("failed").len(), 2, "one batch of two failed");
    assert!(of("failed").contains(&"i-045".to_string()));
    assert_eq!(of("result").len(), 8);
    let plan = r.json();
    let results: Vec<&str> = plan["entries"]
        .as_array()
        .expect("arr")
        .iter()
        .filter(|e| e["decision"] == "act")
        .map(|e| e["result"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "shutting-down").count(),
        8,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.starts_with("failed")).count(),
        2
    );
}

/// Back-to-back runs share the window's budget: 10% of 100 is 10 per hour, not 10 per run (it
/// was 10, then 10 more, then 10 more), and no instance is acted on twice.
#[tokio::test(flavor = "multi_thread")]
async fn back_to_back_runs_share_one_budget_per_window() {
    let server = fleet_server(50, 0).await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    for _ in 0..3 {
        let r = run(cull_args(
            &c,
            &server.uri(),
            &["--apply", "--audit-log", audit.to_str().expect("utf8")],
        ))
        .await;
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    let ids = terminated_ids(&received(&server, "TerminateInstances").await);
    assert_eq!(ids.len(), 10, "{ids:?}");
    let lines = audit_lines(&audit);
    assert_eq!(lines.iter().filter(|l| l["event"] == "intent").count(), 10);
}

/// SIGTERM during apply: the batch in flight finishes and is recorded, no new batch starts,
/// the plan is still written, and the exit is not 0.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_apply_stops_new_batches_and_records_everything() {
    let server = fleet_server(50, 0).await;
    Mock::given(action("TerminateInstances"))
        .respond_with(|req: &Request| {
            xml(terminate_xml(&String::from_utf8_lossy(&req.body)))
                .set_delay(std::time::Duration::from_millis(1500))
        })
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let c = cull_contracts(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let out = dir.path().join("plan.json");
    let mut args = cull_args(
        &c,
        &server.uri(),
        &[
            "--apply",
            "--batch",
            "1",
            "--audit-log",
            audit.to_str().expect("utf8"),
            "--output",
            out.to_str().expect("utf8"),
        ],
    );
    args.retain(|a| !a.is_empty());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.args(&args);
    isolate(&mut cmd);
    cmd.stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    // Wait for the first TerminateInstances, then SIGTERM.
    for _ in 0..100 {
        if !received(&server, "TerminateInstances").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .expect("join");
    assert_eq!(status.code(), Some(3), "stopped runs exit 3");
    assert_eq!(
        received(&server, "TerminateInstances").await.len(),
        1,
        "no new batch"
    );
    let lines = audit_lines(&audit);
    let n = |e: &str| lines.iter().filter(|l| l["event"] == e).count();
    assert_eq!(
        (n("intent"), n("result"), n("not-started")),
        (1, 1, 9),
        "{lines:?}"
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("plan written")).expect("json");
    assert_eq!(plan["dryRun"], false);
}
