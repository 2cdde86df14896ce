//! The Markdown form: for a pull-request comment or a Taskcluster artifact. Every value goes
//! through `render::escape` (`text`, `code`, `md_link`): it shows as written and can add no
//! row, heading, HTML or mention.

use crate::contract::Severity;
use crate::cull::Plan;
use crate::report::*;
use crate::snapshot::DiffReport;
use std::fmt::Write as _;

use super::escape::{md_code as code, md_fence, md_link, md_text as text};

/// Our own static text for a table cell (the rules' documentation): its code spans are meant.
fn trusted(s: &'static str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Names, each escaped, joined by commas.
fn list(names: &[String]) -> String {
    names.iter().map(|n| text(n)).collect::<Vec<_>>().join(", ")
}

/// A check or gate report.
pub fn report(r: &Report) -> String {
    let mut s = String::new();
    let sm = &r.summary;
    let icon = match sm.status {
        Status::Clean => "✅",
        Status::Warnings => "⚠️",
        Status::Violations => "❌",
        Status::Incomplete => "❓",
    };
    match &r.gate {
        Some(g) => gate(&mut s, r, g),
        None => {
            let _ = writeln!(s, "## {icon} checker {}: {}\n", text(&r.command), sm.status);
        }
    }
    let _ = writeln!(
        s,
        "{} errors, {} warnings, {} unknown, {} waived; {} instances from {} ({}); {} evaluations; exit {}.\n",
        sm.errors,
        sm.warnings,
        sm.unknown,
        sm.waived,
        r.source.instances,
        r.source.kind,
        r.source
            .parts
            .iter()
            .map(|p| if p.status == PartStatus::Ok {
                text(&p.scope())
            } else {
                format!("{} **FAILED**", text(&p.scope()))
            })
            .collect::<Vec<_>>()
            .join(", "),
        sm.evaluations,
        sm.exit_code
    );
    findings(&mut s, r);
    coverage(&mut s, &r.coverage);
    if r.gate.is_some() {
        let _ = writeln!(s, "\n</details>");
    }
    s
}

fn findings(s: &mut String, r: &Report) {
    if r.findings.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "| | consumer | clause | instances | what | example |\n|---|---|---|---|---|---|"
    );
    for f in &r.findings {
        let mark = match (f.outcome, f.severity) {
            (Outcome::Violation, Severity::Error) => "❌ error",
            (Outcome::Violation, Severity::Warning) => "⚠️ warning",
            (Outcome::Unknown, _) => "❓ unknown",
            (Outcome::Waived, _) => "💤 waived",
            (Outcome::Notice, _) => "ℹ️ notice",
        };
        let consumer = match r
            .consumers
            .iter()
            .find(|c| c.name == f.consumer)
            .and_then(|c| c.runbook.as_ref())
        {
            Some(rb) => md_link(&f.consumer, rb),
            None => text(&f.consumer),
        };
        let mut what = text(&f.message);
        if let Some(w) = &f.waiver {
            what.push_str(&text(&format!(
                " (waiver: {} until {}: {})",
                w.owner, w.expires, w.reason
            )));
        }
        let _ = writeln!(
            s,
            "| {mark} | {consumer} | {} | {} | {} | {} |",
            code(f.clause.as_deref().unwrap_or(f.code.name())),
            f.count,
            what,
            f.samples.first().map(|x| code(x)).unwrap_or_default()
        );
    }
    let _ = writeln!(s);
}

fn coverage(s: &mut String, cov: &Coverage) {
    let _ = writeln!(
        s,
        "<details><summary>Coverage: {}% of provider outputs read by a contract</summary>\n",
        cov.covered_percent
    );
    for u in &cov.unpromised_reads {
        let _ = writeln!(
            s,
            "- read but promised by no provider: {} ({})",
            code(&u.output),
            list(&u.consumers)
        );
    }
    for u in &cov.uncovered_outputs {
        let _ = writeln!(
            s,
            "- emitted by {} but read by no contract: {}",
            text(&u.provider),
            code(&u.output)
        );
    }
    for c in &cov.unmatched_contracts {
        let _ = writeln!(s, "- matches no instance: {}", text(c));
    }
    let _ = writeln!(s, "\n</details>");
}

/// The pools' verdicts: a count, then a row per pool that is not deployable.
fn pools(s: &mut String, g: &GateSection) {
    if g.pools.is_empty() {
        return;
    }
    let count = |d: Deployable| g.pools.iter().filter(|p| p.deployable == d).count();
    let _ = writeln!(
        s,
        "\n**Pools**: {} proposed: {} ✅ yes, {} ❌ no, {} ❓ unknown\n",
        g.pools.len(),
        count(Deployable::Yes),
        count(Deployable::No),
        count(Deployable::Unknown)
    );
    let open: Vec<_> = g
        .pools
        .iter()
        .filter(|p| p.deployable != Deployable::Yes)
        .collect();
    if open.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "| pool | provider | can I deploy? | why |\n|---|---|---|---|"
    );
    for p in open {
        let mark = if p.deployable == Deployable::No {
            "❌ no"
        } else {
            "❓ unknown"
        };
        let why: Vec<String> = p
            .reasons
            .iter()
            .map(|r| format!("{}: {}", code(&r.clause), text(&r.message)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {mark} | {} |",
            code(&p.pool),
            text(&p.provider_id),
            text(p.implementation.as_deref().unwrap_or("not modelled")),
            why.join("<br>")
        );
    }
}

fn gate(s: &mut String, r: &Report, g: &GateSection) {
    let icon = if g.deployable {
        "✅"
    } else if g.verdict_exit_code == crate::exit::ExitStatus::Violations {
        "❌"
    } else {
        "❓"
    };
    let _ = writeln!(
        s,
        "## {icon} checker gate: {}\n",
        if g.deployable {
            "deployable"
        } else {
            "not deployable"
        }
    );
    if g.dry_run {
        let _ = writeln!(
            s,
            "> **--dry-run was used**: this check exits 0 whatever the verdicts (it would have exited {}).\n",
            g.verdict_exit_code
        );
    }
    let _ = writeln!(
        s,
        "Proposal: {}{}\n",
        text(&g.proposal),
        g.base
            .as_ref()
            .map(|b| format!(" (base: {})", text(b)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "| consumer | owner | can I deploy? | why |\n|---|---|---|---|"
    );
    for v in &g.verdicts {
        let mark = match v.deployable {
            Deployable::Yes => "✅ yes",
            Deployable::No => "❌ no",
            Deployable::Unknown => "❓ unknown",
        };
        let mut why: Vec<String> = v
            .reasons
            .iter()
            .map(|r| format!("{}: {}", code(&r.clause), text(&r.message)))
            .collect();
        if v.regression == Some(true) {
            why.insert(0, "regression (holds on the base)".into());
        }
        if let Some(r) = &v.ignored {
            why.insert(0, format!("**ignored**: {}", text(r)));
        }
        if !v.affected && why.is_empty() {
            why.push("unaffected".into());
        }
        let _ = writeln!(
            s,
            "| {} | {} | {mark} | {} |",
            text(&v.consumer),
            text(&v.owner),
            why.join("<br>")
        );
    }
    pools(s, g);
    changes(s, g);
    blast_radius(s, r);
    let _ = writeln!(
        s,
        "\n<details><summary>Findings on the proposed instances</summary>\n"
    );
    for w in &g.warnings {
        let _ = writeln!(s, "\n> ⚠️ {}", text(w));
    }
    if !g.warnings.is_empty() {
        // A blank line ends the quote: the report's summary is not a lazy continuation of it.
        s.push('\n');
    }
}

/// The gate's changes to the provider's outputs, and who reads each.
fn changes(s: &mut String, g: &GateSection) {
    if !g.changes.is_empty() {
        let _ = writeln!(
            s,
            "\n| change | output | before | after | read by |\n|---|---|---|---|---|"
        );
        for c in &g.changes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                c.kind,
                code(&c.output),
                c.before.as_deref().map(code).unwrap_or_default(),
                c.after.as_deref().map(code).unwrap_or_default(),
                if c.read_by.is_empty() {
                    "⚠️ no contract".to_string()
                } else {
                    list(&c.read_by)
                }
            );
        }
    }
}

/// The gate's blast radius as a Mermaid flowchart (GitHub draws it in a check run or comment):
/// the changed outputs and the consumers reading them or, without changes, the outputs with a
/// broken or unknown edge. Nothing when neither exists. Every label is Mermaid-escaped.
fn blast_radius(s: &mut String, r: &Report) {
    let g = super::graph::Graph::of(r).blast_radius();
    if g.edges.is_empty() {
        return;
    }
    let what = if g.outputs.iter().any(|o| o.change.is_some()) {
        "the outputs the proposal changes and the consumers reading them"
    } else {
        "the outputs with a broken or unknown clause and the consumers reading them"
    };
    let _ = writeln!(
        s,
        "\n**Blast radius**: {what}.\n\n{}",
        md_fence("mermaid", &g.render(super::graph::GraphFormat::Mermaid))
    );
}

/// A diff report.
pub fn diff(r: &DiffReport) -> String {
    let d = &r.diff;
    let mut s = String::new();
    let icon = if d.breaking {
        "❌"
    } else if d.any() {
        "⚠️"
    } else {
        "✅"
    };
    let _ = writeln!(s, "## {icon} checker diff against {}\n", code(&r.snapshot));
    for g in &d.groups_added {
        let _ = writeln!(s, "- group appeared: {}", code(g));
    }
    for g in &d.groups_removed {
        let _ = writeln!(s, "- group vanished: {}", code(g));
    }
    for c in &d.lost_inputs {
        let _ = writeln!(
            s,
            "- ❌ {} selected instances in the snapshot and selects none now: it **lost its input**",
            text(c)
        );
    }
    if !d.changes.is_empty() {
        let _ = writeln!(
            s,
            "\n| group | output | change | before | after | consumers |\n|---|---|---|---|---|---|"
        );
        for c in &d.changes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                code(&c.group),
                code(&c.output),
                c.kind,
                code(&super::human::short(&c.before)),
                code(&super::human::short(&c.after)),
                text(&super::human::holds(c))
            );
        }
    }
    if r.unified_diff.is_empty() {
        let _ = writeln!(s, "No output changed since the snapshot.");
    } else {
        let _ = writeln!(
            s,
            "
<details><summary>Snapshot diff</summary>

{}
</details>",
            md_fence("diff", &r.unified_diff)
        );
    }
    s
}

/// A cull plan.
pub fn plan(p: &Plan) -> String {
    let mut s = String::new();
    let mode = if p.dry_run { "dry run" } else { "applied" };
    let _ = writeln!(
        s,
        "## checker cull ({mode}, contract {})\n",
        code(&p.contract)
    );
    if let Some(r) = &p.refused {
        let _ = writeln!(s, "**Refused**: {}\n", text(r));
    }
    if let Some(o) = &p.outcome {
        let _ = writeln!(
            s,
            "**Outcome**: acted on {} of {} chosen; {} yielded to other runs, {} refused by EC2, {} with an unknown outcome, {} not started, {} already gone\n",
            o.acted, o.chosen, o.yielded, o.failed, o.unknown, o.not_started, o.not_found
        );
    }
    for c in &p.suspect_claims {
        let _ = writeln!(
            s,
            "**Suspect claim** (counts against the budget): {}\n",
            text(c)
        );
    }
    let _ = writeln!(
        s,
        "| group | size | impaired | allowed | acting | deferred |\n|---|---:|---:|---:|---:|---:|"
    );
    for g in &p.groups {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            code(&g.group),
            g.size,
            g.impaired,
            g.allowed,
            g.acting,
            g.deferred
        );
    }
    let _ = writeln!(
        s,
        "\n| instance | region | group | decision | since | reason |\n|---|---|---|---|---|---|"
    );
    for e in &p.entries {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            code(&e.instance),
            text(&e.region),
            e.group.as_deref().map(code).unwrap_or_default(),
            e.decision,
            text(e.impaired_since.as_deref().unwrap_or("")),
            text(&e.reason)
        );
    }
    s
}

/// The clause kinds and finding codes.
pub fn rules() -> String {
    let mut s = String::from(
        "## Clause kinds\n\n| kind | what it checks | fields | unknown when |\n|---|---|---|---|\n",
    );
    for r in crate::rules::rules() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            code(r.kind),
            trusted(r.summary),
            code(r.fields),
            trusted(r.unknown_when)
        );
    }
    s.push_str("\n## Finding codes\n\n| code | meaning |\n|---|---|\n");
    for c in crate::report::Code::all() {
        let _ = writeln!(s, "| {} | {} |", code(c.name()), trusted(c.description()));
    }
    s
}
