//! Renderers: one small function per format over the one [`Report`] model.

use crate::contract::Severity;
use crate::report::*;
use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;

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
}

/// Renders a report.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human(report, color),
        Format::Json => json(report),
        Format::Junit => junit(report),
        Format::Markdown => markdown(report),
    }
}

/// Pretty JSON with a trailing newline.
pub fn json(report: &Report) -> String {
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

struct Paint {
    on: bool,
}

impl Paint {
    fn p(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
    fn red(&self, t: &str) -> String {
        self.p(AnsiColor::Red.on_default().bold(), t)
    }
    fn yellow(&self, t: &str) -> String {
        self.p(AnsiColor::Yellow.on_default().bold(), t)
    }
    fn green(&self, t: &str) -> String {
        self.p(AnsiColor::Green.on_default().bold(), t)
    }
    fn blue(&self, t: &str) -> String {
        self.p(AnsiColor::Cyan.on_default(), t)
    }
    fn dim(&self, t: &str) -> String {
        self.p(Style::new().dimmed(), t)
    }
    fn bold(&self, t: &str) -> String {
        self.p(Style::new().bold(), t)
    }
}

fn label(f: &Finding, paint: &Paint) -> String {
    match (f.outcome, f.severity) {
        (Outcome::Violation, Severity::Error) => paint.red("error  "),
        (Outcome::Violation, Severity::Warning) => paint.yellow("warning"),
        (Outcome::Unknown, _) => paint.yellow("unknown"),
        (Outcome::Waived, _) => paint.blue("waived "),
        (Outcome::Notice, _) => paint.dim("notice "),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The human form.
pub fn human(r: &Report, color: bool) -> String {
    let paint = Paint { on: color };
    let mut s = String::new();
    let failed_parts: Vec<&SourcePart> =
        r.source.parts.iter().filter(|p| p.status != "ok").collect();
    let _ = writeln!(
        s,
        "{} {}: {} from {} ({}), {} and {} evaluated",
        paint.bold("checker"),
        r.command,
        plural(r.source.instances, "instance", "instances"),
        r.source.kind,
        r.source
            .parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        plural(
            r.consumers.iter().filter(|c| c.role == "consumer").count(),
            "consumer contract",
            "consumer contracts"
        ),
        plural(
            r.consumers.iter().filter(|c| c.role == "provider").count(),
            "provider manifest",
            "provider manifests"
        ),
    );
    for p in &failed_parts {
        let _ = writeln!(
            s,
            "{} {} could not be read: {}",
            paint.red("unknown"),
            p.name,
            p.error.as_deref().unwrap_or("error")
        );
    }
    if r.source.kind == "live" && r.source.user_data_sampled > 0 {
        let _ = writeln!(
            s,
            "user-data read for a sample of {} of {} instances",
            r.source.user_data_sampled, r.source.instances
        );
    }
    if let Some(g) = &r.gate {
        human_gate(&mut s, g, &paint);
    }
    let mut current: Option<&str> = None;
    for f in &r.findings {
        if current != Some(f.consumer.as_str()) {
            current = Some(&f.consumer);
            let tally = r.consumers.iter().find(|c| c.name == f.consumer);
            let _ = writeln!(s);
            let role = tally
                .map(|t| t.role)
                .unwrap_or(if f.consumer.starts_with('(') {
                    "the data"
                } else {
                    "consumer"
                });
            let _ = write!(
                s,
                "{} {}",
                paint.bold(&f.consumer),
                paint.dim(&format!("({role}"))
            );
            if let Some(o) = tally.and_then(|t| t.owner.as_deref()) {
                let _ = write!(s, "{}", paint.dim(&format!(", owner {o}")));
            }
            let _ = writeln!(s, "{}", paint.dim(")"));
        }
        let _ = writeln!(
            s,
            "  {} {} {}",
            label(f, &paint),
            paint.bold(f.clause.as_deref().unwrap_or(f.code)),
            paint.dim(&format!("[{}]", f.code))
        );
        let _ = writeln!(s, "          {}", f.message);
        if !f.actual.is_empty() && f.count > 0 {
            let _ = writeln!(
                s,
                "          seen on {}:",
                plural(f.count, "instance", "instances")
            );
            for v in f.actual.iter().take(5) {
                let _ = writeln!(s, "            {} × {}", v.count, v.value);
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
            let _ = writeln!(s, "          e.g. {}", f.samples.join(", "));
        }
        if let Some(w) = &f.why {
            let _ = writeln!(s, "          why: {w}");
        }
        if let Some(w) = &f.waiver {
            let _ = writeln!(
                s,
                "          waiver: {} until {}: {} ({})",
                w.owner, w.expires, w.reason, w.file
            );
        }
        if let Some(rb) = &f.runbook {
            let _ = writeln!(s, "          runbook: {rb}");
        }
    }
    let cov = &r.coverage;
    if !cov.uncovered_outputs.is_empty()
        || !cov.unpromised_reads.is_empty()
        || !cov.unmatched_contracts.is_empty()
    {
        let _ = writeln!(
            s,
            "\n{} {}% of provider outputs are read by some contract",
            paint.bold("coverage:"),
            cov.covered_percent
        );
        if !cov.unpromised_reads.is_empty() {
            for u in &cov.unpromised_reads {
                let _ = writeln!(
                    s,
                    "  read but promised by no provider: {} (by {})",
                    u.output,
                    u.consumers.join(", ")
                );
            }
        }
        if !cov.uncovered_outputs.is_empty() {
            let list: Vec<String> = cov
                .uncovered_outputs
                .iter()
                .map(|u| u.output.clone())
                .collect();
            let _ = writeln!(s, "  emitted but read by no contract: {}", list.join(", "));
        }
        if !cov.unmatched_contracts.is_empty() {
            let _ = writeln!(
                s,
                "  contracts matching no instance: {}",
                cov.unmatched_contracts.join(", ")
            );
        }
    }
    let sm = &r.summary;
    let status = match sm.status {
        "clean" => paint.green("clean"),
        "warnings" => paint.yellow("clean with warnings"),
        "violations" => paint.red("violations"),
        _ => paint.red("incomplete"),
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

fn human_gate(s: &mut String, g: &GateSection, paint: &Paint) {
    let _ = writeln!(s, "\n{} {}", paint.bold("proposal:"), g.proposal);
    if let Some(b) = &g.base {
        let _ = writeln!(s, "{} {b}", paint.bold("base:    "));
    }
    let _ = writeln!(s, "\n{}", paint.bold("can I deploy?"));
    for v in &g.verdicts {
        let word = match v.deployable {
            "yes" => paint.green("yes    "),
            "no" => paint.red("no     "),
            _ => paint.yellow("unknown"),
        };
        let mut notes = Vec::new();
        if v.regression == Some(true) {
            notes.push("regression: holds on the base".to_string());
        }
        if !v.affected {
            notes.push("unaffected".to_string());
        }
        if let Some(r) = &v.ignored {
            notes.push(format!("IGNORED: {r}"));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            paint.dim(&format!(" ({})", notes.join("; ")))
        };
        let _ = writeln!(
            s,
            "  {word} {} {}{notes}",
            v.consumer,
            paint.dim(&format!("owner {}", v.owner))
        );
        for r in &v.reasons {
            let _ = writeln!(s, "          {} [{}]: {}", r.clause, r.kind, r.message);
        }
    }
    if !g.changes.is_empty() {
        let _ = writeln!(s, "\n{}", paint.bold("what the proposal changes:"));
        for c in &g.changes {
            let readers = if c.read_by.is_empty() {
                paint.yellow("read by no contract (uncontracted: worth a look)")
            } else {
                format!("read by {}", c.read_by.join(", "))
            };
            let _ = writeln!(
                s,
                "  {:<8} {}: {} → {}; {readers}",
                c.kind,
                c.output,
                c.before.as_deref().unwrap_or("(none)"),
                c.after.as_deref().unwrap_or("(none)")
            );
        }
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

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown form.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let sm = &r.summary;
    let icon = match sm.status {
        "clean" => "✅",
        "warnings" => "⚠️",
        "violations" => "❌",
        _ => "❓",
    };
    if let Some(g) = &r.gate {
        let icon = if g.deployable {
            "✅"
        } else if g.verdict_exit_code == crate::exit::VIOLATIONS {
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
            md_escape(&g.proposal),
            g.base
                .as_ref()
                .map(|b| format!(" (base: {})", md_escape(b)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "| consumer | owner | can I deploy? | why |\n|---|---|---|---|"
        );
        for v in &g.verdicts {
            let mark = match v.deployable {
                "yes" => "✅ yes",
                "no" => "❌ no",
                _ => "❓ unknown",
            };
            let mut why: Vec<String> = v
                .reasons
                .iter()
                .map(|r| format!("`{}`: {}", r.clause, md_escape(&r.message)))
                .collect();
            if v.regression == Some(true) {
                why.insert(0, "regression (holds on the base)".into());
            }
            if let Some(r) = &v.ignored {
                why.insert(0, format!("**ignored**: {}", md_escape(r)));
            }
            if !v.affected && why.is_empty() {
                why.push("unaffected".into());
            }
            let _ = writeln!(
                s,
                "| {} | {} | {mark} | {} |",
                v.consumer,
                md_escape(&v.owner),
                why.join("<br>")
            );
        }
        if !g.changes.is_empty() {
            let _ = writeln!(
                s,
                "\n| change | output | before | after | read by |\n|---|---|---|---|---|"
            );
            for c in &g.changes {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | {} | {} |",
                    c.kind,
                    c.output,
                    md_escape(c.before.as_deref().unwrap_or("")),
                    md_escape(c.after.as_deref().unwrap_or("")),
                    if c.read_by.is_empty() {
                        "⚠️ no contract".to_string()
                    } else {
                        c.read_by.join(", ")
                    }
                );
            }
        }
        let _ = writeln!(
            s,
            "\n<details><summary>Findings on the proposed instances</summary>\n"
        );
    } else {
        let _ = writeln!(s, "## {icon} checker {}: {}\n", r.command, sm.status);
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
            .map(|p| if p.status == "ok" {
                p.name.clone()
            } else {
                format!("**{} FAILED**", p.name)
            })
            .collect::<Vec<_>>()
            .join(", "),
        sm.evaluations,
        sm.exit_code
    );
    if !r.findings.is_empty() {
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
                Some(rb) => format!("[{}]({rb})", f.consumer),
                None => f.consumer.clone(),
            };
            let mut what = md_escape(&f.message);
            if let Some(w) = &f.waiver {
                what.push_str(&md_escape(&format!(
                    " (waiver: {} until {}: {})",
                    w.owner, w.expires, w.reason
                )));
            }
            let _ = writeln!(
                s,
                "| {mark} | {consumer} | `{}` | {} | {} | {} |",
                f.clause.as_deref().unwrap_or(f.code),
                f.count,
                what,
                f.samples
                    .first()
                    .map(|x| format!("`{x}`"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(s);
    }
    let cov = &r.coverage;
    let _ = writeln!(
        s,
        "<details><summary>Coverage: {}% of provider outputs read by a contract</summary>\n",
        cov.covered_percent
    );
    for u in &cov.unpromised_reads {
        let _ = writeln!(
            s,
            "- read but promised by no provider: `{}` ({})",
            u.output,
            u.consumers.join(", ")
        );
    }
    for u in &cov.uncovered_outputs {
        let _ = writeln!(
            s,
            "- emitted by {} but read by no contract: `{}`",
            u.provider, u.output
        );
    }
    for c in &cov.unmatched_contracts {
        let _ = writeln!(s, "- matches no instance: {c}");
    }
    let _ = writeln!(s, "\n</details>");
    if r.gate.is_some() {
        let _ = writeln!(s, "\n</details>");
    }
    s
}

/// The JUnit form.
pub fn junit(r: &Report) -> String {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut report = quick_junit::Report::new(format!("checker {}", r.command));
    for c in &r.consumers {
        let mut suite = TestSuite::new(format!("{} {}", c.role, c.name));
        for cl in &c.clauses {
            let findings: Vec<&Finding> = r
                .findings
                .iter()
                .filter(|f| f.consumer == c.name && f.clause.as_deref() == Some(cl.id.as_str()))
                .collect();
            let failing = findings.iter().find(|f| f.outcome == Outcome::Violation);
            let unknown = findings.iter().find(|f| f.outcome == Outcome::Unknown);
            let status = if let Some(f) = failing {
                let kind = if f.severity == Severity::Error {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                st.set_message(f.message.clone());
                st.set_type(if f.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                });
                st.set_description(finding_text(f));
                st
            } else if let Some(f) = unknown {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_message(f.message.clone());
                st.set_type("unknown");
                st
            } else if c.selected == 0 || cl.passed + cl.waived == 0 {
                let mut st = TestCaseStatus::skipped();
                st.set_message(if c.selected == 0 {
                    "the selector matched no instance".to_string()
                } else {
                    "not evaluated on any instance".to_string()
                });
                st
            } else {
                TestCaseStatus::success()
            };
            let mut tc = TestCase::new(cl.id.clone(), status);
            tc.set_classname(format!("{}.{}", c.name, cl.kind));
            tc.set_assertions(cl.passed + cl.failed + cl.waived + cl.unknown);
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    if let Some(g) = &r.gate {
        let mut suite = TestSuite::new(format!("gate {}", g.proposal));
        for v in &g.verdicts {
            let status = match (v.deployable, &v.ignored) {
                (_, Some(reason)) => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(format!("ignored: {reason}"));
                    st
                }
                ("yes", None) => TestCaseStatus::success(),
                (d, None) => {
                    let mut st = TestCaseStatus::non_success(if d == "no" {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    });
                    st.set_message(format!("{} says {d}", v.consumer));
                    st.set_description(
                        v.reasons
                            .iter()
                            .map(|r| format!("{}: {}", r.clause, r.message))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    st
                }
            };
            let mut tc = TestCase::new(format!("can-i-deploy {}", v.consumer), status);
            tc.set_classname("gate");
            suite.add_test_case(tc);
        }
        if g.dry_run {
            suite.add_property(quick_junit::Property::new("dry-run", "true"));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}

fn finding_text(f: &Finding) -> String {
    let mut s = String::new();
    for v in &f.actual {
        let _ = writeln!(s, "{} x {}", v.count, v.value);
    }
    if !f.samples.is_empty() {
        let _ = writeln!(s, "e.g. {}", f.samples.join(", "));
    }
    if let Some(w) = &f.why {
        let _ = writeln!(s, "why: {w}");
    }
    if let Some(rb) = &f.runbook {
        let _ = writeln!(s, "runbook: {rb}");
    }
    s
}
