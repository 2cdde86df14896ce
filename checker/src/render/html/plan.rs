//! A cull plan as a page: the refusal first when there is one (nothing is done anywhere), the
//! outcome after `--apply`, suspect claims, each group's budget arithmetic, and each impaired
//! instance's decision and reason.

use super::{page as shell, t};
use crate::cull::{Decision, Plan};
use crate::source::Action;
use maud::html;

const CSS: &str = "\
.refused{border:3px solid #c62828;background:#fdecea;padding:8px 12px}\
tr.act td:first-child{border-left:4px solid #c62828}tr.held td:first-child{border-left:4px dashed #555}\
tr.deferred td:first-child,tr.claimed td:first-child{border-left:4px dotted #ef6c00}\
td.n{text-align:right}";

fn decision_symbol(d: Decision) -> &'static str {
    match d {
        Decision::Act => "✗",
        Decision::Held => "‖",
        Decision::Deferred | Decision::Claimed => "…",
        Decision::AlreadyActed => "✓",
        Decision::Candidate => "?",
        Decision::OutsideSelector | Decision::TooRecent | Decision::UnknownSince => "–",
    }
}

/// A cull plan as a page.
pub fn page(p: &Plan) -> String {
    let action = match p.action {
        Action::Terminate => "terminate",
        Action::Reboot => "reboot",
    };
    let mode = if p.dry_run { "dry run" } else { "applied" };
    let acting = p.chosen().count();
    let (sym, title) = match &p.refused {
        Some(_) => ("✗", format!("checker cull ({mode}): refused")),
        None => ("✓", format!("checker cull ({mode}): {acting} to {action}")),
    };
    let body = html! {
        p.status {
            "Contract " code { (t(&p.contract)) } ": " (p.entries.len()) " impaired instance(s), "
            (acting) " to " (action) "; threshold " (p.threshold_minutes) " min, budget window "
            (p.budget_window_minutes) " min; exit " (p.exit_status().code()) "."
        }
        @if let Some(r) = &p.refused {
            section.refused #refusal aria-labelledby="refusal-h" {
                h2 #refusal-h { "✗ Refused"
                    @if let Some(k) = p.refusal_kind { " (" (serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) ")" } }
                p { (t(r)) }
                p { "Nothing is done anywhere until this is fixed." }
            }
        }
        @if let Some(o) = &p.outcome {
            p { strong { "Outcome: " } "acted on " (o.acted) " of " (o.chosen) " chosen; " (o.yielded)
                " yielded to other runs, " (o.failed) " refused by the cloud, " (o.unknown)
                " with an unknown outcome, " (o.not_started) " not started, " (o.not_found) " already gone." }
        }
        @for c in &p.suspect_claims { p { "⚠ Suspect claim (counts against the budget): " (t(c)) } }
        section #groups aria-labelledby="groups-h" {
            h2 #groups-h { "Budgets by group" }
            @if p.groups.is_empty() { p { "No group." } } @else {
                table {
                    thead { tr { th scope="col" { "group" } th scope="col" { "size" } th scope="col" { "impaired" }
                        th scope="col" { "allowed" } th scope="col" { "used in window" } th scope="col" { "acting" } th scope="col" { "deferred" } } }
                    tbody { @for g in &p.groups { tr {
                        th scope="row" { code { (t(&g.group)) } } td.n { (g.size) } td.n { (g.impaired) }
                        td.n { (g.allowed) } td.n { (g.used_in_window) } td.n { (g.acting) } td.n { (g.deferred) } } } }
                }
            }
        }
        section #decisions aria-labelledby="decisions-h" {
            h2 #decisions-h { "Decisions (" (p.entries.len()) ")" }
            @if p.entries.is_empty() { p { "No impaired instance." } } @else {
                table {
                    thead { tr { th scope="col" { "decision" } th scope="col" { "instance" } th scope="col" { "region" }
                        th scope="col" { "group" } th scope="col" { "impaired since" } th scope="col" { "reason" } } }
                    tbody { @for e in &p.entries { tr class=(e.decision.name()) {
                        td.o { (decision_symbol(e.decision)) " " (e.decision.name()) }
                        td { code { (t(&e.instance)) } } td { (t(&e.region)) }
                        td { @if let Some(g) = &e.group { code { (t(g)) } } @else { span.muted { "–" } } }
                        td.nw { (t(e.impaired_since.as_deref().unwrap_or("–"))) }
                        td { (t(&e.reason)) @if let Some(r) = &e.result { div.muted { "Result: " (t(r)) } } } } } }
                }
            }
        }
        p.muted { "By " (t(&p.tool)) "." }
    };
    shell(&p.tool, &title, sym, CSS, body)
}
