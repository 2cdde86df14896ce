//! Escaping: one function per output format that every string from data (a fleet, a pool, a
//! contract, a snapshot, an error from AWS) goes through where it lands in that format. A value
//! can then add no line, table row, heading, markup, HTML, mention or CI command to the output:
//! it can only appear, as text.
//!
//! - terminal and logs ([`term`]): control characters (C0, DEL, C1), line and paragraph
//!   separators and the invisible bidirectional and zero-width characters are shown as escapes
//!   (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`); a value that would start a GitHub Actions workflow
//!   command (`::error::` at the start of a line, after spaces, or the legacy `##[error]`
//!   anywhere: actions/runner `src/Runner.Common/ActionCommand.cs` at 079cdb1d, `TryParseV2`
//!   trims leading whitespace, `TryParse` finds `##[` anywhere) has its `:` or `[` escaped;
//! - Markdown and GitHub check text ([`md_text`], [`md_code`], [`md_link`]): on top of the
//!   terminal escapes, `&`, `<` and `>` as entities (no raw HTML, no autolink), and every inline
//!   marker (`` ` `` `*` `_` `[` `]` `~` `|` `$` `\`) backslash-escaped, so a value is one piece
//!   of text inside a table cell, a list item or a heading; `@` is followed by a zero-width
//!   space in text, so a value mentions nobody;
//! - JUnit XML ([`term`], then quick-junit's XML escaping): XML 1.0 cannot hold most control
//!   characters at all;
//! - HTML and SVG ([`html`]): the terminal escapes, then the five XML specials as entities;
//! - SARIF ([`sarif`]): the terminal escapes, and `[` `]` backslash-escaped, since SARIF reads
//!   `[text](id)` in a plain-text message as an embedded link (SARIF 2.1.0, 3.11.6).
//!
//! The renderers call these at every interpolation of a value; `checker/tests/it/escaping.rs`
//! fills every string field of every document with hostile text and checks each format's
//! structure is the same as with plain text.

use std::borrow::Cow;
use std::fmt;

/// Whether a character is shown as an escape in every format.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Text for a terminal or a log: one line, nothing invisible, no CI command.
pub fn term(s: &str) -> Cow<'_, str> {
    let starts_command = s.trim_start().starts_with("::");
    if !starts_command && !s.contains("##[") && !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut first_colon_done = !starts_command;
    let mut prev = ['\0', '\0'];
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            ':' if !first_colon_done => {
                out.push_str("\\u{3a}");
                first_colon_done = true;
            }
            '[' if prev == ['#', '#'] => out.push_str("\\u{5b}"),
            c => out.push(c),
        }
        prev = [prev[1], c];
    }
    Cow::Owned(out)
}

/// [`term`] as a `Display`, for `format!` arguments.
pub struct T<'a>(pub &'a str);

impl fmt::Display for T<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&term(self.0))
    }
}

/// Markdown inline text (in a paragraph, a list item, a heading or a table cell).
pub fn md_text(s: &str) -> String {
    md(s, true)
}

/// A value set in code type: `<code>` around escaped text, so it is safe in a table cell as
/// anywhere else (a backtick code span would still need its `|` escaped in tables only).
pub fn md_code(s: &str) -> String {
    format!("<code>{}</code>", md(s, false))
}

/// A link when the target is a plain http(s) URL, else the text and the target as text.
pub fn md_link(text: &str, url: &str) -> String {
    let plain = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '|' | '\\')
        });
    if plain {
        format!("[{}]({url})", md_text(text))
    } else {
        format!("{} ({})", md_text(text), md_text(url))
    }
}

fn md(s: &str, guard_mentions: bool) -> String {
    let s = term(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '|' | '$' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '@' if guard_mentions => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `body` (a fence longer than any backtick run in it).
pub fn md_fence(info: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let mut out = format!("{fence}{info}\n");
    for line in body.lines() {
        out.push_str(&term(line));
        out.push('\n');
    }
    out.push_str(&fence);
    out
}

/// JSON text as printed (JSON, SARIF, annotations; often into a CI log): the same values, with
/// the characters [`term`] escapes that JSON leaves raw (DEL, C1, separators, bidi, zero-width)
/// written as `\uXXXX`, and the legacy workflow command `##[` as `##\u005b`. Both can only
/// occur inside JSON strings, so the document decodes to the same value.
pub fn json_text(s: String) -> String {
    if !s.contains("##[")
        && !s.chars().any(|c| hidden(c) && !c.is_ascii_control())
        && !s.contains('\u{7f}')
    {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c == '\u{7f}' || (hidden(c) && !c.is_ascii_control()) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.replace("##[", "##\\u005b")
}

/// Text or an attribute value in HTML or XML (the SVG graph): the terminal escapes, then `&`,
/// `<`, `>`, `"` and `'` as entities, so a value is text wherever it lands (`</svg>` too).
pub fn html(s: &str) -> String {
    let t = term(s);
    let mut out = String::with_capacity(t.len() + 8);
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for a SARIF plain-text message.
pub fn sarif(s: &str) -> String {
    term(s).replace('[', "\\[").replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_text_shows_control_characters_and_ci_commands_as_escapes() {
        assert_eq!(term("a\nb\rc\u{1b}[2J"), "a\\nb\\rc\\u{1b}[2J");
        assert_eq!(term("  ::error::forged"), "  \\u{3a}:error::forged");
        assert_eq!(term("x ##[error]y"), "x ##\\u{5b}error]y");
        assert_eq!(term("gecko-t-win10-64 a::b"), "gecko-t-win10-64 a::b");
        assert_eq!(term("\u{202e}evil"), "\\u{202e}evil");
    }

    #[test]
    fn markdown_text_has_no_markup_left() {
        assert_eq!(
            md_text("(?P<workerType>[^:]+)"),
            "(?P&lt;workerType&gt;\\[^:\\]+)"
        );
        assert_eq!(md_text("@octocat"), "@\u{200b}octocat");
        assert_eq!(md_text("a|b\r# x"), "a\\|b\\\\r\\# x");
        assert_eq!(md_code("@octocat"), "<code>@octocat</code>");
    }

    #[test]
    fn only_plain_http_urls_become_links() {
        assert_eq!(md_link("r", "https://x.org/a"), "[r](https://x.org/a)");
        assert_eq!(
            md_link("r", "javascript:alert(1)"),
            "r (javascript:alert(1))"
        );
        assert_eq!(
            md_link("r", "https://x.org/a) [b"),
            "r (https://x.org/a) \\[b)"
        );
    }

    #[test]
    fn html_text_is_text_in_an_element_or_an_attribute() {
        assert_eq!(
            html("<script>alert(1)</script></svg>\"'&\n\u{202e}"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/svg&gt;&quot;&#39;&amp;\\n\\u{202e}"
        );
        assert_eq!(html("KeyName"), "KeyName");
    }

    #[test]
    fn json_text_decodes_to_the_same_value() {
        let v = serde_json::json!({"a": "x\u{85}\u{202e}\u{7f} ##[error]y"});
        let text = json_text(serde_json::to_string_pretty(&v).expect("json"));
        assert!(!text.contains("##[") && !text.chars().any(|c| c.is_control() && c != '\n'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).expect("json"),
            v
        );
    }

    proptest! {
        #[test]
        fn no_value_makes_a_terminal_line_or_command(
            s in prop_oneof![any::<String>(), "( |:|#|\\[|e|\\n|\\r|\\x1b|\\u{85}|\\u{2028}|\\u{202e})*"],
        ) {
            let t = term(&s);
            prop_assert!(!t.chars().any(hidden), "{:?}", t);
            prop_assert!(!t.trim_start().starts_with("::"), "{:?}", t);
            prop_assert!(!t.contains("##["), "{:?}", t);
        }

        #[test]
        fn sarif_text_has_no_link(s in "[\\[\\]()a0-9 \\n]*") {
            let t = sarif(&s);
            prop_assert!(!t.contains('\n'));
            let unescaped = t.replace("\\[", "").replace("\\]", "");
            prop_assert!(!unescaped.contains('[') && !unescaped.contains(']'), "{}", t);
        }
    }
}
