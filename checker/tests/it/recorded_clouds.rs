//! Recorded GCE and Azure fleets (issue 26 items 4 and 5): `gcloud compute instances list
//! --format=json`, the Compute REST aggregated list, `az vm list -d -o json` and Resource Graph
//! results, told apart by content and read by every command that takes `--fleet`.

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;

/// `check --format json` of one fleet file against the shipped contracts.
fn check_json(fleet: &Path) -> (Run, Value) {
    let r = checker(&[
        "check",
        "--contracts",
        &contracts(),
        "--fleet",
        fleet.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r, v)
}

fn selected(report: &Value, name: &str) -> u64 {
    report["consumers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .and_then(|c| c["selected"].as_u64())
        .unwrap_or(0)
}

/// The (consumer, clause) of every error finding.
fn failures(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["consumer"].as_str().unwrap_or_default().to_string(),
                f["clause"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Exit `code`, no panic, every needle in stderr; a needle `FILE@POINTER` must be located: a
/// line `FILE:LINE:COLUMN at POINTER`.
fn assert_bad(r: &Run, code: i32, needles: &[&str]) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for n in needles {
        let ok = match n.split_once('@') {
            Some((file, ptr)) => r.stderr.lines().any(|l| {
                l.split_once(&format!("{file}:")).is_some_and(|(_, rest)| {
                    rest.split_once(&format!(" at {ptr}"))
                        .is_some_and(|(lc, _)| {
                            lc.split(':').count() == 2
                                && lc.split(':').all(|x| x.parse::<u32>().is_ok())
                        })
                })
            }),
            None => r.stderr.contains(n),
        };
        assert!(ok, "expected {n:?} in stderr:\n{}", r.stderr);
    }
}

#[test]
fn the_example_gce_and_azure_fleets_are_clean_and_select_their_consumers() {
    let (r, v) = check_json(&root().join(GCE));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(selected(&v, "worker-runner-google"), 18);
    assert_eq!(selected(&v, "gcp-local-ssd"), 18);
    let (r, v) = check_json(&root().join(AZURE));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(selected(&v, "worker-runner-azure"), 15);
    assert!(selected(&v, "ronin-puppet-azure") > 0, "{v}");
}

#[test]
fn one_broken_instance_per_real_dependency_names_its_consumer() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut gce = example_fleet(GCE);
    gce[0]["metadata"]["items"] = json!([]);
    gce[1]["networkInterfaces"][0]["accessConfigs"] = json!([]);
    let f = write_json(dir.path(), "gce.json", &gce);
    let (r, v) = check_json(&f);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let got = failures(&v);
    for want in ["gce-runner-reads-rooturl", "gce-runner-external-ip"] {
        assert!(
            got.contains(&("worker-runner-google".into(), want.into())),
            "{want}: {got:?}"
        );
    }
    let mut azure = example_fleet(AZURE);
    azure[0]["tags"]
        .as_object_mut()
        .expect("tags")
        .remove("worker-pool-id");
    let f = write_json(dir.path(), "azure.json", &azure);
    let (r, v) = check_json(&f);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let got = failures(&v);
    for want in [
        ("worker-runner-azure", "azure-runner-tag-worker-pool-id"),
        ("ronin-puppet-azure", "ronin-worker-pool-id"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?}: {got:?}"
        );
    }
}

#[test]
fn the_rest_and_resource_graph_shapes_read_as_the_cli_shapes() {
    let dir = tempfile::tempdir().expect("tmp");
    let gce = example_fleet(GCE);
    let mut zones = serde_json::Map::new();
    for i in gce.as_array().expect("array") {
        let z = i["zone"]
            .as_str()
            .expect("zone")
            .rsplit('/')
            .next()
            .expect("z");
        zones
            .entry(format!("zones/{z}"))
            .or_insert_with(|| json!({"instances": []}))["instances"]
            .as_array_mut()
            .expect("instances")
            .push(i.clone());
    }
    zones.insert(
        "zones/empty-1a".into(),
        json!({"warning": {"code": "NO_RESULTS_ON_PAGE"}}),
    );
    let agg = json!({"kind": "compute#instanceAggregatedList", "items": zones});
    let azure = example_fleet(AZURE);
    let graph = json!({"totalRecords": 15, "data": azure.as_array().expect("array").iter().map(|vm| {
        let mut row = json!({"name": vm["name"], "location": vm["location"], "tags": vm["tags"],
            "type": "microsoft.compute/virtualmachines", "id": vm["id"], "properties": {}});
        for k in ["hardwareProfile", "storageProfile", "osProfile", "priority"] {
            row["properties"][k] = vm[k].clone();
        }
        row["properties"]["extended"]["instanceView"]["powerState"]["displayStatus"] = vm["powerState"].clone();
        row
    }).collect::<Vec<_>>()});
    for (name, doc, cli) in [("agg.json", agg, GCE), ("graph.json", graph, AZURE)] {
        let f = write_json(dir.path(), name, &doc);
        let (r, v) = check_json(&f);
        let (_, want) = check_json(&root().join(cli));
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(v["consumers"], want["consumers"], "{name}");
    }
}

#[test]
fn unknown_mixed_and_bad_shapes_are_named_with_file_pointer_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let gce = example_fleet(GCE);
    let azure = example_fleet(AZURE);
    let check = |name: &str, doc: &Value| {
        let f = write(
            dir.path(),
            name,
            &serde_json::to_string_pretty(doc).expect("json"),
        );
        checker(&[
            "check",
            "--contracts",
            &contracts(),
            "--fleet",
            f.to_str().expect("utf-8"),
        ])
    };
    let r = check("unknown.json", &json!([{"InstanceId": "i-1"}]));
    assert_bad(
        &r,
        2,
        &[
            "unknown.json@/0",
            "neither a GCE instance",
            "gcloud compute instances list",
            "az vm list",
        ],
    );
    let r = check("mixed.json", &json!([gce[0], azure[0]]));
    assert_bad(&r, 2, &["mixed.json@/1", "mixes shapes", "but /0 is"]);
    let r = check(
        "both.json",
        &json!({"Reservations": [], "data": [azure[0]]}),
    );
    assert_bad(&r, 2, &["both.json", "mixes shapes"]);
    let mut bad = gce.clone();
    bad[2]["labels"]["owner"] = json!(7);
    let r = check("bad.json", &bad);
    assert_bad(&r, 2, &["bad.json@/2/labels/owner", "must be a string"]);
    let mut bad = azure.clone();
    bad[1]["osProfile"]["customData"] = json!("not base64 at all!");
    let r = check("cd.json", &bad);
    assert_bad(&r, 2, &["cd.json@/1/osProfile/customData", "base64"]);
    let r = check(
        "unreachable.json",
        &json!({"items": {}, "unreachables": ["zones/us-east1-b"]}),
    );
    assert_bad(&r, 2, &["unreachable.json@/unreachables", "incomplete"]);
    let r = check("nothing.json", &json!({"Instances": []}));
    assert_bad(
        &r,
        2,
        &[
            "no top-level \"Reservations\"",
            "gcloud compute instances list",
            "az vm list -d",
        ],
    );
}

#[test]
fn explain_snapshot_and_init_read_gce_and_azure_fleets() {
    let dir = tempfile::tempdir().expect("tmp");
    let (g, a) = (root().join(GCE), root().join(AZURE));
    let (g, a) = (g.to_str().expect("utf-8"), a.to_str().expect("utf-8"));
    let name = example_fleet(GCE)[0]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let r = checker(&["explain", &name, "--contracts", &contracts(), "--fleet", g]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("worker-runner-google"), "{}", r.stdout);
    let s = dir.path().join("s.json");
    let r = checker(&[
        "snapshot",
        "--contracts",
        &contracts(),
        "--fleet",
        g,
        "--fleet",
        a,
        "--output",
        s.to_str().expect("utf-8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&s).expect("snap")).expect("json");
    let groups = snap["groups"].as_object().expect("groups");
    assert!(
        groups.contains_key("example-fxci-level1/worker-manager-google/comm-1/b-linux"),
        "{:?}",
        groups.keys()
    );
    assert!(
        groups
            .keys()
            .any(|k| k.ends_with("/worker-manager-azure/comm-1/b-win2022")),
        "{:?}",
        groups.keys()
    );
    let out = dir.path().join("draft");
    let r = checker(&[
        "init",
        "--fleet",
        g,
        "--fleet",
        a,
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (file, cloud) in [("taskcluster-gce", "gce"), ("taskcluster-azure", "azure")] {
        let p: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("providers/{file}.json"))).expect("draft"),
        )
        .expect("json");
        assert_eq!(p["cloud"], cloud, "{p}");
    }
    let r = checker(&["test", "--contracts", out.to_str().expect("utf-8")]);
    assert_eq!(
        r.code, 0,
        "the drafted tests, in gcloud and az shapes, pass: {}\n{}",
        r.stdout, r.stderr
    );
}
