//! Clause kinds. Each kind has a home: one file holding its user documentation, how it is
//! compiled from a contract, how it evaluates on an instance, the words a finding uses for what
//! it expects, the gate's reason when it breaks on a proposal, and its unit tests. They are
//! dispatched from the one enum [`Check`].
//!
//! A new kind: a file here, a variant in [`Check`], an arm in each method below, its entry in
//! [`Kind::doc`], and its name in `contracts/schema/consumer.schema.json`.

use crate::fleet::{Instance, Read};
use crate::output::OutputPath;
use regex::Regex;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

pub mod absent;
pub mod agrees_with;
pub mod derives;
pub mod equals;
pub mod matches;
pub mod member_of;
pub mod one_of;
pub mod present;
pub mod uniform;

/// One clause kind's user-facing documentation (`checker rules`).
#[derive(Debug, Clone, Copy, serde::Serialize, schemars::JsonSchema)]
pub struct RuleDoc {
    /// The kind as contracts write it.
    pub kind: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The fields it takes.
    pub fields: &'static str,
    /// When it is `unknown` rather than pass or fail.
    pub unknown_when: &'static str,
    /// A clause that uses it.
    pub example: &'static str,
}

impl Kind {
    /// The kind's documentation, from its own file.
    pub const fn doc(self) -> RuleDoc {
        match self {
            Kind::Present => present::DOC,
            Kind::Absent => absent::DOC,
            Kind::Equals => equals::DOC,
            Kind::OneOf => one_of::DOC,
            Kind::Matches => matches::DOC,
            Kind::Derives => derives::DOC,
            Kind::MemberOf => member_of::DOC,
            Kind::AgreesWith => agrees_with::DOC,
            Kind::Uniform => uniform::DOC,
        }
    }
}

/// Every clause kind's documentation, in the order `checker rules` lists them: the order of
/// [`Check`]'s variants, from which [`Kind`] is derived (a new clause kind is listed without
/// a list to edit; the compiler asks for its `doc`).
pub fn kinds() -> Vec<RuleDoc> {
    <Kind as strum::IntoEnumIterator>::iter()
        .map(Kind::doc)
        .collect()
}

/// What a clause reads: an output or a fact derived earlier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An output.
    Output(OutputPath),
    /// A fact, by index into the consumer's facts.
    Fact(usize),
}

/// A resolved set.
#[derive(Debug, Clone)]
pub struct SetRef {
    /// How the contract names it (`workerTypes`), or `inline`.
    pub name: String,
    /// Its members.
    pub values: Arc<BTreeSet<String>>,
}

/// A compiled check.
#[derive(Debug, Clone, strum::EnumDiscriminants)]
#[strum_discriminants(name(Kind), derive(strum::EnumIter))]
pub enum Check {
    /// The output is present.
    Present(present::Present),
    /// The output is absent.
    Absent(absent::Absent),
    /// The subject equals a value.
    Equals(equals::Equals),
    /// The subject is one of some values.
    OneOf(one_of::OneOf),
    /// The subject matches a regex.
    Matches(matches::Matches),
    /// A fact is derived from the subject.
    Derives(derives::Derives),
    /// The subject belongs to a set.
    MemberOf(member_of::MemberOf),
    /// The subject equals another output, fact or rendered template.
    AgreesWith(agrees_with::AgreesWith),
    /// All instances that share the `per` values share the subject's value.
    Uniform(uniform::Uniform),
}

/// What one clause concluded about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClauseOutcome {
    /// It holds; what was read.
    Pass(String),
    /// It does not hold; the value(s) that made it fail.
    Fail(String),
    /// It cannot be evaluated; why.
    Unknown(String),
    /// Its `when` does not hold here.
    NotApplicable,
    /// Not evaluated: a fact it needs was not derived, or user-data was not sampled.
    Skipped(String),
}

/// A derived fact's value and how it was derived, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactValue {
    /// The value.
    pub value: String,
    /// `from KeyName "..." by split(':')[1]`.
    pub provenance: String,
    /// The value it was derived from.
    pub source: String,
}

/// What an outcome carries in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every outcome says what was read (`explain`).
    All,
    /// Only failures, unknowns and skips do; a pass carries an empty string. Evaluating a fleet
    /// counts passes and never shows them, and formatting them was most of its time (100,000
    /// instances: 762 ms with the words, 255 ms without).
    Failures,
}

/// What evaluating a clause on one instance sees (facts are passed beside it, mutable).
pub struct Ctx<'a> {
    /// The consumer's fact names, by index.
    pub names: &'a [String],
    /// The instance.
    pub instance: &'a Instance,
    /// What outcomes carry in words.
    pub detail: Detail,
}

/// What the gate's reason for a broken clause sees: the first failing proposed instance, with
/// the facts the clauses before it derived there.
pub struct ReasonCtx<'a> {
    /// The consumer's name.
    pub consumer: &'a str,
    /// Its fact names.
    pub names: &'a [String],
    /// Per fact: the subject it is derived from and how, in words (`` by `split(':')[1]` ``).
    pub derivations: &'a [Option<(String, String)>],
    /// The instance.
    pub instance: &'a Instance,
    /// The facts derived on it.
    pub facts: &'a [Option<FactValue>],
    /// `N proposed instance(s)`.
    pub count: String,
}

impl ReasonCtx<'_> {
    /// A subject in words with its proposed value: how the consumer derives a fact, or the
    /// proposed output.
    pub fn read(&self, s: &Subject) -> String {
        match s {
            Subject::Fact(x) => match (&self.derivations[*x], self.facts[*x].as_ref()) {
                (Some((src, how)), Some(fv)) => format!(
                    "{} derives {} from {src}{how}; proposed {src} \"{}\" yields \"{}\"",
                    self.consumer, self.names[*x], fv.source, fv.value
                ),
                _ => format!("fact {}", self.names[*x]),
            },
            Subject::Output(p) => match self.instance.read(p) {
                Read::Value(v) => format!("proposed {p} is \"{v}\""),
                _ => format!("proposed instances have no {p}"),
            },
        }
    }
}

/// The loader's services a kind's compile step uses: diagnostics, outputs, regexes, subjects,
/// facts and sets, each reported at its JSON pointer.
pub trait Compile {
    /// Records a problem.
    fn err(&mut self, ptr: String, msg: String, hint: String);
    /// Parses an output path.
    fn output(&mut self, v: Option<&Value>, ptr: &str) -> Option<OutputPath>;
    /// Compiles a regex.
    fn regex(&mut self, s: &str, ptr: &str) -> Option<Regex>;
    /// Reads `output` or `fact`.
    fn subject(&mut self, v: &Value, ptr: &str, facts: &[String]) -> Option<Subject>;
    /// Resolves a fact name derived earlier.
    fn fact_ref(&mut self, name: &str, ptr: &str, facts: &[String]) -> Option<usize>;
    /// Resolves a set a loaded provider declares.
    fn set(&mut self, name: &str) -> Option<SetRef>;
    /// Whether an output is secret (only present/absent may read it).
    fn is_secret(&self, p: &OutputPath) -> bool;
}

/// Compiles a clause's check; problems go to `cx`. `facts` grows when the clause derives one.
pub fn compile(
    cx: &mut dyn Compile,
    kind: &str,
    v: &Value,
    ptr: &str,
    facts: &mut Vec<String>,
) -> Option<Check> {
    match kind {
        "present" => present::compile(cx, v, ptr),
        "absent" => absent::compile(cx, v, ptr),
        "derives" => derives::compile(cx, v, ptr, facts),
        "uniform" => uniform::compile(cx, v, ptr, facts),
        "equals" => equals::compile(cx, v, ptr, facts),
        "one-of" => one_of::compile(cx, v, ptr, facts),
        "matches" => matches::compile(cx, v, ptr, facts),
        "member-of" => member_of::compile(cx, v, ptr, facts),
        "agrees-with" => agrees_with::compile(cx, v, ptr, facts),
        other => {
            let _ = cx.subject(v, ptr, facts);
            cx.err(
                format!("{ptr}/kind"),
                format!("unknown clause kind \"{other}\""),
                "run `checker rules` for the kinds".into(),
            );
            None
        }
    }
}

impl Check {
    /// The kind's documentation.
    pub fn doc(&self) -> &'static RuleDoc {
        match self {
            Check::Present(_) => &present::DOC,
            Check::Absent(_) => &absent::DOC,
            Check::Equals(_) => &equals::DOC,
            Check::OneOf(_) => &one_of::DOC,
            Check::Matches(_) => &matches::DOC,
            Check::Derives(_) => &derives::DOC,
            Check::MemberOf(_) => &member_of::DOC,
            Check::AgreesWith(_) => &agrees_with::DOC,
            Check::Uniform(_) => &uniform::DOC,
        }
    }

    /// The kind's name, as contracts write it.
    pub fn kind(&self) -> &'static str {
        self.doc().kind
    }

    /// The subject a finding is reported against (`present`/`absent` have none: their output).
    pub fn subject(&self) -> Option<&Subject> {
        match self {
            Check::Present(_) | Check::Absent(_) => None,
            Check::Equals(c) => Some(&c.subject),
            Check::OneOf(c) => Some(&c.subject),
            Check::Matches(c) => Some(&c.subject),
            Check::Derives(c) => Some(&c.from),
            Check::MemberOf(c) => Some(&c.subject),
            Check::AgreesWith(c) => Some(&c.subject),
            Check::Uniform(c) => Some(&c.subject),
        }
    }

    /// Every subject the check reads (outputs and facts), its own first.
    pub fn subjects(&self) -> Vec<Subject> {
        match self {
            Check::Present(c) => vec![Subject::Output(c.output.clone())],
            Check::Absent(c) => vec![Subject::Output(c.output.clone())],
            Check::AgreesWith(c) => c.subjects(),
            Check::Uniform(c) => std::iter::once(c.subject.clone())
                .chain(c.per.iter().cloned())
                .collect(),
            other => other.subject().into_iter().cloned().collect(),
        }
    }

    /// The outputs the check reads directly.
    pub fn outputs(&self, out: &mut Vec<OutputPath>) {
        for s in self.subjects() {
            if let Subject::Output(p) = s {
                out.push(p);
            }
        }
    }

    /// The facts the check reads.
    pub fn facts_read(&self) -> Vec<usize> {
        self.subjects()
            .into_iter()
            .filter_map(|s| match s {
                Subject::Fact(f) => Some(f),
                Subject::Output(_) => None,
            })
            .collect()
    }

    /// The fact the check derives, if it is a `derives`.
    pub fn derived_fact(&self) -> Option<usize> {
        match self {
            Check::Derives(d) => Some(d.fact),
            _ => None,
        }
    }

    /// The named set a `member-of` reads.
    pub fn set_name(&self) -> Option<&str> {
        match self {
            Check::MemberOf(m) => Some(&m.set.name),
            _ => None,
        }
    }

    /// Evaluates the check on one instance (`when` is the caller's). `facts` carries what
    /// earlier clauses derived; a `derives` adds to it.
    pub fn eval(&self, cx: &Ctx<'_>, facts: &mut [Option<FactValue>]) -> ClauseOutcome {
        match self {
            Check::Present(c) => c.eval(cx),
            Check::Absent(c) => c.eval(cx),
            Check::Equals(c) => c.eval(cx, facts),
            Check::OneOf(c) => c.eval(cx, facts),
            Check::Matches(c) => c.eval(cx, facts),
            Check::Derives(c) => c.eval(cx, facts),
            Check::MemberOf(c) => c.eval(cx, facts),
            Check::AgreesWith(c) => c.eval(cx, facts),
            Check::Uniform(c) => c.eval(cx, facts),
        }
    }

    /// What the check expects, in words (`to be a member of workerTypes (7 known values)`).
    pub fn expected(&self, names: &[String]) -> String {
        match self {
            Check::Present(_) => present::expected(),
            Check::Absent(_) => absent::expected(),
            Check::Equals(c) => c.expected(),
            Check::OneOf(c) => c.expected(),
            Check::Matches(c) => c.expected(),
            Check::Derives(c) => c.expected(names),
            Check::MemberOf(c) => c.expected(),
            Check::AgreesWith(c) => c.expected(names),
            Check::Uniform(c) => c.expected(names),
        }
    }

    /// Why the check breaks on a proposal, naming the proposed values and how the consumer
    /// derives from them; `None` when the finding's own message says it best.
    pub fn reason(&self, r: &ReasonCtx<'_>) -> Option<String> {
        match self {
            Check::Present(c) => Some(c.reason(r)),
            Check::Absent(c) => Some(c.reason(r)),
            Check::Equals(c) => Some(c.reason(r)),
            Check::OneOf(c) => Some(c.reason(r)),
            Check::Matches(c) => Some(c.reason(r)),
            Check::Derives(c) => Some(c.reason(r)),
            Check::MemberOf(c) => Some(c.reason(r)),
            Check::AgreesWith(c) => Some(c.reason(r)),
            Check::Uniform(_) => None,
        }
    }
}

/// A subject's value as a clause sees it.
pub(crate) enum Val<'a> {
    /// Its value.
    V(Cow<'a, str>),
    /// The instance does not have it.
    Missing,
    /// It cannot be known: why.
    Unknown(String),
    /// Not evaluated: why.
    Skip(String),
}

pub(crate) fn read_subject<'a>(
    names: &[String],
    s: &Subject,
    i: &'a Instance,
    facts: &'a [Option<FactValue>],
) -> Val<'a> {
    match s {
        Subject::Output(p) => read_output(p, i),
        Subject::Fact(f) => match &facts[*f] {
            Some(fv) => Val::V(Cow::Borrowed(&fv.value)),
            None => Val::Skip(format!("fact {} was not derived", names[*f])),
        },
    }
}

pub(crate) fn read_output<'a>(p: &OutputPath, i: &'a Instance) -> Val<'a> {
    match i.read(p) {
        Read::Value(v) => Val::V(v),
        Read::Missing => Val::Missing,
        Read::Unknown(why) => Val::Unknown(format!("{p}: {why}")),
        Read::NotSampled => Val::Skip("user-data not sampled".into()),
    }
}

/// The subject's value, or the outcome when there is none: absent fails, unreadable is unknown.
pub(crate) fn value<'a>(
    cx: &Ctx<'a>,
    s: &Subject,
    facts: &'a [Option<FactValue>],
) -> Result<Cow<'a, str>, ClauseOutcome> {
    match read_subject(cx.names, s, cx.instance, facts) {
        Val::V(v) => Ok(v),
        Val::Missing => Err(ClauseOutcome::Fail(format!(
            "{} is absent",
            subject_name(cx.names, s)
        ))),
        Val::Unknown(r) => Err(ClauseOutcome::Unknown(r)),
        Val::Skip(r) => Err(ClauseOutcome::Skipped(r)),
    }
}

/// Shows a subject's value with where it came from: `"ffe27db" (workerType derived from ...)`.
pub(crate) fn show(names: &[String], s: &Subject, v: &str, facts: &[Option<FactValue>]) -> String {
    match s {
        Subject::Output(_) => format!("\"{v}\""),
        Subject::Fact(f) => match &facts[*f] {
            Some(fv) => format!("\"{v}\" ({} derived {})", names[*f], fv.provenance),
            None => format!("\"{v}\""),
        },
    }
}

/// A subject's name in words.
pub fn subject_name(names: &[String], s: &Subject) -> String {
    match s {
        Subject::Output(p) => p.to_string(),
        Subject::Fact(f) => format!("fact {}", names[*f]),
    }
}

/// A pass, with its words only when `detail` asks for them.
pub(crate) fn pass(detail: Detail, words: impl FnOnce() -> String) -> ClauseOutcome {
    ClauseOutcome::Pass(match detail {
        Detail::All => words(),
        Detail::Failures => String::new(),
    })
}

/// Pass or fail on a subject's value: the common shape of equals, one-of, matches, member-of.
pub(crate) fn judge(
    cx: &Ctx<'_>,
    s: &Subject,
    facts: &[Option<FactValue>],
    ok: impl FnOnce(&str) -> bool,
) -> ClauseOutcome {
    let v = match value(cx, s, facts) {
        Ok(v) => v,
        Err(o) => return o,
    };
    if ok(&v) {
        pass(cx.detail, || show(cx.names, s, &v, facts))
    } else {
        ClauseOutcome::Fail(show(cx.names, s, &v, facts))
    }
}

/// Reads the subject of a kind that compares its value, refusing a secret output.
pub(crate) fn value_subject(
    cx: &mut dyn Compile,
    v: &Value,
    ptr: &str,
    facts: &[String],
    kind: &str,
) -> Option<Subject> {
    let s = cx.subject(v, ptr, facts)?;
    if let Subject::Output(p) = &s
        && cx.is_secret(p)
    {
        cx.err(
            format!("{ptr}/output"),
            format!("{p} is a secret output; a {kind} clause would compare its value"),
            "secrets can only be checked with present/absent".into(),
        );
    }
    Some(s)
}

/// The strings of a JSON array.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A small instance and a compile context for the kinds' unit tests.

    use super::*;
    use std::collections::BTreeMap;

    /// An instance with a key name, a Name tag and JSON user-data.
    pub fn instance(key: &str, name: &str, user_data: Value) -> Instance {
        let mut tags = BTreeMap::new();
        tags.insert("Name".to_string(), name.to_string());
        let mut i = Instance {
            id: "i-1".into(),
            region: "us-east-1".into(),
            tags,
            user_data: match user_data {
                Value::Object(m) => crate::fleet::UserData::Json(std::sync::Arc::new(m)),
                _ => crate::fleet::UserData::Absent,
            },
            ..Default::default()
        };
        i.set_field(crate::output::Ec2Field::State, "running".into());
        i.set_field(crate::output::Ec2Field::KeyName, key.into());
        i
    }

    /// Evaluates with every outcome in words.
    pub fn eval(
        c: &Check,
        names: &[String],
        i: &Instance,
        facts: &mut [Option<FactValue>],
    ) -> ClauseOutcome {
        c.eval(
            &Ctx {
                names,
                instance: i,
                detail: Detail::All,
            },
            facts,
        )
    }

    /// A compile context that records problems; `workerTypes` is the one known set.
    #[derive(Default)]
    pub struct Cx {
        pub problems: Vec<(String, String)>,
        pub secrets: Vec<OutputPath>,
    }

    impl Compile for Cx {
        fn err(&mut self, ptr: String, msg: String, _hint: String) {
            self.problems.push((ptr, msg));
        }
        fn output(&mut self, v: Option<&Value>, ptr: &str) -> Option<OutputPath> {
            match OutputPath::parse(v?.as_str()?) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.err(ptr.into(), e.message, e.hint);
                    None
                }
            }
        }
        fn regex(&mut self, s: &str, ptr: &str) -> Option<Regex> {
            Regex::new(s)
                .map_err(|e| self.err(ptr.into(), e.to_string(), String::new()))
                .ok()
        }
        fn subject(&mut self, v: &Value, ptr: &str, facts: &[String]) -> Option<Subject> {
            if let Some(f) = v.get("fact").and_then(Value::as_str) {
                return self.fact_ref(f, ptr, facts).map(Subject::Fact);
            }
            self.output(v.get("output"), &format!("{ptr}/output"))
                .map(Subject::Output)
        }
        fn fact_ref(&mut self, name: &str, ptr: &str, facts: &[String]) -> Option<usize> {
            let found = facts.iter().position(|f| f == name);
            if found.is_none() {
                self.err(
                    ptr.into(),
                    format!("fact {name} not derived"),
                    String::new(),
                );
            }
            found
        }
        fn set(&mut self, name: &str) -> Option<SetRef> {
            (name == "workerTypes").then(|| SetRef {
                name: name.into(),
                values: Arc::new(["gecko-t-win10-64".to_string()].into()),
            })
        }
        fn is_secret(&self, p: &OutputPath) -> bool {
            self.secrets.contains(p)
        }
    }

    /// Compiles one clause.
    pub fn compile_one(
        v: Value,
        facts: &mut Vec<String>,
    ) -> (Option<Check>, Vec<(String, String)>) {
        let mut cx = Cx::default();
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        let c = super::compile(&mut cx, &kind, &v, "/clauses/0", facts);
        (c, cx.problems)
    }
}
