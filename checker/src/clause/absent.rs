//! `absent`: the output does not exist on the instance.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "absent",
    summary: "The output does not exist on the instance.",
    fields: "output",
    unknown_when: "the output is in user-data and the user-data is not JSON",
    example: r#"{"id": "no-iam-profile", "kind": "absent", "output": "IamInstanceProfile", "why": "workers must not hold AWS credentials"}"#,
};

/// The output is absent.
#[derive(Debug, Clone)]
pub struct Absent {
    /// The output.
    pub output: OutputPath,
}

pub(super) fn compile(cx: &mut dyn Compile, v: &Value, ptr: &str) -> Option<Check> {
    super::present::output_only(cx, v, ptr, "absent").map(|output| Check::Absent(Absent { output }))
}

pub(super) fn expected() -> String {
    "to be absent".into()
}

impl Absent {
    pub(super) fn eval(&self, cx: &Ctx<'_>) -> ClauseOutcome {
        match read_output(&self.output, cx.instance) {
            Val::V(v) => ClauseOutcome::Fail(format!("\"{v}\"")),
            Val::Missing => pass(cx.detail, || "absent".into()),
            Val::Unknown(r) => ClauseOutcome::Unknown(r),
            Val::Skip(r) => ClauseOutcome::Skipped(r),
        }
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{} needs {} absent, but the proposal sets it ({})",
            r.consumer, self.output, r.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn fails_on_a_value_and_passes_when_absent() {
        let (c, _) = compile_one(json!({"kind": "absent", "output": "tag:Name"}), &mut vec![]);
        let c = c.expect("compiles");
        let i = instance("k", "gecko", json!({}));
        assert_eq!(
            eval(&c, &[], &i, &mut []),
            ClauseOutcome::Fail("\"gecko\"".into())
        );
        let mut i = instance("k", "gecko", json!({}));
        i.tags.clear();
        assert_eq!(
            eval(&c, &[], &i, &mut []),
            ClauseOutcome::Pass("absent".into())
        );
    }
}
