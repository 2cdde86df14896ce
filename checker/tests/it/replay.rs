//! The 2018 outage, replayed: the verdicts the issue demands, asserted on the JSON report.

use crate::support::*;
use serde_json::Value;

fn findings(v: &Value) -> Vec<&Value> {
    v["findings"].as_array().expect("findings").iter().collect()
}

fn violations<'a>(v: &'a Value, severity: &str) -> Vec<&'a Value> {
    findings(v)
        .into_iter()
        .filter(|f| f["outcome"] == "violation" && f["severity"] == severity)
        .collect()
}

#[test]
fn before_the_change_the_fleet_is_clean_but_for_the_worker_modified_warning() {
    let r = replay("before", "prefix", "12", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert!(
        violations(&v, "error").is_empty(),
        "{:#?}",
        violations(&v, "error")
    );
    let warnings = violations(&v, "warning");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["consumer"], "generic-worker");
    assert_eq!(warnings[0]["output"], "userData.workerModified");
    assert_eq!(v["summary"]["status"], "warnings");
    // The same warning is the coverage gap: a read no provider promises.
    let unpromised = &v["coverage"]["unpromisedReads"];
    assert!(
        unpromised.to_string().contains("userData.workerModified"),
        "{unpromised}"
    );
}

#[test]
fn fail_on_warn_turns_the_warning_into_exit_1() {
    assert_eq!(
        replay("before", "prefix", "12", &["--fail-on-warn"]).code,
        1
    );
}

#[test]
fn the_universal_key_breaks_occ_and_the_culling_job_through_membership_and_agreement() {
    let r = replay("after", "prefix", "14", &["--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let errors = violations(&v, "error");
    let broken: std::collections::BTreeSet<&str> = errors
        .iter()
        .map(|f| f["consumer"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        broken,
        ["impaired-instance-culling", "occ"].into_iter().collect()
    );
    // The derived worker type is a 7-hex hash: it passes the identifier pattern, so the failure
    // must come from member-of and agrees-with, never from the derivation itself.
    let occ: Vec<(&str, &str)> = errors
        .iter()
        .filter(|f| f["consumer"] == "occ")
        .map(|f| {
            (
                f["clause"].as_str().unwrap_or(""),
                f["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        occ.contains(&("occ-prefix-worker-type-known", "member-of")),
        "{occ:?}"
    );
    assert!(
        occ.contains(&("occ-prefix-worker-type-is-name", "agrees-with")),
        "{occ:?}"
    );
    assert!(
        occ.contains(&("occ-prefix-worker-type-is-user-data", "agrees-with")),
        "{occ:?}"
    );
    assert!(!occ.iter().any(|(_, k)| *k == "derives"), "{occ:?}");
    let known = errors
        .iter()
        .find(|f| f["clause"] == "occ-prefix-worker-type-known")
        .expect("membership finding");
    assert_eq!(
        known["count"], 33,
        "one grouped finding for every provisioned worker"
    );
    let value = known["actual"][0]["value"].as_str().unwrap_or("");
    assert!(
        value.contains("\"ffe27db\"") && value.contains("split(':')[1]"),
        "{value}"
    );
    // The culling job fails because it cannot parse a worker type out of the key any more.
    let cull: Vec<&str> = errors
        .iter()
        .filter(|f| f["consumer"] == "impaired-instance-culling")
        .filter_map(|f| f["clause"].as_str())
        .collect();
    assert!(cull.contains(&"cull-prefix-worker-type"), "{cull:?}");
    // Housekeeping by key prefix is unaffected, and so is generic-worker (but for its warning).
    assert!(!broken.contains("ec2-manager-housekeeping") && !broken.contains("generic-worker"));
    // The provider itself kept its (new) promises.
    assert!(
        !findings(&v)
            .iter()
            .any(|f| f["code"] == "manifest-violated")
    );
}

#[test]
fn the_fixed_consumers_accept_the_universal_key() {
    let r = replay("after", "postfix", "14", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert!(violations(&v, "error").is_empty());
    assert_eq!(violations(&v, "warning").len(), 1);
}

#[test]
fn a_fleet_that_breaks_its_own_manifest_is_reported_against_the_provider() {
    let r = replay("before", "prefix", "14", &["--format", "json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let manifest: Vec<&Value> = findings(&v)
        .into_iter()
        .filter(|f| f["code"] == "manifest-violated")
        .collect();
    let outputs: std::collections::BTreeSet<&str> = manifest
        .iter()
        .filter_map(|f| f["output"].as_str())
        .collect();
    assert!(
        outputs.contains("KeyName")
            && outputs.contains("tag:Owner")
            && outputs.contains("tag:WorkerType"),
        "{outputs:?}"
    );
    assert!(manifest.iter().all(|f| f["consumer"] == "ec2-manager"));
    let key = manifest
        .iter()
        .find(|f| f["output"] == "KeyName")
        .expect("KeyName");
    assert!(
        key["message"]
            .as_str()
            .unwrap_or("")
            .contains("provider ec2-manager promises KeyName"),
        "{key}"
    );
}

#[test]
fn explain_shows_the_derivation_and_the_verdict_for_one_instance() {
    let p = format!("{R}/provider-after");
    let c = format!("{R}/consumers-prefix");
    let f = format!("{R}/fleet-2018-02-14.json");
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(&f)).expect("fleet"))
            .expect("json");
    let id = fleet["Reservations"][0]["Instances"][0]["InstanceId"]
        .as_str()
        .expect("id")
        .to_string();
    let r = checker(&[
        "explain",
        &id,
        "--contracts",
        &p,
        "--contracts",
        &c,
        "--fleet",
        &f,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("derived workerType = \"ffe27db\" from KeyName \"aws-provisioner-v1-managed:ffe27db\" by split(':')[1]"), "{}", r.stdout);
    assert!(
        r.stdout.contains("occ-prefix-worker-type-known") && r.stdout.contains("FAIL"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("why it matters:"));
    // Passes say what was read (evaluating a whole fleet skips those words; explain must not).
    assert!(
        r.stdout
            .contains("pass     \"aws-provisioner-v1-managed:ffe27db\""),
        "{}",
        r.stdout
    );
}

#[test]
fn explain_a_clause_shows_its_contract_and_its_results() {
    let p = format!("{R}/provider-after");
    let c = format!("{R}/consumers-prefix");
    let f = format!("{R}/fleet-2018-02-14.json");
    let r = checker(&[
        "explain",
        "occ-prefix-worker-type-known",
        "--contracts",
        &p,
        "--contracts",
        &c,
        "--fleet",
        &f,
        "--now",
        NOW,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("clause occ-prefix-worker-type-known of consumer occ")
    );
    assert!(r.stdout.contains("0 passed, 33 failed"), "{}", r.stdout);
    let typo = checker(&[
        "explain",
        "occ-prefix-worker-type-knwn",
        "--contracts",
        &p,
        "--contracts",
        &c,
    ]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr
            .contains("did you mean occ-prefix-worker-type-known"),
        "{}",
        typo.stderr
    );
}

#[test]
fn every_shipped_contract_set_validates() {
    for set in [
        vec!["contracts"],
        vec![
            "examples/taskcluster-2018/provider-before",
            "examples/taskcluster-2018/consumers-prefix",
        ],
        vec![
            "examples/taskcluster-2018/provider-after",
            "examples/taskcluster-2018/consumers-postfix",
        ],
    ] {
        let mut args = vec!["validate"];
        for s in &set {
            args.push("--contracts");
            args.push(s);
        }
        let r = checker(&args);
        assert_eq!(r.code, 0, "{set:?}: {}", r.stderr);
    }
}

#[test]
fn the_main_job_on_the_worker_manager_example_is_clean() {
    let r = checker(&[
        "check",
        "--fleet",
        "examples/firefox-ci-2021/fleet.json",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["summary"]["status"], "clean");
    assert!(v["summary"]["evaluations"].as_u64().unwrap_or(0) > 100);
}

/// The golden AMI-build instances in the 2018 fleets, as OpenCloudConfig's update-workertype.sh
/// left them: key `mozilla-taskcluster-worker-<wt>`, tag `WorkerType=golden-<wt>` only.
fn golden_ids(day: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(root().join(format!("{R}/fleet-2018-02-{day}.json")))
        .expect("fleet");
    let v: Value = serde_json::from_str(&text).expect("json");
    let (mut running, mut stopped) = (Vec::new(), Vec::new());
    for r in v["Reservations"].as_array().expect("reservations") {
        let i = &r["Instances"][0];
        if !i["KeyName"]
            .as_str()
            .is_some_and(|k| k.starts_with("mozilla-taskcluster-worker-"))
        {
            continue;
        }
        let tags: Vec<&str> = i["Tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t["Key"].as_str())
            .collect();
        assert_eq!(tags, ["WorkerType"], "goldens carry WorkerType only");
        let id = i["InstanceId"].as_str().expect("id").to_string();
        match i["State"]["Name"].as_str() {
            Some("running") => running.push(id),
            _ => stopped.push(id),
        }
    }
    (running, stopped)
}

/// Issue 25 item 5: a healthy 2018 account holds OCC's golden AMI builds (the last build,
/// stopped; a build in progress, running). The culling contracts are scoped as the script was
/// (the provisioner's tags), so they never select a golden instance: 2018-02-12 is clean, and
/// on 2018-02-14 the culling job fails on exactly the provisioned workers, by its derivation.
#[test]
fn golden_builders_are_outside_the_culling_scope_and_the_14th_fails_for_the_key_alone() {
    for day in ["12", "14"] {
        let (running, stopped) = golden_ids(day);
        assert!(
            running.len() >= 2 && stopped.len() >= 3,
            "{running:?} {stopped:?}"
        );
    }
    let (running12, _) = golden_ids("12");
    let r = replay("before", "prefix", "12", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    let tally = |v: &Value, name: &str| -> u64 {
        v["consumers"]
            .as_array()
            .expect("tallies")
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["selected"].as_u64())
            .expect("tally")
    };
    // 33 provisioned workers run; the running golden builds are OCC's, not the culling job's.
    assert_eq!(tally(&v, "impaired-instance-culling"), 33);
    assert_eq!(tally(&v, "occ"), 33 + running12.len() as u64);
    // Their user-data (a PowerShell script with passwords) is never shown.
    assert!(!r.stdout.contains("Password"), "golden user-data leaked");

    let (running14, stopped14) = golden_ids("14");
    let r = replay("after", "prefix", "14", &["--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(tally(&v, "impaired-instance-culling"), 33);
    let cull: Vec<&Value> = findings(&v)
        .into_iter()
        .filter(|f| f["consumer"] == "impaired-instance-culling")
        .collect();
    assert!(!cull.is_empty());
    for f in &cull {
        assert_eq!(f["code"], "clause-violated", "{f}");
        assert_eq!(f["count"], 33, "every provisioned worker, no golden: {f}");
        for id in running14.iter().chain(&stopped14) {
            assert!(!f["samples"].to_string().contains(id.as_str()), "{f}");
        }
    }
    // The fixed script's scope (tag:Owner and tag:Name) holds on the same fleet.
    let r = replay("after", "postfix", "14", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(tally(&r.json(), "impaired-instance-culling"), 33);
}
