//! The report family's JSON Schemas: generated from the types, committed in docs/schema/, and
//! true of what the commands print.

use crate::support::*;
use serde_json::Value;

fn committed(name: &str) -> std::path::PathBuf {
    root().join(format!("docs/schema/{name}.schema.json"))
}

/// The committed schemas are the ones the types generate. To update them after a deliberate
/// change: `CHECKER_UPDATE_SCHEMAS=1 cargo test --test it schemas` (and bump the document's
/// minor or major version, docs/report-format.md).
#[test]
fn the_published_schemas_are_not_stale() {
    let update = std::env::var_os("CHECKER_UPDATE_SCHEMAS").is_some();
    for (name, schema) in checker::schema::all() {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&schema).expect("schema json")
        );
        let path = committed(name);
        if update {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &text).expect("write");
            continue;
        }
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            old == text,
            "{} is stale: regenerate it with CHECKER_UPDATE_SCHEMAS=1 cargo test --test it schemas",
            path.display()
        );
    }
}

fn validate(name: &str, doc: &Value) {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(committed(name)).expect("schema"))
            .expect("schema json");
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    assert_eq!(doc["format"], name);
    assert!(doc["version"].is_u64() && doc["minorVersion"].is_u64());
}

#[test]
fn every_json_document_matches_its_schema() {
    let check = replay("after", "prefix", "14", &["--format", "json"]);
    validate("checker-report", &check.json());
    let gate = checker(&[
        "gate",
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--base",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--proposed",
        &format!("{R}/provider-after/ec2-manager.json"),
        "--format",
        "json",
    ]);
    validate("checker-report", &gate.json());
    let diff = checker(&[
        "diff",
        "--snapshot",
        "snapshots/taskcluster-2018-02-12.json",
        "--contracts",
        &format!("{R}/provider-after"),
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--fleet",
        &format!("{R}/fleet-2018-02-14.json"),
        "--format",
        "json",
    ]);
    validate("checker-diff", &diff.json());
    let plan = checker(&[
        "cull",
        "--contracts",
        &format!("{R}/provider-after"),
        "--contracts",
        &format!("{R}/consumers-postfix"),
        "--fleet",
        &format!("{R}/fleet-2018-02-14.json"),
        "--status",
        &format!("{R}/status-2018-02-14.json"),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    validate("checker-cull-plan", &plan.json());
    validate(
        "checker-rules",
        &checker(&["rules", "--format", "json"]).json(),
    );
}
