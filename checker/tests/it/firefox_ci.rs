//! The real failure modes of Firefox CI's worker-manager era, replayed on the real pools
//! (fxci-config bc1924d6, in examples/firefox-ci-2021/pools) against both the example's
//! contracts and the shipped default contracts/.

use crate::support::*;
use serde_json::{Value, json};

const EX: &str = "examples/firefox-ci-2021";
const CONTRACT_DIRS: [&str; 2] = ["examples/firefox-ci-2021/contracts", "contracts"];

/// Gates one real pool, changed by `edit`, against `contracts`; returns the run and its report.
fn gate_pool(contracts: &str, pool: &str, edit: impl FnOnce(&mut Value)) -> (Run, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(EX).join("pools").join(pool)).expect("pool"),
    )
    .expect("json");
    edit(&mut v);
    let file = dir.path().join(pool);
    std::fs::write(&file, serde_json::to_string_pretty(&v).expect("json")).expect("write");
    let r = checker(&[
        "gate",
        "--contracts",
        contracts,
        "--pools",
        file.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    let report = if r.stdout.trim().is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r, report)
}

fn says_no(v: &Value, consumer: &str, needle: &str) {
    let x = verdict(v, consumer);
    assert_eq!(x["deployable"], "no", "{consumer}: {x}");
    assert!(
        x["reasons"].to_string().contains(needle),
        "{consumer} should name {needle}: {x}"
    );
}

fn each_lc(v: &mut Value, f: impl Fn(&mut Value)) {
    for lc in v["config"]["launchConfigs"].as_array_mut().expect("lcs") {
        f(lc);
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn the_real_pools_are_deployable_against_the_real_contracts() {
    tc_schemas();
    for c in CONTRACT_DIRS {
        let r = checker(&[
            "gate",
            "--contracts",
            c,
            "--pools",
            &format!("{EX}/pools"),
            "--format",
            "json",
        ]);
        assert_eq!(r.code, 0, "{c}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["source"]["instances"], 167, "{c}");
        assert!(
            v["gate"]["verdicts"]
                .as_array()
                .expect("v")
                .iter()
                .all(|x| x["deployable"] == "yes"),
            "{c}: {v}"
        );
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn dropping_worker_type_from_additional_user_data_breaks_occ() {
    tc_schemas();
    for c in CONTRACT_DIRS {
        let (r, v) = gate_pool(c, "gecko-t--t-win10-64.json", |p| {
            each_lc(p, |lc| lc["additionalUserData"] = json!({}))
        });
        assert_eq!(r.code, 1, "{c}: {}\n{}", r.stdout, r.stderr);
        says_no(&v, "occ", "userData.workerType");
        says_no(&v, "occ", "occ-worker-type");
        assert_eq!(verdict(&v, "worker-runner")["deployable"], "yes");
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_worker_type_without_an_occ_manifest_breaks_occ() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[0], "comm-1--b-win2012.json", |p| {
        each_lc(p, |lc| {
            lc["additionalUserData"]["workerType"] = json!("comm-1-b-win2012")
        })
    });
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says_no(&v, "occ", "occ-worker-type-has-manifest");
    says_no(&v, "occ", "comm-1-b-win2012");
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn requiring_imdsv2_breaks_occ_and_the_worker_runner_of_that_era() {
    tc_schemas();
    for c in CONTRACT_DIRS {
        let (r, v) = gate_pool(c, "gecko-t--t-win7-32.json", |p| {
            each_lc(p, |lc| {
                lc["launchConfig"]["MetadataOptions"] =
                    json!({"HttpTokens": "required", "HttpEndpoint": "enabled"})
            })
        });
        assert_eq!(r.code, 1, "{c}: {}\n{}", r.stdout, r.stderr);
        says_no(&v, "occ", "occ-imds-v1");
        says_no(&v, "worker-runner", "runner-imds-v1");
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_pool_tag_named_like_worker_managers_own_launches_nothing() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[1], "gecko-1--b-win2012.json", |p| {
        each_lc(
            p,
            |lc| lc["launchConfig"]["TagSpecifications"] = json!([{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "builder"}]}]),
        )
    });
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says_no(&v, "worker-manager", "duplicate-tag-key");
    says_no(&v, "worker-manager", "Name twice");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .expect("f")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"launch-refused"), "{codes:?}");
    // Nothing launches, so nothing of the pool reaches the consumers.
    assert_eq!(v["source"]["instances"], 0);
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn user_data_over_16384_bytes_launches_nothing() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[1], "gecko-t--t-win10-64-gpu-s.json", |p| {
        each_lc(p, |lc| {
            lc["workerConfig"]["padding"] = json!("x".repeat(16_000))
        })
    });
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says_no(&v, "worker-manager", "user-data-too-long");
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn additional_user_data_launch_config_id_is_a_warning_not_bad_input() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[1], "gecko-3--b-win2012.json", |p| {
        each_lc(p, |lc| {
            lc["additionalUserData"]["launchConfigId"] = json!("mine")
        })
    });
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let w = v["gate"]["warnings"].to_string();
    assert!(
        w.contains("overwrites additionalUserData.launchConfigId")
            && w.contains("gecko-3--b-win2012.json:"),
        "{w}"
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_new_pool_on_a_known_manifest_is_deployable() {
    tc_schemas();
    for c in CONTRACT_DIRS {
        let (r, v) = gate_pool(c, "gecko-t--t-win10-64.json", |p| {
            p["workerPoolId"] = json!("gecko-t/t-win10-64-new")
        });
        assert_eq!(r.code, 0, "{c}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(
            verdict(&v, "impaired-instance-culling")["deployable"],
            "yes"
        );
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn a_linux_docker_worker_pool_does_not_involve_occ() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[1], "infra--build-decision.json", |_| {});
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let occ = verdict(&v, "occ");
    assert_eq!(occ["affected"], false, "{occ}");
    let tally = v["consumers"]
        .as_array()
        .expect("c")
        .iter()
        .find(|t| t["name"] == "occ")
        .expect("occ tally");
    assert_eq!(tally["selected"], 0);
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn no_public_ipv4_breaks_worker_runner() {
    tc_schemas();
    let (r, v) = gate_pool(CONTRACT_DIRS[1], "gecko-t--t-win10-64.json", |p| {
        each_lc(p, |lc| {
            let subnet = lc["launchConfig"]["SubnetId"].clone();
            lc["launchConfig"]["NetworkInterfaces"] =
                json!([{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": false}]);
        })
    });
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says_no(&v, "worker-runner", "runner-public-ipv4");
}

#[test]
fn a_healthy_fleet_with_golden_ami_build_instances_is_clean() {
    for c in CONTRACT_DIRS {
        let r = checker(&[
            "check",
            "--contracts",
            c,
            "--fleet",
            &format!("{EX}/fleet.json"),
            "--format",
            "json",
        ]);
        assert_eq!(r.code, 0, "{c}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        let golden = v["consumers"]
            .as_array()
            .expect("c")
            .iter()
            .find(|t| t["name"] == "occ-golden-image")
            .expect("golden");
        assert_eq!(golden["selected"], 2, "{golden}");
        assert!(
            !r.stdout.contains("not-a-real-password"),
            "the golden user-data's password leaked"
        );
    }
}

#[test]
fn removing_the_worker_pool_tag_makes_the_culling_job_lose_its_input() {
    // The manifest and its sets in a temporary tree, so the relative set files resolve.
    let dir = tempfile::tempdir().expect("tempdir");
    let sets = dir.path().join("sets");
    std::fs::create_dir_all(&sets).expect("mkdir");
    for e in std::fs::read_dir(root().join("contracts/sets")).expect("sets") {
        let p = e.expect("e").path();
        std::fs::copy(&p, sets.join(p.file_name().expect("name"))).expect("copy");
    }
    let mut m: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contracts/providers/worker-manager.json"))
            .expect("m"),
    )
    .expect("json");
    let base = write_json(&dir.path().join("base"), "worker-manager.json", &m);
    m["outputs"]
        .as_object_mut()
        .expect("o")
        .remove("tag:WorkerPoolId");
    let proposed = write_json(&dir.path().join("proposed"), "worker-manager.json", &m);
    let r = checker(&[
        "gate",
        "--contracts",
        "contracts/consumers",
        // The GCP and Azure consumers' providers (the revision proposed is the AWS one's).
        "--contracts",
        "contracts/providers/worker-manager-google.json",
        "--contracts",
        "contracts/providers/worker-manager-azure.json",
        "--proposed",
        proposed.to_str().expect("utf8"),
        "--base",
        base.to_str().expect("utf8"),
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    says_no(&v, "impaired-instance-culling", "lost its input");
    says_no(&v, "impaired-instance-culling", "tag:WorkerPoolId");
}

#[test]
fn check_against_a_baseline_names_a_consumer_that_lost_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = dir.path().join("snap.json");
    let r = checker(&[
        "snapshot",
        "--fleet",
        &format!("{EX}/fleet.json"),
        "--output",
        snap.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The next day nobody tags WorkerPoolId any more.
    let mut fleet: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(EX).join("fleet.json")).expect("f"),
    )
    .expect("json");
    for res in fleet["Reservations"].as_array_mut().expect("r") {
        for i in res["Instances"].as_array_mut().expect("i") {
            if let Some(tags) = i["Tags"].as_array_mut() {
                tags.retain(|t| t["Key"] != "WorkerPoolId");
            }
        }
    }
    let f = dir.path().join("fleet.json");
    std::fs::write(&f, fleet.to_string()).expect("write");
    let r = checker(&[
        "check",
        "--fleet",
        f.to_str().expect("utf8"),
        "--baseline",
        snap.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let lost: Vec<&Value> = v["findings"]
        .as_array()
        .expect("f")
        .iter()
        .filter(|f| f["code"] == "input-lost")
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["consumer"], "impaired-instance-culling");
    // Without the baseline the same fleet only shows it under coverage.
    let plain = checker(&[
        "check",
        "--fleet",
        f.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert!(!plain.stdout.contains("input-lost"));
}
