use super::*;
use serde_json::json;

fn clause(
    id: &str,
    failed: usize,
    unknown: usize,
    waived: usize,
    reads: &[&str],
) -> serde_json::Value {
    json!({"id": id, "kind": "matches", "passed": 1, "failed": failed, "unknown": unknown,
           "waived": waived, "reads": reads})
}

/// A gate report: the provider promises KeyName and tag:Owner; occ reads KeyName twice (one
/// clause broken, one holding), culling reads KeyName (broken) and tag:Name (unknown), gw reads
/// tag:Owner (waived); the proposal changes KeyName.
fn report(minor: u32) -> serde_json::Value {
    json!({
        "format": "checker-report", "version": 1, "minorVersion": minor,
        "consumers": [
            {"name": "ec2-manager", "role": "provider", "clauses": [
                clause("ec2-manager/KeyName", 0, 0, 0, &["KeyName"]),
                clause("ec2-manager/tag:Owner", 0, 0, 0, &["tag:Owner"])]},
            {"name": "gw", "role": "consumer", "owner": "tc", "clauses": [
                clause("gw-owner", 1, 0, 1, &["tag:Owner"])]},
            {"name": "occ", "role": "consumer", "clauses": [
                clause("occ-known", 3, 0, 0, &["KeyName"]),
                clause("occ-format", 0, 0, 0, &["KeyName"])]},
            {"name": "culling", "role": "consumer", "clauses": [
                clause("cull-key", 2, 1, 0, &["KeyName", "tag:Name"]),
                clause("cull-name", 0, 4, 0, &["tag:Name"])]}
        ],
        "gate": {"verdicts": [{"consumer": "occ", "deployable": "no"}],
                 "changes": [{"kind": "changed", "output": "KeyName"},
                             {"kind": "added", "output": "set:pools"}]}
    })
}

fn names(g: &Graph) -> (Vec<&str>, Vec<&str>) {
    (
        g.outputs.iter().map(|o| o.path.as_str()).collect(),
        g.consumers.iter().map(|c| c.name.as_str()).collect(),
    )
}

#[test]
fn one_edge_per_clause_and_output_read_with_its_outcome_changed_outputs_and_broken_edges_first() {
    let g = Graph::from_json(&report(6)).expect("reads");
    let (outs, cons) = names(&g);
    // KeyName changed: first; then the others, worst edge first, by name.
    assert_eq!(outs, ["KeyName", "tag:Name", "tag:Owner"]);
    // Consumers at the mean row of what they read: occ 0, culling (0+1+1)/3, gw 2.
    assert_eq!(cons, ["occ", "culling", "gw"]);
    assert_eq!(g.outputs[0].change.as_deref(), Some("changed"));
    assert_eq!(g.outputs[0].providers, ["ec2-manager"]);
    assert!(g.outputs[1].providers.is_empty());
    assert_eq!(g.consumers[0].deployable.as_deref(), Some("no"));
    let edges: Vec<(&str, &str, &str, EdgeOutcome)> = g
        .edges
        .iter()
        .map(|e| {
            (
                g.outputs[e.output].path.as_str(),
                g.consumers[e.consumer].name.as_str(),
                e.clause.as_str(),
                e.outcome,
            )
        })
        .collect();
    use EdgeOutcome::*;
    assert_eq!(
        edges,
        [
            ("KeyName", "occ", "occ-known", Broken),
            ("KeyName", "culling", "cull-key", Broken),
            ("tag:Name", "culling", "cull-key", Broken),
            ("tag:Owner", "gw", "gw-owner", Broken),
            ("tag:Name", "culling", "cull-name", Unknown),
            ("KeyName", "occ", "occ-format", Holds),
        ]
    );
    assert!(g.gate);
    assert_eq!(
        g.counts(),
        [(Broken, 4), (Unknown, 1), (Waived, 0), (Holds, 1)]
    );
}

#[test]
fn the_blast_radius_keeps_the_changed_outputs_their_edges_and_the_consumers_they_reach() {
    let g = Graph::from_json(&report(6)).expect("reads").blast_radius();
    let (outs, cons) = names(&g);
    assert_eq!(outs, ["KeyName"]);
    assert_eq!(cons, ["occ", "culling"]);
    assert_eq!(g.edges.len(), 3);
    assert!(g.edges.iter().all(|e| e.output == 0 && e.consumer < 2));
    // Without a change (a check), the outputs with a broken or unknown edge.
    let mut r = report(6);
    r["gate"] = serde_json::Value::Null;
    let g = Graph::from_json(&r).expect("reads");
    assert!(!g.gate);
    let b = g.blast_radius();
    assert_eq!(names(&b).0, ["KeyName", "tag:Name", "tag:Owner"]);
    let mut r = report(6);
    r["consumers"][1]["clauses"][0]["failed"] = json!(0);
    r["gate"] = serde_json::Value::Null;
    let b = Graph::from_json(&r).expect("reads").blast_radius();
    assert_eq!(
        names(&b).0,
        ["KeyName", "tag:Name"],
        "a waived-only output is no blast"
    );
}

#[test]
fn a_report_without_reads_or_another_document_is_refused_and_says_why() {
    let e = Graph::from_json(&report(5)).expect_err("1.5 has no reads");
    assert!(e.to_string().contains("checker-report 1.5"), "{e}");
    let mut r = report(6);
    r["format"] = json!("checker-diff");
    let e = Graph::from_json(&r).expect_err("a diff");
    assert!(e.to_string().contains("checker-diff"), "{e}");
    let e = Graph::from_json(&json!({"x": 1})).expect_err("not a report");
    assert!(e.to_string().contains("not a checker report"), "{e}");
}

fn hostile() -> Graph {
    let v = "</svg><script>alert(1)</script>\"'&\\N\n]|";
    let mut r = report(6);
    r["consumers"][2]["name"] = json!(v);
    r["consumers"][2]["clauses"][0]["id"] = json!(v);
    r["consumers"][2]["clauses"][0]["reads"] = json!([v]);
    Graph::from_json(&r).expect("reads")
}

#[test]
fn the_svg_draws_every_edge_with_its_class_and_keeps_values_text() {
    let g = Graph::from_json(&report(6)).expect("reads");
    let s = svg(&g, "g");
    assert_eq!(s.matches("<g class=\"edge broken\"").count(), 4);
    assert_eq!(s.matches("<g class=\"edge unknown\"").count(), 1);
    assert_eq!(s.matches("<g class=\"edge holds\"").count(), 1);
    assert_eq!(s.matches("<g class=\"node output").count(), 3);
    assert!(s.contains("class=\"node output broken changed\""));
    assert!(s.contains("Δ KeyName"));
    let s = svg(&hostile(), "g");
    assert_eq!(s.matches("</svg>").count(), 1, "{s}");
    assert!(s.ends_with("</svg>"));
    assert!(!s.contains("<script"));
    assert!(s.contains("&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
    assert!(!s.contains('\n'), "a newline in a value is shown as \\n");
}

#[test]
fn mermaid_and_dot_keep_values_inside_their_labels() {
    let g = hostile();
    let m = mermaid(&g);
    // The value's quote, brackets and pipe are entity codes: no label ends early.
    assert!(!m.contains("<script"), "{m}");
    assert!(
        m.contains("#60;/svg#62;#60;script#62;alert#40;1#41;"),
        "{m}"
    );
    for line in m.lines().filter(|l| l.contains("-->")) {
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
        assert!(line.matches('|').count() <= 2, "{line}");
    }
    let d = dot(&g);
    assert!(
        d.contains("</svg><script>alert(1)</script>\\\"'&\\\\N\\\\n]|"),
        "{d}"
    );
    assert_eq!(
        d.lines().filter(|l| l.contains(" -> ")).count(),
        g.edges.len()
    );
    let m = mermaid(&Graph::from_json(&report(6)).expect("reads"));
    assert!(
        m.contains("linkStyle 0,1,2,3 stroke:#c62828,stroke-width:3px"),
        "{m}"
    );
    assert!(m.contains("class o0 changed"), "{m}");
}

#[test]
fn a_gate_page_draws_the_blast_radius_and_every_edge_that_does_not_hold() {
    let mut r = report(6);
    // One more consumer, reading tag:Owner only and holding: nothing of it is drawn.
    r["consumers"]
        .as_array_mut()
        .expect("consumers")
        .push(json!({"name": "hk", "role": "consumer", "clauses": [
            clause("hk-owner", 0, 0, 0, &["tag:Owner"])]}));
    let g = Graph::from_json(&r).expect("reads");
    let f = g.focus();
    let (outs, cons) = names(&f);
    assert_eq!(outs, ["KeyName", "tag:Name", "tag:Owner"]);
    assert_eq!(cons, ["occ", "culling", "gw"]);
    let edges: Vec<(&str, &str, &str)> = f
        .edges
        .iter()
        .map(|e| {
            (
                f.outputs[e.output].path.as_str(),
                f.consumers[e.consumer].name.as_str(),
                e.clause.as_str(),
            )
        })
        .collect();
    // KeyName changed: all its edges, the holding one too; elsewhere only what does not hold.
    assert!(
        edges.contains(&("KeyName", "occ", "occ-format")),
        "{edges:?}"
    );
    assert!(
        edges.contains(&("tag:Owner", "gw", "gw-owner")),
        "{edges:?}"
    );
    assert!(!edges.iter().any(|e| e.2 == "hk-owner"), "{edges:?}");
    assert_eq!(f.edges.len(), g.edges.len() - 1);
    // The whole graph has the holding consumer; the blast radius is KeyName's edges alone.
    assert!(g.consumers.iter().any(|c| c.name == "hk"));
    assert!(g.blast_radius().edges.iter().all(|e| e.output == 0));
}
