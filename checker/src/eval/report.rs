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
    mut ev: super::Evaluation,
    source: SourceInfo,
    extra: Vec<Finding>,
    judgement: Judgement,
    now: DateTime<Utc>,
) -> Report {
    let mut findings = group_unknowns(std::mem::take(&mut ev.findings));
    findings.splice(0..0, extra);
    if super::idle::judges_idle(&source) {
        super::idle::selects_nothing(set, &ev, &source, now.date_naive(), &mut findings);
        // Stable: the order within an outcome stays (what came first, then by consumer).
        findings.sort_by_key(|f| f.outcome);
    }
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
    f.scope.clone_from(&p.scope);
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

/// What left an unknown finding unknown, without the output it was about: "userData.region:
/// user-data (10 bytes) is not JSON: ..." and "userData.data: user-data ..." share one cause.
fn unknown_cause(f: &Finding) -> Option<String> {
    let [only] = f.actual.as_slice() else {
        return None;
    };
    let v = only.value.as_str();
    Some(match f.output.as_deref().and_then(|o| v.strip_prefix(o)) {
        Some(rest) => rest.trim_start_matches(": ").to_string(),
        None => v.split_once(": ").map_or(v, |(_, r)| r).to_string(),
    })
}

/// One unknown finding per cause: unknown findings with the same cause on the same instances
/// (one user-data that is not JSON leaves every clause reading it unknown) become the first of
/// them, naming the others in `also`, instead of one block per clause.
fn group_unknowns(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    type Cause = (String, Vec<String>, Option<crate::report::Scope>);
    let mut by_cause: std::collections::HashMap<Cause, usize> = std::collections::HashMap::new();
    for f in findings {
        let key = (f.outcome == Outcome::Unknown && f.clause.is_some())
            .then(|| unknown_cause(&f))
            .flatten()
            .map(|c| (c, f.samples.clone(), f.scope.clone()));
        let Some(key) = key else {
            out.push(f);
            continue;
        };
        match by_cause.get(&key) {
            Some(&i) if out[i].count == f.count => out[i].also.push(crate::report::ClauseRef {
                consumer: f.consumer,
                clause: f.clause.unwrap_or_default(),
            }),
            _ => {
                by_cause.insert(key, out.len());
                out.push(f);
            }
        }
    }
    for f in out.iter_mut().filter(|f| !f.also.is_empty()) {
        let cause = unknown_cause(f).unwrap_or_default();
        let mut names = vec![format!(
            "{}: {}",
            f.consumer,
            f.clause.as_deref().unwrap_or("")
        )];
        names.extend(
            f.also
                .iter()
                .map(|c| format!("{}: {}", c.consumer, c.clause)),
        );
        f.message = format!(
            "{} clauses could not be evaluated on {} instance(s), for one cause: {cause} ({})",
            names.len(),
            f.count,
            names.join(", ")
        );
    }
    out
}
