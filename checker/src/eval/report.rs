//! A report from an evaluation: findings (a failed region first), the summary the exit status
//! is computed from, coverage and tallies.

use super::{Policy, evaluate, summarize};
use crate::code::Code;
use crate::contract::ContractSet;
use crate::fleet::Instance;
use crate::report::*;
use chrono::{DateTime, Utc};

/// How findings are judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Judgement {
    /// Warnings fail too.
    pub fail_on_warn: bool,
    /// Unknown evaluations tolerated before the result is incomplete.
    pub max_unknown: usize,
}

/// The tool's name and version, as reports carry it.
pub fn tool() -> String {
    format!("checker {}", env!("CARGO_PKG_VERSION"))
}

/// Evaluates the fleet and builds the report of `command`.
pub fn build(
    command: &str,
    set: &ContractSet,
    fleet: &[Instance],
    source: SourceInfo,
    judgement: Judgement,
    now: DateTime<Utc>,
) -> Report {
    build_with(command, set, fleet, source, Vec::new(), judgement, now)
}

/// [`build`], with findings found outside the evaluation (lost inputs, refused launches) first.
pub fn build_with(
    command: &str,
    set: &ContractSet,
    fleet: &[Instance],
    source: SourceInfo,
    extra: Vec<Finding>,
    judgement: Judgement,
    now: DateTime<Utc>,
) -> Report {
    let ev = evaluate(set, fleet, now);
    report_of(command, set, ev, source, extra, judgement, now)
}

/// The report of an evaluation already made (a fleet evaluated as it was read).
pub fn report_of(
    command: &str,
    set: &ContractSet,
    ev: super::Evaluation,
    source: SourceInfo,
    extra: Vec<Finding>,
    judgement: Judgement,
    now: DateTime<Utc>,
) -> Report {
    let mut findings = ev.findings;
    findings.splice(0..0, extra);
    let mut failed: Vec<Finding> = source.failed().map(region_failed).collect();
    // Nothing read is nothing checked: an empty source (a wrong region or account, credentials
    // that see nothing, a filter broken by a tag change) must not look clean.
    let empty = source.instances == 0 && (!set.consumers.is_empty() || !set.providers.is_empty());
    if empty {
        failed.push(source_empty(&source));
    }
    findings.splice(0..0, failed.into_iter().rev());
    let summary = summarize(
        &findings,
        ev.evaluations,
        ev.unknown_evaluations,
        Policy {
            fail_on_warn: judgement.fail_on_warn,
            max_unknown: judgement.max_unknown,
            source_incomplete: source.incomplete() || empty,
        },
    );
    Report {
        format: FORMAT,
        version: VERSION,
        minor_version: MINOR_VERSION,
        tool: tool(),
        build: crate::build::info(),
        command: command.to_string(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source,
        summary,
        findings,
        coverage: ev.coverage,
        consumers: ev.consumers,
        gate: None,
    }
}

/// The finding a part that could not be read becomes.
fn region_failed(p: &SourcePart) -> Finding {
    let mut f = Finding::about(
        Code::RegionFailed,
        Outcome::Unknown,
        crate::contract::Severity::Error,
        "(source)",
        format!(
            "{} could not be read: {}; its instances were not evaluated",
            p.scope(),
            p.error.as_deref().unwrap_or("error")
        ),
    );
    f.account.clone_from(&p.account);
    f
}

/// The finding an empty source becomes.
fn source_empty(src: &SourceInfo) -> Finding {
    let read = if src.parts.is_empty() {
        "nothing read".to_string()
    } else {
        src.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut f = Finding::about(
        Code::SourceEmpty,
        Outcome::Unknown,
        crate::contract::Severity::Error,
        "(source)",
        format!(
            "the {} source ({read}) held no instance at all: check the region, the account and credentials, and the selectors' filters",
            src.kind
        ),
    );
    f.expected = Some("at least one instance".into());
    f.why = Some("a run that checked nothing cannot say that nothing is broken".into());
    f
}
