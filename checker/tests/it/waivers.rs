//! Waivers: accepted exceptions with owner, reason and expiry; expired and unused ones are findings.

use crate::support::*;
use serde_json::json;

/// The test provider minus its KeyName promise: these tests are about the consumer's failures.
fn loose_provider() -> serde_json::Value {
    let mut p = provider();
    p["outputs"].as_object_mut().expect("obj").remove("KeyName");
    p
}

fn run(waiver_expires: &str, waiver_selector_name: &str, now: &str) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &loose_provider());
    write_json(dir.path(), "c/cons.json", &consumer());
    write_json(
        dir.path(),
        "c/waivers.json",
        &json!({"kind": "waivers", "waivers": [{
            "consumer": "cons", "clause": "cons-wt-known",
            "selector": {"conditions": [{"output": "tag:Name", "equals": waiver_selector_name}]},
            "owner": "relops", "reason": "migrating wt-b to a new key", "expires": waiver_expires
        }]}),
    );
    let f = write_json(
        dir.path(),
        "fleet.json",
        &fleet(vec![
            instance("i-1", "managed:wt-a:0123456", "wt-a", None),
            instance("i-2", "managed:0123456", "wt-b", None),
        ]),
    );
    let c = dir.path().join("c");
    checker(&[
        "check",
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f.to_str().expect("utf8"),
        "--format",
        "json",
        "--now",
        now,
    ])
}

#[test]
fn a_valid_waiver_accepts_the_failure_and_says_who_and_why() {
    let r = run("2018-03-01", "wt-b", "2018-02-14T00:00:00Z");
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    let f = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .find(|f| f["outcome"] == "waived")
        .expect("waived finding");
    assert_eq!(f["code"], "clause-waived");
    assert_eq!(f["waiver"]["owner"], "relops");
    assert_eq!(f["waiver"]["expires"], "2018-03-01");
    assert_eq!(v["summary"]["waived"], 1);
}

#[test]
fn an_expired_waiver_fails_again_and_is_a_finding_itself() {
    let r = run("2018-02-01", "wt-b", "2018-02-14T00:00:00Z");
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"waiver-expired") && codes.contains(&"clause-violated"),
        "{codes:?}"
    );
}

#[test]
fn a_waiver_that_matches_nothing_is_reported() {
    let r = run("2018-03-01", "wt-zzz", "2018-02-14T00:00:00Z");
    assert_eq!(r.code, 1);
    let v = r.json();
    let unused = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .find(|f| f["code"] == "waiver-unused")
        .expect("unused");
    assert_eq!(unused["outcome"], "notice");
}

#[test]
fn waivers_show_in_human_and_markdown_output() {
    for format in ["human", "markdown"] {
        let dir = tempfile::tempdir().expect("tmp");
        write_json(dir.path(), "c/prov.json", &loose_provider());
        write_json(dir.path(), "c/cons.json", &consumer());
        write_json(
            dir.path(),
            "c/w.json",
            &json!({"kind": "waivers", "waivers": [{"consumer": "cons", "owner": "relops", "reason": "known breakage", "expires": "2030-01-01"}]}),
        );
        let f = write_json(
            dir.path(),
            "fleet.json",
            &fleet(vec![instance("i-2", "managed:0123456", "wt-b", None)]),
        );
        let c = dir.path().join("c");
        let r = checker(&[
            "check",
            "--contracts",
            c.to_str().expect("utf8"),
            "--fleet",
            f.to_str().expect("utf8"),
            "--format",
            format,
        ]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert!(
            r.stdout.contains("relops")
                && r.stdout.contains("known breakage")
                && r.stdout.contains("2030-01-01"),
            "{format}: {}",
            r.stdout
        );
    }
}
