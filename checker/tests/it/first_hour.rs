//! What a newcomer meets in the first hour (issue 25): no credentials, exit codes that keep a
//! violation visible, the hook saying what it skipped, help that offers only what works, logs
//! and output fit for a pipe and a terminal, completions and man pages.

use crate::support::*;
use std::process::Command;

/// checker with the test isolation but no AWS credentials anywhere.
fn without_credentials(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.args(args);
    isolate(&mut cmd);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("run checker");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn no_credentials_is_a_configuration_error_that_says_what_was_tried_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tmp");
    let art = dir.path().join("artifacts");
    for args in [
        vec!["check"],
        vec!["snapshot"],
        vec!["hook", "--artifacts", art.to_str().expect("utf8")],
    ] {
        let r = without_credentials(&args);
        // 2, not 3: nothing was read, and no retry would find credentials (the hook retries 3).
        assert_eq!(r.code, 2, "{args:?}\n{}\n{}", r.stdout, r.stderr);
        let e = &r.stderr;
        assert!(e.starts_with("error: no AWS credentials found."), "{e}");
        for tried in [
            "AWS_ACCESS_KEY_ID",
            "profile \"default\" in /nonexistent/checker-test-credentials",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "ECS",
            "IMDS",
            "aws configure",
            "--profile",
        ] {
            assert!(e.contains(tried), "{args:?}: no {tried:?} in\n{e}");
        }
        // Said once, in words: no SDK chain cut at "…", no per-region failure, no report.
        assert!(!e.contains('…') && !e.contains("region"), "{e}");
        assert!(!e.contains("source-empty") && r.stdout.is_empty(), "{e}");
    }
    let r = without_credentials(&["check", "--profile", "ci"]);
    assert!(r.stderr.contains("profile \"ci\""), "{}", r.stderr);
    let hook: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("hooks/fleet-checker.json")).expect("hook"),
    )
    .expect("json");
    let retried = &hook["task"]["in"]["payload"]["onExitStatus"]["retry"];
    assert!(
        retried.as_array().is_some_and(|a| !a.contains(&2.into())),
        "{retried}"
    );
}

/// The 2018-02-14 fleet (OCC broken by the universal key) with one instance's user-data damaged.
fn broken_fleet_with_bad_user_data(dir: &std::path::Path) -> String {
    use base64::Engine;
    let mut f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(R).join("fleet-2018-02-14.json")).expect("fleet"),
    )
    .expect("json");
    f["Reservations"][0]["Instances"][0]["UserData"] = serde_json::json!({"Value": base64::engine::general_purpose::STANDARD.encode("not json {")});
    write_json(dir, "fleet.json", &f)
        .to_str()
        .expect("utf8")
        .to_string()
}

#[test]
fn violations_with_unknowns_exit_1_not_3() {
    let dir = tempfile::tempdir().expect("tmp");
    let fleet = broken_fleet_with_bad_user_data(dir.path());
    let args = |c: &'static str| {
        [
            "check",
            "--contracts",
            "examples/taskcluster-2018/provider-after",
            "--contracts",
            c,
            "--fleet",
            &fleet,
            "--now",
            NOW,
            "--format",
            "json",
        ]
        .map(String::from)
    };
    let run = |c| {
        let a = args(c);
        checker(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // OCC is violated and user-data could not be read: the violation decides (1), and the
    // unknowns are still counted in the report.
    let r = run("examples/taskcluster-2018/consumers-prefix");
    let v = r.json();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(v["summary"]["status"], "violations");
    assert!(v["summary"]["unknown"].as_u64().unwrap_or(0) > 0, "{v}");
    // Without a violation the same unknowns make the run incomplete (3).
    let r = run("examples/taskcluster-2018/consumers-postfix");
    assert_eq!(r.code, 3, "{}", r.stdout);
}

#[test]
fn the_hook_says_when_it_skipped_culling_and_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let art = dir.path().join("artifacts");
    let fleet = format!("{R}/fleet-2018-02-12.json");
    let snap = dir.path().join("snap.json");
    let snap = snap.to_str().expect("utf8");
    let contracts = [
        "--contracts",
        "examples/taskcluster-2018/provider-before",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
    ];
    let mut a = vec!["snapshot", "--fleet", &fleet, "--output", snap];
    a.extend(contracts);
    assert_eq!(checker(&a).code, 0);
    let r = checker(&[
        "hook",
        "--contracts",
        "examples/taskcluster-2018/provider-before",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
        "--fleet",
        &fleet,
        "--snapshot",
        snap,
        "--now",
        NOW,
        "--artifacts",
        art.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "warning: cull skipped: the recorded fleet (--fleet) has no instance-status data"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--status FILE"), "{}", r.stderr);
    let summary = std::fs::read_to_string(art.join("summary.md")).expect("summary");
    assert!(summary.contains("## checker cull: skipped"), "{summary}");
    assert!(summary.contains("no instance-status data"), "{summary}");
    // The snapshot was taken of this very fleet: no change, said in words, no empty diff block.
    assert!(
        summary.contains("No output changed since the snapshot."),
        "{summary}"
    );
    assert!(!summary.contains("```diff\n```"), "{summary}");
    assert!(!art.join("cull-plan.json").exists());
}

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = checker(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in ["check", "gate", "--fleet", "--contracts"] {
            assert!(r.stdout.contains(word), "{shell}: no {word}");
        }
    }
    assert_eq!(checker(&["completions", "tcsh"]).code, 2);
    let r = checker(&["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with(".ie") && r.stdout.contains(".TH checker 1"));
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("man1");
    let r = checker(&["man", "--output", out.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for page in [
        "checker.1",
        "checker-check.1",
        "checker-hook.1",
        "checker-fleet-record.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let check = std::fs::read_to_string(out.join("checker-check.1")).expect("page");
    assert!(
        check.contains("fleet") && check.contains("max\\-unknown"),
        "{check}"
    );
}

#[test]
fn fleet_dash_reads_standard_input() {
    use std::io::Write;
    let fleet = format!("{R}/fleet-2018-02-14.json");
    let args = |f: &str| {
        vec![
            "check".to_string(),
            "--contracts".into(),
            format!("{R}/provider-after"),
            "--contracts".into(),
            format!("{R}/consumers-prefix"),
            "--fleet".into(),
            f.into(),
            "--now".into(),
            NOW.into(),
            "--format".into(),
            "json".into(),
        ]
    };
    let from_file = checker(&args(&fleet).iter().map(String::as_str).collect::<Vec<_>>());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.args(args("-"));
    isolate(&mut cmd);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&std::fs::read(root().join(&fleet)).expect("fleet"))
        .expect("write");
    let out = child.wait_with_output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(from_file.code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdin: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let file = from_file.json();
    assert_eq!(stdin["findings"], file["findings"]);
    assert_eq!(stdin["summary"], file["summary"]);
    assert_eq!(stdin["source"]["parts"][0]["name"], "-");
}

#[test]
fn report_format_doc_states_the_versions_the_commands_print() {
    let doc = std::fs::read_to_string(root().join("docs/report-format.md")).expect("doc");
    let (p, c) = (
        format!("{R}/provider-after"),
        format!("{R}/consumers-postfix"),
    );
    let fleet = format!("{R}/fleet-2018-02-14.json");
    let status = format!("{R}/status-2018-02-14.json");
    let base = [
        "--contracts",
        &p,
        "--contracts",
        &c,
        "--fleet",
        &fleet,
        "--now",
        NOW,
    ];
    let with = |cmd: &[&str]| {
        let mut a = cmd.to_vec();
        a.extend(base);
        a.extend(["--format", "json"]);
        checker(&a).json()
    };
    let printed = [
        with(&["check"]),
        with(&[
            "diff",
            "--snapshot",
            "snapshots/taskcluster-2018-02-12.json",
        ]),
        with(&["cull", "--status", &status]),
        checker(&["rules", "--format", "json"]).json(),
    ];
    for v in printed {
        let row = format!(
            "| `{}` | {}.{} |",
            v["format"].as_str().expect("format"),
            v["version"],
            v["minorVersion"]
        );
        assert!(
            doc.contains(&row),
            "docs/report-format.md has no row with {row}"
        );
    }
}

#[test]
fn every_hooks_file_the_project_names_exists() {
    let re = regex::Regex::new(r"hooks/([A-Za-z0-9_.-]+\.(?:json|md))").expect("regex");
    let mut named = Vec::new();
    for dir in [
        "checker/src",
        "checker-ec2/src",
        "contracts",
        "examples",
        "docs",
    ] {
        for e in walkdir::WalkDir::new(root().join(dir)) {
            let e = e.expect("walk");
            if e.file_type().is_file()
                && let Ok(text) = std::fs::read_to_string(e.path())
            {
                for m in re.captures_iter(&text) {
                    named.push((e.path().display().to_string(), m[1].to_string()));
                }
            }
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("readme");
    for m in re.captures_iter(&readme) {
        named.push(("README.md".into(), m[1].to_string()));
    }
    assert!(named.iter().any(|(_, f)| f == "iam-policy.json"));
    let missing: Vec<_> = named
        .iter()
        .filter(|(_, f)| !root().join("hooks").join(f).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "files naming hooks/ files that do not exist: {missing:#?}"
    );
}

#[test]
fn one_missing_comma_is_one_error_in_its_own_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut p = provider();
    p["name"] = "prov".into();
    let text = serde_json::to_string_pretty(&p).expect("json");
    // Drop the comma after "kind": "provider".
    let broken = text.replacen("\"provider\",", "\"provider\"", 1);
    assert_ne!(broken, text);
    write(dir.path(), "provider.json", &broken);
    write_json(dir.path(), "consumer.json", &consumer());
    let d = dir.path().to_str().expect("utf8");
    let r = checker(&["validate", "--contracts", d]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("provider.json:"), "{}", r.stderr);
    assert!(r.stderr.contains("not valid JSON"), "{}", r.stderr);
    assert!(!r.stderr.contains("consumer.json"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("error: ").count(), 1, "{}", r.stderr);
}

#[test]
fn a_bad_waiver_date_is_hinted_as_a_date() {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "provider.json", &provider());
    write_json(dir.path(), "consumer.json", &consumer());
    write_json(
        dir.path(),
        "waivers.json",
        &serde_json::json!({"kind": "waivers", "waivers": [{"consumer": "cons", "owner": "relops", "reason": "r", "expires": "1 March 2030"}]}),
    );
    let r = checker(&[
        "validate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/waivers/0/expires"), "{}", r.stderr);
    assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
    assert!(!r.stderr.contains("kebab-case"), "{}", r.stderr);
}

#[test]
fn each_command_offers_only_the_formats_it_renders() {
    for (cmd, sarif) in [
        ("check", true),
        ("gate", true),
        ("diff", false),
        ("cull", false),
        ("test", false),
        ("rules", false),
    ] {
        let help = checker(&[cmd, "--help"]).stdout;
        assert!(help.contains("markdown"), "{cmd}: {help}");
        assert_eq!(help.contains("sarif"), sarif, "{cmd} --help:\n{help}");
    }
    // What is not offered is refused by the parser, before any work (exit 2)...
    let r = checker(&["rules", "--format", "sarif"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("possible values: human, json, junit, markdown"),
        "{}",
        r.stderr
    );
    // ...and what is offered works.
    for f in ["human", "json", "junit", "markdown"] {
        assert_eq!(checker(&["rules", "--format", f]).code, 0, "{f}");
    }
}

#[test]
fn logs_have_no_colour_codes_with_color_never() {
    let fleet = format!("{R}/fleet-2018-02-12.json");
    let p = format!("{R}/provider-before");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.args([
        "-v",
        "--color",
        "never",
        "check",
        "--contracts",
        &p,
        "--fleet",
        &fleet,
    ]);
    isolate(&mut cmd);
    cmd.env_remove("NO_COLOR").env("TERM", "xterm-256color");
    let out = cmd.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "escape codes in -v logs: {err:?}");
}

#[test]
fn one_bad_user_data_is_one_unknown_finding_naming_every_clause_it_blocked() {
    let dir = tempfile::tempdir().expect("tmp");
    let fleet = broken_fleet_with_bad_user_data(dir.path());
    let r = checker(&[
        "check",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
        "--fleet",
        &fleet,
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v = r.json();
    let unknown: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["outcome"] == "unknown")
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:#?}");
    assert_eq!(v["summary"]["unknown"], 1);
    let f = unknown[0];
    let also = f["also"].as_array().expect("also");
    assert!(also.len() >= 10, "{f}");
    assert!(
        also.iter().any(|a| a["consumer"] == "generic-worker"),
        "{f}"
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("for one cause: user-data (10 bytes) is not JSON"),
        "{f}"
    );
    // JUnit still marks every blocked clause as unknown, not as passed.
    let mut a = vec![
        "check",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
        "--fleet",
        &fleet,
        "--now",
        NOW,
    ];
    a.extend(["--format", "junit"]);
    let j = checker(&a).stdout;
    for c in also.iter().filter(|c| c["consumer"] == "generic-worker") {
        let clause = c["clause"].as_str().expect("clause");
        let case = j
            .split("<testcase ")
            .find(|t| t.starts_with(&format!("name=\"{clause}\"")))
            .unwrap_or_else(|| panic!("no case {clause}"));
        assert!(case.contains("type=\"unknown\""), "{clause}: {case}");
    }
}

#[test]
fn human_output_wraps_to_the_terminal_width_and_not_in_a_pipe() {
    let p = format!("{R}/provider-after");
    let c = format!("{R}/consumers-prefix");
    let f = format!("{R}/fleet-2018-02-14.json");
    let args = [
        "check",
        "--contracts",
        &p,
        "--contracts",
        &c,
        "--fleet",
        &f,
        "--now",
        NOW,
    ];
    let width = |s: &str| s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    // A pipe (the tests' stdout) without COLUMNS: one line per message, as logs and grep want.
    let piped = checker(&args);
    assert!(width(&piped.stdout) > 200, "{}", piped.stdout);
    // A terminal's width (COLUMNS, as a terminal sets it): every line fits, at its indentation,
    // and no word (a regex, an instance id) is cut.
    let wrapped = checker_env(&args, &[("COLUMNS", "80")]);
    assert_eq!(wrapped.code, piped.code);
    assert!(width(&wrapped.stdout) <= 80, "{}", wrapped.stdout);
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(words(&wrapped.stdout), words(&piped.stdout));
    assert!(
        wrapped
            .stdout
            .contains("\n          /^aws-provisioner-v1-managed:[^:]+:[0-9a-f]+$/;"),
        "{}",
        wrapped.stdout
    );
}
