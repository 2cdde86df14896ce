//! Report formats: the JSON envelope, JUnit, Markdown; secrets in none of them; grouping.

use crate::support::*;
use serde_json::json;

const FORMATS: [&str; 4] = ["human", "json", "junit", "markdown"];

#[test]
fn no_secret_user_data_value_appears_in_any_output() {
    let fleet: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(R).join("fleet-2018-02-14.json")).expect("fleet"),
    )
    .expect("json");
    let mut tokens = Vec::new();
    for r in fleet["Reservations"].as_array().expect("arr") {
        let i = &r["Instances"][0];
        if let Some(b64) = i["UserData"]["Value"].as_str() {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("b64");
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(ud) => tokens.push(ud["securityToken"].as_str().expect("token").to_string()),
                // OCC's golden builds carry a PowerShell script with passwords: its text is
                // never kept, so no password may appear either.
                Err(_) => {
                    let text = String::from_utf8(bytes).expect("utf8");
                    for part in text.split("Password>").skip(1).step_by(2) {
                        tokens.push(part.split('<').next().expect("value").to_string());
                    }
                }
            }
        }
    }
    assert!(tokens.len() > 30);
    let mut outputs = Vec::new();
    // The HTML page (the hook's report.html) and SARIF too.
    for format in FORMATS.iter().chain(&["html", "sarif"]) {
        for consumers in ["prefix", "postfix"] {
            let r = replay("after", consumers, "14", &["--format", format]);
            outputs.push(r.stdout + &r.stderr);
        }
    }
    let id = fleet["Reservations"][0]["Instances"][0]["InstanceId"]
        .as_str()
        .expect("id");
    let e = checker(&[
        "explain",
        id,
        "--contracts",
        &format!("{R}/provider-after"),
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--fleet",
        &format!("{R}/fleet-2018-02-14.json"),
        "-vv",
    ]);
    outputs.push(e.stdout + &e.stderr);
    for out in &outputs {
        for t in &tokens {
            assert!(!out.contains(t.as_str()), "secret {t} leaked");
        }
        // Also no fragment: the token body never appears.
        assert!(!out.contains("tok-"), "a token fragment leaked");
    }
}

#[test]
fn the_json_report_is_a_versioned_envelope() {
    let r = replay("after", "prefix", "14", &["--format", "json"]);
    let v = r.json();
    assert_eq!(v["format"], "checker-report");
    assert_eq!(v["version"], 1);
    assert_eq!(v["command"], "check");
    assert_eq!(v["generatedAt"], "2018-02-14T12:00:00Z");
    assert_eq!(v["summary"]["exitCode"], 1);
    for key in ["source", "summary", "findings", "coverage", "consumers"] {
        assert!(v.get(key).is_some(), "{key} missing");
    }
    let f = &v["findings"][0];
    for key in [
        "code", "outcome", "severity", "consumer", "clause", "kind", "output", "expected",
        "actual", "count", "samples", "message", "why", "runbook",
    ] {
        assert!(f.get(key).is_some(), "finding.{key} missing: {f}");
    }
}

#[test]
fn the_same_inputs_give_byte_identical_reports() {
    let a = replay("after", "prefix", "14", &["--format", "json"]).stdout;
    let b = replay("after", "prefix", "14", &["--format", "json"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn junit_has_a_suite_per_consumer_and_a_case_per_clause() {
    let r = replay("after", "prefix", "14", &["--format", "junit"]);
    assert_eq!(r.code, 1);
    let x = &r.stdout;
    assert!(x.starts_with("<?xml"), "{x}");
    assert!(x.contains("<testsuite name=\"consumer occ\""), "{x}");
    assert!(x.contains("<testcase name=\"occ-prefix-worker-type-known\""));
    assert!(x.contains("<failure"));
    let v = replay("after", "prefix", "14", &["--format", "json"]).json();
    let clauses: usize = v["consumers"]
        .as_array()
        .expect("arr")
        .iter()
        .map(|c| c["clauses"].as_array().map_or(0, Vec::len))
        .sum();
    let parts = v["source"]["parts"].as_array().map_or(0, Vec::len);
    assert_eq!(x.matches("<testcase ").count(), clauses + parts);
    // One suite per consumer and provider, and one for the source.
    assert_eq!(
        x.matches("<testsuite ").count(),
        v["consumers"].as_array().map_or(0, Vec::len) + 1
    );
}

/// JUnit agrees with the exit code: a warnings-only run has no failing or erroring case (it had
/// `errors="1"` while the exit was 0); under --fail-on-warn the warning fails.
#[test]
fn junit_fails_a_warning_only_when_the_run_fails() {
    let r = replay("before", "prefix", "12", &["--format", "junit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(r#"failures="0" errors="0">"#),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("<failure") && !r.stdout.contains("<error"));
    assert!(
        r.stdout.contains("<system-out>warning: generic-worker"),
        "{}",
        r.stdout
    );
    let r = replay(
        "before",
        "prefix",
        "12",
        &["--format", "junit", "--fail-on-warn"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains(r#"<failure message="generic-worker"#),
        "{}",
        r.stdout
    );
}

/// `--output json` names a file called json: refused before any work, with the fix.
#[test]
fn a_format_name_given_as_the_output_file_is_refused_with_a_hint() {
    for cmd in [
        vec!["check", "--fleet", "examples/firefox-ci-2021/fleet.json"],
        vec!["rules"],
        vec!["snapshot", "--fleet", "examples/firefox-ci-2021/fleet.json"],
    ] {
        let mut a = cmd.clone();
        a.extend(["--output", "json"]);
        let r = checker(&a);
        assert_eq!(r.code, 2, "{a:?}: {}", r.stderr);
        assert!(r.stderr.contains("--format json"), "{}", r.stderr);
        assert!(!root().join("json").exists());
    }
}

/// `rules` renders every format it accepts.
#[test]
fn rules_render_in_every_format() {
    let j = checker(&["rules", "--format", "junit"]);
    assert_eq!(j.code, 0);
    assert!(
        j.stdout.contains(r#"<testcase name="member-of""#),
        "{}",
        j.stdout
    );
    assert!(j.stdout.contains(r#"<testcase name="region-failed""#));
    let m = checker(&["rules", "--format", "markdown"]);
    assert_eq!(m.code, 0);
    assert!(
        m.stdout.contains("| <code>agrees-with</code> |"),
        "{}",
        m.stdout
    );
}

#[test]
fn markdown_is_a_pr_comment_with_a_table() {
    let r = replay("after", "prefix", "14", &["--format", "markdown"]);
    assert!(
        r.stdout.starts_with("## ❌ checker check: violations"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("| ❌ error | [occ](https://github.com/mozilla-releng/OpenCloudConfig#readme) | <code>occ-prefix-worker-type-known</code> | 33 |"), "{}", r.stdout);
}

#[test]
fn output_file_is_written_and_stdout_stays_empty() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("report.json");
    let r = replay(
        "after",
        "prefix",
        "14",
        &["--format", "json", "--output", out.to_str().expect("utf8")],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("json");
    assert_eq!(v["summary"]["status"], "violations");
}

#[test]
fn five_thousand_failing_instances_are_one_finding_with_a_count() {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &provider());
    write_json(dir.path(), "c/cons.json", &consumer());
    let instances = (0..5000)
        .map(|n| instance(&format!("i-{n:05}"), "managed:0123456", "wt-a", None))
        .collect();
    let f = write_json(dir.path(), "fleet.json", &fleet(instances));
    let c = dir.path().join("c");
    let r = checker(&[
        "check",
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let known: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .filter(|f| f["clause"] == "cons-wt-known")
        .collect();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0]["count"], 5000);
    assert_eq!(
        known[0]["samples"],
        json!(["i-00000", "i-00001", "i-00002", "i-00003", "i-00004"])
    );
}

#[test]
fn rules_lists_every_kind_and_code() {
    let r = checker(&["rules", "--format", "json"]);
    assert_eq!(r.code, 0);
    let v = r.json();
    let kinds: Vec<&str> = v["clauseKinds"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|k| k["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "present",
            "absent",
            "equals",
            "one-of",
            "matches",
            "derives",
            "member-of",
            "agrees-with",
            "uniform"
        ]
    );
    let codes: Vec<&str> = v["findingCodes"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|k| k["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "clause-violated",
            "clause-unknown",
            "clause-waived",
            "manifest-violated",
            "manifest-unknown",
            "waiver-expired",
            "waiver-unused",
            "region-failed",
            "source-empty",
            "input-lost",
            "launch-refused",
            "selects-nothing"
        ]
    );
}

#[test]
fn uniform_fails_once_per_group_with_two_values() {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &provider());
    let mut c = consumer();
    c["clauses"].as_array_mut().expect("arr").push(json!({"id": "cons-one-ami", "kind": "uniform", "output": "ImageId", "per": [{"output": "tag:Name"}], "why": "one AMI per worker type"}));
    write_json(dir.path(), "c/cons.json", &c);
    let mut odd = instance("i-3", "managed:wt-a:0123456", "wt-a", None);
    odd["ImageId"] = json!("ami-other");
    odd["Placement"]["AvailabilityZone"] = json!("us-west-2a");
    let f = write_json(
        dir.path(),
        "fleet.json",
        &fleet(vec![
            instance("i-1", "managed:wt-a:0123456", "wt-a", None),
            instance("i-2", "managed:wt-b:0123456", "wt-b", None),
            odd,
        ]),
    );
    let cdir = dir.path().join("c");
    let r = checker(&[
        "check",
        "--contracts",
        cdir.to_str().expect("utf8"),
        "--fleet",
        f.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    let u: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .expect("arr")
        .iter()
        .filter(|f| f["clause"] == "cons-one-ami")
        .collect();
    assert_eq!(u.len(), 1);
    let value = u[0]["actual"][0]["value"].as_str().expect("value");
    assert!(
        value.starts_with("wt-a:") && value.contains("ami-other") && value.contains("ami-12345678"),
        "{value}"
    );
    // Report 1.7: the group's regions, of the lowest instance holding each value.
    assert_eq!(u[0]["regions"], json!(["us-east-1", "us-west-2"]));
}

/// Reports and snapshots are created as any new file is: 0666 less the umask (they were 0600
/// whatever the umask, so a CI artifact uploader running as another user could not read them).
#[cfg(unix)]
#[test]
fn written_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    for (umask, mode) in [("022", 0o644), ("077", 0o600)] {
        let out = dir.path().join(format!("report-{umask}.json"));
        let script = format!(
            "umask {umask} && exec \"$0\" check --fleet examples/firefox-ci-2021/fleet.json --format json --output {}",
            out.display()
        );
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &script, env!("CARGO_BIN_EXE_checker")]);
        isolate(&mut cmd);
        let st = cmd.status().expect("run");
        assert_eq!(st.code(), Some(0));
        let m = std::fs::metadata(&out)
            .expect("written")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "umask {umask}");
    }
}

/// Secrets nested where the old name-only redaction did not look (inside arrays, in a JSON
/// string, base64 in a string, under Authorization / apiKey / cookie) reach no output and no
/// artifact of check, explain, snapshot, diff or the hook (whose diff.json, diff.md and
/// summary.md are public).
#[test]
fn nested_secrets_reach_no_output_and_no_artifact() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut fleet: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(R).join("fleet-2018-02-14.json")).expect("fleet"),
    )
    .expect("json");
    let mut planted = Vec::new();
    for (k, r) in fleet["Reservations"]
        .as_array_mut()
        .expect("arr")
        .iter_mut()
        .enumerate()
    {
        let i = &mut r["Instances"][0];
        let Some(v) = i["UserData"]["Value"].as_str() else {
            continue;
        };
        // The golden builds' user-data is a PowerShell script, not JSON: nothing to plant in.
        let Ok(mut ud) = serde_json::from_slice::<serde_json::Value>(
            &base64::engine::general_purpose::STANDARD
                .decode(v)
                .expect("b64"),
        ) else {
            continue;
        };
        let p = [0, 1, 2, 3, 4].map(|n| format!("planted{n}x{k:03}"));
        ud["creds"] = serde_json::json!([{"token": p[0]}]);
        ud["config"] = serde_json::json!(serde_json::json!({"apiKey": p[1]}).to_string());
        ud["blob"] = serde_json::json!(b64(&serde_json::json!({"cookie": p[2]}).to_string()));
        ud["headers"] = serde_json::json!({"Authorization": format!("Bearer {}", p[3])});
        ud["list"] = serde_json::json!([[{"pwd": p[4]}]]);
        i["UserData"]["Value"] = serde_json::json!(b64(&ud.to_string()));
        planted.extend(p);
    }
    assert!(planted.len() > 100);
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("fleet.json");
    std::fs::write(&f, fleet.to_string()).expect("write");
    let f = f.to_str().expect("utf8");
    let snap = dir.path().join("snap.json");
    let art = dir.path().join("art");
    let c = [
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
    ];
    let id = fleet["Reservations"][0]["Instances"][0]["InstanceId"]
        .as_str()
        .expect("id");
    let mut runs: Vec<Vec<&str>> = FORMATS
        .iter()
        .map(|fmt| vec!["check", "--fleet", f, "--format", fmt])
        .collect();
    runs.push(vec!["explain", id, "--fleet", f, "-vv"]);
    runs.push(vec![
        "snapshot",
        "--fleet",
        f,
        "--output",
        snap.to_str().expect("utf8"),
    ]);
    runs.push(vec![
        "diff",
        "--snapshot",
        "snapshots/taskcluster-2018-02-12.json",
        "--fleet",
        f,
        "--format",
        "markdown",
    ]);
    runs.push(vec![
        "hook",
        "--fleet",
        f,
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
        "--snapshot",
        "snapshots/taskcluster-2018-02-12.json",
        "--artifacts",
        art.to_str().expect("utf8"),
    ]);
    let mut everything = String::new();
    for mut a in runs {
        a.extend(c);
        let r = checker(&a);
        assert!(r.code <= 1, "{a:?}: {}", r.stderr);
        everything.push_str(&r.stdout);
        everything.push_str(&r.stderr);
    }
    everything.push_str(&std::fs::read_to_string(&snap).expect("snapshot"));
    for e in std::fs::read_dir(&art).expect("artifacts") {
        everything.push_str(&std::fs::read_to_string(e.expect("entry").path()).expect("artifact"));
    }
    for p in &planted {
        assert!(!everything.contains(p.as_str()), "{p} leaked");
    }
}
