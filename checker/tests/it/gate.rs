//! `checker gate`: can-i-deploy for provisioner changes.

use crate::support::*;

fn gate(args: &[&str]) -> Run {
    let mut v = vec!["gate"];
    v.extend_from_slice(args);
    checker(&v)
}

#[test]
fn the_manifest_before_the_change_is_deployable() {
    let r = gate(&[
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--proposed",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["gate"]["deployable"], true);
    assert!(
        v["gate"]["verdicts"]
            .as_array()
            .expect("arr")
            .iter()
            .all(|x| x["deployable"] == "yes")
    );
}

#[test]
fn the_universal_key_is_not_deployable_and_names_occ_and_the_culling_job_with_reasons() {
    let r = gate(&[
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--base",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--proposed",
        &format!("{R}/provider-after/ec2-manager.json"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let occ = verdict(&v, "occ");
    assert_eq!(occ["deployable"], "no");
    assert_eq!(occ["regression"], true);
    let reasons: Vec<&str> = occ["reasons"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|x| x["message"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|m| m.contains("occ derives workerType from KeyName by `split(':')[1]`; proposed KeyName \"aws-provisioner-v1-managed:ffe27db\" yields \"ffe27db\", which is not in workerTypes")),
        "{reasons:#?}"
    );
    let cull = verdict(&v, "impaired-instance-culling");
    assert_eq!(cull["deployable"], "no");
    assert!(
        cull["reasons"].to_string().contains("does not match"),
        "{cull}"
    );
    for ok in ["generic-worker", "ec2-manager-housekeeping"] {
        assert_eq!(verdict(&v, ok)["deployable"], "yes");
    }
    assert_eq!(verdict(&v, "generic-worker")["affected"], false);
    // What changed, and who reads it: tag:Owner changed and no contract reads it.
    let changes = v["gate"]["changes"].as_array().expect("arr");
    let owner = changes
        .iter()
        .find(|c| c["output"] == "tag:Owner")
        .expect("tag:Owner change");
    assert_eq!(owner["readBy"], serde_json::json!([]));
    let key = changes
        .iter()
        .find(|c| c["output"] == "KeyName")
        .expect("KeyName change");
    assert!(key["readBy"].to_string().contains("occ"));
}

#[test]
fn with_the_fixed_consumers_the_universal_key_is_deployable() {
    let r = gate(&[
        "--contracts",
        &format!("{R}/consumers-postfix"),
        "--base",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--proposed",
        &format!("{R}/provider-after/ec2-manager.json"),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verdict: deployable"), "{}", r.stdout);
}

#[test]
fn base_ref_reads_the_base_revision_from_git() {
    // The committed manifest at HEAD against itself: nothing changes, deployable. A repository
    // of its own (a copy of the manifest, committed), so the test holds in any checkout, a
    // source archive without .git included.
    let repo = tempfile::tempdir().expect("tmp");
    for dir in ["providers", "consumers", "sets"] {
        std::fs::create_dir(repo.path().join(dir)).expect("mkdir");
        for e in std::fs::read_dir(root().join("contracts").join(dir)).expect("read contracts") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), repo.path().join(dir).join(e.file_name())).expect("copy");
        }
    }
    let manifest = repo.path().join("providers/worker-manager.json");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=checker-test",
                "-c",
                "user.email=test@example.invalid",
            ])
            .args(args)
            .current_dir(repo.path())
            .output()
            .expect("git runs (the tests need git on PATH)");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "manifest"]);
    let manifest = manifest.to_str().expect("utf8");
    let contracts = repo.path().to_str().expect("utf8");
    let r = gate(&[
        "--contracts",
        contracts,
        "--proposed",
        manifest,
        "--base-ref",
        "HEAD",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["gate"]["changes"], serde_json::json!([]));
    assert!(
        v["gate"]["base"]
            .as_str()
            .unwrap_or("")
            .ends_with("at HEAD")
    );
    let bad = gate(&[
        "--contracts",
        contracts,
        "--proposed",
        manifest,
        "--base-ref",
        "no-such-ref-xyz",
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no-such-ref-xyz"), "{}", bad.stderr);
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_pool_without_key_name_breaks_the_prefix_occ_but_not_the_fixed_one() {
    tc_schemas();
    let prefix_occ = "tests/fixtures/gate/occ-prefix-wm.json";
    let provider = "contracts/providers/worker-manager.json";
    let with_key = gate(&[
        "--contracts",
        provider,
        "--contracts",
        prefix_occ,
        "--pools",
        "tests/fixtures/gate/pool-with-key.json",
    ]);
    assert_eq!(with_key.code, 0, "{}\n{}", with_key.stdout, with_key.stderr);
    let without = gate(&[
        "--contracts",
        provider,
        "--contracts",
        prefix_occ,
        "--pools",
        "tests/fixtures/gate/pool-without-key.json",
        "--format",
        "json",
    ]);
    assert_eq!(without.code, 1, "{}\n{}", without.stdout, without.stderr);
    let v = without.json();
    assert!(
        verdict(&v, "occ")["reasons"]
            .to_string()
            .contains("needs KeyName"),
        "{}",
        verdict(&v, "occ")
    );
    let fixed = gate(&[
        "--contracts",
        "contracts",
        "--pools",
        "tests/fixtures/gate/pool-without-key.json",
    ]);
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_pool_setting_a_reserved_user_data_field_is_bad_input_with_the_place() {
    tc_schemas();
    let r = gate(&["--pools", "tests/fixtures/gate/pool-reserved.json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        unlocated(&r.stderr).contains(
            "pool-reserved.json at /config/launchConfigs/0/additionalUserData/workerPoolId"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("may not set \"workerPoolId\""),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_pool_violating_the_worker_manager_schema_is_bad_input_with_the_place() {
    tc_schemas();
    let r = gate(&["--pools", "tests/fixtures/gate/pool-bad-schema.json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        unlocated(&r.stderr)
            .contains("pool-bad-schema.json at /config/launchConfigs/0/launchConfig")
            && r.stderr.contains("\"ImageId\" is a required property"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn the_shipped_pools_are_deployable() {
    tc_schemas();
    let r = gate(&[
        "--pools",
        "examples/firefox-ci-2021/pools",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // One record per launch configuration of the eight real pools (fxci-config bc1924d6).
    assert_eq!(r.json()["source"]["instances"], 167);
}

#[test]
fn ignore_and_dry_run_are_visible_in_every_format() {
    let base = [
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--proposed",
        "examples/taskcluster-2018/provider-after/ec2-manager.json",
    ];
    let mut ignore_both = base.to_vec();
    ignore_both.extend([
        "--ignore",
        "occ=fixed in OCC d7d2df5a, rolling out",
        "--ignore",
        "impaired-instance-culling=culling paused during the migration",
    ]);
    let r = gate(&[ignore_both.as_slice(), &["--format", "json"]].concat());
    assert_eq!(r.code, 0, "ignored consumers do not block: {}", r.stdout);
    assert_eq!(
        verdict(&r.json(), "occ")["ignored"],
        "fixed in OCC d7d2df5a, rolling out"
    );
    assert_eq!(
        verdict(&r.json(), "occ")["deployable"],
        "no",
        "the verdict itself is still shown"
    );
    for (format, needle) in [
        ("human", "IGNORED: fixed in OCC"),
        ("markdown", "**ignored**: fixed in OCC"),
        ("junit", "ignored: fixed in OCC"),
    ] {
        let r = gate(&[ignore_both.as_slice(), &["--format", format]].concat());
        assert!(r.stdout.contains(needle), "{format}: {}", r.stdout);
    }
    let missing_reason = gate(&[base.as_slice(), &["--ignore", "occ"]].concat());
    assert_eq!(missing_reason.code, 2);
    assert!(missing_reason.stderr.contains("CONSUMER=REASON"));
    // Break glass: exit 0, recorded everywhere.
    let dry = gate(&[base.as_slice(), &["--dry-run", "--format", "json"]].concat());
    assert_eq!(dry.code, 0);
    let v = dry.json();
    assert_eq!(v["gate"]["dryRun"], true);
    assert_eq!(v["gate"]["verdictExitCode"], 1);
    assert_eq!(v["gate"]["deployable"], false);
    for (format, needle) in [
        ("human", "--dry-run used"),
        ("markdown", "--dry-run was used"),
        ("junit", "dry-run"),
    ] {
        let r = gate(&[base.as_slice(), &["--dry-run", "--format", format]].concat());
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains(needle), "{format}: {}", r.stdout);
    }
}

#[test]
fn markdown_is_a_pr_comment() {
    let r = gate(&[
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--base",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--proposed",
        &format!("{R}/provider-after/ec2-manager.json"),
        "--format",
        "markdown",
    ]);
    assert!(
        r.stdout.starts_with("## ❌ checker gate: not deployable"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("| occ | relops (OpenCloudConfig) | ❌ no |"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("| changed | <code>tag:Owner</code> |")
            && r.stdout.contains("⚠️ no contract"),
        "{}",
        r.stdout
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn aws_provisioner_worker_types_are_rendered_with_the_manifest_naming_rules() {
    tc_schemas();
    // The gate on a worker-type file with one provider revision and the pre-fix consumers.
    let gate_wt = |provider: &str, wt: &str| {
        gate(&[
            "--contracts",
            &format!("{R}/{provider}"),
            "--contracts",
            &format!("{R}/consumers-prefix"),
            "--worker-types",
            &format!("tests/fixtures/worker-types/{wt}"),
            "--format",
            "json",
        ])
    };
    let before = gate_wt("provider-before", "gecko-t-win10-64.yml");
    assert_eq!(before.code, 0, "{}\n{}", before.stdout, before.stderr);
    let v = before.json();
    assert_eq!(
        v["source"]["instances"], 2,
        "one record per region and instance type"
    );
    let after = gate_wt("provider-after", "gecko-t-win10-64.yml");
    assert_eq!(after.code, 1, "{}\n{}", after.stdout, after.stderr);
    assert_eq!(verdict(&after.json(), "occ")["deployable"], "no");
    let bad = gate_wt("provider-before", "bad-region.yml");
    assert_eq!(bad.code, 2);
    assert!(
        unlocated(&bad.stderr).contains("bad-region.yml at /regions/0/region"),
        "{}",
        bad.stderr
    );
}
