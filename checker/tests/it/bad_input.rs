//! Bad input: every case exits 2 (or 3 for unreadable data) with a message that names the file,
//! the place in it and what is wrong. The messages are asserted, not just the codes.

use crate::support::*;
use serde_json::{Value, json};

/// Writes a provider and a consumer (after `edit`), runs validate, returns the run.
fn validate_with(edit: impl FnOnce(&mut Value, &mut Value)) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut p = provider();
    let mut c = consumer();
    edit(&mut p, &mut c);
    write_json(dir.path(), "prov.json", &p);
    write_json(dir.path(), "cons.json", &c);
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    (dir, r)
}

fn assert_bad(r: &Run, code: i32, needles: &[&str]) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let plain = unlocated(&r.stderr);
    for n in needles {
        assert!(plain.contains(n), "expected {n:?} in stderr:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn the_valid_baseline_loads() {
    let (_d, r) = validate_with(|_, _| {});
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn broken_json_gives_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "c.json",
        "{\n  \"kind\": \"consumer\"\n  \"name\": \"x\"\n}\n",
    );
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_bad(&r, 2, &["c.json:3:3", "not valid JSON", "hint:"]);
}

#[test]
fn a_truncated_contract_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = serde_json::to_string_pretty(&consumer()).expect("json");
    write(dir.path(), "c.json", &text[..text.len() / 2]);
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_bad(&r, 2, &["c.json:", "ends in the middle", "truncated"]);
}

#[test]
fn a_file_without_kind_is_named() {
    let (_d, r) = validate_with(|_, c| {
        c.as_object_mut().expect("obj").remove("kind");
    });
    assert_bad(&r, 2, &["cons.json at /", "no \"kind\""]);
}

#[test]
fn an_unknown_kind_is_named() {
    let (_d, r) = validate_with(|_, c| c["kind"] = json!("consumr"));
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /kind",
            "unknown kind \"consumr\"",
            "provider, consumer, waivers",
        ],
    );
}

#[test]
fn an_unknown_property_is_a_schema_error_at_its_pointer() {
    let (_d, r) = validate_with(|_, c| c["clauses"][1]["sevrity"] = json!("error"));
    assert_bad(
        &r,
        2,
        &["cons.json at /clauses/1", "sevrity", "fix its spelling"],
    );
}

#[test]
fn a_bad_severity_is_a_schema_error() {
    let (_d, r) = validate_with(|_, c| c["clauses"][0]["severity"] = json!("fatal"));
    assert_bad(
        &r,
        2,
        &["cons.json at /clauses/0/severity", "allowed values"],
    );
}

#[test]
fn a_regex_that_does_not_compile_is_named() {
    let (_d, r) = validate_with(|_, c| {
        c["clauses"].as_array_mut().expect("arr").push(json!({"id": "cons-re", "kind": "matches", "output": "KeyName", "pattern": "^(unclosed", "why": "w"}));
    });
    assert_bad(
        &r,
        2,
        &["cons.json at /clauses/2/pattern", "does not compile"],
    );
}

#[test]
fn an_unknown_output_suggests_the_right_one() {
    let (_d, r) = validate_with(|_, c| c["clauses"][0]["from"] = json!({"output": "KeyNmae"}));
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /clauses/0/from/output",
            "`KeyNmae` is not an output",
            "did you mean `KeyName`",
        ],
    );
}

#[test]
fn an_unknown_template_variable_is_named() {
    let (_d, r) = validate_with(|p, _| {
        p["outputs"]["KeyName"]["template"] = json!("managed:{workerTyp}:{keyHash}")
    });
    assert_bad(
        &r,
        2,
        &[
            "prov.json at /outputs/KeyName/template",
            "{workerTyp}",
            "known: [keyHash, workerType]",
        ],
    );
}

#[test]
fn duplicate_clause_ids_point_at_both_places() {
    let (_d, r) = validate_with(|_, c| c["clauses"][1]["id"] = json!("cons-wt"));
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /clauses/1/id",
            "\"cons-wt\" is used twice",
            "/clauses/0",
        ],
    );
}

#[test]
fn a_fact_used_before_it_is_derived_is_named() {
    let (_d, r) = validate_with(|_, c| {
        c["clauses"].as_array_mut().expect("arr").swap(0, 1);
    });
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /clauses/0/fact",
            "fact \"workerType\" is not derived before this clause",
        ],
    );
}

#[test]
fn a_set_no_provider_declares_is_named() {
    let (_d, r) = validate_with(|_, c| c["clauses"][1]["set"] = json!("workerTypez"));
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /clauses/1/set",
            "nor a loaded provider declares a set named \"workerTypez\"",
        ],
    );
}

#[test]
fn a_capture_the_pattern_lacks_is_named() {
    let (_d, r) = validate_with(|_, c| {
        let cl = c["clauses"][0].as_object_mut().expect("obj");
        cl.remove("split");
        cl.insert("pattern".into(), json!("^managed:(?P<wt>[^:]+)"));
    });
    assert_bad(
        &r,
        2,
        &[
            "/clauses/0/capture",
            "no named group \"workerType\"",
            "[wt]",
        ],
    );
}

#[test]
fn a_secret_compared_by_value_is_refused() {
    let (_d, r) = validate_with(|_, c| {
        c["clauses"].as_array_mut().expect("arr").push(json!({"id": "cons-tok", "kind": "equals", "output": "userData.securityToken", "value": "x", "why": "w"}));
    });
    assert_bad(
        &r,
        2,
        &["/clauses/2/output", "secret output", "present/absent"],
    );
}

#[test]
fn an_empty_contracts_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_bad(&r, 2, &["no contract files (*.json) found"]);
}

#[test]
fn a_missing_contracts_path_is_an_error() {
    let r = checker(&["validate", "--contracts", "does/not/exist"]);
    assert_bad(&r, 2, &["does/not/exist", "cannot read contracts path"]);
}

#[test]
fn an_unknown_provider_in_a_selector_lists_the_known_ones() {
    let (_d, r) = validate_with(|_, c| c["selector"]["provider"] = json!("ec2-mgr"));
    assert_bad(
        &r,
        2,
        &[
            "cons.json at /selector/provider",
            "\"ec2-mgr\"",
            "known providers: [prov]",
        ],
    );
}

#[test]
fn every_problem_in_every_file_is_reported_at_once() {
    let (_d, r) = validate_with(|p, c| {
        p["outputs"]["KeyName"]["template"] = json!("{nope}");
        c["clauses"][0]["severity"] = json!("fatal");
        c["clauses"][1]["sevrity"] = json!("x");
    });
    assert_bad(
        &r,
        2,
        &[
            "prov.json at /outputs/KeyName/template",
            "cons.json at /clauses/0/severity",
            "cons.json at /clauses/1",
            "3 problems found",
        ],
    );
}

fn check_fleet(fleet_text: &str) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &provider());
    write_json(dir.path(), "c/cons.json", &consumer());
    let f = write(dir.path(), "fleet.json", fleet_text);
    let c = dir.path().join("c");
    let r = checker(&[
        "check",
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f.to_str().expect("utf8"),
    ]);
    (dir, r)
}

#[test]
fn a_fleet_file_that_is_not_describe_instances_output_is_named() {
    let (_d, r) = check_fleet(r#"{"Instances": []}"#);
    assert_bad(
        &r,
        2,
        &[
            "fleet.json at /",
            "no top-level \"Reservations\"",
            "aws ec2 describe-instances",
        ],
    );
}

#[test]
fn a_truncated_fleet_file_gives_line_and_column() {
    let text = serde_json::to_string_pretty(&fleet(vec![instance(
        "i-1",
        "managed:wt-a:0123456",
        "wt-a",
        None,
    )]))
    .expect("json");
    let (_d, r) = check_fleet(&text[..text.len() - 20]);
    assert_bad(&r, 2, &["fleet.json:", "ends in the middle"]);
}

#[test]
fn user_data_that_is_not_base64_is_named_at_its_pointer() {
    let mut i = instance("i-1", "managed:wt-a:0123456", "wt-a", None);
    i["UserData"] = json!({"Value": "not base64 at all!"});
    let (_d, r) = check_fleet(&fleet(vec![i]).to_string());
    assert_bad(
        &r,
        2,
        &[
            "fleet.json at /Reservations/0/Instances/0/UserData/Value",
            "not valid base64",
        ],
    );
}

#[test]
fn user_data_that_is_not_json_is_unknown_and_exits_3() {
    use base64::Engine;
    let mut i = instance("i-1", "managed:wt-a:0123456", "wt-a", None);
    i["UserData"] = json!({"Value": base64::engine::general_purpose::STANDARD.encode("<powershell>Start-Worker -Token hunter2</powershell>")});
    let (_d, r) = check_fleet(&fleet(vec![i]).to_string());
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("is not JSON") && r.stdout.contains("i-1"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("hunter2"),
        "user-data text must never be echoed"
    );
}

#[test]
fn an_instance_without_a_zone_is_named() {
    let mut i = instance("i-1", "managed:wt-a:0123456", "wt-a", None);
    i.as_object_mut().expect("obj").remove("Placement");
    let (_d, r) = check_fleet(&fleet(vec![i]).to_string());
    assert_bad(
        &r,
        2,
        &[
            "fleet.json at /Reservations/0/Instances/0",
            "no Placement.AvailabilityZone",
        ],
    );
}

#[test]
fn a_missing_fleet_file_is_named() {
    let r = checker(&["check", "--fleet", "nope/fleet.json"]);
    assert_bad(&r, 2, &["nope/fleet.json", "cannot read the fleet file"]);
}

#[test]
fn a_set_file_that_is_not_a_list_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut p = provider();
    p["sets"]["workerTypes"] = json!({"file": "types.json"});
    write_json(dir.path(), "prov.json", &p);
    write(dir.path(), "types.json", r#"{"a": 1}"#);
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_bad(
        &r,
        2,
        &[
            "types.json",
            "JSON array of strings",
            "/sets/workerTypes/file",
        ],
    );
}

#[test]
fn bad_usage_exits_2() {
    let r = checker(&["check", "--fleet"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--fleet"), "{}", r.stderr);
    let r = checker(&["check", "--format", "yaml", "--fleet", "x.json"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("possible values: human, json, junit, markdown"),
        "{}",
        r.stderr
    );
    // Recorded files and live-scan arguments together: every command that reads a fleet refuses
    // rather than silently ignoring one of them.
    let artifacts = tempfile::tempdir().unwrap();
    let artifacts = artifacts.path().to_str().unwrap();
    for (cmd, extra) in [
        ("check", &[][..]),
        ("cull", &[][..]),
        ("hook", &["--artifacts", artifacts][..]),
    ] {
        for live in [
            &["--region", "us-east-1"][..],
            &["--endpoint-url", "http://127.0.0.1:9"][..],
        ] {
            let mut args = vec![cmd, "--fleet", "examples/firefox-ci-2021/fleet.json"];
            args.extend_from_slice(live);
            args.extend_from_slice(extra);
            let both = checker(&args);
            assert_eq!(both.code, 2, "{args:?}: {}", both.stderr);
            assert!(
                both.stderr.contains("give one or the other"),
                "{args:?}: {}",
                both.stderr
            );
        }
    }
}

/// Every pointer into a JSON file also says its line and column, and they are right: the
/// place they name in the file is the property the pointer names.
#[test]
fn a_pointer_is_given_with_the_line_and_column_it_names() {
    let (d, r) = validate_with(|_, c| {
        c["clauses"].as_array_mut().expect("arr").push(json!({"id": "cons-re", "kind": "matches", "output": "KeyName", "pattern": "^(unclosed", "why": "w"}));
    });
    assert_eq!(r.code, 2);
    let re = regex::Regex::new(r"cons\.json:(\d+):(\d+) at /clauses/2/pattern").expect("re");
    let caps = re
        .captures(&r.stderr)
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let (line, col): (usize, usize) = (caps[1].parse().expect("n"), caps[2].parse().expect("n"));
    let text = std::fs::read_to_string(d.path().join("cons.json")).expect("read");
    let at = &text.lines().nth(line - 1).expect("line")[col - 1..];
    assert!(at.starts_with("\"pattern\""), "{line}:{col} is {at:?}");
}

/// A symbolic link loop in a contracts directory is named, once (it hung and grew to 7 GB); a
/// link to a file already read does not read it twice (a `self` link gave 160 bogus "defined
/// twice" errors); a file whose name is not UTF-8 is reported (it was skipped: OCC vanished and
/// validate said ok).
#[cfg(unix)]
#[test]
fn links_loops_and_non_utf8_names_in_a_contracts_directory() {
    use std::os::unix::ffi::OsStrExt;
    let (d, r) = validate_with(|_, _| {});
    assert_eq!(r.code, 0);
    let dir = d.path();
    // A link to a file already there: read once, still valid.
    std::os::unix::fs::symlink(dir.join("cons.json"), dir.join("again.json")).expect("link");
    let once = checker(&["validate", "--contracts", dir.to_str().expect("utf8")]);
    assert_eq!(once.code, 0, "{}", once.stderr);
    assert!(once.stdout.contains("ok: 2 files"), "{}", once.stdout);
    // A loop.
    std::fs::create_dir(dir.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink(dir, dir.join("sub/up")).expect("link");
    let looped = std::process::Command::new("timeout")
        .args([
            "20",
            env!("CARGO_BIN_EXE_checker"),
            "validate",
            "--contracts",
            dir.to_str().expect("utf8"),
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&looped.stderr);
    assert_eq!(looped.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("symbolic link loop").count(), 1, "{err}");
    assert!(!err.contains("defined twice"), "{err}");
    std::fs::remove_file(dir.join("sub/up")).expect("unlink");
    // A name that is not UTF-8.
    let bad = std::ffi::OsStr::from_bytes(b"occ-\xff.json");
    std::fs::copy(dir.join("cons.json"), dir.join(bad)).expect("copy");
    let r = checker(&["validate", "--contracts", dir.to_str().expect("utf8")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("name is not UTF-8"), "{}", r.stderr);
}

/// Numbers past what a flag can mean are bad input, not a panic.
#[test]
fn a_huge_threshold_is_bad_input() {
    let r = checker(&[
        "cull",
        "--threshold-minutes",
        "99999999999999",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
