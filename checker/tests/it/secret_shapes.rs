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
