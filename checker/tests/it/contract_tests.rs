//! `checker test`: the contract tests beside the shipped contracts pass, and a test that does
//! not hold fails naming the clause, what was expected and what happened.

use crate::support::*;
use serde_json::{Value, json};

#[test]
fn the_shipped_contract_tests_pass() {
    // contracts/: firefox-ci.test.json's 9 and firefox-ci-2026.test.json's 16 (GCE and Azure
    // instances in gcloud and az shapes).
    for (c, n) in [("contracts", 25), ("examples/firefox-ci-2021/contracts", 9)] {
        let r = checker(&["test", "--contracts", c]);
        assert_eq!(r.code, 0, "{c}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!("{n} case(s)")) && r.stdout.contains("0 failed"),
            "{}",
            r.stdout
        );
    }
}

/// The shipped test file with `edit` applied, in a temporary directory.
fn edited(edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut v: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contracts/tests/firefox-ci.test.json")).expect("t"),
    )
    .expect("json");
    edit(&mut v);
    let f = write_json(dir.path(), "t.test.json", &v);
    (dir, f.to_str().expect("utf8").to_string())
}

#[test]
fn a_test_that_does_not_hold_names_the_clause_the_expectation_and_the_finding() {
    // Claim OCC copes without workerType: the contract says otherwise.
    let (_d, f) = edited(|v| {
        v["cases"][2]["expect"]["occ-worker-type"] = json!("pass");
        v["cases"].as_array_mut().expect("cases").truncate(3);
    });
    let r = checker(&["test", "--tests", &f]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("FAIL without additionalUserData.workerType"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("occ-worker-type: expected pass, got fail"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("userData.workerType is absent"),
        "the finding is shown: {}",
        r.stdout
    );
    let j = checker(&["test", "--tests", &f, "--format", "junit"]);
    assert_eq!(j.code, 1);
    assert!(
        j.stdout.contains("<failure") && j.stdout.contains("tests=\"3\""),
        "{}",
        j.stdout
    );
    let v = checker(&["test", "--tests", &f, "--format", "json"]).json();
    assert_eq!(v["format"], "checker-tests");
    assert_eq!(v["cases"][2]["ok"], false);
}

#[test]
fn a_bad_test_file_is_bad_input_with_the_place() {
    let (_d, f) = edited(|v| {
        v["cases"][0]["expect"]["ocq"] = json!("pass");
        v["cases"][1]["expect"]["occ"] = json!("broken");
    });
    let r = checker(&["test", "--tests", &f]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        unlocated(&r.stderr).contains("t.test.json at /cases/1/expect/occ"),
        "{}",
        r.stderr
    );
    let (_d, f) = edited(|v| v["cases"][0]["expect"]["ocq"] = json!("pass"));
    let r = checker(&["test", "--tests", &f]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        unlocated(&r.stderr).contains("at /cases/0/expect/ocq")
            && r.stderr.contains("neither a consumer nor a clause id"),
        "{}",
        r.stderr
    );
    let none = tempfile::tempdir().expect("tmp");
    let r = checker(&["test", "--tests", none.path().to_str().expect("utf8")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
