//! `checker graph`'s Mermaid read by Mermaid itself (issue 27): a copy of the mermaid package,
//! fetched from the npm registry at test time with `npm pack` (never vendored: it is 5.5 MB),
//! draws each graph in Debian's `chromium-headless-shell`; a syntax error makes `mermaid.run`
//! fail, and each edge written must be an edge drawn. `#[ignore = "needs ..."]`: `.ci/run`
//! installs npm and the browser.

use crate::golden::gate_2018_report;
use crate::html::rendered;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Mermaid release the test draws with (npm's latest on 2026-12-06).
const MERMAID: &str = "12.4.0";

/// `dist/mermaid.min.js` of [`MERMAID`], fetched once per machine into the temporary directory.
fn mermaid_js() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("checker-test-mermaid-{MERMAID}"));
    let js = dir.join("package/dist/mermaid.min.js");
    if js.exists() {
        return js;
    }
    std::fs::create_dir_all(&dir).expect("a cache directory");
    let pack = Command::new("npm")
        .args(["pack", &format!("mermaid@{MERMAID}"), "--silent"])
        .arg("--pack-destination")
        .arg(&dir)
        .output();
    let pack = pack.unwrap_or_else(|e| {
        panic!("this test needs npm (apt-get install npm; .ci/run does) and the npm registry: {e}")
    });
    assert!(
        pack.status.success(),
        "npm pack mermaid@{MERMAID} failed (the test needs the npm registry): {}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let tgz = dir.join(format!("mermaid-{MERMAID}.tgz"));
    let tar = Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&dir)
        .arg("package/dist/mermaid.min.js")
        .status()
        .expect("tar");
    assert!(
        tar.success() && js.exists(),
        "cannot unpack {}",
        tgz.display()
    );
    js
}

/// Mermaid's verdict on `graph` (`done` or `error: ...`) and the edges it drew.
fn draw(graph: &str, js: &Path, dir: &Path) -> (String, usize) {
    let escaped = graph
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!DOCTYPE html><html><body><pre class=\"mermaid\">{escaped}</pre>\
         <script src=\"file://{}\"></script><script>mermaid.initialize({{startOnLoad:false}});\
         mermaid.run({{querySelector:'.mermaid'}}).then(function(){{document.body.setAttribute('data-mermaid','done')}},\
         function(e){{document.body.setAttribute('data-mermaid','error: '+((e&&e.message)||e))}});</script></body></html>",
        js.display()
    );
    let dom = rendered(&page, dir, "");
    let verdict = regex::Regex::new(r#"data-mermaid="([^"]*)""#)
        .expect("re")
        .captures(&dom)
        .map_or_else(
            || "no verdict (the script did not finish)".into(),
            |c| c[1].to_string(),
        );
    (verdict, dom.matches("flowchart-link\"").count())
}

#[test]
#[ignore = "needs chromium-headless-shell and npm with the npm registry (apt-get install chromium-headless-shell npm): run with -- --include-ignored"]
fn mermaid_parses_and_draws_every_edge_of_the_graph_and_its_blast_radius() {
    let js = mermaid_js();
    let dir = tempfile::tempdir().expect("tmp");
    let report = gate_2018_report(dir.path());
    let report = report.to_str().expect("utf8");
    for args in [
        vec!["graph", report],
        vec!["graph", report, "--blast-radius"],
    ] {
        let run = checker(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let written = run.stdout.lines().filter(|l| l.contains("-->")).count();
        assert!(written > 0, "{}", run.stdout);
        let (verdict, drawn) = draw(&run.stdout, &js, dir.path());
        assert_eq!(
            verdict, "done",
            "{:?}: Mermaid refused:\n{}",
            args, run.stdout
        );
        assert_eq!(drawn, written, "{args:?}");
    }
    // The check: a syntax error is caught, so "done" means Mermaid read it.
    let (verdict, _) = draw("flowchart LR\n  a -->|\"x| b\n", &js, dir.path());
    assert!(verdict.starts_with("error"), "{verdict}");
}
