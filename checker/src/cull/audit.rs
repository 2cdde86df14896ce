//! The write-ahead audit log: every action's intent is appended (and synced) before the call
//! that makes it, and its result after, batch by batch. A crash or a kill between the two leaves
//! an intent without a result: the instance may have been acted on, and the log says so.
//!
//! One JSON object per line: `time`, `run`, `tool`, `commit` (the binary's git commit), `event` (`claim`, `release`,
//! `release-failed`, `intent`, `result`, `failed`, `not-started`), `action`, `instance`,
//! `region`, `group`, `contract`, and per event `reason`, `impairedSince`, `result`, `error` or
//! `outcome` (`not-applied` or `unknown`, for `failed`).
//!
//! A batch's lines are appended whole or not at all ([`crate::fsio::append_whole`]): when the
//! disk fills half-way the file is cut back to where it was, and the run stops before acting.
//! A log that ends in a torn line anyway (a crash, another tool) is reported when a run opens
//! it, and the run's lines start on a line of their own.

use super::{Action, PlanEntry};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Where lines go, and what every line carries.
pub struct Audit {
    path: Option<PathBuf>,
    run: String,
    contract: String,
    action: Action,
}

impl Audit {
    /// An audit log at `path` (none: nothing is written, as in a dry run), and what is wrong
    /// with what is already in it (a torn last line), in words.
    pub fn open(
        path: Option<PathBuf>,
        run: &str,
        contract: &str,
        action: Action,
    ) -> (Self, Vec<String>) {
        let warnings = path
            .as_deref()
            .and_then(|p| torn_tail(p).map(|t| (p, t)))
            .map(|(p, t)| {
                vec![format!(
                    "the audit log {} ends in a torn line ({} bytes, not JSON: a run was interrupted while writing it): {}",
                    p.display(),
                    t.len(),
                    t.chars().take(120).collect::<String>()
                )]
            })
            .unwrap_or_default();
        let audit = Audit {
            path,
            run: run.to_string(),
            contract: contract.to_string(),
            action,
        };
        (audit, warnings)
    }

    /// Appends one line per entry for `event`; `extra` adds fields per entry. A line that
    /// cannot be written is an error: the caller must not act unrecorded.
    pub fn record(
        &self,
        event: &str,
        entries: &[&PlanEntry],
        extra: impl Fn(&PlanEntry) -> Value,
    ) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let now: DateTime<Utc> = Utc::now();
        let mut lines = String::new();
        for e in entries {
            let mut line = json!({
                "time": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "run": self.run,
                "tool": crate::eval::tool(),
                "commit": crate::build::info().commit,
                "event": event,
                "action": self.action,
                "instance": e.instance,
                "region": e.region,
                "group": e.group,
                "contract": self.contract,
            });
            if let (Some(l), Value::Object(x)) = (line.as_object_mut(), extra(e)) {
                l.extend(x);
            }
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        if lines.is_empty() {
            return Ok(());
        }
        crate::fsio::append_whole(path, lines.trim_end()).map_err(|e| {
            Error::Incomplete(format!(
                "cannot append to the audit log {}: {e}; nothing more is done",
                path.display()
            ))
        })
    }
}

/// The last line of a log when it is torn (no newline at the end, or not JSON).
pub fn torn_tail(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    if text.is_empty() {
        return None;
    }
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
    let whole = text.ends_with(b"\n") && serde_json::from_slice::<Value>(last).is_ok();
    (!whole).then(|| String::from_utf8_lossy(last).into_owned())
}

/// Every line of a log that parses, and the torn last line if there is one (a reader's view).
pub fn read_log(path: &std::path::Path) -> std::io::Result<(Vec<Value>, Option<String>)> {
    let text = std::fs::read_to_string(path)?;
    let mut lines: Vec<&str> = text.lines().collect();
    let torn = torn_tail(path);
    if torn.is_some() {
        lines.pop();
    }
    let values = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok((values, torn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_found_and_the_whole_lines_are_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("audit.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":2}\n").expect("write");
        assert_eq!(torn_tail(&p), None);
        std::fs::write(&p, "{\"a\":1}\n{\"b\":").expect("write");
        assert_eq!(torn_tail(&p).as_deref(), Some("{\"b\":"));
        let (values, torn) = read_log(&p).expect("read");
        assert_eq!(values.len(), 1);
        assert!(torn.is_some());
        let (_, warnings) = Audit::open(Some(p.clone()), "r", "c", Action::Terminate);
        assert!(warnings[0].contains("torn line"), "{warnings:?}");
    }
}
