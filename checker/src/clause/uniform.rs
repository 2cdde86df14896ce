//! `uniform`: all selected instances that share the `per` values (the same worker type and
//! region, say) share one value of the output. Evaluated over the group, not per instance: an
//! instance passes here, and the evaluator fails the group once when it sees two values.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "uniform",
    summary: "All selected instances that share the `per` values (e.g. the same worker type and region) share one value of the output. Evaluated over the group, not per instance.",
    fields: "output | fact, per [{output | fact}...]",
    unknown_when: "never: instances whose value cannot be read are left out of the group",
    example: r#"{"id": "one-ami-per-worker-type", "kind": "uniform", "output": "ImageId", "per": [{"fact": "workerType"}, {"output": "region"}], "why": "..."}"#,
};

/// All instances that share the `per` values share the subject's value.
#[derive(Debug, Clone)]
pub struct Uniform {
    /// What is read.
    pub subject: Subject,
    /// What groups the instances.
    pub per: Vec<Subject>,
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let s = cx.subject(v, ptr, facts);
    let per: Vec<Option<Subject>> = v
        .get("per")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| cx.subject(p, &format!("{ptr}/per/{i}"), facts))
        .collect();
    let per: Option<Vec<Subject>> = per.into_iter().collect();
    Some(Check::Uniform(Uniform {
        subject: s?,
        per: per?,
    }))
}

impl Uniform {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        judge(cx, &self.subject, facts, |_| true)
    }

    /// The instance's group key and value, if its value can be read.
    pub fn key(
        &self,
        names: &[String],
        i: &Instance,
        facts: &[Option<FactValue>],
    ) -> Option<(Vec<String>, String)> {
        let val = match read_subject(names, &self.subject, i, facts) {
            Val::V(v) => v.into_owned(),
            _ => return None,
        };
        let key = self
            .per
            .iter()
            .map(|p| match read_subject(names, p, i, facts) {
                Val::V(v) => v.into_owned(),
                _ => "(absent)".into(),
            })
            .collect();
        Some((key, val))
    }

    pub(super) fn expected(&self, names: &[String]) -> String {
        if self.per.is_empty() {
            return "to be the same on every selected instance".into();
        }
        format!(
            "to be the same per {}",
            self.per
                .iter()
                .map(|s| subject_name(names, s))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_is_the_per_values_and_an_absent_one_is_named() {
        let (c, _) = compile_one(
            json!({"kind": "uniform", "output": "KeyName", "per": [{"output": "tag:Name"}, {"output": "tag:Missing"}]}),
            &mut vec![],
        );
        let Some(Check::Uniform(u)) = c else {
            panic!("uniform")
        };
        let i = instance("k1", "gecko", json!({}));
        assert_eq!(
            u.key(&[], &i, &[]),
            Some((
                vec!["gecko".to_string(), "(absent)".to_string()],
                "k1".to_string()
            ))
        );
        assert_eq!(
            u.expected(&[]),
            "to be the same per tag:Name and tag:Missing"
        );
    }
}
