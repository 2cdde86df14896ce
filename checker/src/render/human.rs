//! The human form: for people at a terminal (coloured there) and in task logs. Every value is
//! written through `escape::T` (control characters as escapes, no CI command), so a value adds
//! no line and moves no cursor.

use super::escape::T;
use super::{Paint, plural};
use crate::contract::Severity;
use crate::cull::Plan;
use crate::report::*;
use crate::snapshot::{DiffReport, Holds, OutputChange};
use std::fmt::Write as _;

fn label(f: &Finding, paint: &Paint) -> String {
    match (f.outcome, f.severity) {
        (Outcome::Violation, Severity::Error) => paint.red("error  "),
        (Outcome::Violation, Severity::Warning) => paint.yellow("warning"),
        (Outcome::Unknown, _) => paint.yellow("unknown"),
        (Outcome::Waived, _) => paint.blue("waived "),
        (Outcome::Notice, _) => paint.dim("notice "),
    }
}

/// Values, each escaped, joined by commas.
fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| T(v).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A check or gate report.
pub fn report(r: &Report, color: bool) -> String {
    let paint = Paint { on: color };
    let mut s = String::new();
    header(&mut s, r, &paint);
    if let Some(g) = &r.gate {
        gate(&mut s, g, &paint);
    }
    findings(&mut s, r, &paint);
    coverage(&mut s, &r.coverage, &paint);
    let sm = &r.summary;
    let status = match sm.status {
        Status::Clean => paint.green("clean"),
        Status::Warnings => paint.yellow("clean with warnings"),
        Status::Violations => paint.red("violations"),
        Status::Incomplete => paint.red("incomplete"),
    };
    let _ = writeln!(
        s,
        "\n{}: {}, {}, {}, {} in {} → exit {}",
        status,
        plural(sm.errors, "error", "errors"),
        plural(sm.warnings, "warning", "warnings"),
        plural(sm.unknown, "unknown", "unknown"),
        plural(sm.waived, "waived", "waived"),
        plural(sm.evaluations, "evaluation", "evaluations"),
        sm.exit_code
    );
    s
}

fn header(s: &mut String, r: &Report, paint: &Paint) {
    let count = |role: TallyRole| r.consumers.iter().filter(|c| c.role == role).count();
    let _ = writeln!(
        s,
        "{} {}: {} from {} ({}), {} and {} evaluated",
        paint.bold("checker"),
        T(&r.command),
        plural(r.source.instances, "instance", "instances"),
        r.source.kind,
        r.source
            .parts
            .iter()
            .map(|p| match (p.kind, &p.scope) {
                (PartKind::RegionOfAccount, Some(s)) => format!("{}/{}", T(&s.id), T(&p.name)),
                _ => T(&p.name).to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        plural(
            count(TallyRole::Consumer),
            "consumer contract",
            "consumer contracts"
        ),
        plural(
            count(TallyRole::Provider),
            "provider manifest",
            "provider manifests"
        ),
    );
    for p in r.source.failed() {
        let _ = writeln!(
            s,
            "{} {} could not be read: {}",
            paint.red("unknown"),
            T(&p.name),
            T(p.error.as_deref().unwrap_or("error"))
        );
    }
    if r.source.kind == SourceKind::Live && r.source.user_data_sampled > 0 {
        let _ = writeln!(
            s,
            "user-data read for a sample of {} of {} instances",
            r.source.user_data_sampled, r.source.instances
        );
    }
}

fn findings(s: &mut String, r: &Report, paint: &Paint) {
    let mut current: Option<&str> = None;
    for f in &r.findings {
        if current != Some(f.consumer.as_str()) {
            current = Some(&f.consumer);
            let tally = r.consumers.iter().find(|c| c.name == f.consumer);
            let _ = writeln!(s);
            let role = match tally {
                Some(t) => t.role.to_string(),
                None if f.consumer.starts_with('(') => "the data".into(),
                None => "consumer".into(),
            };
            let _ = write!(
                s,
                "{} {}",
                paint.bold(&T(&f.consumer).to_string()),
                paint.dim(&format!("({role}"))
            );
            if let Some(o) = tally.and_then(|t| t.owner.as_deref()) {
                let _ = write!(s, "{}", paint.dim(&format!(", owner {}", T(o))));
            }
            let _ = writeln!(s, "{}", paint.dim(")"));
        }
        finding(s, f, paint);
    }
}

fn finding(s: &mut String, f: &Finding, paint: &Paint) {
    let _ = writeln!(
        s,
        "  {} {} {}",
        label(f, paint),
        paint.bold(&T(f.clause.as_deref().unwrap_or(f.code.name())).to_string()),
        paint.dim(&format!("[{}]", f.code))
    );
    let _ = writeln!(s, "          {}", T(&f.message));
    if !f.actual.is_empty() && f.count > 0 {
        let _ = writeln!(
            s,
            "          seen on {}:",
            plural(f.count, "instance", "instances")
        );
        for v in f.actual.iter().take(5) {
            let _ = writeln!(s, "            {} × {}", v.count, T(&v.value));
        }
        if f.actual.len() > 5 {
            let _ = writeln!(
                s,
                "            … and {} more distinct values",
                f.actual.len() - 5
            );
        }
    }
    if !f.samples.is_empty() {
        let _ = writeln!(s, "          e.g. {}", list(&f.samples));
    }
    if let Some(sc) = &f.scope {
        let _ = writeln!(s, "          {}: {}", sc.kind.name(), T(&sc.id));
    }
    if let Some(w) = &f.why {
        let _ = writeln!(s, "          why: {}", T(w));
    }
    if let Some(w) = &f.waiver {
        let _ = writeln!(
            s,
            "          waiver: {} until {}: {} ({})",
            T(&w.owner),
            T(&w.expires),
            T(&w.reason),
            T(&w.file)
        );
    }
    if let Some(rb) = &f.runbook {
        let _ = writeln!(s, "          runbook: {}", T(rb));
    }
}

fn coverage(s: &mut String, cov: &Coverage, paint: &Paint) {
    if cov.uncovered_outputs.is_empty()
        && cov.unpromised_reads.is_empty()
        && cov.unmatched_contracts.is_empty()
    {
        return;
    }
    let _ = writeln!(
        s,
        "\n{} {}% of provider outputs are read by some contract",
        paint.bold("coverage:"),
        cov.covered_percent
    );
    for u in &cov.unpromised_reads {
        let _ = writeln!(
            s,
            "  read but promised by no provider: {} (by {})",
            T(&u.output),
            list(&u.consumers)
        );
    }
    // One line per provider: the same output names recur across clouds' providers.
    let mut by_provider: Vec<(&str, Vec<String>)> = Vec::new();
    for u in &cov.uncovered_outputs {
        match by_provider.iter_mut().find(|(p, _)| *p == u.provider) {
            Some((_, outs)) => outs.push(u.output.clone()),
            None => by_provider.push((&u.provider, vec![u.output.clone()])),
        }
    }
    for (provider, outputs) in &by_provider {
        let _ = writeln!(
            s,
            "  emitted by {} but read by no contract: {}",
            T(provider),
            list(outputs)
        );
    }
    if !cov.unmatched_contracts.is_empty() {
        let _ = writeln!(
            s,
            "  contracts matching no instance: {}",
            list(&cov.unmatched_contracts)
        );
    }
}

/// The pools' verdicts: a count of each, then every pool that is not deployable, with why.
fn pools(s: &mut String, g: &GateSection, paint: &Paint) {
    if g.pools.is_empty() {
        return;
    }
    let count = |d: Deployable| g.pools.iter().filter(|p| p.deployable == d).count();
    let _ = writeln!(
        s,
        "\n{} {} yes, {} no, {} unknown",
        paint.bold(&format!("pools ({}):", g.pools.len())),
        count(Deployable::Yes),
        count(Deployable::No),
        count(Deployable::Unknown)
    );
    for p in g.pools.iter().filter(|p| p.deployable != Deployable::Yes) {
        let word = match p.deployable {
            Deployable::No => paint.red("no     "),
            _ => paint.yellow("unknown"),
        };
        let at = p
            .location
            .as_ref()
            .map(|l| format!(" {}:{}", T(&l.file), l.line))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {word} {} {}{}",
            T(&p.pool),
            paint.dim(&format!(
                "({} {})",
                T(&p.provider_id),
                T(p.implementation.as_deref().unwrap_or("not modelled"))
            )),
            paint.dim(&at)
        );
        for r in &p.reasons {
            let _ = writeln!(
                s,
                "          {} [{}]: {}",
                T(&r.clause),
                T(&r.kind),
                T(&r.message)
            );
        }
    }
}

fn gate(s: &mut String, g: &GateSection, paint: &Paint) {
    let _ = writeln!(s, "\n{} {}", paint.bold("proposal:"), T(&g.proposal));
    if let Some(b) = &g.base {
        let _ = writeln!(s, "{} {}", paint.bold("base:    "), T(b));
    }
    let _ = writeln!(s, "\n{}", paint.bold("can I deploy?"));
    for v in &g.verdicts {
        let word = match v.deployable {
            Deployable::Yes => paint.green("yes    "),
            Deployable::No => paint.red("no     "),
            Deployable::Unknown => paint.yellow("unknown"),
        };
        let mut notes = Vec::new();
        if v.regression == Some(true) {
            notes.push("regression: holds on the base".to_string());
        }
        if !v.affected {
            notes.push("unaffected".to_string());
        }
        if let Some(r) = &v.ignored {
            notes.push(format!("IGNORED: {}", T(r)));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            paint.dim(&format!(" ({})", notes.join("; ")))
        };
        let _ = writeln!(
            s,
            "  {word} {} {}{notes}",
            T(&v.consumer),
            paint.dim(&format!("owner {}", T(&v.owner)))
        );
        for r in &v.reasons {
            let _ = writeln!(
                s,
                "          {} [{}]: {}",
                T(&r.clause),
                T(&r.kind),
                T(&r.message)
            );
        }
    }
    pools(s, g, paint);
    if !g.changes.is_empty() {
        let _ = writeln!(s, "\n{}", paint.bold("what the proposal changes:"));
        for c in &g.changes {
            let readers = if c.read_by.is_empty() {
                paint.yellow("read by no contract (uncontracted: worth a look)")
            } else {
                format!("read by {}", list(&c.read_by))
            };
            let _ = writeln!(
                s,
                "  {:<8} {}: {} → {}; {readers}",
                c.kind,
                T(&c.output),
                T(c.before.as_deref().unwrap_or("(none)")),
                T(c.after.as_deref().unwrap_or("(none)"))
            );
        }
    }
    for w in &g.warnings {
        let _ = writeln!(s, "\n{} {}", paint.yellow("warning:"), T(w));
    }
    let verdict = if g.deployable {
        paint.green("deployable")
    } else {
        paint.red("NOT deployable")
    };
    let _ = write!(
        s,
        "\n{} {verdict} (exit {})",
        paint.bold("verdict:"),
        g.verdict_exit_code
    );
    if g.dry_run {
        let _ = write!(s, "; {}", paint.yellow("--dry-run used: exiting 0"));
    }
    let _ = writeln!(s);
}

/// Who a snapshot change touches, in words.
pub(crate) fn holds(c: &OutputChange) -> String {
    if c.uncontracted {
        return "uncontracted (no contract reads it)".into();
    }
    c.consumers
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i.consumer,
                match i.holds {
                    Holds::Yes => "holds",
                    Holds::No => "BREAKS",
                    Holds::Unknown => "not evaluated",
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A snapshot value in one line.
pub(crate) fn short(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "(none)".into())
}

/// A diff report.
pub fn diff(r: &DiffReport, color: bool) -> String {
    let paint = Paint { on: color };
    let d = &r.diff;
    let mut s = String::new();
    for line in r.unified_diff.lines() {
        let _ = writeln!(s, "{}", paint.diff_line(&T(line).to_string()));
    }
    if r.unified_diff.is_empty() {
        let _ = writeln!(s, "no change since {}", T(&r.snapshot));
    }
    for g in &d.groups_added {
        let _ = writeln!(s, "group appeared: {}", T(g));
    }
    for g in &d.groups_removed {
        let _ = writeln!(s, "group vanished: {}", T(g));
    }
    for c in &d.lost_inputs {
        let _ = writeln!(
            s,
            "{} BREAKS: it selected instances in the snapshot and selects none now: it lost its input",
            T(c)
        );
    }
    if !d.changes.is_empty() {
        if !d.unaffected.is_empty() {
            let _ = writeln!(s, "\nunaffected consumers: {}", list(&d.unaffected));
        }
        let _ = writeln!(s, "\nimpact:");
        for c in &d.changes {
            let _ = writeln!(
                s,
                "  {:<8} {} {}: {} → {}\n           {}",
                c.kind,
                T(&c.group),
                T(&c.output),
                T(&short(&c.before)),
                T(&short(&c.after)),
                T(&holds(c))
            );
        }
    }
    let _ = writeln!(
        s,
        "\n{} → exit {}{}",
        if d.breaking {
            "a change breaks a contract"
        } else if d.changes.is_empty() {
            "no breaking change"
        } else {
            "changes break no contract"
        },
        r.exit_code,
        if r.updated {
            format!("; {} updated", T(&r.snapshot))
        } else {
            String::new()
        }
    );
    s
}

/// A cull plan.
pub fn plan(p: &Plan) -> String {
    let mut s = String::new();
    let mode = if p.dry_run {
        "dry run: nothing is changed (--apply acts)"
    } else {
        "APPLIED"
    };
    let _ = writeln!(
        s,
        "checker cull, contract {}, action {:?}, threshold {} min: {mode}",
        T(&p.contract),
        p.action,
        p.threshold_minutes
    );
    if let Some(r) = &p.refused {
        let _ = writeln!(s, "REFUSED: {}", T(r));
    }
    for g in &p.groups {
        let _ = writeln!(
            s,
            "  group {}: {} instances, {} impaired, budget {}, acting on {}, deferred {}",
            T(&g.group),
            g.size,
            g.impaired,
            g.allowed,
            g.acting,
            g.deferred
        );
    }
    for e in &p.entries {
        let _ = writeln!(
            s,
            "  {:<16} {} {} [{}] since {}: {}{}",
            e.decision,
            T(&e.instance),
            T(&e.region),
            T(e.group.as_deref().unwrap_or("-")),
            T(e.impaired_since.as_deref().unwrap_or("?")),
            T(&e.reason),
            e.result
                .as_ref()
                .map(|r| format!(" → {}", T(r)))
                .unwrap_or_default()
        );
    }
    match &p.outcome {
        Some(o) => {
            let _ = writeln!(
                s,
                "acted on {} of {} chosen ({} yielded to other runs, {} refused by EC2, {} with an unknown outcome, {} not started, {} already gone), {} impaired in all",
                o.acted,
                o.chosen,
                o.yielded,
                o.failed,
                o.unknown,
                o.not_started,
                o.not_found,
                p.entries.len()
            );
        }
        None => {
            let _ = writeln!(
                s,
                "would act on {} instance(s), {} impaired in all",
                p.chosen().count(),
                p.entries.len()
            );
        }
    }
    s
}

/// The clause kinds and finding codes.
pub fn rules() -> String {
    let mut s = String::from("Clause kinds\n");
    for r in crate::rules::rules() {
        let _ = write!(
            s,
            "\n{}\n  {}\n  fields:  {}\n  unknown: {}\n  example: {}\n",
            r.kind, r.summary, r.fields, r.unknown_when, r.example
        );
    }
    s.push_str("\nFinding codes\n\n");
    for c in Code::all() {
        let _ = writeln!(s, "  {:<18} {}", c.name(), c.description());
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::report::{
        PartKind, PartStatus, Scope, ScopeKind, SourceInfo, SourceKind, SourcePart,
    };

    fn part(name: &str, account: Option<&str>, kind: PartKind, status: PartStatus) -> SourcePart {
        let part = match status {
            PartStatus::Ok => SourcePart::read(name, kind, 0),
            _ => SourcePart::failed(name, kind, "denied"),
        };
        SourcePart {
            scope: account.map(|a| Scope::new(ScopeKind::Account, a)),
            ..part
        }
    }

    #[test]
    fn the_header_names_each_part_by_its_kind() {
        let source = SourceInfo {
            kind: SourceKind::Live,
            parts: vec![
                part("us-east-1", None, PartKind::Region, PartStatus::Ok),
                part(
                    "us-west-1",
                    Some("111122223333"),
                    PartKind::RegionOfAccount,
                    PartStatus::Ok,
                ),
                // A region whose name reads like an account's label is still a region.
                part(
                    "account x",
                    Some("444455556666"),
                    PartKind::RegionOfAccount,
                    PartStatus::Ok,
                ),
                part(
                    "account dev (222233334444)",
                    Some("222233334444"),
                    PartKind::Account,
                    PartStatus::Failed,
                ),
            ],
            ..SourceInfo::default()
        };
        let r = crate::eval::build(
            "check",
            &crate::contract::ContractSet::default(),
            &[],
            source,
            crate::eval::Judgement::default(),
            chrono::Utc::now(),
        );
        let text = super::report(&r, false);
        let first = text.lines().next().expect("a header");
        assert!(
            first.contains(
                "(us-east-1, 111122223333/us-west-1, 444455556666/account x, account dev (222233334444))"
            ),
            "{first}"
        );
        assert!(
            text.contains("unknown account dev (222233334444) could not be read: denied"),
            "{text}"
        );
    }
}
