//! The gate over all of worker-manager's providers: Google and Azure pools rendered as their
//! providers launch them, each with its own launch-refusal rules, every pool of a mixed bundle
//! given a verdict, and a pool of a provider checker does not model "unknown" (exit 3), never
//! passed unseen. The rule cases are `examples/firefox-ci-2026/mutations/` (real pools with one
//! thing changed each; `index.json` says what each should get).

use crate::support::*;
use serde_json::{Value, json};

const M: &str = "examples/firefox-ci-2026/mutations";
const POOLS: &str = "examples/firefox-ci-2026/pools";

fn gate(pools: &str, extra: &[&str]) -> Run {
    let mut a = vec![
        "gate",
        "--contracts",
        "contracts",
        "--pools",
        pools,
        "--format",
        "json",
    ];
    a.extend_from_slice(extra);
    // No --taskcluster-schemas, no --root-url: the schemas built into checker.
    checker_env(&a, &[("CHECKER_TASKCLUSTER_SCHEMAS", "")])
}

/// The one pool's verdict of a single-pool gate.
fn pool_verdict(r: &Run) -> Value {
    let v = r.json();
    let pools = v["gate"]["pools"].as_array().expect("pools").clone();
    assert_eq!(pools.len(), 1, "{pools:?}");
    pools[0].clone()
}

/// Gates one mutation and checks its exit code, its pool's verdict and that a reason of
/// `kind` names it.
fn mutation(file: &str, code: i32, deployable: &str, kind: &str) {
    let r = gate(&format!("{M}/{file}"), &[]);
    assert_eq!(r.code, code, "{file}: {}\n{}", r.stdout, r.stderr);
    let p = pool_verdict(&r);
    assert_eq!(p["deployable"], deployable, "{file}: {p:#}");
    if !kind.is_empty() {
        assert!(
            p["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .any(|x| x["kind"] == kind
                    || x["clause"].as_str().is_some_and(|c| c.ends_with(kind))),
            "{file}: no {kind} reason: {p:#}"
        );
    }
}

macro_rules! rule {
    ($name:ident, $file:expr, $code:expr, $deployable:expr, $kind:expr) => {
        #[test]
        fn $name() {
            mutation($file, $code, $deployable, $kind);
        }
    };
}

rule!(
    a_gcp_pool_without_an_external_ip_breaks_worker_runner,
    "gcp-no-external-ip.json",
    1,
    "no",
    "gce-runner-external-ip"
);
rule!(
    a_gcp_pool_with_its_own_taskcluster_metadata_item_is_refused,
    "gcp-own-taskcluster-metadata.json",
    1,
    "no",
    "duplicate-metadata-key"
);
rule!(
    a_gcp_label_value_over_63_characters_is_refused,
    "gcp-label-over-63.json",
    1,
    "no",
    "invalid-label"
);
rule!(
    an_upper_case_launch_config_id_label_is_refused,
    "gcp-launch-config-id-upper-case.json",
    1,
    "no",
    "invalid-label"
);
rule!(
    an_upper_case_pool_id_makes_an_invalid_gce_name,
    "gcp-upper-case-pool-id.json",
    1,
    "no",
    "invalid-instance-name"
);
rule!(
    labels_on_gcp_local_ssds_are_refused,
    "gcp-labels-on-local-ssd.json",
    1,
    "no",
    "labels-on-local-ssd"
);
rule!(
    a_pool_label_worker_manager_overrides_is_harmless,
    "gcp-pool-label-collides.json",
    0,
    "yes",
    ""
);
rule!(
    an_azure_pool_over_50_tags_is_refused,
    "azure-51-tags.json",
    1,
    "no",
    "too-many-tags"
);
rule!(
    an_azure_tag_value_over_256_characters_is_refused,
    "azure-tag-value-over-256.json",
    1,
    "no",
    "tag-too-long"
);
rule!(
    an_azure_pool_without_an_arm_location_is_refused,
    "azure-no-arm-location.json",
    1,
    "no",
    "no-location"
);
rule!(
    an_azure_tag_colliding_with_worker_managers_is_harmless,
    "azure-tag-collides.json",
    0,
    "yes",
    ""
);
rule!(
    an_azure_tag_colliding_but_for_case_is_unknown,
    "azure-tag-collides-but-for-case.json",
    3,
    "unknown",
    ""
);
rule!(
    a_template_spec_no_manifest_describes_is_unknown,
    "azure-unknown-template-spec.json",
    3,
    "unknown",
    ""
);

#[test]
fn scsi_local_ssds_warn_that_the_set_up_falls_back_to_the_boot_disk() {
    let r = gate(&format!("{M}/gcp-scsi-local-ssd.json"), &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["consumer"] == "gcp-local-ssd"
                && f["severity"] == "warning"
                && f["outcome"] == "violation"),
        "{:#}",
        v["findings"]
    );
    let r = gate(&format!("{M}/gcp-scsi-local-ssd.json"), &["--fail-on-warn"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn a_mixed_bundle_gives_every_pool_a_verdict_and_judges_its_aws_pool_as_before() {
    let r = gate(POOLS, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let pools = v["gate"]["pools"].as_array().expect("pools");
    let files = std::fs::read_dir(root().join(POOLS)).expect("dir").count();
    assert_eq!(pools.len(), files);
    let kinds: std::collections::BTreeSet<&str> = pools
        .iter()
        .map(|p| p["implementation"].as_str().expect("modelled"))
        .collect();
    assert_eq!(kinds, ["aws", "azure", "google"].into());
    assert!(pools.iter().all(|p| p["deployable"] == "yes"), "{pools:#?}");
    // The AWS pool in the same bundle, with a tag worker-manager also sets: refused as today.
    let dir = tempfile::tempdir().expect("tmp");
    for e in std::fs::read_dir(root().join(POOLS)).expect("dir") {
        let path = e.expect("entry").path();
        let mut pool: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        if pool["providerId"] == "aws" {
            for lc in pool["config"]["launchConfigs"].as_array_mut().expect("lcs") {
                lc["launchConfig"]["TagSpecifications"] = json!([{"ResourceType": "instance", "Tags": [{"Key": "ManagedBy", "Value": "me"}]}]);
            }
        }
        write_json(
            dir.path(),
            path.file_name().and_then(|n| n.to_str()).expect("name"),
            &pool,
        );
    }
    let r = gate(&dir.path().display().to_string(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    for p in v["gate"]["pools"].as_array().expect("pools") {
        let want = if p["providerId"] == "aws" {
            "no"
        } else {
            "yes"
        };
        assert_eq!(p["deployable"], want, "{p:#}");
        if want == "no" {
            assert_eq!(p["reasons"][0]["kind"], "duplicate-tag-key", "{p:#}");
        }
    }
}

/// A copy of a real pool with another `providerId`.
fn with_provider(file: &str, provider: &str, dir: &std::path::Path) -> String {
    let mut pool: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(POOLS).join(file)).expect("read"),
    )
    .expect("json");
    pool["providerId"] = provider.into();
    write_json(dir, file, &pool).display().to_string()
}

#[test]
fn the_level_3_and_trusted_providers_are_modelled_too() {
    let dir = tempfile::tempdir().expect("tmp");
    for (file, provider, kind) in [
        ("gecko-1--b-linux-xlarge.json", "fxci-level3-gcp", "google"),
        ("comm-1--b-win2022.json", "azure_trusted", "azure"),
    ] {
        let r = gate(&with_provider(file, provider, dir.path()), &[]);
        assert_eq!(r.code, 0, "{file}: {}\n{}", r.stdout, r.stderr);
        let p = pool_verdict(&r);
        assert_eq!(p["implementation"], kind, "{p:#}");
        assert_eq!(p["deployable"], "yes", "{p:#}");
        assert!(r.json()["source"]["instances"].as_u64().unwrap_or(0) > 0);
    }
}

#[test]
fn a_provider_checker_does_not_model_is_unknown_never_passed() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = with_provider("gecko-1--b-linux-xlarge.json", "community-gcp", dir.path());
    let r = gate(&f, &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let p = pool_verdict(&r);
    assert_eq!(p["deployable"], "unknown");
    assert!(
        p["reasons"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("--provider-kind community-gcp="),
        "{p:#}"
    );
    // Told what it runs, the gate models it.
    let r = gate(&f, &["--provider-kind", "community-gcp=google"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(pool_verdict(&r)["implementation"], "google");
    // A kind checker does not model stays unknown.
    let r = gate(&f, &["--provider-kind", "community-gcp=static"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

#[test]
fn a_contract_naming_another_clouds_field_is_refused_where_it_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contracts/consumers/worker-runner-google.json"))
            .expect("read"),
    )
    .expect("json");
    c["clauses"][0]["output"] = "KeyName".into();
    write_json(dir.path(), "c.json", &c);
    let p = root().join("contracts/providers/worker-manager-google.json");
    let r = checker(&[
        "validate",
        "--contracts",
        &p.display().to_string(),
        "--contracts",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("`KeyName` is a field of ec2") && r.stderr.contains("/clauses/0/output"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "needs Firefox CI's 300 pools in ../shared/real/pools-2026-07 (as in CI): run with -- --include-ignored"]
fn every_one_of_the_300_shared_pools_gets_a_verdict_and_all_deploy() {
    let dir = root().join("../shared/real/pools-2026-07");
    assert!(dir.exists(), "{} is missing", dir.display());
    let r = gate(&dir.display().to_string(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let pools = v["gate"]["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 300);
    assert!(pools.iter().all(|p| p["deployable"] == "yes"));
    assert_eq!(v["source"]["instances"], 15 + 1243 + 656);
}

#[test]
fn annotations_point_at_the_pool_that_breaks_a_consumer_and_name_its_clause() {
    let f = format!("{M}/gcp-no-external-ip.json");
    let r = checker_env(
        &[
            "gate",
            "--contracts",
            "contracts",
            "--pools",
            &f,
            "--format",
            "sarif",
        ],
        &[("CHECKER_TASKCLUSTER_SCHEMAS", "")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let results = v["runs"][0]["results"].as_array().expect("results");
    let hit = results
        .iter()
        .find(|x| x["properties"]["consumer"] == "worker-runner-google")
        .expect("a worker-runner-google result");
    assert_eq!(
        hit["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        f
    );
    let text = hit["message"]["text"].as_str().expect("text");
    assert!(
        text.contains("worker-runner-google/gce-runner-external-ip")
            && text.contains("contracts/consumers/worker-runner-google.json:"),
        "{text}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let r = checker_env(
        &[
            "gate",
            "--contracts",
            "contracts",
            "--pools",
            &f,
            "--github-check",
            &dir.path().display().to_string(),
        ],
        &[("CHECKER_TASKCLUSTER_SCHEMAS", "")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let notes: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("customCheckRunAnnotations.json")).expect("notes"),
    )
    .expect("json");
    assert!(
        notes
            .as_array()
            .expect("arr")
            .iter()
            .any(|n| n["path"] == f),
        "{notes:#}"
    );
}

/// A revision of the GCP provider manifest is rendered as GCE instances: dropping the
/// `taskcluster` metadata's rootUrl from its promises breaks worker-runner-google,
/// and no EC2 consumer is judged on GCE records.
#[test]
fn a_gcp_manifest_revision_is_rendered_as_gce_instances() {
    let base = root().join("contracts/providers/worker-manager-google.json");
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(&base).expect("read")).expect("json");
    m["outputs"]
        .as_object_mut()
        .expect("outputs")
        .remove("userData.rootUrl");
    // The manifest's set files are relative to it (`../sets/`): a copy of them beside it.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("sets")).expect("mkdir");
    for e in std::fs::read_dir(root().join("contracts/sets")).expect("sets") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.path().join("sets").join(e.file_name())).expect("copy");
    }
    let proposed = write_json(
        &dir.path().join("providers"),
        "worker-manager-google.json",
        &m,
    );
    let r = checker(&[
        "gate",
        "--contracts",
        "contracts/consumers",
        "--contracts",
        "contracts/providers/worker-manager.json",
        "--contracts",
        "contracts/providers/worker-manager-azure.json",
        "--base",
        &base.display().to_string(),
        "--proposed",
        &proposed.display().to_string(),
        "--region",
        "us-central1",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let wr = verdict(&v, "worker-runner-google");
    assert_eq!(wr["deployable"], "no", "{wr:#}");
    // The base fails too (externalIp is the pools', not the manifest's, promise): the change
    // is named by the clause it breaks.
    assert!(
        wr["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x["clause"] == "gce-runner-reads-rooturl"),
        "{wr:#}"
    );
    assert_eq!(verdict(&v, "worker-runner")["deployable"], "yes");
}
