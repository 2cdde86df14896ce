//! Secrets in the shapes the README promises to redact (issue 28 items 6 and 7): unpadded,
//! URL-safe and line-wrapped base64 of JSON, JSON with a byte-order mark, gzip that inflates
//! past 1 MiB, and tag values; none reaches a report, a snapshot, a diff, a hook artifact or an
//! `init` draft. A snapshot of an unchanged fleet holding secrets is the same in every run.

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::path::Path;

fn gzip(s: &str) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(s.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

/// A fleet of three instances whose user-data and tags hold a secret in every shape; the
/// secrets and their encoded forms (none may appear anywhere).
fn planted_fleet(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let mut planted = Vec::new();
    let mut instances = Vec::new();
    for n in 0..3 {
        let p: Vec<String> = (0..8).map(|k| format!("planted{k}x{n}")).collect();
        let doc = |k: usize| json!({"token": p[k], "why": "???>>>"}).to_string();
        let wrapped: String = STANDARD
            .encode(format!("{}{}", doc(2), " ".repeat(100)))
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        let big = json!({"pad": "x".repeat(2 << 20), "token": p[4]}).to_string();
        let shapes = [
            STANDARD_NO_PAD.encode(doc(0)),
            URL_SAFE_NO_PAD.encode(doc(1)),
            wrapped,
            format!("\u{feff}{}", doc(3)),
            STANDARD.encode(gzip(&big)),
        ];
        planted.extend(p.iter().cloned());
        planted.extend(shapes.iter().cloned());
        let ud = json!({
            "workerType": "wt-a",
            "unpadded": shapes[0],
            "urlSafe": shapes[1],
            "wrapped": shapes[2],
            "bom": shapes[3],
            "bomb": shapes[4],
            // An array holding a secret next to a plain value (item 7).
            "list": ["plain", {"password": p[5]}],
        });
        let mut i = instance(
            &format!("i-000000000000000{n}"),
            &format!("managed:wt-a:abc123{n}"),
            "wt-a",
            Some(&ud),
        );
        let tag_blob = STANDARD.encode(json!({"apiKey": p[6]}).to_string());
        planted.push(tag_blob.clone());
        i["Tags"].as_array_mut().expect("tags").extend([
            json!({"Key": "DeployToken", "Value": p[7]}),
            json!({"Key": "Config", "Value": tag_blob}),
        ]);
        instances.push(i);
    }
    let f = write_json(dir, "fleet.json", &fleet(instances));
    (f, planted)
}

fn contracts(dir: &Path) -> String {
    write_json(dir, "c/prov.json", &provider());
    write_json(dir, "c/cons.json", &consumer());
    dir.join("c").to_str().expect("utf-8").to_string()
}

fn everything_in(dir: &Path, into: &mut String) {
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file()
            && let Ok(t) = std::fs::read_to_string(e.path())
        {
            into.push_str(&t);
        }
    }
}

#[test]
fn secret_shapes_and_tag_secrets_reach_no_output_artifact_or_draft() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let c = contracts(d);
    let (f, planted) = planted_fleet(d);
    let f = f.to_str().expect("utf-8");
    let snap = d.join("out/snap.json");
    std::fs::create_dir_all(d.join("out")).expect("mkdir");
    let s = snap.to_str().expect("utf-8");
    let art = d.join("out/art");
    let draft = d.join("out/draft");
    let mut everything = String::new();
    let runs: Vec<Vec<&str>> = vec![
        vec!["check", "--fleet", f, "--format", "human"],
        vec!["check", "--fleet", f, "--format", "json"],
        vec!["check", "--fleet", f, "--format", "markdown"],
        vec!["explain", "i-0000000000000000", "--fleet", f],
        vec!["snapshot", "--fleet", f, "--output", s],
        vec!["diff", "--snapshot", s, "--fleet", f, "--format", "json"],
        vec![
            "hook",
            "--fleet",
            f,
            "--snapshot",
            s,
            "--artifacts",
            art.to_str().expect("utf-8"),
        ],
    ];
    for mut a in runs {
        a.extend(["--contracts", &c]);
        let r = checker(&a);
        assert!(r.code <= 1, "{a:?}: {}\n{}", r.stdout, r.stderr);
        everything.push_str(&r.stdout);
        everything.push_str(&r.stderr);
    }
    let r = checker(&[
        "init",
        "--fleet",
        f,
        "--out",
        draft.to_str().expect("utf-8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    everything.push_str(&r.stdout);
    everything.push_str(&r.stderr);
    everything_in(&d.join("out"), &mut everything);
    assert!(everything.contains("wt-a"), "the runs said something");
    for p in &planted {
        let head: String = p.chars().take(40).collect();
        assert!(!everything.contains(&head), "{head} leaked");
    }
}

/// Item 7: two runs (two per-run keys) of `snapshot` on one fleet holding secrets, in an array
/// among them, give the same file, and `diff --fail-on-drift` against it finds nothing.
#[test]
fn a_snapshot_of_an_unchanged_fleet_with_secrets_is_the_same_in_every_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let c = contracts(d);
    let (f, _) = planted_fleet(d);
    let f = f.to_str().expect("utf-8");
    let snap = |name: &str| {
        let out = d.join(name);
        let o = out.to_str().expect("utf-8");
        let r = checker(&["snapshot", "--contracts", &c, "--fleet", f, "--output", o]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::read_to_string(&out).expect("snapshot")
    };
    let (a, b) = (snap("a.json"), snap("b.json"));
    assert_eq!(a, b, "the snapshot changed between two runs");
    let v: Value = serde_json::from_str(&a).expect("json");
    let list = &v["groups"]["prov/wt-a"]["outputs"]["userData.list"];
    assert_eq!(
        list["values"],
        json!([r#"["plain",{"password":"<redacted>"}]"#]),
        "{list}"
    );
    assert!(!a.contains("hmac:"), "{a}");
    let a_path = d.join("a.json");
    let r = checker(&[
        "diff",
        "--contracts",
        &c,
        "--snapshot",
        a_path.to_str().expect("utf-8"),
        "--fleet",
        f,
        "--fail-on-drift",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// Plants secret shapes in the first three GCE instances (their `taskcluster` metadata and
/// labels) and Azure VMs (customData and tags); returns every planted value and those secret
/// only by the manifest's secret path.
fn plant_secrets(gce: &mut Value, azure: &mut Value) -> (Vec<String>, Vec<String>) {
    let mut planted = Vec::new();
    let mut manifest_only = Vec::new();
    for n in 0..3 {
        let p: Vec<String> = (0..6).map(|k| format!("planted{k}y{n}")).collect();
        manifest_only.push(p[3].clone());
        let doc = |k: usize| json!({"token": p[k], "why": "???>>>"}).to_string();
        let shapes = [
            STANDARD_NO_PAD.encode(doc(0)),
            URL_SAFE_NO_PAD.encode(doc(1)),
            format!("\u{feff}{}", doc(2)),
        ];
        planted.extend(p.iter().cloned());
        planted.extend(shapes.iter().cloned());
        let g = &mut gce[n];
        let item = &mut g["metadata"]["items"][0];
        let mut tc: Value =
            serde_json::from_str(item["value"].as_str().expect("tc")).expect("json");
        tc["workerConfig"]["plain"] = json!(p[3]);
        tc["notes"] = json!({"unpadded": shapes[0], "urlSafe": shapes[1], "bom": shapes[2]});
        item["value"] = json!(tc.to_string());
        g["labels"]["deploy-token"] = json!(p[4]);
        let vm = &mut azure[n];
        let custom =
            json!({"rootUrl": "https://x", "workerConfig": {"password": p[5]}, "blob": shapes[0]});
        vm["osProfile"]["customData"] = json!(STANDARD.encode(custom.to_string()));
        vm["tags"]["ApiKey"] = json!(p[4]);
        vm["tags"]["Config"] = json!(shapes[1]);
    }
    (planted, manifest_only)
}

/// Issue 26: the same secret shapes planted in a GCE instance's `taskcluster` metadata
/// (workerConfig, the manifest's secret path, and under credential-like keys), its labels, an
/// Azure VM's customData and its tags: none reaches a report, snapshot, diff or draft.
#[test]
fn secrets_in_gce_metadata_labels_azure_custom_data_and_tags_reach_no_output() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let read = |rel: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(rel)).expect("example"))
            .expect("json")
    };
    let mut gce = read("examples/firefox-ci-2026/fleet-gce.json");
    let mut azure = read("examples/firefox-ci-2026/fleet-azure.json");
    let (planted, manifest_only) = plant_secrets(&mut gce, &mut azure);
    let g = write_json(d, "gce.json", &gce);
    let a = write_json(d, "azure.json", &azure);
    let (g, a) = (g.to_str().expect("utf-8"), a.to_str().expect("utf-8"));
    let c = root().join("contracts");
    let c = c.to_str().expect("utf-8");
    std::fs::create_dir_all(d.join("out")).expect("mkdir");
    let snap = d.join("out/snap.json");
    let s = snap.to_str().expect("utf-8");
    let name = gce[0]["name"].as_str().expect("name").to_string();
    let vm = azure[0]["name"].as_str().expect("name").to_string();
    let mut everything = String::new();
    let runs: Vec<Vec<&str>> = vec![
        vec!["check", "--fleet", g, "--fleet", a, "--format", "json"],
        vec!["check", "--fleet", g, "--fleet", a, "--format", "human"],
        vec!["explain", &name, "--fleet", g],
        vec!["explain", &vm, "--fleet", a],
        vec!["snapshot", "--fleet", g, "--fleet", a, "--output", s],
        vec![
            "diff",
            "--snapshot",
            s,
            "--fleet",
            g,
            "--fleet",
            a,
            "--format",
            "json",
        ],
    ];
    for mut args in runs {
        args.extend(["--contracts", c]);
        let r = checker(&args);
        assert!(r.code <= 1, "{args:?}: {}\n{}", r.stdout, r.stderr);
        everything.push_str(&r.stdout);
        everything.push_str(&r.stderr);
    }
    everything_in(&d.join("out"), &mut everything);
    assert!(
        everything.contains("worker-runner-google"),
        "the runs said something"
    );
    for p in &planted {
        let head: String = p.chars().take(40).collect();
        assert!(!everything.contains(&head), "{head} leaked");
    }
    // `init` reads no manifest: workerConfig is secret there only where a key says so, so the
    // value planted only under the manifest's secret path is checked in the runs above.
    let draft = d.join("draft");
    let r = checker(&[
        "init",
        "--fleet",
        g,
        "--fleet",
        a,
        "--out",
        draft.to_str().expect("utf-8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut drafted = r.stderr.clone();
    everything_in(&draft, &mut drafted);
    assert!(drafted.contains("taskcluster-gce"), "init drafted");
    for p in planted.iter().filter(|p| !manifest_only.contains(p)) {
        let head: String = p.chars().take(40).collect();
        assert!(!drafted.contains(&head), "{head} leaked in a draft");
    }
}
