//! The shape of the code, kept: no source file over 700 lines, no function over 100, no cycle
//! between the library's modules, and the library never reaching into the binary (`cmd`).

use crate::support::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in ["checker/src", "checker/tests", "checker-ec2/src"] {
        rust_files(&root().join(d), &mut out);
    }
    out.sort();
    out
}

/// The code of a file without its comments (line comments only: the code base uses no block
/// comments) and without its unit-test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_source_file_is_over_700_lines() {
    for f in sources() {
        let n = std::fs::read_to_string(&f).expect("read").lines().count();
        assert!(n <= 700, "{} has {n} lines: split it", f.display());
    }
}

#[test]
fn no_function_is_over_100_lines() {
    let start = regex::Regex::new(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn (\w+)").expect("re");
    for f in sources() {
        let text = std::fs::read_to_string(&f).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let Some(c) = start.captures(l) else { continue };
            if l.trim_end().ends_with(';') {
                continue; // a trait method's declaration
            }
            let indent = c[1].len();
            let end = lines[i + 1..]
                .iter()
                .position(|x| x.starts_with(&format!("{}}}", " ".repeat(indent))))
                .map_or(0, |k| k + 2);
            assert!(
                end <= 100,
                "{}:{}: fn {} is {end} lines: split it",
                f.display(),
                i + 1,
                &c[5]
            );
        }
    }
}

/// The library's top-level modules and the ones each refers to by `crate::` path.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let refs = regex::Regex::new(r"crate::(\w+)").expect("re");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (top, text) in library_files() {
        if top == "main" || top == "lib" || top == "cmd" {
            continue;
        }
        let deps = graph.entry(top.clone()).or_default();
        for c in refs.captures_iter(&text) {
            if c[1] != *top {
                deps.insert(c[1].to_string());
            }
        }
    }
    graph
}

#[test]
fn the_library_has_no_module_cycle_and_never_uses_the_binary() {
    let graph = module_graph();
    for (m, deps) in &graph {
        assert!(!deps.contains("cmd"), "{m} uses the binary's cmd module");
    }
    // Depth-first search for a back edge.
    fn visit<'a>(
        m: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(k) = path.iter().position(|x| *x == m) {
            panic!("module cycle: {} -> {m}", path[k..].join(" -> "));
        }
        path.push(m);
        for d in g.get(m).into_iter().flatten() {
            if g.contains_key(d) {
                visit(d, g, path, done);
            }
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    assert!(graph.len() > 15, "the graph was read: {graph:?}");
}

/// The library's layers, lowest first (docs/architecture.md): a module uses modules of its own
/// layer or of lower ones, never of a higher one. Every top-level module is in exactly one.
const LAYERS: [(&str, &[&str]); 5] = [
    (
        "model",
        &[
            "build",
            "code",
            "exit",
            "diag",
            "jsondepth",
            "error",
            "fsio",
            "redact",
            "template",
            "output",
            "fleet",
            "clause",
            "contract",
            "load",
            "report",
        ],
    ),
    (
        "sources",
        &[
            "source",
            "accounts",
            "live",
            "cloud",
            "taskcluster",
            "tcschema",
            "proposal",
        ],
    ),
    ("evaluation", &["eval", "snapshot", "cull", "contract_test"]),
    ("report family", &["render", "schema", "rules", "history"]),
    ("commands", &["gate", "hook", "explain", "init"]),
];

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&m))
}

/// The edges of `graph` that go from a lower layer up to a higher one, in words.
fn upward_edges(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (m, deps) in graph {
        let Some(from) = layer_of(m) else { continue };
        for d in deps {
            if let Some(to) = layer_of(d)
                && to > from
            {
                out.push(format!(
                    "{m} ({}) uses {d} ({})",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
        }
    }
    out
}

#[test]
fn the_library_keeps_its_layer_order() {
    let graph = module_graph();
    let unplaced: Vec<&String> = graph.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "put these modules in a layer (LAYERS here, and docs/architecture.md): {unplaced:?}"
    );
    let up = upward_edges(&graph);
    assert!(
        up.is_empty(),
        "the layer order model -> sources -> evaluation -> report family -> commands is broken:\n{}",
        up.join("\n")
    );
    // The check itself: an edge from the sources up to evaluation is caught.
    let mut bad = BTreeMap::new();
    bad.insert("live".to_string(), BTreeSet::from(["eval".to_string()]));
    assert_eq!(
        upward_edges(&bad),
        ["live (sources) uses eval (evaluation)"]
    );
}

/// Modules whose code names `checker_ec2` (the EC2 adapter crate).
fn adapter_users() -> BTreeSet<String> {
    library_files()
        .into_iter()
        .filter(|(_, text)| text.contains("checker_ec2"))
        .map(|(top, _)| top)
        .collect()
}

/// Every file of the library, as (its top-level module, its code without comments).
fn library_files() -> Vec<(String, String)> {
    let src = root().join("checker/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("name")
                .trim_end_matches(".rs")
                .to_string();
            (top, code(&std::fs::read_to_string(&f).expect("read")))
        })
        .collect()
}

#[test]
fn nothing_above_the_sources_reaches_the_ec2_adapter() {
    // Culling plans and acts through the source seam (`source::Actor`); evaluation, the
    // reports and the commands never name the cloud. (The model may: EC2's field table, the
    // vocabulary its records are written in, is declared beside the adapter.) The binary
    // (`cmd`) builds the EC2 source and its options.
    let users = adapter_users();
    let above: Vec<&String> = users
        .iter()
        .filter(|m| layer_of(m).is_some_and(|l| l > 1))
        .collect();
    assert!(
        above.is_empty(),
        "these modules above the sources use checker_ec2 directly; go through crate::source instead: {above:?}"
    );
    assert!(users.contains("cloud"), "the scan was read: {users:?}");
    // The seam itself knows no cloud: a second one plugs in beside EC2, not into it.
    let seam = &module_graph()["source"];
    assert!(
        !users.contains("source") && !seam.contains("live") && !seam.contains("cloud"),
        "crate::source is the cloud-neutral seam; it uses {seam:?}"
    );
}
