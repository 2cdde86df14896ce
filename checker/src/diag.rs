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
    /// A JSON pointer and where it is in the file (1-based line and column).
    Located(String, usize, usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::File => Ok(()),
            Place::Pointer(p) if p.is_empty() => f.write_str(" at /"),
            Place::Pointer(p) => write!(f, " at {p}"),
            Place::LineColumn(l, c) => write!(f, ":{l}:{c}"),
            Place::Located(p, l, c) if p.is_empty() => write!(f, ":{l}:{c} at /"),
            Place::Located(p, l, c) => write!(f, ":{l}:{c} at {p}"),
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

impl Diagnostic {
    /// JSON nested past [`crate::jsondepth::MAX_DEPTH`]: where, and what to do.
    pub fn too_deep(file: &Path, e: &crate::jsondepth::TooDeep) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            place: Place::Located(e.pointer.clone(), e.line, e.column),
            message: format!(
                "the JSON nests more than {} levels deep here; no input checker reads is that deep",
                e.limit
            ),
            hint: Some(
                "the file is damaged or was made to be: regenerate it (or remove the nesting at that place)"
                    .into(),
            ),
        }
    }
}

/// Parses one JSON input: its nesting checked first ([`crate::jsondepth`]), so no parser
/// recurses past the limit, then parsed; either failure is a diagnostic at its place.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    file: &Path,
    bytes: &[u8],
) -> Result<T, Diagnostic> {
    crate::jsondepth::check(bytes).map_err(|e| Diagnostic::too_deep(file, &e))?;
    serde_json::from_slice(bytes).map_err(|e| Diagnostic::from_json_error(file, &e))
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

/// Files larger than this are not re-read to locate a pointer (a diagnostic keeps its pointer).
const LOCATE_MAX_BYTES: u64 = 64 << 20;

impl Diagnostics {
    /// Adds the line and column of every JSON pointer, reading each file once (editors and CI
    /// annotations jump to `file:line:column`). A file that cannot be read or parsed, or a
    /// pointer that is not in it, keeps the pointer alone.
    pub fn located(self) -> Diagnostics {
        let mut texts: std::collections::HashMap<PathBuf, Option<Locator>> = Default::default();
        let out = self
            .0
            .into_iter()
            .map(|mut d| {
                if let Place::Pointer(p) = &d.place {
                    let text = texts.entry(d.file.clone()).or_insert_with(|| {
                        let small =
                            std::fs::metadata(&d.file).is_ok_and(|m| m.len() <= LOCATE_MAX_BYTES);
                        small
                            .then(|| std::fs::read_to_string(&d.file).ok())
                            .flatten()
                            .map(Locator::new)
                    });
                    if let Some((l, c)) = text.as_ref().and_then(|t| t.locate(p)) {
                        d.place = Place::Located(p.clone(), l, c);
                    }
                }
                d
            })
            .collect();
        Diagnostics(out)
    }
}

/// The 1-based line and column of what a JSON pointer names in `text`: the property (its name)
/// or the element; when the pointer goes past what the text holds (a missing property), the
/// deepest value that exists. Parses `text`: to locate many pointers, make one [`Locator`].
pub fn locate(text: &str, pointer: &str) -> Option<(usize, usize)> {
    Locator::new(text.to_string()).locate(pointer)
}

/// Where each value of a JSON text starts, parsed once: each pointer then costs its depth (a
/// hash lookup per object) plus its line's length, not a parse of the whole text. Locating every
/// clause of a contract by parsing the file again made loading quadratic (4,000 clauses: 14 s).
pub struct Locator {
    text: String,
    root: Option<Node>,
    /// The byte offset each line starts at.
    line_starts: Vec<usize>,
}

/// A value's start and, for objects and arrays, its members'.
enum Node {
    Object(usize, std::collections::HashMap<String, Node>),
    Array(usize, Vec<Node>),
    Leaf(usize),
}

impl Node {
    fn of(v: &jsonc_parser::ast::Value<'_>, start: usize) -> Node {
        use jsonc_parser::ast::Value as V;
        use jsonc_parser::common::Ranged;
        match v {
            V::Object(o) => Node::Object(
                start,
                o.properties
                    .iter()
                    .map(|p| {
                        (
                            p.name.as_str().to_string(),
                            Node::of(&p.value, p.range.start),
                        )
                    })
                    .collect(),
            ),
            V::Array(a) => Node::Array(
                start,
                a.elements
                    .iter()
                    .map(|e| Node::of(e, e.range().start))
                    .collect(),
            ),
            _ => Node::Leaf(start),
        }
    }

    fn start(&self) -> usize {
        match self {
            Node::Object(s, _) | Node::Array(s, _) | Node::Leaf(s) => *s,
        }
    }
}

impl Locator {
    /// Parses `text` (JSON, comments allowed); a text that does not parse locates nothing.
    pub fn new(text: String) -> Locator {
        use jsonc_parser::common::Ranged;
        // The parser recurses: a text nested past the limit is not parsed (its diagnostics keep
        // their pointers), never a stack overflow.
        let shallow = crate::jsondepth::check(text.as_bytes()).is_ok();
        let root = shallow
            .then(|| {
                jsonc_parser::parse_to_ast(
                    &text,
                    &jsonc_parser::CollectOptions::default(),
                    &jsonc_parser::ParseOptions::default(),
                )
                .ok()
            })
            .flatten()
            .and_then(|p| p.value.as_ref().map(|v| Node::of(v, v.range().start)));
        let line_starts = std::iter::once(0)
            .chain(newlines(&text).map(|i| i + 1))
            .collect();
        Locator {
            text,
            root,
            line_starts,
        }
    }

    /// The 1-based line and column of `pointer` (as [`locate`] says).
    pub fn locate(&self, pointer: &str) -> Option<(usize, usize)> {
        let mut node = self.root.as_ref()?;
        let tokens = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"));
        for t in tokens {
            let next = match node {
                Node::Object(_, members) => members.get(&t),
                Node::Array(_, elements) => t.parse::<usize>().ok().and_then(|i| elements.get(i)),
                Node::Leaf(_) => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        let at = node.start();
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts.get(line.checked_sub(1)?).copied()?;
        let col = self.text.get(start..at)?.chars().count() + 1;
        Some((line, col))
    }
}

/// The byte offsets of the newlines in `text`.
fn newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
}

/// Appends a token to a JSON pointer, escaping `~` and `/` as RFC 6901 says.
pub fn pointer_push(base: &str, token: impl fmt::Display) -> String {
    let t = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{base}/{t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_is_located_at_its_property_or_element() {
        let text = "{\n  \"clauses\": [\n    {\"id\": \"a\"},\n    {\"id\": \"b\", \"pattern\": \"(\"}\n  ],\n  \"a/b\": 1\n}\n";
        assert_eq!(locate(text, ""), Some((1, 1)));
        assert_eq!(locate(text, "/clauses"), Some((2, 3)));
        assert_eq!(locate(text, "/clauses/1"), Some((4, 5)));
        assert_eq!(locate(text, "/clauses/1/pattern"), Some((4, 17)));
        assert_eq!(locate(text, "/a~1b"), Some((6, 3)));
        // Past what exists: the deepest value that does.
        assert_eq!(locate(text, "/clauses/1/missing"), Some((4, 5)));
        assert_eq!(locate("not json", "/x"), None);
    }
}

/// A place in an input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Location {
    /// The file, as it was named.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// Where JSON pointer `pointer` is in `file` (read once per call; `None` when unreadable).
    pub fn of(file: &std::path::Path, pointer: &str) -> Option<Location> {
        let text = std::fs::read_to_string(file).ok()?;
        Self::in_text(file, &text, pointer)
    }

    /// Where `pointer` is in `text`, the contents of `file`.
    pub fn in_text(file: &std::path::Path, text: &str, pointer: &str) -> Option<Location> {
        Self::in_located(file, &Locator::new(text.to_string()), pointer)
    }

    /// Where `pointer` is in the text `locator` parsed, the contents of `file`.
    pub fn in_located(
        file: &std::path::Path,
        locator: &Locator,
        pointer: &str,
    ) -> Option<Location> {
        let (line, column) = locator.locate(pointer)?;
        Some(Location {
            file: file.display().to_string(),
            line,
            column,
        })
    }
}
