//! `member-of`: the fact (or output) belongs to a known set. This is what catches a derived
//! value that has the right shape but is not a real worker type.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "member-of",
    summary: "The fact (or output) belongs to a known set: a set a provider manifest declares (e.g. its worker types) or inline values. This is what catches a derived value that has the right shape but is not a real worker type.",
    fields: "output | fact, set | values",
    unknown_when: "the value cannot be read",
    example: r#"{"id": "occ-worker-type-known", "kind": "member-of", "fact": "workerType", "set": "workerTypes", "why": "..."}"#,
};

/// The subject belongs to a set.
#[derive(Debug, Clone)]
pub struct MemberOf {
    /// What is read.
    pub subject: Subject,
    /// The set.
    pub set: SetRef,
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let subject = value_subject(cx, v, ptr, facts, "member-of");
    let set = match v.get("set").and_then(Value::as_str) {
        Some(name) => {
            let found = cx.set(name);
            if found.is_none() {
                cx.err(
                    format!("{ptr}/set"),
                    format!("neither this contract nor a loaded provider declares a set named \"{name}\""),
                    "declare it under this contract's \"sets\", load the provider manifest that declares it (--contracts), or list the values inline with \"values\"".into(),
                );
            }
            found
        }
        None => Some(SetRef {
            name: "inline".into(),
            values: Arc::new(strings(v.get("values")).into_iter().collect()),
        }),
    };
    Some(Check::MemberOf(MemberOf {
        subject: subject?,
        set: set?,
    }))
}

impl MemberOf {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        judge(cx, &self.subject, facts, |v| self.set.values.contains(v))
    }

    pub(super) fn expected(&self) -> String {
        format!(
            "to be a member of {} ({} known values)",
            self.set.name,
            self.set.values.len()
        )
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        format!(
            "{}, which is not in {} ({} known values) ({})",
            r.read(&self.subject),
            self.set.name,
            self.set.values.len(),
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
    fn a_named_set_resolves_and_an_unknown_one_is_reported() {
        let (c, _) = compile_one(
            json!({"kind": "member-of", "output": "tag:Name", "set": "workerTypes"}),
            &mut vec![],
        );
        let c = c.expect("compiles");
        assert!(matches!(
            eval(
                &c,
                &[],
                &instance("k", "gecko-t-win10-64", json!({})),
                &mut []
            ),
            ClauseOutcome::Pass(_)
        ));
        assert!(matches!(
            eval(&c, &[], &instance("k", "ffe27db", json!({})), &mut []),
            ClauseOutcome::Fail(_)
        ));
        assert_eq!(
            c.expected(&[]),
            "to be a member of workerTypes (1 known values)"
        );
        let (c, p) = compile_one(
            json!({"kind": "member-of", "output": "tag:Name", "set": "pools"}),
            &mut vec![],
        );
        assert!(c.is_none());
        assert_eq!(p[0].0, "/clauses/0/set");
        let (c, _) = compile_one(
            json!({"kind": "member-of", "output": "tag:Name", "values": ["a"]}),
            &mut vec![],
        );
        assert_eq!(c.expect("inline").set_name(), Some("inline"));
    }
}
