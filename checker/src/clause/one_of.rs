//! `one-of`: the output (or fact) is one of a list of values.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "one-of",
    summary: "The output (or fact) is one of a list of values.",
    fields: "output | fact, values",
    unknown_when: "the value cannot be read; a missing output fails",
    example: r#"{"id": "cull-owner", "kind": "one-of", "output": "tag:Owner", "values": ["ec2-manager-production", "aws-provisioner-v1-managed"], "why": "..."}"#,
};

/// The subject is one of some values.
#[derive(Debug, Clone)]
pub struct OneOf {
    /// What is read.
    pub subject: Subject,
    /// The values it may have.
    pub values: Vec<String>,
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let subject = value_subject(cx, v, ptr, facts, "one-of")?;
    Some(Check::OneOf(OneOf {
        subject,
        values: strings(v.get("values")),
    }))
}

impl OneOf {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        judge(cx, &self.subject, facts, |v| {
            self.values.iter().any(|x| x == v)
        })
    }

    pub(super) fn expected(&self) -> String {
        format!("to be one of [{}]", self.values.join(", "))
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{}, not one of [{}] ({})",
            r.read(&self.subject),
            self.values.join(", "),
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
    fn accepts_any_listed_value() {
        let (c, _) = compile_one(
            json!({"kind": "one-of", "output": "tag:Name", "values": ["a", "b"]}),
            &mut vec![],
        );
        let c = c.expect("compiles");
        assert!(matches!(
            eval(&c, &[], &instance("k", "b", json!({})), &mut []),
            ClauseOutcome::Pass(_)
        ));
        assert!(matches!(
            eval(&c, &[], &instance("k", "c", json!({})), &mut []),
            ClauseOutcome::Fail(_)
        ));
        assert_eq!(c.expected(&[]), "to be one of [a, b]");
    }
}
