//! `checker graph`: the dependency graph of a report, as Mermaid, Graphviz DOT or SVG.

use super::check_output;
use checker::render::graph::{Graph, GraphFormat};
use checker::{ExitStatus, Result};
use std::path::PathBuf;

/// `checker graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A report.json (written by check, gate or hook with --format json; report format 1.6 or
    /// later): the graph needs nothing else.
    #[arg(value_name = "REPORT")]
    report: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Only the blast radius: for a gate, the outputs the proposal changes, the edges from them
    /// and the consumers they reach; for a check, the outputs with a broken or unknown edge.
    #[arg(long)]
    blast_radius: bool,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Reads the report, draws, writes.
pub fn run(a: &Args) -> Result<ExitStatus> {
    check_output(a.output.as_deref())?;
    let mut g = Graph::read(&a.report)?;
    if a.blast_radius {
        g = g.blast_radius();
    }
    checker::fsio::write_output(&g.render(a.format), a.output.as_deref())?;
    Ok(ExitStatus::Clean)
}
