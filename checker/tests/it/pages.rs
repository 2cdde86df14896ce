//! The other documents as pages (issue 27): `checker history` (a table, JSON, the consumer x
//! run strip), the diff's drift grid and the cull plan's decisions and refusals as HTML, and
//! the hook writing them as artifacts. The browser tests render them in Debian's
//! `chromium-headless-shell` (`--dump-dom`) and are `#[ignore = "needs ..."]` like html.rs's.

use crate::golden::three_hook_runs;
use crate::html::rendered;
use crate::support::*;
use checker::render::{self, Format};
use serde_json::Value;

const HOSTILE: &str = "<script>alert(1)</script></svg>";

fn history(dir: &std::path::Path, format: &str) -> Run {
    let art = three_hook_runs(dir);
    checker(&["history", art.to_str().expect("utf8"), "--format", format])
}

#[test]
fn checker_history_shows_each_run_a_strip_per_consumer_and_since_when_a_finding_is_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = history(dir.path(), "human");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("(3 runs, 2018-02-12T12:00:00Z to 2018-02-14T12:10:00Z)"),
        "{out}"
    );
    // A row per run: exit 0 the day before the change, 1 after it.
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("  2018-02-1")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[0].split_whitespace().nth(2) == Some("0"),
        "{}",
        rows[0]
    );
    assert!(
        rows[2].split_whitespace().nth(2) == Some("1"),
        "{}",
        rows[2]
    );
    // OCC's strip: clean, then broken twice; generic-worker's warning all along.
    let strip = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no strip for {name}:\n{out}"))
            .split_whitespace()
            .last()
            .expect("strip")
            .to_string()
    };
    assert_eq!(strip("occ"), "✓✗✗");
    assert_eq!(strip("generic-worker"), "!!!");
    // Since when: OCC's broken clause since the change; the warning since the history began.
    assert!(
        out.contains("✗ error occ/occ-prefix-worker-type-known (clause-violated) ×33: open since 2018-02-14T12:00:00Z (2 runs)"),
        "{out}"
    );
    assert!(
        out.contains("generic-worker/gw-prefix-reads-workermodified (clause-violated) ×33: open since at least 2018-02-12T12:00:00Z (3 runs; the history starts there)"),
        "{out}"
    );
}

#[test]
fn checker_history_json_is_the_view_and_valid_against_its_published_schema() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = history(dir.path(), "json");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).expect("json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/schema/checker-history-view.schema.json"))
            .expect("the published schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(v["format"], "checker-history-view");
    assert_eq!(v["records"].as_array().expect("records").len(), 3);
    let occ = v["open"]
        .as_array()
        .expect("open")
        .iter()
        .find(|o| o["clause"] == "occ-prefix-worker-type-known")
        .expect("OCC's broken clause is open");
    assert_eq!(occ["since"], "2018-02-14T12:00:00Z");
    assert_eq!(
        (occ["runs"].as_u64(), occ["atLeast"].as_bool()),
        (Some(2), Some(false))
    );
}

#[test]
fn checker_history_refuses_a_missing_or_recordless_file_and_skips_bad_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = checker(&["history", dir.path().to_str().expect("utf8")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("history.jsonl") && run.stderr.contains("cannot read the history"),
        "{}",
        run.stderr
    );
    let bad = write(dir.path(), "bad.jsonl", "{not json\n");
    let run = checker(&["history", bad.to_str().expect("utf8")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no line is a checker-history 1 record (line 1:"),
        "{}",
        run.stderr
    );
    // Good lines are shown; a bad one is named on stderr.
    let art = three_hook_runs(dir.path());
    let good = std::fs::read_to_string(art.join("history.jsonl")).expect("history");
    let mixed = write(dir.path(), "mixed.jsonl", &format!("{good}garbage\n"));
    let run = checker(&["history", mixed.to_str().expect("utf8")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("line 4:") && run.stderr.contains("the line is skipped"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("3 runs"), "{}", run.stdout);
}

fn diff_2018_html() -> String {
    let run = checker(&[
        "diff",
        "--snapshot",
        "snapshots/taskcluster-2018-02-12.json",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--now",
        NOW,
        "--format",
        "html",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    run.stdout
}

/// The drift grid's cells, row by row: (group, [class of each cell]).
fn grid(page: &str) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let grid = &page[page.find("<table class=\"grid\">").expect("a grid")..];
    let grid = &grid[..grid.find("</table>").expect("its end")];
    let head = &grid[..grid.find("</thead>").expect("head")];
    let cols = regex::Regex::new(r#"<th scope="col"><code>([^<]*)</code>"#).expect("re");
    let cols = cols.captures_iter(head).map(|c| c[1].to_string()).collect();
    let row = regex::Regex::new(r#"<tr><th scope="row"><code>([^<]*)</code></th>(.*?)</tr>"#)
        .expect("re");
    let cell = regex::Regex::new(r#"<td class="([^"]*)""#).expect("re");
    let rows = row
        .captures_iter(grid)
        .map(|r| {
            let cells = cell
                .captures_iter(&r[2])
                .map(|c| c[1].to_string())
                .collect();
            (r[1].to_string(), cells)
        })
        .collect();
    (cols, rows)
}

#[test]
fn the_diff_page_draws_the_drift_grid_with_the_key_name_column_broken() {
    let page = diff_2018_html();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<title>checker diff: breaking</title>"));
    for bad in ["src=", "<link", "@import", "url(", "href=\"http", "<script"] {
        assert!(!page.contains(bad), "{bad} in the page");
    }
    let (cols, rows) = grid(&page);
    let key = cols
        .iter()
        .position(|c| c == "KeyName")
        .expect("a KeyName column");
    assert!(rows.len() >= 3, "{rows:?}");
    for (group, cells) in &rows {
        assert_eq!(cells.len(), cols.len(), "{group}");
        assert_eq!(cells[key], "breaks", "{group}: {cells:?}");
    }
    // Every change is one cell, and the changes table lists each.
    let n: usize = rows
        .iter()
        .map(|(_, c)| c.iter().filter(|x| *x != "muted").count())
        .sum();
    let changes = &page[page.find("id=\"changes\"").expect("the changes")..];
    assert_eq!(n, changes.matches("<tr class=").count());
}

#[test]
fn the_cull_page_puts_the_refusal_first_and_lists_each_decision() {
    let args = |consumers: &str| {
        checker(&[
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
            "html",
        ])
    };
    let refused = args("examples/taskcluster-2018/consumers-prefix");
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let page = &refused.stdout;
    assert!(
        page.contains("<title>checker cull (dry run): refused</title>"),
        "{page}"
    );
    let refusal = page.find("id=\"refusal\"").expect("the refusal");
    assert!(refusal < page.find("id=\"decisions\"").expect("the decisions"));
    assert!(page.contains("(broken-contract)") && page.contains("cull-prefix-key-format"));
    assert!(page.matches("<tr class=\"held\">").count() > 0);
    let ok = args("examples/taskcluster-2018/consumers-postfix");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(!ok.stdout.contains("id=\"refusal\""));
    assert!(
        ok.stdout.matches("<tr class=\"act\">").count() > 0,
        "{}",
        ok.stdout
    );
}

#[test]
fn the_hook_writes_the_diff_plan_and_history_pages_beside_their_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let art = dir.path().join("art");
    let run = checker(&[
        "hook",
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
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
    ]);
    assert!(run.code <= 1, "{}", run.stderr);
    for (page, title) in [
        ("report.html", "<title>checker hook:"),
        ("diff.html", "<title>checker diff:"),
        ("cull-plan.html", "<title>checker cull (dry run):"),
        ("history.html", "<title>checker history: 1 run, newest"),
    ] {
        let text =
            std::fs::read_to_string(art.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with("<!DOCTYPE html>") && text.contains(title),
            "{page}"
        );
    }
    // Three runs: the third's page strips all three.
    let last = three_hook_runs(&dir.path().join("three"));
    let page = std::fs::read_to_string(last.join("history.html")).expect("history.html");
    assert!(page.contains(" x 3 run(s)</caption>"), "{page}");
}

/// The hostile documents of escaping.rs, as pages.
fn hostile_pages() -> Vec<(&'static str, String)> {
    use crate::escaping::{diff_with, history_with, plan_with};
    let ok = |x: checker::Result<String>| x.expect("renders");
    vec![
        (
            "diff",
            ok(render::diff(&diff_with(HOSTILE), Format::Html, false)),
        ),
        ("plan", ok(render::plan(&plan_with(HOSTILE), Format::Html))),
        (
            "history",
            ok(render::history(&history_with(HOSTILE), Format::Html)),
        ),
    ]
}

#[test]
#[ignore = "needs chromium-headless-shell (apt-get install chromium-headless-shell): run with -- --include-ignored"]
fn a_browser_renders_the_grid_the_plan_and_the_strip_with_hostile_values_as_text() {
    let dir = tempfile::tempdir().expect("tmp");
    // The diff's grid as the browser built it: KeyName broken in every group.
    let dom = rendered(&diff_2018_html(), dir.path(), "");
    let (cols, rows) = grid(&dom);
    let key = cols
        .iter()
        .position(|c| c == "KeyName")
        .expect("a KeyName column");
    assert!(
        rows.len() >= 3 && rows.iter().all(|(_, c)| c[key] == "breaks"),
        "{rows:?}"
    );
    // The history strip: OCC clean, then broken twice.
    let hist = history(dir.path(), "html");
    assert_eq!(hist.code, 0, "{}", hist.stderr);
    let dom = rendered(&hist.stdout, dir.path(), "");
    let occ = regex::Regex::new(r#"<tr><th scope="row">occ</th>(.*?)</tr>"#).expect("re");
    let row = &occ.captures(&dom).expect("OCC's strip")[1];
    let classes: Vec<&str> = regex::Regex::new(r#"<td class="([^"]*)""#)
        .expect("re")
        .captures_iter(row)
        .map(|c| c.get(1).expect("class").as_str())
        .collect();
    assert_eq!(classes, ["clean", "errors", "errors"], "{row}");
    // Hostile values are text: no element comes from them. A probe appended to the page counts
    // the scripts (its own only) and SVG elements (none) the browser built.
    let probe = "<script>document.body.setAttribute('data-probe',document.scripts.length+','+document.querySelectorAll('svg').length)</script>";
    let counts = regex::Regex::new(r#"data-probe="(\d+,\d+)""#).expect("re");
    for (name, page) in hostile_pages() {
        let dom = rendered(&format!("{page}{probe}"), dir.path(), "");
        let found = counts.captures(&dom).map(|c| c[1].to_string());
        assert_eq!(found.as_deref(), Some("1,0"), "{name}: {dom}");
        assert!(
            dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;/svg&gt;"),
            "{name}: {dom}"
        );
    }
}

#[test]
fn the_gate_page_of_a_real_pool_without_worker_type_draws_one_broken_edge_to_occ() {
    // Firefox CI's gecko-t/t-win10-64 (fxci-config bc1924d6) with additionalUserData.workerType
    // dropped from its 13 launch configurations: the README's screenshot.
    let run = checker(&[
        "gate",
        "--contracts",
        "contracts",
        "--pools",
        "examples/firefox-ci-2021/mutations/gecko-t--t-win10-64-no-worker-type.json",
        "--now",
        "2026-12-06T12:00:00Z",
        "--format",
        "html",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let page = &run.stdout;
    assert!(page.contains("<title>checker gate: not deployable (violations)</title>"));
    let broken: Vec<&str> = page
        .match_indices("<g class=\"edge broken\"")
        .map(|(i, _)| &page[i..i + 120])
        .collect();
    assert!(!broken.is_empty());
    for e in &broken {
        assert!(
            e.contains("<title>✗ broken: occ reads userData.workerType (clause "),
            "{e}"
        );
    }
}
