//! The dependency graph: the outputs providers put on instances on one side, the consumers that
//! read them on the other, one edge per clause reading an output, each with the clause's outcome
//! (broken, unknown, waived, holds). A model only drawn, so it lives beside the renderers. It is drawn from a report alone (its JSON form is enough:
//! `consumers[].clauses[].reads`, report 1.6), so `checker graph report.json` needs no contracts.
//!
//! For a gate, the outputs the proposal changes are marked and come first, and the edges they
//! break come first ([`Graph::blast_radius`] keeps only those). Renderers: [`svg`] (a fixed
//! layered layout drawn by checker, for HTML), [`mermaid`] and [`dot`] (text for GitHub, Markdown
//! and Graphviz).

use crate::diag::{Diagnostic, Diagnostics};
use crate::report::Report;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

mod svg;
mod text;

pub use svg::{STYLE, describe, svg, svg_in_page};
pub use text::{dot, mermaid};

/// The formats `checker graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (GitHub and Markdown render it).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// SVG drawn by checker: outputs left, consumers right, one path per clause.
    Svg,
}

/// What a clause reading an output says: its worst outcome over the instances it ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeOutcome {
    /// It failed on some instance (and no waiver accepted that).
    Broken,
    /// It could not be evaluated on some instance.
    Unknown,
    /// It failed, and a waiver accepts that.
    Waived,
    /// It held wherever it ran (or ran nowhere).
    Holds,
}

impl EdgeOutcome {
    /// The word every renderer writes (a class name, a label): colour is never the only signal.
    pub fn name(self) -> &'static str {
        match self {
            EdgeOutcome::Broken => "broken",
            EdgeOutcome::Unknown => "unknown",
            EdgeOutcome::Waived => "waived",
            EdgeOutcome::Holds => "holds",
        }
    }

    /// A symbol beside the word, for a glance.
    pub fn symbol(self) -> &'static str {
        match self {
            EdgeOutcome::Broken => "✗",
            EdgeOutcome::Unknown => "?",
            EdgeOutcome::Waived => "~",
            EdgeOutcome::Holds => "✓",
        }
    }

    /// Every outcome, worst first.
    pub const ALL: [EdgeOutcome; 4] = [
        EdgeOutcome::Broken,
        EdgeOutcome::Unknown,
        EdgeOutcome::Waived,
        EdgeOutcome::Holds,
    ];

    fn of(t: &WireClause) -> EdgeOutcome {
        if t.failed > 0 {
            EdgeOutcome::Broken
        } else if t.unknown > 0 {
            EdgeOutcome::Unknown
        } else if t.waived > 0 {
            EdgeOutcome::Waived
        } else {
            EdgeOutcome::Holds
        }
    }
}

/// An output: a key name, a tag, a user-data field, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputNode {
    /// Its path (`KeyName`, `tag:Owner`, `userData.workerType`).
    pub path: String,
    /// The providers whose manifests promise it (none: read but promised by no loaded provider).
    pub providers: Vec<String>,
    /// How a gate's proposal changes it (`added`, `removed`, `changed`).
    pub change: Option<String>,
    /// Its worst edge.
    pub worst: EdgeOutcome,
}

/// A consumer contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerNode {
    /// Its name.
    pub name: String,
    /// Its owner.
    pub owner: Option<String>,
    /// A gate's verdict (`yes`, `no`, `unknown`).
    pub deployable: Option<String>,
    /// Its worst edge.
    pub worst: EdgeOutcome,
}

/// One clause of a consumer reading one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index into [`Graph::outputs`].
    pub output: usize,
    /// Index into [`Graph::consumers`].
    pub consumer: usize,
    /// The clause id.
    pub clause: String,
    /// The clause's outcome.
    pub outcome: EdgeOutcome,
}

/// The graph, ordered for drawing: changed outputs first, then the outputs with the worst edges;
/// consumers in the order of the outputs they read (fewer crossings); edges worst first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graph {
    /// The left column.
    pub outputs: Vec<OutputNode>,
    /// The right column.
    pub consumers: Vec<ConsumerNode>,
    /// Worst first, then by output and consumer.
    pub edges: Vec<Edge>,
    /// Drawn from a gate report.
    pub gate: bool,
}

// The part of a report the graph reads, as its JSON says it: a report.json from any 1.x checker
// from 1.6 on reads here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    format: String,
    version: u32,
    #[serde(default)]
    minor_version: u32,
    consumers: Vec<WireTally>,
    #[serde(default)]
    gate: Option<WireGate>,
}

#[derive(Deserialize)]
struct WireTally {
    name: String,
    role: String,
    #[serde(default)]
    owner: Option<String>,
    clauses: Vec<WireClause>,
}

#[derive(Deserialize)]
struct WireClause {
    id: String,
    #[serde(default)]
    failed: usize,
    #[serde(default)]
    unknown: usize,
    #[serde(default)]
    waived: usize,
    #[serde(default)]
    reads: Vec<String>,
}

#[derive(Deserialize)]
struct WireGate {
    #[serde(default)]
    verdicts: Vec<WireVerdict>,
    #[serde(default)]
    changes: Vec<WireChange>,
}

#[derive(Deserialize)]
struct WireVerdict {
    consumer: String,
    deployable: String,
}

#[derive(Deserialize)]
struct WireChange {
    kind: String,
    output: String,
}

impl Graph {
    /// The graph of a report.
    pub fn of(r: &Report) -> Graph {
        let v = serde_json::to_value(r).unwrap_or_default();
        // A report checker wrote itself always reads.
        Graph::from_json(&v).unwrap_or_default()
    }

    /// The graph of a report's JSON form (`report.json`); refuses another document, another
    /// major version, or a report older than 1.6 (its clauses do not say what they read).
    pub fn from_json(v: &serde_json::Value) -> std::result::Result<Graph, String> {
        let w = Wire::deserialize(v)
            .map_err(|e| format!("not a checker report (checker-report 1.6 or later): {e}"))?;
        if w.format != crate::report::FORMAT || w.version != crate::report::VERSION {
            return Err(format!(
                "a {} {} document, not a {} {}.x report",
                w.format,
                w.version,
                crate::report::FORMAT,
                crate::report::VERSION
            ));
        }
        if w.minor_version < 6 {
            return Err(format!(
                "a checker-report 1.{}: its clauses do not say which outputs they read (1.6 does); write it again with this checker",
                w.minor_version
            ));
        }
        Ok(Graph::build(&w))
    }

    /// The graph of a `report.json` file.
    pub fn read(path: &std::path::Path) -> std::result::Result<Graph, Diagnostics> {
        let one = |d: Diagnostic| Diagnostics(vec![d]);
        let bytes = std::fs::read(path).map_err(|e| {
            one(Diagnostic::file(
                path,
                format!("cannot read the report: {e}"),
            ))
        })?;
        let v: serde_json::Value = crate::diag::parse_json(path, &bytes).map_err(one)?;
        Graph::from_json(&v).map_err(|m| {
            one(Diagnostic::file(path, m).hint(
                "give the report.json that `checker check --format json`, `checker gate --format json` or `checker hook` wrote",
            ))
        })
    }

    /// Renders the graph in `format`.
    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Mermaid => mermaid(self),
            GraphFormat::Dot => dot(self),
            GraphFormat::Svg => svg(self, "checker-graph") + "\n",
        }
    }

    fn build(w: &Wire) -> Graph {
        let mut outputs: BTreeMap<&str, OutputNode> = BTreeMap::new();
        let node = |path: &str| OutputNode {
            path: path.to_string(),
            providers: vec![],
            change: None,
            worst: EdgeOutcome::Holds,
        };
        let mut raw: Vec<(&str, &str, &str, EdgeOutcome)> = vec![];
        for t in &w.consumers {
            for cl in &t.clauses {
                for r in &cl.reads {
                    let o = outputs.entry(r.as_str()).or_insert_with(|| node(r));
                    if t.role == "provider" {
                        o.providers.push(t.name.clone());
                    } else {
                        raw.push((r, &t.name, &cl.id, EdgeOutcome::of(cl)));
                    }
                }
            }
        }
        let gate = w.gate.as_ref();
        for c in gate.map(|g| g.changes.as_slice()).unwrap_or_default() {
            // A changed `set:NAME` is no output a clause reads: it has no node.
            if let Some(o) = outputs.get_mut(c.output.as_str()) {
                o.change = Some(c.kind.clone());
            }
        }
        for (o, _, _, outcome) in &raw {
            let n = outputs.get_mut(o).expect("every read has a node");
            n.worst = n.worst.min(*outcome);
        }
        let mut outs: Vec<OutputNode> = outputs.into_values().collect();
        outs.iter_mut().for_each(|o| o.providers.dedup());
        outs.sort_by(|a, b| {
            (a.change.is_none(), a.worst, &a.path).cmp(&(b.change.is_none(), b.worst, &b.path))
        });
        let out_index: BTreeMap<&str, usize> = outs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.path.as_str(), i))
            .collect();
        let consumers = consumers_in_order(w, &raw, &out_index);
        let cons_index: BTreeMap<&str, usize> = consumers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut edges: Vec<Edge> = raw
            .iter()
            .map(|(o, c, clause, outcome)| Edge {
                output: out_index[o],
                consumer: cons_index[c],
                clause: clause.to_string(),
                outcome: *outcome,
            })
            .collect();
        edges.sort_by(|a, b| {
            (a.outcome, a.output, a.consumer, &a.clause)
                .cmp(&(b.outcome, b.output, b.consumer, &b.clause))
        });
        Graph {
            outputs: outs,
            consumers,
            edges,
            gate: gate.is_some(),
        }
    }

    /// The blast radius: for a gate, the outputs its proposal changes, the edges from them and
    /// the consumers at their ends; without changes (a check), the outputs with a broken or
    /// unknown edge instead. Small enough to draw where the whole graph is not.
    pub fn blast_radius(&self) -> Graph {
        self.part(&self.blast_outputs())
    }

    /// What a gate's page draws: the [`Graph::blast_radius`] and every other edge that does not
    /// hold, with the outputs and consumers at their ends. What it leaves out are outputs whose
    /// every edge holds (the page lists them under its clauses).
    pub fn focus(&self) -> Graph {
        let blast = self.blast_outputs();
        let keep = |e: &Edge| blast.contains(&e.output) || e.outcome != EdgeOutcome::Holds;
        let mut outputs = blast.clone();
        outputs.extend(self.edges.iter().filter(|e| keep(e)).map(|e| e.output));
        let mut g = self.part(&outputs);
        let kept: Vec<bool> = self
            .edges
            .iter()
            .filter(|e| outputs.contains(&e.output))
            .map(keep)
            .collect();
        let mut k = kept.iter();
        g.edges.retain(|_| k.next().copied().unwrap_or(true));
        let used: BTreeSet<usize> = g.edges.iter().map(|e| e.consumer).collect();
        if used.len() < g.consumers.len() {
            // A consumer whose only edges from these outputs hold and were left out.
            let map: BTreeMap<usize, usize> =
                used.iter().enumerate().map(|(n, &c)| (c, n)).collect();
            g.consumers = used.iter().map(|&c| g.consumers[c].clone()).collect();
            for e in &mut g.edges {
                e.consumer = map[&e.consumer];
            }
        }
        g
    }

    fn blast_outputs(&self) -> BTreeSet<usize> {
        if self.outputs.iter().any(|o| o.change.is_some()) {
            (0..self.outputs.len())
                .filter(|&i| self.outputs[i].change.is_some())
                .collect()
        } else {
            (0..self.outputs.len())
                .filter(|&i| self.outputs[i].worst <= EdgeOutcome::Unknown)
                .collect()
        }
    }

    /// The outputs `keep_out`, the edges from them and the consumers at their ends, in order.
    fn part(&self, keep_out: &BTreeSet<usize>) -> Graph {
        let edges: Vec<&Edge> = self
            .edges
            .iter()
            .filter(|e| keep_out.contains(&e.output))
            .collect();
        let keep_cons: BTreeSet<usize> = edges.iter().map(|e| e.consumer).collect();
        let out_map: BTreeMap<usize, usize> =
            keep_out.iter().enumerate().map(|(n, &o)| (o, n)).collect();
        let cons_map: BTreeMap<usize, usize> =
            keep_cons.iter().enumerate().map(|(n, &c)| (c, n)).collect();
        Graph {
            outputs: keep_out.iter().map(|&i| self.outputs[i].clone()).collect(),
            consumers: keep_cons
                .iter()
                .map(|&i| self.consumers[i].clone())
                .collect(),
            edges: edges
                .into_iter()
                .map(|e| Edge {
                    output: out_map[&e.output],
                    consumer: cons_map[&e.consumer],
                    ..e.clone()
                })
                .collect(),
            gate: self.gate,
        }
    }

    /// How many edges have each outcome, worst first.
    pub fn counts(&self) -> Vec<(EdgeOutcome, usize)> {
        EdgeOutcome::ALL
            .iter()
            .map(|&o| (o, self.edges.iter().filter(|e| e.outcome == o).count()))
            .collect()
    }
}

/// The consumers, each placed at the mean row of the outputs it reads (a barycentre pass: fewer
/// crossings), ties by name; consumers that read nothing last.
fn consumers_in_order(
    w: &Wire,
    raw: &[(&str, &str, &str, EdgeOutcome)],
    out_index: &BTreeMap<&str, usize>,
) -> Vec<ConsumerNode> {
    let verdicts: BTreeMap<&str, &str> = w
        .gate
        .iter()
        .flat_map(|g| &g.verdicts)
        .map(|v| (v.consumer.as_str(), v.deployable.as_str()))
        .collect();
    let mut nodes: Vec<(usize, ConsumerNode)> = w
        .consumers
        .iter()
        .filter(|t| t.role != "provider")
        .map(|t| {
            let mine: Vec<_> = raw.iter().filter(|r| r.1 == t.name).collect();
            let rows: usize = mine.iter().map(|r| out_index[r.0]).sum();
            // Fixed point, two decimals: no float in the ordering.
            let at = (rows * 100).checked_div(mine.len()).unwrap_or(usize::MAX);
            let worst = mine.iter().map(|r| r.3).min().unwrap_or(EdgeOutcome::Holds);
            let node = ConsumerNode {
                name: t.name.clone(),
                owner: t.owner.clone(),
                deployable: verdicts.get(t.name.as_str()).map(|s| s.to_string()),
                worst,
            };
            (at, node)
        })
        .collect();
    nodes.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    nodes.dedup_by(|a, b| a.1.name == b.1.name);
    nodes.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests;
