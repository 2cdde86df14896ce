//! Diagnostics: what is wrong with an input file, where, and what to do about it.
//!
//! Every load error names the file, a place in it (a JSON pointer, or line and column when the
//! JSON itself does not parse) and a hint. Loaders collect all of them before failing, so one run
//! shows every problem.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The whole file.
    File,
    /// A JSON pointer (RFC 6901), e.g. `/clauses/2/pattern`.
    Pointer(String),
    /// 1-based line and column, for text that is not (yet) JSON.
    LineColumn(usize, usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File => Ok(()),
            Place::Pointer(p) if p.is_empty() => f.write_str(" at /"),
            Place::Pointer(p) => write!(f, " at {p}"),
            Place::LineColumn(l, c) => write!(f, ":{l}:{c}"),
        }
    }
}

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// Where in the file.
    pub place: Place,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at a JSON pointer.
    pub fn at(file: &Path, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            place: Place::Pointer(pointer.into()),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with the whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            place: Place::File,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Turns a serde_json parse error into a diagnostic with line and column, in words.
    pub fn from_json_error(file: &Path, err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let (message, hint) = match err.classify() {
            Category::Eof => (
                "the file ends in the middle of a JSON value (truncated?)".to_string(),
                "the file was cut short: regenerate or re-download it",
            ),
            Category::Syntax => (
                format!("this is not valid JSON: {}", strip_position(err)),
                "fix the JSON syntax at that line and column (a missing comma or quote is common)",
            ),
            Category::Data => (
                format!("unexpected JSON value: {}", strip_position(err)),
                "check the value's type at that place",
            ),
            Category::Io => (
                format!("could not read the file: {}", strip_position(err)),
                "check that the file is readable",
            ),
        };
        Diagnostic {
            file: file.to_path_buf(),
            place: Place::LineColumn(err.line(), err.column()),
            message,
            hint: Some(hint.to_string()),
        }
    }
}

/// serde_json appends " at line L column C"; we print the place ourselves.
fn strip_position(err: &serde_json::Error) -> String {
    let s = err.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}: {}", self.file.display(), self.place, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a set of input files; loading fails with all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} problems found", self.0.len())?;
        }
        Ok(())
    }
}

/// Appends a token to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
pub fn pointer_push(base: &str, token: impl fmt::Display) -> String {
    let t = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{base}/{t}")
}
