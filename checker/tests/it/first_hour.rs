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
