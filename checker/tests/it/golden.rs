//! Golden tests: the exit code, stdout and stderr of every command in every format on the
//! shipped examples, and the `--help` of every command. They guard the restructure and every
//! later change: an output that changes on purpose is re-recorded (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test golden`) and its commit says why.
//!
//! The recorded files live in `checker/tests/golden/`; they are not fleet `snapshots/`.

use crate::support::*;

/// One run, rendered as the golden file holds it. Temporary paths are replaced by `$TMP`.
fn golden(name: &str, args: &[&str], tmp: Option<&std::path::Path>) {
    let r = checker(args);
    let mut text = format!(
        "args: {}\nexit: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        args.join(" "),
        r.code,
        r.stdout,
        r.stderr
    );
    if let Some(t) = tmp {
        text = text.replace(t.to_str().expect("utf8"), "$TMP");
    }
    record(name, &stable(&text));
}

/// Compares `text` with `checker/tests/golden/NAME.snap`.
fn record(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("checker/tests/golden"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

/// Redaction markers are keyed per run, and the build (commit, time) per binary: the golden
/// files hold their shape.
fn stable(text: &str) -> String {
    let text = regex::Regex::new(r"<redacted hmac:[0-9a-f]{12}>")
        .expect("re")
        .replace_all(text, "<redacted hmac:…>");
    let text = regex::Regex::new(r#""build":\s*\{[^}]*\}"#)
        .expect("re")
        .replace_all(&text, r#""build": "<this binary>""#)
        .into_owned();
    // history.jsonl names the binary as `"checker":{"version":…,"commit":…}`.
    let text = regex::Regex::new(r#""checker":\{"version":"[^"]*","commit":"[^"]*"\}"#)
        .expect("re")
        .replace_all(&text, r#""checker":"<this binary>""#);
    // A history record names the binary's commit (`checker`), as its page does.
    let text = regex::Regex::new(r#""commit":\s*"[^"]*""#)
        .expect("re")
        .replace_all(&text, r#""commit": "<this binary>""#);
    regex::Regex::new(r#"<span class="commit">[^<]*</span>"#)
        .expect("re")
        .replace_all(&text, r#"<span class="commit">&lt;this binary&gt;</span>"#)
        .into_owned()
}

const FORMATS: [&str; 4] = ["human", "json", "junit", "markdown"];
/// The formats of reports, diffs and cull plans: [`FORMATS`] and the page.
const WITH_HTML: [&str; 5] = ["human", "json", "junit", "markdown", "html"];
const WM: &str = "examples/firefox-ci-2021/fleet.json";
const WM_NOW: &str = "2026-06-01T12:00:00Z";

/// The subcommands `checker <path> --help` lists, read from its `Commands:` section.
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let help = checker(&args).stdout;
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description's continuation lines are indented further than the names.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every command's `--help`, found by walking the command tree (a new command is guarded
/// without a list to edit).
#[test]
fn help_of_every_command() {
    golden("help", &["--help"], None);
    let mut todo: Vec<Vec<String>> = subcommands(&[]).into_iter().map(|c| vec![c]).collect();
    assert!(todo.len() >= 14, "the command list was not read: {todo:?}");
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut with_help = args.clone();
        with_help.push("--help");
        golden(&format!("help-{}", path.join("-")), &with_help, None);
        for sub in subcommands(&args) {
            let mut deeper = path.clone();
            deeper.push(sub);
            todo.push(deeper);
        }
    }
}

#[test]
fn contract_tests_in_every_format() {
    for f in FORMATS {
        golden(&format!("test-{f}"), &["test", "--format", f], None);
    }
}

#[test]
fn validate() {
    golden("validate-default", &["validate"], None);
    golden(
        "validate-2018",
        &[
            "validate",
            "--contracts",
            "examples/taskcluster-2018/provider-after",
            "--contracts",
            "examples/taskcluster-2018/consumers-prefix",
        ],
        None,
    );
    golden(
        "validate-bad",
        &[
            "validate",
            "--contracts",
            "tests/fixtures/gate/pool-reserved.json",
        ],
        None,
    );
}

#[test]
fn check_in_every_format() {
    for f in FORMATS {
        golden(
            &format!("check-worker-manager-{f}"),
            &["check", "--fleet", WM, "--now", WM_NOW, "--format", f],
            None,
        );
        golden(
            &format!("check-2018-after-prefix-{f}"),
            &[
                "check",
                "--contracts",
                &format!("{R}/provider-after"),
                "--contracts",
                &format!("{R}/consumers-prefix"),
                "--fleet",
                &format!("{R}/fleet-2018-02-14.json"),
                "--now",
                NOW,
                "--format",
                f,
            ],
            None,
        );
    }
    golden(
        "check-2018-before-prefix-human",
        &[
            "check",
            "--contracts",
            &format!("{R}/provider-before"),
            "--contracts",
            &format!("{R}/consumers-prefix"),
            "--fleet",
            &format!("{R}/fleet-2018-02-12.json"),
            "--now",
            NOW,
        ],
        None,
    );
}

#[test]
fn explain_instance_clause_and_unknown() {
    let base = [
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--now",
        NOW,
    ];
    for (name, id) in [
        ("explain-instance", "i-00a8aa3a735753466"),
        ("explain-clause", "occ-prefix-worker-type-known"),
        ("explain-unknown", "occ-prefix-worker-type-knwon"),
        ("explain-missing-instance", "i-0000000000000000"),
    ] {
        let mut a = vec!["explain", id];
        a.extend(base);
        golden(name, &a, None);
    }
}

#[test]
fn rules_in_every_format() {
    for f in FORMATS {
        golden(&format!("rules-{f}"), &["rules", "--format", f], None);
    }
}

#[test]
fn gate_in_every_format() {
    for f in WITH_HTML {
        golden(
            &format!("gate-2018-universal-key-{f}"),
            &[
                "gate",
                "--contracts",
                &format!("{R}/consumers-prefix"),
                "--base",
                &format!("{R}/provider-before/ec2-manager.json"),
                "--proposed",
                &format!("{R}/provider-after/ec2-manager.json"),
                "--now",
                NOW,
                "--format",
                f,
            ],
            None,
        );
    }
    golden(
        "gate-nothing-proposed",
        &["gate", "--contracts", "contracts"],
        None,
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn gate_pools_in_every_format() {
    tc_schemas();
    for f in FORMATS {
        golden(
            &format!("gate-pools-{f}"),
            &[
                "gate",
                "--pools",
                "examples/firefox-ci-2021/pools",
                "--taskcluster-schemas",
                "../shared/taskcluster-schemas",
                "--now",
                WM_NOW,
                "--format",
                f,
            ],
            None,
        );
    }
}

#[test]
fn snapshot_of_both_examples() {
    golden(
        "snapshot-worker-manager",
        &["snapshot", "--fleet", WM],
        None,
    );
    golden(
        "snapshot-2018",
        &[
            "snapshot",
            "--contracts",
            &format!("{R}/provider-before"),
            "--contracts",
            &format!("{R}/consumers-prefix"),
            "--fleet",
            &format!("{R}/fleet-2018-02-12.json"),
        ],
        None,
    );
}

#[test]
fn diff_in_every_format() {
    for f in WITH_HTML {
        golden(
            &format!("diff-2018-{f}"),
            &[
                "diff",
                "--snapshot",
                "snapshots/taskcluster-2018-02-12.json",
                "--contracts",
                &format!("{R}/provider-after"),
                "--contracts",
                &format!("{R}/consumers-prefix"),
                "--fleet",
                &format!("{R}/fleet-2018-02-14.json"),
                "--now",
                NOW,
                "--format",
                f,
            ],
            None,
        );
    }
    golden(
        "diff-worker-manager-human",
        &[
            "diff",
            "--snapshot",
            "snapshots/firefox-ci-2021.json",
            "--fleet",
            WM,
            "--now",
            WM_NOW,
        ],
        None,
    );
    golden(
        "diff-missing-snapshot",
        &["diff", "--snapshot", "snapshots/nope.json", "--fleet", WM],
        None,
    );
}

fn cull_args<'a>(consumers: &'a str, f: &'a str) -> Vec<&'a str> {
    vec![
        "cull",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        consumers,
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--status",
        "examples/taskcluster-2018/status-2018-02-14.json",
        "--now",
        NOW,
        "--format",
        f,
    ]
}

#[test]
fn cull_in_every_format() {
    for f in WITH_HTML {
        golden(
            &format!("cull-postfix-{f}"),
            &cull_args("examples/taskcluster-2018/consumers-postfix", f),
            None,
        );
    }
    for f in ["human", "html"] {
        golden(
            &format!("cull-prefix-refused-{f}"),
            &cull_args("examples/taskcluster-2018/consumers-prefix", f),
            None,
        );
    }
}

#[test]
fn hook_writes_its_artifacts() {
    for consumers in ["postfix", "prefix"] {
        let dir = tempfile::tempdir().expect("tmp");
        let art = dir.path().join("artifacts");
        let c = format!("{R}/consumers-{consumers}");
        let a = [
            "hook",
            "--contracts",
            "examples/taskcluster-2018/provider-after",
            "--contracts",
            &c,
            "--fleet",
            "examples/taskcluster-2018/fleet-2018-02-14.json",
            "--status",
            "examples/taskcluster-2018/status-2018-02-14.json",
            "--snapshot",
            "snapshots/taskcluster-2018-02-12.json",
            "--now",
            NOW,
            "--artifacts",
            art.to_str().expect("utf8"),
        ];
        golden(&format!("hook-{consumers}"), &a, Some(dir.path()));
        let mut names: Vec<_> = std::fs::read_dir(&art)
            .expect("artifacts")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        names.sort();
        let mut all = String::new();
        for n in names {
            let body = std::fs::read_to_string(art.join(&n)).expect("read");
            all.push_str(&format!("===== {n} =====\n{body}\n"));
        }
        let all = stable(&all.replace(dir.path().to_str().expect("utf8"), "$TMP"));
        record(&format!("hook-{consumers}-artifacts"), &all);
    }
}

/// The 2018 gate's report.json, written to `dir`.
pub(crate) fn gate_2018_report(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("report.json");
    let r = checker(&[
        "gate",
        "--contracts",
        &format!("{R}/consumers-prefix"),
        "--base",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--proposed",
        &format!("{R}/provider-after/ec2-manager.json"),
        "--now",
        NOW,
        "--format",
        "json",
        "--output",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    out
}

#[test]
fn graph_of_the_2018_gate_as_mermaid_and_dot() {
    let dir = tempfile::tempdir().expect("tmp");
    let report = gate_2018_report(dir.path());
    let report = report.to_str().expect("utf8");
    golden(
        "graph-2018-gate-blast-radius-mermaid",
        &["graph", report, "--blast-radius"],
        Some(dir.path()),
    );
    golden(
        "graph-2018-gate-mermaid",
        &["graph", report, "--format", "mermaid"],
        Some(dir.path()),
    );
    golden(
        "graph-2018-gate-dot",
        &["graph", report, "--format", "dot"],
        Some(dir.path()),
    );
    golden(
        "graph-2018-gate-svg",
        &["graph", report, "--format", "svg"],
        Some(dir.path()),
    );
}

/// The 2018 fleets through `checker hook` three times, each run carrying the history forward:
/// the day before the change (one warning), the day of it, and ten minutes later. Returns the
/// last run's artifacts directory.
pub(crate) fn three_hook_runs(dir: &std::path::Path) -> std::path::PathBuf {
    let runs = [
        (
            "provider-before",
            "fleet-2018-02-12.json",
            "2018-02-12T12:00:00Z",
        ),
        (
            "provider-after",
            "fleet-2018-02-14.json",
            "2018-02-14T12:00:00Z",
        ),
        (
            "provider-after",
            "fleet-2018-02-14.json",
            "2018-02-14T12:10:00Z",
        ),
    ];
    let mut prev: Option<std::path::PathBuf> = None;
    for (i, (provider, fleet, now)) in runs.iter().enumerate() {
        let art = dir.join(format!("run{}", i + 1));
        let (p, f) = (format!("{R}/{provider}"), format!("{R}/{fleet}"));
        let mut a = vec![
            "hook",
            "--contracts",
            &p,
            "--contracts",
            "examples/taskcluster-2018/consumers-prefix",
            "--fleet",
            &f,
            "--no-cull",
            "--now",
            *now,
            "--artifacts",
            art.to_str().expect("utf8"),
        ];
        let from = prev.as_ref().map(|p| p.to_str().expect("utf8").to_string());
        if let Some(from) = &from {
            a.extend(["--history-from", from.as_str()]);
        }
        let r = checker(&a);
        assert_eq!(r.code, if i == 0 { 0 } else { 1 }, "{}", r.stderr);
        prev = Some(art);
    }
    prev.expect("three runs")
}

#[test]
fn history_of_three_hook_runs_in_every_format() {
    let dir = tempfile::tempdir().expect("tmp");
    let art = three_hook_runs(dir.path());
    let h = art.to_str().expect("utf8");
    for f in ["human", "json", "html"] {
        golden(
            &format!("history-2018-{f}"),
            &["history", h, "--format", f],
            Some(dir.path()),
        );
    }
}
