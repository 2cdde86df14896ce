//! `present`: the output exists on the instance (a tag is set, the instance has a key pair, a
//! user-data field is there). Reads outputs only: a fact always exists once derived.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "present",
    summary: "The output exists on the instance (a tag is set, the instance has a key pair, a user-data field is there).",
    fields: "output",
    unknown_when: "the output is in user-data and the user-data is not JSON",
    example: r#"{"id": "gw-reads-worker-type", "kind": "present", "output": "userData.workerType", "why": "generic-worker cannot start without it"}"#,
};

/// The output is present.
#[derive(Debug, Clone)]
pub struct Present {
    /// The output.
    pub output: OutputPath,
}

/// `present` and `absent` read an output, never a fact.
pub(super) fn output_only(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    kind: &str,
) -> Option<OutputPath> {
    if v.get("fact").is_some() {
        cx.err(
            format!("{ptr}/fact"),
            format!("{kind} reads an output, not a fact"),
            "facts always exist once derived; check the output they come from".into(),
        );
    }
    cx.output(v.get("output"), &format!("{ptr}/output"))
}

pub(super) fn compile(cx: &mut dyn Compile, v: &Value, ptr: &str) -> Option<Check> {
    output_only(cx, v, ptr, "present").map(|output| Check::Present(Present { output }))
}

pub(super) fn expected() -> String {
    "to be present".into()
}

impl Present {
    pub(super) fn eval(&self, cx: &Ctx<'_>) -> ClauseOutcome {
        match read_output(&self.output, cx.instance) {
            Val::V(v) => pass(cx.detail, || format!("\"{v}\"")),
            Val::Missing => ClauseOutcome::Fail("absent".into()),
            Val::Unknown(r) => ClauseOutcome::Unknown(r),
            Val::Skip(r) => ClauseOutcome::Skipped(r),
        }
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{} needs {}, which the proposal does not set ({})",
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
    fn passes_on_a_value_fails_when_absent_and_refuses_a_fact() {
        let (c, p) = compile_one(
            json!({"kind": "present", "output": "userData.workerType"}),
            &mut vec![],
        );
        let c = c.expect("compiles");
        assert!(p.is_empty());
        let i = instance("k", "n", json!({"workerType": "w"}));
        assert_eq!(
            eval(&c, &[], &i, &mut []),
            ClauseOutcome::Pass("\"w\"".into())
        );
        let i = instance("k", "n", json!({}));
        assert_eq!(
            eval(&c, &[], &i, &mut []),
            ClauseOutcome::Fail("absent".into())
        );
        let (_, p) = compile_one(
            json!({"kind": "present", "output": "KeyName", "fact": "x"}),
            &mut vec![],
        );
        assert_eq!(p[0].0, "/clauses/0/fact");
        assert_eq!(c.expected(&[]), "to be present");
    }
}
