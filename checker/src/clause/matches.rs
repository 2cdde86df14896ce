//! `matches`: the output (or fact) matches a regular expression.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "matches",
    summary: "The output (or fact) matches a regular expression (Rust syntax; anchor it with ^ and $ to match whole values).",
    fields: "output | fact, pattern",
    unknown_when: "the value cannot be read; a missing output fails",
    example: r#"{"id": "occ-key-prefix", "kind": "matches", "output": "KeyName", "pattern": "^aws-provisioner-v1-managed:", "why": "..."}"#,
};

/// The subject matches a regex.
#[derive(Debug, Clone)]
pub struct Matches {
    /// What is read.
    pub subject: Subject,
    /// The pattern.
    pub pattern: Regex,
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let subject = value_subject(cx, v, ptr, facts, "matches");
    let pattern = cx.regex(
        v.get("pattern").and_then(Value::as_str).unwrap_or(""),
        &format!("{ptr}/pattern"),
    );
    Some(Check::Matches(Matches {
        subject: subject?,
        pattern: pattern?,
    }))
}

impl Matches {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        judge(cx, &self.subject, facts, |v| self.pattern.is_match(v))
    }

    pub(super) fn expected(&self) -> String {
        format!("to match /{}/", self.pattern.as_str())
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{}, which does not match `/{}/` ({})",
            r.read(&self.subject),
            self.pattern.as_str(),
            r.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_the_pattern_and_reports_a_bad_one_at_its_pointer() {
        let (c, _) = compile_one(
            json!({"kind": "matches", "output": "KeyName", "pattern": "^p:"}),
            &mut vec![],
        );
        let c = c.expect("compiles");
        assert!(matches!(
            eval(&c, &[], &instance("p:x", "n", json!({})), &mut []),
            ClauseOutcome::Pass(_)
        ));
        assert_eq!(
            eval(&c, &[], &instance("q:x", "n", json!({})), &mut []),
            ClauseOutcome::Fail("\"q:x\"".into())
        );
        let (c, p) = compile_one(
            json!({"kind": "matches", "output": "KeyName", "pattern": "("}),
            &mut vec![],
        );
        assert!(c.is_none());
        assert_eq!(p[0].0, "/clauses/0/pattern");
    }
}
