//! The graph as inline SVG, laid out by checker: outputs in a column on the left, consumers on
//! the right, each clause an edge (a cubic path) from an output to a consumer. A fixed layered
//! layout: rows in the graph's order, no layout engine, the same bytes for the same report.
//!
//! Colour is never the only signal: each edge's outcome is also its class, its dash pattern and
//! width, and the word in its `<title>`; each node's label starts with a symbol (`✗`, `?`, `~`,
//! `✓`; `Δ` for an output the proposal changes). Nodes are focusable (`tabindex`), each with a
//! `<title>` that says what it is and what reads it. Every value goes through
//! [`crate::render::escape::html`].

use super::{EdgeOutcome, Graph};
use crate::render::escape::html;
use std::fmt::Write;

const ROW: f64 = 30.0;
const NODE_H: f64 = 22.0;
const TOP: f64 = 36.0;
const COL_W: f64 = 250.0;
const GAP: f64 = 240.0;
const LEFT: f64 = 8.0;
const RIGHT: f64 = LEFT + COL_W + GAP;
const WIDTH: f64 = RIGHT + COL_W + LEFT;
/// Labels longer than this are cut with `…` (the `<title>` keeps all of it).
const LABEL_CHARS: usize = 34;

/// The stylesheet the SVG carries (a page may override it): one class per outcome.
pub const STYLE: &str = "\
.cg text{font:12px sans-serif;fill:#111}\
.cg .head{font-weight:bold}\
.cg .node rect{fill:#fff;stroke:#555;stroke-width:1}\
.cg .node.changed rect{stroke:#000;stroke-width:3;fill:#fff8e1}\
.cg .node.broken rect{fill:#fdecea}\
.cg .node:focus rect,.cg .node:hover rect{stroke:#1565c0;stroke-width:3}\
.cg .edge path{fill:none}\
.cg .edge.broken path{stroke:#c62828;stroke-width:3}\
.cg .edge.unknown path{stroke:#ef6c00;stroke-width:2;stroke-dasharray:6 3}\
.cg .edge.waived path{stroke:#6a1b9a;stroke-width:1.5;stroke-dasharray:2 3}\
.cg .edge.holds path{stroke:#9e9e9e;stroke-width:1;opacity:.6}";

/// The graph as one `<svg>` element, carrying its [`STYLE`]; `id` prefixes the ids it defines.
pub fn svg(g: &Graph, id: &str) -> String {
    draw(g, id, None)
}

/// The graph as an `<svg>` element inside a page whose stylesheet carries [`STYLE`] once, whose
/// element `described_by` says what the graph shows (its [`describe`]) and whose text gives the
/// legend: the SVG repeats none of them.
pub fn svg_in_page(g: &Graph, id: &str, described_by: &str) -> String {
    draw(g, id, Some(described_by))
}

fn draw(g: &Graph, id: &str, page: Option<&str>) -> String {
    let rows = g.outputs.len().max(g.consumers.len()).max(1);
    let legend_y = TOP + rows as f64 * ROW + 12.0;
    let height = num(match page {
        Some(_) => legend_y - 4.0,
        None => legend_y + 4.0 * 18.0 + 8.0,
    });
    let id = html(id);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cg\" id=\"{id}\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"group\" "
    );
    let title = "Dependency graph: provider outputs (left) and the consumers whose clauses read them (right)";
    match page {
        Some(d) => {
            let _ = write!(
                s,
                "aria-labelledby=\"{id}-t\" aria-describedby=\"{}\"><title id=\"{id}-t\">{title}</title>",
                html(d)
            );
        }
        None => {
            let _ = write!(
                s,
                "aria-labelledby=\"{id}-t {id}-d\"><title id=\"{id}-t\">{title}</title>\
                 <desc id=\"{id}-d\">{}</desc><style>{STYLE}</style>",
                html(&describe(g))
            );
        }
    }
    let _ = write!(
        s,
        "<text class=\"head\" x=\"{LEFT}\" y=\"18\">outputs</text><text class=\"head\" x=\"{RIGHT}\" y=\"18\">consumers</text>"
    );
    edges(g, &mut s);
    for (i, o) in g.outputs.iter().enumerate() {
        let mut class = format!("node output {}", o.worst.name());
        let mut title = format!("output {}", o.path);
        let mut label = String::new();
        if let Some(c) = &o.change {
            class.push_str(" changed");
            label.push_str("Δ ");
            let _ = write!(title, ", {c} by the proposal");
        }
        let _ = write!(title, "; {}", promised(&o.providers));
        let readers = g.edges.iter().filter(|e| e.output == i).count();
        let _ = write!(
            title,
            "; read by {readers} clause(s), worst: {}",
            o.worst.name()
        );
        label.push_str(&o.path);
        node(&mut s, (LEFT, y(i)), &class, &title, &label);
    }
    for (i, c) in g.consumers.iter().enumerate() {
        let class = format!("node consumer {}", c.worst.name());
        let mut title = format!("consumer {}", c.name);
        if let Some(o) = &c.owner {
            let _ = write!(title, " (owner {o})");
        }
        if let Some(d) = &c.deployable {
            let _ = write!(title, "; deployable: {d}");
        }
        let _ = write!(title, "; worst clause: {}", c.worst.name());
        let label = format!("{} {}", c.worst.symbol(), c.name);
        node(&mut s, (RIGHT, y(i)), &class, &title, &label);
    }
    if page.is_none() {
        legend(&mut s, legend_y);
    }
    s.push_str("</svg>");
    s
}

/// The graph in one sentence (the SVG's `<desc>`).
pub fn describe(g: &Graph) -> String {
    let counts: Vec<String> = g
        .counts()
        .iter()
        .map(|(o, n)| format!("{n} {}", o.name()))
        .collect();
    let changed = g.outputs.iter().filter(|o| o.change.is_some()).count();
    let mut d = format!(
        "{} outputs, {} consumers, {} edges (one per clause reading an output): {}.",
        g.outputs.len(),
        g.consumers.len(),
        g.edges.len(),
        counts.join(", ")
    );
    if g.gate {
        let _ = write!(
            d,
            " {changed} output(s) changed by the proposal, drawn first."
        );
    }
    d
}

fn promised(providers: &[String]) -> String {
    if providers.is_empty() {
        "promised by no loaded provider".into()
    } else {
        format!("promised by {}", providers.join(", "))
    }
}

fn y(row: usize) -> f64 {
    TOP + row as f64 * ROW
}

/// A coordinate, with one decimal only when it has one (`50.2`, `378`).
fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some(int) => int.to_string(),
        None => s,
    }
}

fn node(s: &mut String, (x, y): (f64, f64), class: &str, title: &str, label: &str) {
    let cut: String = if label.chars().count() > LABEL_CHARS {
        label.chars().take(LABEL_CHARS - 1).chain(['…']).collect()
    } else {
        label.to_string()
    };
    let _ = write!(
        s,
        "<g class=\"{class}\" tabindex=\"0\"><title>{}</title>\
         <rect x=\"{}\" y=\"{}\" width=\"{COL_W}\" height=\"{NODE_H}\" rx=\"4\"/>\
         <text x=\"{}\" y=\"{}\">{}</text></g>",
        html(title),
        num(x),
        num(y),
        num(x + 6.0),
        num(y + 15.0),
        html(&cut)
    );
}

/// Where the `k`th of `n` edges meets a node in row `row`: spread over the node's height.
fn port(row: usize, k: usize, n: usize) -> f64 {
    let mid = y(row) + NODE_H / 2.0;
    if n <= 1 {
        return mid;
    }
    let step = ((NODE_H - 6.0) / (n - 1) as f64).min(4.0);
    mid + (k as f64 - (n - 1) as f64 / 2.0) * step
}

fn edges(g: &Graph, s: &mut String) {
    let mut at_out = vec![0usize; g.outputs.len()];
    let mut at_cons = vec![0usize; g.consumers.len()];
    let n_out: Vec<usize> = (0..g.outputs.len())
        .map(|i| g.edges.iter().filter(|e| e.output == i).count())
        .collect();
    let n_cons: Vec<usize> = (0..g.consumers.len())
        .map(|i| g.edges.iter().filter(|e| e.consumer == i).count())
        .collect();
    let mut paths = Vec::with_capacity(g.edges.len());
    for e in &g.edges {
        let y1 = port(e.output, at_out[e.output], n_out[e.output]);
        let y2 = port(e.consumer, at_cons[e.consumer], n_cons[e.consumer]);
        at_out[e.output] += 1;
        at_cons[e.consumer] += 1;
        let (x1, x2) = (LEFT + COL_W, RIGHT);
        let o = &g.outputs[e.output].path;
        let c = &g.consumers[e.consumer].name;
        let k = e.outcome.name();
        // What the edge is, said once: its title (the output, the consumer and the clause).
        paths.push(format!(
            "<g class=\"edge {k}\"><title>{}</title><path d=\"M{} {}C{} {} {} {} {} {}\"/></g>",
            html(&format!(
                "{} {k}: {c} reads {o} (clause {})",
                e.outcome.symbol(),
                e.clause
            )),
            num(x1),
            num(y1),
            num(x1 + GAP / 2.0),
            num(y1),
            num(x2 - GAP / 2.0),
            num(y2),
            num(x2),
            num(y2),
        ));
    }
    // Painted worst last, so a broken edge is never under a holding one; the document order
    // (and the page's edge table) stays worst first.
    for p in paths.iter().rev() {
        s.push_str(p);
    }
}

fn legend(s: &mut String, top: f64) {
    for (i, o) in EdgeOutcome::ALL.iter().enumerate() {
        let y = top + i as f64 * 18.0;
        let _ = write!(
            s,
            "<g class=\"edge {k} legend\"><path d=\"M{LEFT} {}h40\"/></g>\
             <text x=\"{}\" y=\"{}\">{} {k}</text>",
            num(y),
            num(LEFT + 48.0),
            num(y + 4.0),
            o.symbol(),
            k = o.name(),
        );
    }
}
