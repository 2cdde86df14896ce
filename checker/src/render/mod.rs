//! Renderers: one file per output format, each serving every document of the report family
//! (check and gate reports, diffs, cull plans, the rules list). They read the wire model only.
//!
//! A new format goes in its own file here, with one function per document, and one arm in each
//! dispatch function below.

use crate::cull::Plan;
use crate::error::Result;
use crate::report::Report;
use crate::snapshot::DiffReport;
use anstyle::{AnsiColor, Style};

mod contract_tests;
pub mod escape;
pub mod github;
pub mod graph;
mod history;
mod html;
mod human;
mod json;
mod junit;
mod markdown;
mod sarif;

pub use json::json;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: grouped by consumer, coloured on a terminal.
    Human,
    /// The documented, versioned JSON envelope (docs/report-format.md).
    Json,
    /// JUnit XML: one test suite per consumer, one test case per clause.
    Junit,
    /// Markdown for a pull-request comment or a Taskcluster artifact.
    Markdown,
    /// SARIF 2.1.0 (check and gate reports): one result per finding, at its clause's line.
    Sarif,
    /// One self-contained HTML page (check and gate reports: the dependency graph, findings
    /// with filters, each clause with what it reads and why; a diff's drift grid; a cull plan's
    /// decisions and refusals; a history's consumer x run strip).
    Html,
}

impl Format {
    /// Whether `name` is a format's name (to recognise a format given where a file was meant).
    pub fn is_name(name: &str) -> bool {
        use clap::ValueEnum;
        Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .any(|v| v.matches(name, false))
    }
}

/// The documents checker renders; each says which formats it can be rendered in, and the
/// command line offers only those (`--help`, completions, man pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A check or gate report.
    Report,
    /// A diff report.
    Diff,
    /// A cull plan.
    Plan,
    /// Contract test results.
    ContractTests,
    /// The rules list.
    Rules,
    /// A hook's history (`checker history`).
    History,
}

impl Document {
    /// The formats this document is rendered in: SARIF (its results are findings located at
    /// clauses) only for reports; HTML for reports, diffs, cull plans and histories; a history
    /// as a table, JSON or HTML only.
    pub fn formats(self) -> Vec<Format> {
        use clap::ValueEnum;
        Format::value_variants()
            .iter()
            .copied()
            .filter(|f| match self {
                Document::Report => true,
                Document::Diff | Document::Plan => *f != Format::Sarif,
                Document::ContractTests | Document::Rules => {
                    !matches!(f, Format::Sarif | Format::Html)
                }
                Document::History => matches!(f, Format::Human | Format::Json | Format::Html),
            })
            .collect()
    }
}

fn html_only_reports(what: &str) -> crate::error::Error {
    crate::error::Error::usage(format!(
        "--format html renders reports, diffs, cull plans and histories, not {what}: use markdown"
    ))
}

fn sarif_only_reports(what: &str) -> crate::error::Error {
    crate::error::Error::usage(format!(
        "--format sarif renders check and gate reports (findings at their clauses), not {what}: use json"
    ))
}

/// Renders a check or gate report.
pub fn report(r: &Report, format: Format, color: bool) -> Result<String> {
    match format {
        Format::Human => Ok(human::report(r, color)),
        Format::Json => json(r),
        Format::Junit => junit::report(r),
        Format::Markdown => Ok(markdown::report(r)),
        Format::Sarif => sarif::report(r),
        Format::Html => Ok(html::report(r)),
    }
}

/// Renders a diff report.
pub fn diff(r: &DiffReport, format: Format, color: bool) -> Result<String> {
    match format {
        Format::Human => Ok(human::diff(r, color)),
        Format::Json => json(r),
        Format::Junit => junit::diff(r),
        Format::Markdown => Ok(markdown::diff(r)),
        Format::Sarif => Err(sarif_only_reports("a diff")),
        Format::Html => Ok(html::diff::page(r)),
    }
}

/// Renders a cull plan.
pub fn plan(p: &Plan, format: Format) -> Result<String> {
    match format {
        Format::Human => Ok(human::plan(p)),
        Format::Json => json(p),
        Format::Junit => junit::plan(p),
        Format::Markdown => Ok(markdown::plan(p)),
        Format::Sarif => Err(sarif_only_reports("a cull plan")),
        Format::Html => Ok(html::plan::page(p)),
    }
}

/// Renders contract test results (`checker test`).
pub fn contract_tests(r: &[crate::contract_test::CaseResult], format: Format) -> Result<String> {
    match format {
        Format::Human => Ok(contract_tests::human(r)),
        Format::Json => contract_tests::json(r),
        Format::Junit => contract_tests::junit(r),
        Format::Markdown => Ok(contract_tests::markdown(r)),
        Format::Sarif => Err(sarif_only_reports("contract test results")),
        Format::Html => Err(html_only_reports("contract test results")),
    }
}

/// Renders the rules list (`checker rules`).
pub fn rules(format: Format) -> Result<String> {
    match format {
        Format::Human => Ok(human::rules()),
        Format::Json => json(&crate::rules::document()),
        Format::Junit => junit::rules(),
        Format::Markdown => Ok(markdown::rules()),
        Format::Sarif => Err(sarif_only_reports("the rules list")),
        Format::Html => Err(html_only_reports("the rules list")),
    }
}

/// Renders a hook's history (`checker history`): a table, JSON, or a page.
pub fn history(v: &crate::history::View, format: Format) -> Result<String> {
    if v.records.is_empty() {
        return Err(crate::error::Error::usage("the history holds no record"));
    }
    match format {
        Format::Human => Ok(history::human(v)),
        Format::Json => json(v),
        Format::Html => Ok(html::history::page(v)),
        Format::Junit | Format::Markdown | Format::Sarif => Err(crate::error::Error::usage(
            "checker history renders --format human, json or html",
        )),
    }
}

/// Colour for human output; a no-op when off. Whether it is on is decided once, at the edge,
/// from `--color` and the terminal (anstream: NO_COLOR, CLICOLOR, CLICOLOR_FORCE, TERM=dumb).
pub(crate) struct Paint {
    pub(crate) on: bool,
}

impl Paint {
    fn p(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
    pub(crate) fn red(&self, t: &str) -> String {
        self.p(AnsiColor::Red.on_default().bold(), t)
    }
    pub(crate) fn yellow(&self, t: &str) -> String {
        self.p(AnsiColor::Yellow.on_default().bold(), t)
    }
    pub(crate) fn green(&self, t: &str) -> String {
        self.p(AnsiColor::Green.on_default().bold(), t)
    }
    pub(crate) fn blue(&self, t: &str) -> String {
        self.p(AnsiColor::Cyan.on_default(), t)
    }
    pub(crate) fn dim(&self, t: &str) -> String {
        self.p(Style::new().dimmed(), t)
    }
    pub(crate) fn bold(&self, t: &str) -> String {
        self.p(Style::new().bold(), t)
    }
    /// A unified-diff line, coloured by its first character.
    pub(crate) fn diff_line(&self, line: &str) -> String {
        let style = if line.starts_with('+') && !line.starts_with("+++") {
            AnsiColor::Green.on_default()
        } else if line.starts_with('-') && !line.starts_with("---") {
            AnsiColor::Red.on_default()
        } else if line.starts_with("@@") {
            AnsiColor::Cyan.on_default()
        } else {
            return line.to_string();
        };
        self.p(style, line)
    }
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
