//! Templates such as `aws-provisioner-v1-managed:{workerType}:{keyHash}`: rendered by the gate,
//! turned into a regular expression with one named group per variable to check a live value.

use regex::Regex;
use std::collections::BTreeMap;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as is.
    Literal(String),
    /// `{name}`.
    Var(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The source text, as written in the manifest.
    pub source: String,
    /// Its pieces, in order.
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Parses `{name}` placeholders; `{{` and `}}` stand for literal braces.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!("unclosed `{{` at byte {i}"));
                    }
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!(
                            "`{{{name}}}` is not a variable name (letters, digits, _)"
                        ));
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Var(name));
                }
                '}' => {
                    return Err(format!(
                        "lone `}}` at byte {i}; write `}}}}` for a literal brace"
                    ));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template {
            source: source.to_string(),
            pieces,
        })
    }

    /// The variables it uses, in order of first use.
    pub fn variables(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.pieces {
            if let Piece::Var(v) = p
                && !out.contains(&v.as_str())
            {
                out.push(v);
            }
        }
        out
    }

    /// Renders with the given values; `None` names the first variable without a value.
    pub fn render(&self, vars: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Literal(l) => out.push_str(l),
                Piece::Var(v) => out.push_str(&vars(v).ok_or_else(|| v.clone())?),
            }
        }
        Ok(out)
    }

    /// An anchored regex with a named group per variable, each matching its pattern.
    /// A variable used twice gets a group the first time and must repeat the same text after
    /// (checked by the caller, since the regex crate has no back-references).
    pub fn to_regex(&self, patterns: &BTreeMap<String, String>) -> Result<Regex, regex::Error> {
        let mut re = String::from("^");
        let mut seen: Vec<&str> = Vec::new();
        for (i, p) in self.pieces.iter().enumerate() {
            match p {
                Piece::Literal(l) => re.push_str(&regex::escape(l)),
                Piece::Var(v) => {
                    let pat = patterns.get(v).map(String::as_str).unwrap_or(".+?");
                    if seen.contains(&v.as_str()) {
                        re.push_str(&format!("(?P<{v}__{i}>{pat})"));
                    } else {
                        re.push_str(&format!("(?P<{v}>{pat})"));
                        seen.push(v);
                    }
                }
            }
        }
        re.push('$');
        Regex::new(&re)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_matches_the_2018_key_name() {
        let t = Template::parse("aws-provisioner-v1-managed:{workerType}:{keyHash}").unwrap();
        assert_eq!(t.variables(), vec!["workerType", "keyHash"]);
        let rendered = t
            .render(&|v| {
                Some(
                    if v == "workerType" {
                        "gecko-t-win7-32"
                    } else {
                        "ffe27db"
                    }
                    .into(),
                )
            })
            .unwrap();
        assert_eq!(
            rendered,
            "aws-provisioner-v1-managed:gecko-t-win7-32:ffe27db"
        );
        let pats = BTreeMap::from([
            ("workerType".to_string(), "[a-zA-Z0-9-_]{1,22}".to_string()),
            ("keyHash".to_string(), "[0-9a-f]{7}".to_string()),
        ]);
        let re = t.to_regex(&pats).unwrap();
        let caps = re.captures(&rendered).unwrap();
        assert_eq!(&caps["workerType"], "gecko-t-win7-32");
        assert!(!re.is_match("aws-provisioner-v1-managed:ffe27db"));
    }

    #[test]
    fn rejects_broken_placeholders() {
        assert!(Template::parse("a{b").is_err());
        assert!(Template::parse("a}b").is_err());
        assert!(Template::parse("{a-b}").is_err());
        assert_eq!(
            Template::parse("{{x}}").unwrap().pieces,
            vec![Piece::Literal("{x}".into())]
        );
    }
}
