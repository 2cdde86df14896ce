//! A hook's history as a page: the consumer x run strip (a row per consumer, a column per run,
//! oldest first; each cell a symbol, a count and a colour, titled), since when each finding open
//! in the newest run has been open, and a row per run.

use super::super::history::{changed, finding, since, state, totals};
use super::{page as shell, t};
use crate::history::View;
use maud::html;

const CSS: &str = "\
table.strip td{text-align:center;white-space:nowrap;min-width:2.2em}table.strip th[scope=row]{white-space:nowrap}\
table.strip thead th{font-size:11px;font-weight:normal}\
td.errors{background:#fdecea;color:#b71c1c;font-weight:bold;border:2px solid #c62828}\
td.warnings{background:#fff8e1;color:#8d6e00}td.unknown{background:#fff3e0;color:#e65100;border:2px dashed #ef6c00}\
td.clean{background:#f1f8e9;color:#1b5e20}td.absent{color:#999}\
tr.warning .o{color:#8d6e00}tr.warning td:first-child{border-left:4px solid #f9a825}\
td.exit-0{color:#1b5e20}td.exit-1{color:#b71c1c;font-weight:bold}td.exit-2,td.exit-3{color:#e65100;font-weight:bold}";

/// A history as a page.
pub fn page(v: &View) -> String {
    let newest = &v.records[v.records.len() - 1];
    let (sym, word) = match newest.exit_code {
        0 => ("✓", "clean"),
        1 => ("✗", "violations"),
        _ => ("?", "incomplete"),
    };
    let runs = super::super::plural(v.records.len(), "run", "runs");
    let title = format!("checker history: {runs}, newest {word}");
    let body = html! {
        p.status {
            (v.records.len()) " run(s) from " (t(&v.records[0].at)) " to " (t(&newest.at))
            "; the newest exited " (newest.exit_code) " with " (v.open.len()) " open finding(s)."
        }
        p.muted { "Read from " code { (t(&v.history)) } " by " (t(&v.tool)) "."
            @if !v.skipped.is_empty() { " " (v.skipped.len()) " line(s) were not records and were skipped." } }
        section #strip aria-labelledby="strip-h" {
            h2 #strip-h { "Consumers by run" }
            p { "A row per contract, a column per run (oldest first). "
                strong.no { "✗ errors" } ", ! warnings, ? unknown (dashed), ✓ clean, · not in that run; the number is the count of findings." }
            table.strip {
                caption { (v.consumers.len()) " contract(s) x " (v.records.len()) " run(s)" }
                thead {
                    tr { th scope="col" { "contract" }
                        @for (i, r) in v.records.iter().enumerate() {
                            th scope="col" title=(t(&r.at)) { "run " (i + 1) br; (t(&short_time(&r.at))) } } }
                }
                tbody {
                    tr { th scope="row" { "exit code" }
                        @for r in &v.records { td class=(format!("exit-{}", r.exit_code.clamp(0, 3))) { (r.exit_code) } } }
                    @for c in &v.consumers {
                        tr {
                            th scope="row" { (t(c)) }
                            @for r in &v.records {
                                @let run = r.consumers.iter().find(|x| &x.name == c);
                                @let (s, w) = state(run);
                                @let n = run.map_or(0, |x| x.errors + x.warnings + x.unknowns);
                                td class=(w) title=(t(&format!("{c} at {}: {w}{}", r.at, run.map_or(String::new(), |x| format!(" ({} error(s), {} warning(s), {} unknown)", x.errors, x.warnings, x.unknowns))))) {
                                    (s) @if n > 0 { " " (n) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #open aria-labelledby="open-h" {
            h2 #open-h { "Open in the newest run (" (v.open.len()) ")" }
            @if newest.findings.is_none() { p { "The newest record lists no findings (written before checker-history 1.1)." } }
            @else if v.open.is_empty() { p { "Nothing is open." } }
            @else {
                table {
                    thead { tr { th scope="col" { "finding" } th scope="col" { "open" } } }
                    tbody { @for o in &v.open {
                        tr class=(open_class(o)) {
                            td.o { (t(&finding(o))) } td { (t(&since(o))) } } } }
                }
            }
        }
        section #runs aria-labelledby="runs-h" {
            h2 #runs-h { "Runs" }
            table {
                thead { tr { th scope="col" { "run" } th scope="col" { "at" } th scope="col" { "task" } th scope="col" { "exit" }
                    th scope="col" { "instances" } th scope="col" { "errors / warnings / unknown" } th scope="col" { "changed groups" }
                    th scope="col" { "checker" } } }
                tbody { @for (i, r) in v.records.iter().enumerate() {
                    @let (e, w, u) = totals(r);
                    tr { td { (i + 1) } td.nw { (t(&r.at)) } td { @if let Some(id) = &r.task_id { code { (t(id)) } } }
                        td { (r.exit_code) } td { (r.instances) } td { (e) " / " (w) " / " (u) }
                        td { (t(&changed(r))) } td.muted { (t(&r.checker.version)) " " span.commit { (t(&r.checker.commit)) } } } } }
            }
        }
    };
    shell(&v.tool, &title, sym, CSS, body)
}

/// An open finding's row class: unknown (dashed), an error (red) or a warning (amber).
fn open_class(o: &crate::history::Open) -> &'static str {
    match (o.finding.outcome.as_str(), o.finding.severity.as_str()) {
        ("unknown", _) => "unknown",
        (_, "warning") => "warning",
        _ => "violation",
    }
}

/// `2018-02-14T12:00:00Z` as `02-14 12:00` (the full time is the column's title).
fn short_time(at: &str) -> String {
    match (at.get(5..10), at.get(11..16)) {
        (Some(d), Some(h)) if at.len() >= 16 => format!("{d} {h}"),
        _ => at.to_string(),
    }
}
