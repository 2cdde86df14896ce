//! A gate run's GitHub check, as taskcluster-github shows it for a task of a `.taskcluster.yml`
//! with `reporting: checks-v1`: the check's text (`public/github/customCheckRunText.md`, at
//! most 65,535 characters) and its annotations (`public/github/customCheckRunAnnotations.json`,
//! at most 50, each at a contract file and line), both read from the task's artifacts.

use super::escape::term;
use crate::contract::Severity;
use crate::error::Result;
use crate::report::{Finding, Outcome, Report};
use serde_json::{Value, json};

/// GitHub's limit on a check run's text.
pub const TEXT_LIMIT: usize = 65_535;
/// GitHub's limit on annotations per check run update.
pub const ANNOTATION_LIMIT: usize = 50;

fn level(f: &Finding) -> &'static str {
    match (f.outcome, f.severity) {
        (Outcome::Violation, Severity::Error) => "failure",
        (Outcome::Violation, Severity::Warning) | (Outcome::Unknown, _) => "warning",
        _ => "notice",
    }
}

/// The check run's text: the Markdown report, cut to [`TEXT_LIMIT`] characters with a note.
pub fn text(r: &Report) -> String {
    let md = super::markdown::report(r);
    if md.chars().count() <= TEXT_LIMIT {
        return md;
    }
    let note =
        "\n\n… (cut to GitHub's 65,535 characters: the whole report is the task's gate artifact)\n";
    let keep = TEXT_LIMIT - note.chars().count();
    let mut out: String = md.chars().take(keep).collect();
    out.push_str(note);
    out
}

/// The annotations: located findings, failures first, at most [`ANNOTATION_LIMIT`].
pub fn annotations(r: &Report) -> Result<String> {
    let mut located: Vec<&Finding> = r.findings.iter().filter(|f| f.location.is_some()).collect();
    located.sort_by_key(|f| match level(f) {
        "failure" => 0,
        "warning" => 1,
        _ => 2,
    });
    let list: Vec<Value> = located
        .into_iter()
        .take(ANNOTATION_LIMIT)
        .filter_map(|f| {
            let l = f.location.as_ref()?;
            // Annotations are plain text; one line per value (ours are the only line breaks).
            let mut message = term(&f.message).into_owned();
            if let Some(why) = &f.why {
                message.push_str("\nWhy: ");
                message.push_str(&term(why));
            }
            Some(json!({
                "path": term(l.file.trim_start_matches("./")),
                "start_line": l.line,
                "end_line": l.line,
                "annotation_level": level(f),
                "title": format!("{} {}", term(&f.consumer), term(f.clause.as_deref().unwrap_or(f.code.name()))),
                "message": message.chars().take(64 * 1024).collect::<String>(),
            }))
        })
        .collect();
    super::json(&list)
}
