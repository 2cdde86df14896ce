//! `checker history`: a hook's history.jsonl as a table, JSON or a page.

use super::OutputArgs;
use checker::{ExitStatus, Result};
use std::path::PathBuf;

/// `checker history`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each `checker hook` run writes history.jsonl to its artifacts: the previous runs' records and its own (see `checker hook --help`: --history-from, --history-hook). This command shows it: a row per run, a strip per consumer (a symbol per run) and since when each finding open in the newest run has been open. --format html is one self-contained page (the consumer x run strip), --format json the records with the open findings (checker-history-view, docs/report-format.md).\nExit codes: 0 shown; 2 the file cannot be read or holds no record (lines that are not records are skipped, each named on stderr)."
)]
pub struct Args {
    /// A history.jsonl (a `checker hook` artifact), or the directory holding one.
    #[arg(value_name = "HISTORY")]
    history: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
}

/// Reads the history and renders it.
pub fn run(a: &Args) -> Result<ExitStatus> {
    a.out.check()?;
    let view = checker::history::read(&a.history)?;
    for s in &view.skipped {
        eprintln!(
            "warning: {}: {}; the line is skipped",
            view.history,
            checker::render::escape::term(s)
        );
    }
    a.out
        .write(&checker::render::history(&view, a.out.format)?)?;
    Ok(ExitStatus::Clean)
}
