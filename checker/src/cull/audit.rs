//! The write-ahead audit log: every action's intent is appended (and synced) before the call
//! that makes it, and its result after, batch by batch. A crash or a kill between the two leaves
//! an intent without a result: the instance may have been acted on, and the log says so.
//!
//! One JSON object per line: `time`, `run`, `tool`, `commit` (the binary's git commit), `event` (`claim`, `release`, `intent`,
//! `result`, `failed`, `not-started`), `action`, `instance`, `region`, `group`, `contract`, and
//! per event `reason`, `impairedSince`, `result` or `error`.

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
    /// An audit log at `path` (none: nothing is written, as in a dry run).
    pub fn new(path: Option<PathBuf>, run: &str, contract: &str, action: Action) -> Self {
        Audit {
            path,
            run: run.to_string(),
            contract: contract.to_string(),
            action,
        }
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
        crate::fsio::append_line(path, lines.trim_end()).map_err(|e| {
            Error::Incomplete(format!(
                "cannot append to the audit log {}: {e}; nothing more is done",
                path.display()
            ))
        })
    }
}
