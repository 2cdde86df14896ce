//! `equals`: the output (or fact) equals one value.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "equals",
    summary: "The output (or fact) equals one value.",
    fields: "output | fact, value",
    unknown_when: "the value cannot be read (user-data not JSON); a missing output fails",
    example: r#"{"id": "wm-managed-by", "kind": "equals", "output": "tag:ManagedBy", "value": "taskcluster", "why": "..."}"#,
};

/// The subject equals a value.
#[derive(Debug, Clone)]
pub struct Equals {
    /// What is read.
    pub subject: Subject,
    /// The value it must have.
    pub value: String,
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let subject = value_subject(cx, v, ptr, facts, "equals")?;
    let value = v
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(Check::Equals(Equals { subject, value }))
}

impl Equals {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        judge(cx, &self.subject, facts, |v| v == self.value)
    }

    pub(super) fn expected(&self) -> String {
        format!("to equal \"{}\"", self.value)
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{}, not \"{}\" ({})",
            r.read(&self.subject),
            self.value,
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
    fn compares_the_whole_value() {
        let (c, _) = compile_one(
            json!({"kind": "equals", "output": "tag:Name", "value": "gecko"}),
            &mut vec![],
        );
        let c = c.expect("compiles");
        assert_eq!(
            eval(&c, &[], &instance("k", "gecko", json!({})), &mut []),
            ClauseOutcome::Pass("\"gecko\"".into())
        );
        assert_eq!(
            eval(&c, &[], &instance("k", "gecko-1", json!({})), &mut []),
            ClauseOutcome::Fail("\"gecko-1\"".into())
        );
        assert_eq!(c.expected(&[]), "to equal \"gecko\"");
    }

    #[test]
    fn a_secret_output_is_refused() {
        let mut cx = Cx {
            secrets: vec![OutputPath::parse("userData.token").expect("path")],
            ..Default::default()
        };
        let v = json!({"kind": "equals", "output": "userData.token", "value": "x"});
        super::super::compile(&mut cx, "equals", &v, "/c", &mut vec![]);
        assert!(cx.problems[0].1.contains("secret"), "{:?}", cx.problems);
    }
}
