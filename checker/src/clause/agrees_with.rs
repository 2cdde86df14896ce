//! `agrees-with`: the fact (or output) equals another output, another fact, or a template over
//! facts (OCC's worker type must be the instance's Name tag).

use super::*;
use crate::template::Template;
use std::collections::BTreeMap;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "agrees-with",
    summary: "The fact (or output) equals another output, another fact, or a template over facts.",
    fields: "output | fact, with {output | fact | template}",
    unknown_when: "either side cannot be read",
    example: r#"{"id": "occ-worker-type-is-name", "kind": "agrees-with", "fact": "workerType", "with": {"output": "tag:Name"}, "why": "..."}"#,
};

/// The other side of `agrees-with`.
#[derive(Debug, Clone)]
pub enum Other {
    /// An output.
    Output(OutputPath),
    /// A fact.
    Fact(usize),
    /// A template over facts (`{name}` is the fact `name`), with the fact index of each variable.
    Template(Template, BTreeMap<String, usize>),
}

/// The subject equals another output, fact or rendered template.
#[derive(Debug, Clone)]
pub struct AgreesWith {
    /// What is read.
    pub subject: Subject,
    /// What it must equal.
    pub other: Other,
}

fn template(cx: &mut dyn Compile, t: &str, ptr: &str, facts: &[String]) -> Option<Other> {
    let tpl = match Template::parse(t) {
        Ok(tpl) => tpl,
        Err(e) => {
            cx.err(
                ptr.to_string(),
                format!("bad template: {e}"),
                "templates are text with {fact} placeholders".into(),
            );
            return None;
        }
    };
    let mut idx = BTreeMap::new();
    let mut ok = true;
    for var in tpl.variables() {
        match facts.iter().position(|f| f == var) {
            Some(i) => {
                idx.insert(var.to_string(), i);
            }
            None => {
                ok = false;
                cx.err(
                    ptr.to_string(),
                    format!("the template uses {{{var}}}, which is not a fact derived before this clause"),
                    format!("template variables are facts; derived so far: [{}]", facts.join(", ")),
                );
            }
        }
    }
    ok.then_some(Other::Template(tpl, idx))
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
) -> Option<Check> {
    let subject = value_subject(cx, v, ptr, facts, "agrees-with");
    let w = v.get("with").unwrap_or(&Value::Null);
    let wptr = format!("{ptr}/with");
    let other = if let Some(t) = w.get("template").and_then(Value::as_str) {
        template(cx, t, &format!("{wptr}/template"), facts)
    } else if let Some(f) = w.get("fact").and_then(Value::as_str) {
        cx.fact_ref(f, &format!("{wptr}/fact"), facts)
            .map(Other::Fact)
    } else {
        cx.output(w.get("output"), &format!("{wptr}/output"))
            .map(Other::Output)
    };
    Some(Check::AgreesWith(AgreesWith {
        subject: subject?,
        other: other?,
    }))
}

impl AgreesWith {
    /// Its subject, then the other side's output or facts.
    pub(super) fn subjects(&self) -> Vec<Subject> {
        let mut out = vec![self.subject.clone()];
        match &self.other {
            Other::Output(p) => out.push(Subject::Output(p.clone())),
            Other::Fact(f) => out.push(Subject::Fact(*f)),
            Other::Template(_, idx) => out.extend(idx.values().map(|f| Subject::Fact(*f))),
        }
        out
    }

    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &[Option<FactValue>]) -> ClauseOutcome {
        let names = cx.names;
        let s = &self.subject;
        let v = match value(cx, s, facts) {
            Ok(v) => v,
            Err(o) => return o,
        };
        let (other_name, other_val): (String, Val<'_>) = match &self.other {
            Other::Output(p) => (p.to_string(), read_output(p, cx.instance)),
            Other::Fact(f) => (
                format!("fact {}", names[*f]),
                read_subject(names, &Subject::Fact(*f), cx.instance, facts),
            ),
            Other::Template(t, idx) => {
                let rendered = t.render(&|name| {
                    idx.get(name)
                        .and_then(|f| facts[*f].as_ref())
                        .map(|fv| fv.value.clone())
                });
                match rendered {
                    Ok(r) => (format!("\"{}\"", t.source), Val::V(Cow::Owned(r))),
                    Err(var) => (
                        t.source.clone(),
                        Val::Skip(format!("fact {var} was not derived")),
                    ),
                }
            }
        };
        let shown = || show(names, s, &v, facts);
        match other_val {
            Val::V(o) if o == v => {
                pass(cx.detail, || format!("{} = {other_name} \"{o}\"", shown()))
            }
            Val::V(o) => ClauseOutcome::Fail(format!("{} but {other_name} is \"{o}\"", shown())),
            Val::Missing => ClauseOutcome::Fail(format!("{} but {other_name} is absent", shown())),
            Val::Unknown(r) => ClauseOutcome::Unknown(r),
            Val::Skip(r) => ClauseOutcome::Skipped(r),
        }
    }

    pub(super) fn expected(&self, names: &[String]) -> String {
        match &self.other {
            Other::Output(p) => format!("to agree with {p}"),
            Other::Fact(f) => format!("to agree with fact {}", names[*f]),
            Other::Template(t, _) => format!("to agree with \"{}\"", t.source),
        }
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        let other_val = match &self.other {
            Other::Output(p) => format!(
                "{p} \"{}\"",
                match r.instance.read(p) {
                    Read::Value(v) => v.into_owned(),
                    _ => "(absent)".into(),
                }
            ),
            Other::Fact(x) => format!(
                "{} \"{}\"",
                r.names[*x],
                r.facts[*x]
                    .as_ref()
                    .map(|f| f.value.as_str())
                    .unwrap_or("?")
            ),
            Other::Template(t, _) => format!("\"{}\"", t.source),
        };
        format!(
            "{}, which differs from {other_val} ({})",
            r.read(&self.subject),
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
    fn agrees_with_an_output_and_a_template_over_facts() {
        let mut names = vec!["wt".to_string()];
        let (c, _) = compile_one(
            json!({"kind": "agrees-with", "fact": "wt", "with": {"output": "tag:Name"}}),
            &mut names,
        );
        let c = c.expect("compiles");
        let i = instance("k", "gecko", json!({}));
        let mut facts = vec![Some(FactValue {
            value: "gecko".into(),
            provenance: "p".into(),
            source: "s".into(),
        })];
        assert!(matches!(
            eval(&c, &names, &i, &mut facts),
            ClauseOutcome::Pass(_)
        ));
        facts[0].as_mut().expect("fact").value = "ffe27db".into();
        assert_eq!(
            eval(&c, &names, &i, &mut facts),
            ClauseOutcome::Fail("\"ffe27db\" (wt derived p) but tag:Name is \"gecko\"".into())
        );
        let (t, _) = compile_one(
            json!({"kind": "agrees-with", "output": "tag:Name", "with": {"template": "{wt}"}}),
            &mut names,
        );
        let t = t.expect("template");
        assert_eq!(t.facts_read(), vec![0]);
        let (bad, p) = compile_one(
            json!({"kind": "agrees-with", "output": "tag:Name", "with": {"template": "{nope}"}}),
            &mut names,
        );
        assert!(bad.is_none());
        assert_eq!(p[0].0, "/clauses/0/with/template");
    }
}
