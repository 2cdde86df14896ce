//! The JSON form of every document: pretty-printed, with a trailing newline. The documents
//! carry their own `format` and `version` (docs/report-format.md).

use crate::error::{Error, Result};
use serde::Serialize;

/// Pretty JSON with a trailing newline; invisible and CI-command characters `\u`-escaped.
pub fn json<T: Serialize>(v: &T) -> Result<String> {
    let mut s = serde_json::to_string_pretty(v)
        .map_err(|e| Error::Incomplete(format!("cannot render JSON: {e}")))?;
    s.push('\n');
    Ok(super::escape::json_text(s))
}
