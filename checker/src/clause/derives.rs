//! `derives`: derives a fact the consumer computes from an output (a named capture of a regex,
//! a field of `split(separator)`, or the value itself), failing where the consumer's own
//! derivation would fail. Later clauses read the fact.

use super::*;

/// The user documentation.
pub const DOC: RuleDoc = RuleDoc {
    kind: "derives",
    summary: "Derives a fact the consumer computes from an output: a named capture of a regex, a field of split(separator), or the value itself. Fails when the consumer's derivation would fail; later clauses read the fact.",
    fields: "fact, from {output | fact}, and pattern [+ capture] | split {separator, index} | nothing",
    unknown_when: "the source cannot be read",
    example: r#"{"id": "occ-worker-type-from-key", "kind": "derives", "fact": "workerType", "from": {"output": "KeyName"}, "split": {"separator": ":", "index": 1}, "why": "OCC: workerType = KeyName.split(':')[1]"}"#,
};

/// How a fact is derived.
#[derive(Debug, Clone)]
pub enum Derivation {
    /// The value itself.
    Identity,
    /// A named capture of a regex.
    Capture(Regex, String),
    /// `value.split(separator)[index]`, as consumer code often does.
    Split(String, usize),
}

/// A fact derived from a subject.
#[derive(Debug, Clone)]
pub struct Derives {
    /// The fact's index.
    pub fact: usize,
    /// Where it comes from.
    pub from: Subject,
    /// How.
    pub how: Derivation,
}

fn derivation(cx: &mut dyn Compile, v: &Value, ptr: &str, fact: &str) -> Option<Derivation> {
    if let Some(p) = v.get("pattern").and_then(Value::as_str) {
        let re = cx.regex(p, &format!("{ptr}/pattern"))?;
        let cap = v
            .get("capture")
            .and_then(Value::as_str)
            .unwrap_or(fact)
            .to_string();
        if re.capture_names().flatten().any(|n| n == cap) {
            return Some(Derivation::Capture(re, cap));
        }
        let names = re.capture_names().flatten().collect::<Vec<_>>().join(", ");
        cx.err(
            format!("{ptr}/capture"),
            format!("the pattern has no named group \"{cap}\""),
            format!("name the group (?P<{cap}>...) in the pattern, or set \"capture\" to one of [{names}]"),
        );
        return None;
    }
    if let Some(s) = v.get("split") {
        let sep = s
            .get("separator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let idx = s.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        return Some(Derivation::Split(sep.to_string(), idx));
    }
    if v.get("capture").is_some() {
        cx.err(
            format!("{ptr}/capture"),
            "\"capture\" needs a \"pattern\"".into(),
            "add the regex whose named group holds the fact".into(),
        );
    }
    Some(Derivation::Identity)
}

pub(super) fn compile(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &mut Vec<String>,
) -> Option<Check> {
    let from = v
        .get("from")
        .and_then(|f| cx.subject(f, &format!("{ptr}/from"), facts));
    let fact = v
        .get("fact")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let how = derivation(cx, v, ptr, &fact);
    if facts.contains(&fact) {
        cx.err(
            format!("{ptr}/fact"),
            format!("fact \"{fact}\" is derived twice"),
            "derive each fact once; use agrees-with to compare two sources".into(),
        );
        return None;
    }
    facts.push(fact);
    Some(Check::Derives(Derives {
        fact: facts.len() - 1,
        from: from?,
        how: how?,
    }))
}

impl Derives {
    pub(super) fn eval(&self, cx: &Ctx<'_>, facts: &mut [Option<FactValue>]) -> ClauseOutcome {
        let names = cx.names;
        let v = match read_subject(names, &self.from, cx.instance, facts) {
            Val::V(v) => v.into_owned(),
            Val::Missing => {
                return ClauseOutcome::Fail(format!(
                    "{} is absent, so {} cannot be derived",
                    subject_name(names, &self.from),
                    names[self.fact]
                ));
            }
            Val::Unknown(r) => return ClauseOutcome::Unknown(r),
            Val::Skip(r) => return ClauseOutcome::Skipped(r),
        };
        let src = subject_name(names, &self.from);
        let (value, provenance) = match &self.how {
            Derivation::Identity => (v.clone(), format!("from {src}")),
            Derivation::Split(sep, idx) => match v.split(sep.as_str()).nth(*idx) {
                Some(part) => (
                    part.to_string(),
                    format!("from {src} \"{v}\" by split('{sep}')[{idx}]"),
                ),
                None => {
                    return ClauseOutcome::Fail(format!(
                        "{src} \"{v}\" has no field {idx} when split on '{sep}'"
                    ));
                }
            },
            Derivation::Capture(re, cap) => match re.captures(&v).and_then(|m| m.name(cap)) {
                Some(m) => (
                    m.as_str().to_string(),
                    format!("from {src} \"{v}\" by /{}/", re.as_str()),
                ),
                None => {
                    return ClauseOutcome::Fail(format!(
                        "{src} \"{v}\" does not match /{}/",
                        re.as_str()
                    ));
                }
            },
        };
        let shown = pass(cx.detail, || format!("{} = \"{value}\"", names[self.fact]));
        facts[self.fact] = Some(FactValue {
            value,
            provenance,
            source: v,
        });
        shown
    }

    pub(super) fn expected(&self, names: &[String]) -> String {
        let fact = &names[self.fact];
        match &self.how {
            Derivation::Identity => format!("to yield {fact}"),
            Derivation::Split(sep, idx) => format!("to yield {fact} by split('{sep}')[{idx}]"),
            Derivation::Capture(re, cap) => {
                format!("to yield {fact} as group {cap} of /{}/", re.as_str())
            }
        }
    }

    /// The subject it reads and how, in words, for the gate's reasons.
    pub fn how_words(&self, names: &[String]) -> (String, String) {
        let how = match &self.how {
            Derivation::Identity => String::new(),
            Derivation::Split(sep, idx) => format!(" by `split('{sep}')[{idx}]`"),
            Derivation::Capture(re, cap) => format!(" by the group {cap} of `/{}/`", re.as_str()),
        };
        (subject_name(names, &self.from), how)
    }

    pub(super) fn reason(&self, r: &ReasonCtx<'_>) -> String {
        let why = match &self.how {
            Derivation::Split(sep, idx) => {
                format!("which has no field {idx} when split on '{sep}'")
            }
            Derivation::Capture(re, _) => format!("which does not match `/{}/`", re.as_str()),
            Derivation::Identity => "which is absent".into(),
        };
        format!(
            "{} derives {} from it: {}, {why} ({})",
            r.consumer,
            r.names[self.fact],
            r.read(&self.from),
            r.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use serde_json::json;

    fn split() -> (Check, Vec<String>) {
        let mut facts = vec![];
        let (c, p) = compile_one(
            json!({"kind": "derives", "fact": "workerType", "from": {"output": "KeyName"}, "split": {"separator": ":", "index": 1}}),
            &mut facts,
        );
        assert!(p.is_empty(), "{p:?}");
        (c.expect("compiles"), facts)
    }

    #[test]
    fn split_derives_the_fact_the_way_occ_did_and_fails_where_occ_would() {
        let (c, names) = split();
        let mut facts = vec![None];
        let i = instance(
            "aws-provisioner-v1-managed:gecko-t-win10-64:0bb49de",
            "n",
            json!({}),
        );
        assert_eq!(
            eval(&c, &names, &i, &mut facts),
            ClauseOutcome::Pass("workerType = \"gecko-t-win10-64\"".into())
        );
        assert_eq!(
            facts[0].as_ref().map(|f| f.value.as_str()),
            Some("gecko-t-win10-64")
        );
        let mut facts = vec![None];
        let i = instance("universal", "n", json!({}));
        assert_eq!(
            eval(&c, &names, &i, &mut facts),
            ClauseOutcome::Fail("KeyName \"universal\" has no field 1 when split on ':'".into())
        );
        assert!(facts[0].is_none());
        assert_eq!(c.expected(&names), "to yield workerType by split(':')[1]");
    }

    #[test]
    fn a_capture_must_name_a_group_and_a_fact_is_derived_once() {
        let (_, p) = compile_one(
            json!({"kind": "derives", "fact": "wt", "from": {"output": "KeyName"}, "pattern": "^(?P<other>.*)$"}),
            &mut vec![],
        );
        assert_eq!(p[0].0, "/clauses/0/capture");
        let mut facts = vec!["wt".to_string()];
        let (c, p) = compile_one(
            json!({"kind": "derives", "fact": "wt", "from": {"output": "KeyName"}}),
            &mut facts,
        );
        assert!(c.is_none());
        assert!(p[0].1.contains("derived twice"));
    }
}
