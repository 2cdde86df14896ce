//! The graph as text another tool draws: Mermaid (GitHub check runs, Markdown) and Graphviz DOT.
//! Node ids are checker's own (`o0`, `c0`); every value is a quoted label, escaped for its
//! language, so a value can add no node, edge or directive.

use super::{EdgeOutcome, Graph};
use crate::render::escape::term;
use std::fmt::Write;

fn colour(o: EdgeOutcome) -> &'static str {
    match o {
        EdgeOutcome::Broken => "#c62828",
        EdgeOutcome::Unknown => "#ef6c00",
        EdgeOutcome::Waived => "#6a1b9a",
        EdgeOutcome::Holds => "#9e9e9e",
    }
}

/// A Mermaid label: every character but letters, digits, space and `.:_/-` as an entity code
/// (`#35;`), which Mermaid decodes and shows as text.
fn mm(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in term(s).chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ':' | '_' | '/' | '-') {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

fn output_label(g: &Graph, i: usize) -> String {
    let o = &g.outputs[i];
    match &o.change {
        Some(c) => format!("Δ {} ({c})", o.path),
        None => o.path.clone(),
    }
}

fn consumer_label(g: &Graph, i: usize) -> String {
    let c = &g.consumers[i];
    let mut l = format!("{} {}", c.worst.symbol(), c.name);
    if let Some(d) = &c.deployable {
        let _ = write!(l, " (deployable: {d})");
    }
    l
}

/// The graph as a Mermaid flowchart, left to right; edges that do not hold are labelled with
/// their outcome and clause, and styled per outcome (`linkStyle`).
pub fn mermaid(g: &Graph) -> String {
    let mut s = String::from("flowchart LR\n");
    let _ = writeln!(s, "  %% {}", term(&super::svg::describe(g)));
    s.push_str("  subgraph outputs\n");
    for i in 0..g.outputs.len() {
        let _ = writeln!(s, "    o{i}[\"{}\"]", mm(&output_label(g, i)));
    }
    s.push_str("  end\n  subgraph consumers\n");
    for i in 0..g.consumers.len() {
        let _ = writeln!(s, "    c{i}[\"{}\"]", mm(&consumer_label(g, i)));
    }
    s.push_str("  end\n");
    for e in &g.edges {
        if e.outcome == EdgeOutcome::Holds {
            let _ = writeln!(s, "  o{} --> c{}", e.output, e.consumer);
        } else {
            let label = format!("{} {}: {}", e.outcome.symbol(), e.outcome.name(), e.clause);
            let _ = writeln!(s, "  o{} -->|\"{}\"| c{}", e.output, mm(&label), e.consumer);
        }
    }
    for o in EdgeOutcome::ALL {
        let ids: Vec<String> = (0..g.edges.len())
            .filter(|&k| g.edges[k].outcome == o)
            .map(|k| k.to_string())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let style = match o {
            EdgeOutcome::Broken => "stroke-width:3px",
            EdgeOutcome::Unknown => "stroke-width:2px,stroke-dasharray:6 3",
            EdgeOutcome::Waived => "stroke-width:1.5px,stroke-dasharray:2 3",
            EdgeOutcome::Holds => "stroke-width:1px",
        };
        let _ = writeln!(
            s,
            "  linkStyle {} stroke:{},{style}",
            ids.join(","),
            colour(o)
        );
    }
    s.push_str("  classDef changed stroke:#000,stroke-width:3px,fill:#fff8e1\n");
    s.push_str("  classDef broken fill:#fdecea,stroke:#c62828\n");
    let changed: Vec<String> = (0..g.outputs.len())
        .filter(|&i| g.outputs[i].change.is_some())
        .map(|i| format!("o{i}"))
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(s, "  class {} changed", changed.join(","));
    }
    let broken: Vec<String> = (0..g.consumers.len())
        .filter(|&i| g.consumers[i].worst == EdgeOutcome::Broken)
        .map(|i| format!("c{i}"))
        .collect();
    if !broken.is_empty() {
        let _ = writeln!(s, "  class {} broken", broken.join(","));
    }
    s
}

/// A DOT quoted string's content: `\` and `"` escaped (so Graphviz's own `\N`, `\l` escapes
/// cannot be formed from a value), nothing invisible.
fn dq(s: &str) -> String {
    term(s).replace('\\', "\\\\").replace('"', "\\\"")
}

/// The graph in Graphviz DOT: outputs ranked left, consumers right; each edge carries its
/// outcome as `class` (SVG output), colour, style, width and, unless it holds, a label.
pub fn dot(g: &Graph) -> String {
    let mut s = String::from("digraph checker {\n");
    s.push_str("  graph [rankdir=LR, ranksep=2.5, nodesep=0.15, fontname=\"sans-serif\"];\n");
    s.push_str("  node [shape=box, style=rounded, fontname=\"sans-serif\", fontsize=11];\n");
    s.push_str("  edge [fontname=\"sans-serif\", fontsize=9, arrowsize=0.6];\n");
    let _ = writeln!(s, "  label=\"{}\";", dq(&super::svg::describe(g)));
    s.push_str("  { rank=same;");
    for i in 0..g.outputs.len() {
        let _ = write!(s, " o{i};");
    }
    s.push_str(" }\n  { rank=same;");
    for i in 0..g.consumers.len() {
        let _ = write!(s, " c{i};");
    }
    s.push_str(" }\n");
    for (i, o) in g.outputs.iter().enumerate() {
        let extra = if o.change.is_some() {
            ", penwidth=3, style=\"rounded,filled\", fillcolor=\"#fff8e1\""
        } else {
            ""
        };
        let class = match o.change {
            Some(_) => format!("output changed {}", o.worst.name()),
            None => format!("output {}", o.worst.name()),
        };
        let _ = writeln!(
            s,
            "  o{i} [label=\"{}\", class=\"{class}\"{extra}];",
            dq(&output_label(g, i))
        );
    }
    for (i, c) in g.consumers.iter().enumerate() {
        let _ = writeln!(
            s,
            "  c{i} [label=\"{}\", class=\"consumer {}\"];",
            dq(&consumer_label(g, i)),
            c.worst.name()
        );
    }
    for e in &g.edges {
        let style = match e.outcome {
            EdgeOutcome::Broken => "solid, penwidth=3",
            EdgeOutcome::Unknown => "dashed, penwidth=2",
            EdgeOutcome::Waived => "dotted, penwidth=1.5",
            EdgeOutcome::Holds => "solid, penwidth=1",
        };
        let label = if e.outcome == EdgeOutcome::Holds {
            String::new()
        } else {
            format!(
                ", label=\"{}\"",
                dq(&format!("{} {}", e.outcome.symbol(), e.clause))
            )
        };
        let _ = writeln!(
            s,
            "  o{} -> c{} [class=\"{}\", color=\"{}\", style={style}, tooltip=\"{}\"{label}];",
            e.output,
            e.consumer,
            e.outcome.name(),
            colour(e.outcome),
            dq(&format!("{}: clause {}", e.outcome.name(), e.clause)),
        );
    }
    s.push_str("}\n");
    s
}
