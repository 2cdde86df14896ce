//! The compiler shared by every contract kind: diagnostics, outputs, regexes, conditions,
//! selectors; consumer contracts and their clauses (each kind compiles itself, in
//! `crate::clause`).

use super::{str_at, strings};
use crate::contract::*;
use crate::diag::Diagnostic;
use crate::output::{Cloud, OutputPath};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) struct Compiler<'d> {
    pub(super) diags: &'d mut Vec<Diagnostic>,
    pub(super) file: PathBuf,
    /// The file's text, parsed once to locate what is compiled (clauses, promises).
    pub(super) locator: Option<crate::diag::Locator>,
    /// The cloud of the contract being compiled: its outputs must be that cloud's.
    pub(super) cloud: Cloud,
    /// Whether the cloud is known (a consumer of a provider not loaded, that does not say its
    /// own, has one error for that, not one per field).
    pub(super) cloud_known: bool,
}

impl Compiler<'_> {
    /// Where `pointer` is in the file being compiled.
    pub(super) fn locate(&self, pointer: &str) -> Option<crate::diag::Location> {
        crate::diag::Location::in_located(&self.file, self.locator.as_ref()?, pointer)
    }

    /// Starts compiling `file`, whose text the parse phase kept.
    pub(super) fn start(&mut self, file: &std::path::Path, text: Option<String>) {
        self.file = file.to_path_buf();
        self.locator = text.map(crate::diag::Locator::new);
        self.cloud = Cloud::Ec2;
        self.cloud_known = true;
    }

    /// Reads the contract's `cloud` (its provider's for a consumer that selects one, when it
    /// does not say; saying another is an error) and compiles the rest for that cloud.
    pub(super) fn set_cloud(&mut self, v: &Value, inherited: Option<Cloud>) {
        let said = v.get("cloud").and_then(Value::as_str);
        let cloud = match said.map(|s| (s, Cloud::by_name(s))) {
            Some((_, Some(c))) => c,
            Some((s, None)) => {
                self.err(
                    "/cloud",
                    format!("\"{s}\" is not a cloud checker reads"),
                    "write ec2, gce or azure",
                );
                inherited.unwrap_or_default()
            }
            None => inherited.unwrap_or_default(),
        };
        if let Some(p) = inherited.filter(|p| *p != cloud) {
            self.err(
                "/cloud",
                format!(
                    "the consumer says cloud {}, but the provider it selects is about {}",
                    cloud.name(),
                    p.name()
                ),
                "remove `cloud` (a consumer has its provider's cloud) or select another provider",
            );
        }
        self.cloud = cloud;
    }
}

pub(super) type SetLookup<'a> = dyn Fn(&str) -> Option<SetRef> + 'a;

/// The loader's services for a clause kind's compile step.
struct ClauseCx<'c, 'd, 's> {
    c: &'c mut Compiler<'d>,
    sets: &'s SetLookup<'s>,
    secrets: &'s BTreeSet<OutputPath>,
}

impl crate::clause::Compile for ClauseCx<'_, '_, '_> {
    fn err(&mut self, ptr: String, msg: String, hint: String) {
        self.c.err(ptr, msg, hint);
    }
    fn output(&mut self, v: Option<&Value>, ptr: &str) -> Option<OutputPath> {
        self.c.output(v, ptr)
    }
    fn regex(&mut self, s: &str, ptr: &str) -> Option<Regex> {
        self.c.regex(s, ptr)
    }
    fn subject(&mut self, v: &Value, ptr: &str, facts: &[String]) -> Option<Subject> {
        self.c.subject(v, ptr, facts)
    }
    fn fact_ref(&mut self, name: &str, ptr: &str, facts: &[String]) -> Option<usize> {
        self.c.fact_ref(name, ptr, facts)
    }
    fn set(&mut self, name: &str) -> Option<SetRef> {
        (self.sets)(name)
    }
    fn is_secret(&self, p: &OutputPath) -> bool {
        self.secrets.contains(p)
    }
}

impl Compiler<'_> {
    pub(super) fn err(
        &mut self,
        ptr: impl Into<String>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = Diagnostic::at(&self.file, ptr, msg).hint(hint);
        self.diags.push(d);
    }

    pub(super) fn output(&mut self, v: Option<&Value>, ptr: &str) -> Option<OutputPath> {
        let s = v.and_then(Value::as_str)?;
        match OutputPath::parse(s) {
            Ok(OutputPath::Field(f)) if self.cloud_known && !f.of(self.cloud) => {
                let theirs: Vec<&str> = self.cloud.fields().map(|f| f.name()).collect();
                self.err(
                    ptr,
                    format!("`{s}` is a field of {}, and this contract is about {} instances", f.cloud().name(), self.cloud.name()),
                    format!("{} fields are: {}, region; set `cloud` if the contract is about another cloud", self.cloud.name(), theirs.join(", ")),
                );
                None
            }
            Ok(p) => Some(p),
            Err(e) => {
                self.err(ptr, e.message, e.hint);
                None
            }
        }
    }

    pub(super) fn regex(&mut self, s: &str, ptr: &str) -> Option<Regex> {
        match Regex::new(s) {
            Ok(r) => Some(r),
            Err(e) => {
                let detail = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                self.err(ptr, format!("the regular expression does not compile: {detail}"), "checker uses Rust regex syntax (no look-around or back-references); named groups are (?P<name>...)");
                None
            }
        }
    }

    pub(super) fn condition(
        &mut self,
        v: &Value,
        ptr: &str,
        sets: &SetLookup<'_>,
    ) -> Option<Condition> {
        if let Some(all) = v.get("all").and_then(Value::as_array) {
            let cs: Vec<_> = all
                .iter()
                .enumerate()
                .map(|(i, c)| self.condition(c, &format!("{ptr}/all/{i}"), sets))
                .collect();
            return cs
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Condition::All);
        }
        if let Some(any) = v.get("any").and_then(Value::as_array) {
            let cs: Vec<_> = any
                .iter()
                .enumerate()
                .map(|(i, c)| self.condition(c, &format!("{ptr}/any/{i}"), sets))
                .collect();
            return cs
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Condition::Any);
        }
        if let Some(n) = v.get("not") {
            return self
                .condition(n, &format!("{ptr}/not"), sets)
                .map(|c| Condition::Not(Box::new(c)));
        }
        let out = self.output(v.get("output"), &format!("{ptr}/output"))?;
        if let Some(s) = v.get("equals").and_then(Value::as_str) {
            return Some(Condition::Equals(out, s.to_string()));
        }
        if let Some(a) = v.get("one-of").and_then(Value::as_array) {
            return Some(Condition::OneOf(out, strings(a)));
        }
        if let Some(s) = v.get("matches").and_then(Value::as_str) {
            return self
                .regex(s, &format!("{ptr}/matches"))
                .map(|r| Condition::Matches(out, r));
        }
        if let Some(g) = v.get("glob").and_then(Value::as_str) {
            return match globset::GlobBuilder::new(g)
                .literal_separator(false)
                .build()
            {
                Ok(glob) => Some(Condition::Glob(out, glob.compile_matcher(), g.to_string())),
                Err(e) => {
                    self.err(
                        format!("{ptr}/glob"),
                        format!("bad glob: {e}"),
                        "globs use * and ?, as EC2 filters do",
                    );
                    None
                }
            };
        }
        if let Some(b) = v.get("present").and_then(Value::as_bool) {
            return Some(Condition::Present(out, b));
        }
        if let Some(name) = v.get("member-of").and_then(Value::as_str) {
            return match sets(name) {
                Some(s) => Some(Condition::MemberOf(out, s)),
                None => {
                    self.err(format!("{ptr}/member-of"), format!("neither this contract nor a loaded provider declares a set named \"{name}\""), "member-of names a set under this contract's or a provider manifest's \"sets\" (e.g. workerTypes)");
                    None
                }
            };
        }
        self.err(
            ptr.to_string(),
            "the condition has no test",
            "add one of equals, one-of, matches, glob, present, member-of",
        );
        None
    }

    pub(super) fn selector(
        &mut self,
        v: &Value,
        ptr: &str,
        set: Option<&ContractSet>,
        sets: &SetLookup<'_>,
    ) -> Option<Selector> {
        let mut ok = true;
        let provider = match (v.get("provider").and_then(Value::as_str), set) {
            (Some(name), Some(cs)) => match cs.providers.iter().position(|p| p.name == name) {
                Some(i) => Some(i),
                None => {
                    let known = cs
                        .providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.err(
                        format!("{ptr}/provider"),
                        format!("no provider manifest is named \"{name}\""),
                        format!("load the manifest with --contracts; known providers: [{known}]"),
                    );
                    ok = false;
                    None
                }
            },
            _ => None,
        };
        let cloud = self.cloud;
        let states = match v.get("states").and_then(Value::as_array) {
            Some(a) => strings(a),
            None => cloud
                .default_states()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let mut conditions = Vec::new();
        for (i, c) in v
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match self.condition(c, &format!("{ptr}/conditions/{i}"), sets) {
                Some(c) => conditions.push(c),
                None => ok = false,
            }
        }
        ok.then_some(Selector {
            cloud,
            provider,
            states,
            conditions,
        })
    }

    pub(super) fn consumer(&mut self, v: &Value, set: &ContractSet) -> Option<Consumer> {
        let before = self.diags.len();
        let provider_name = v
            .get("selector")
            .and_then(|s| s.get("provider"))
            .and_then(Value::as_str);
        let provider = provider_name.and_then(|n| set.providers.iter().find(|p| p.name == n));
        // The consumer's own sets (OCC's manifest names are OCC's, not a provider's) first.
        self.set_cloud(v, provider.map(|p| p.cloud));
        if provider_name.is_some() && provider.is_none() && v.get("cloud").is_none() {
            self.cloud_known = false;
        }
        let own = self.named_sets(v);
        let lookup = |name: &str| -> Option<SetRef> {
            if let Some(s) = own.get(name) {
                return Some(SetRef {
                    name: name.to_string(),
                    values: s.clone(),
                });
            }
            match provider {
                Some(p) => p.sets.get(name).map(|s| SetRef {
                    name: name.to_string(),
                    values: s.clone(),
                }),
                None => {
                    let mut union: BTreeSet<String> = BTreeSet::new();
                    let mut found = false;
                    for p in &set.providers {
                        if let Some(s) = p.sets.get(name) {
                            found = true;
                            union.extend(s.iter().cloned());
                        }
                    }
                    found.then(|| SetRef {
                        name: name.to_string(),
                        values: Arc::new(union),
                    })
                }
            }
        };
        let selector = self.selector(
            v.get("selector").unwrap_or(&Value::Null),
            "/selector",
            Some(set),
            &lookup,
        );
        let secrets: BTreeSet<OutputPath> = set
            .providers
            .iter()
            .flat_map(|p| p.outputs.iter())
            .filter(|o| o.secret)
            .map(|o| o.path.clone())
            .collect();
        let mut facts: Vec<String> = Vec::new();
        let mut clauses = Vec::new();
        for (i, cv) in v
            .get("clauses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ptr = format!("/clauses/{i}");
            if let Some(cl) = self.clause(cv, &ptr, &mut facts, &lookup, &secrets) {
                clauses.push(cl);
            }
        }
        if self.diags.len() > before {
            return None;
        }
        Some(Consumer {
            name: str_at(v, "name").unwrap_or_default(),
            owner: str_at(v, "owner").unwrap_or_default(),
            description: str_at(v, "description").unwrap_or_default(),
            runbook: str_at(v, "runbook"),
            role: if str_at(v, "role").as_deref() == Some("cull") {
                Role::Cull
            } else {
                Role::Reader
            },
            file: self.file.clone(),
            selector: selector?,
            clauses,
            facts,
            may_be_empty: v.get("mayBeEmpty").and_then(Value::as_bool) == Some(true),
        })
    }

    fn subject(&mut self, v: &Value, ptr: &str, facts: &[String]) -> Option<Subject> {
        if let Some(f) = v.get("fact").and_then(Value::as_str) {
            return self
                .fact_ref(f, &format!("{ptr}/fact"), facts)
                .map(Subject::Fact);
        }
        if v.get("output").is_some() {
            return self
                .output(v.get("output"), &format!("{ptr}/output"))
                .map(Subject::Output);
        }
        self.err(ptr, "this needs an \"output\" or a \"fact\" to read", "add \"output\": \"KeyName\" (or a tag:/userData. path), or \"fact\": a fact derived earlier");
        None
    }

    fn fact_ref(&mut self, name: &str, ptr: &str, facts: &[String]) -> Option<usize> {
        match facts.iter().position(|f| f == name) {
            Some(i) => Some(i),
            None => {
                let known = if facts.is_empty() {
                    "none yet".to_string()
                } else {
                    facts.join(", ")
                };
                self.err(ptr, format!("fact \"{name}\" is not derived before this clause"), format!("add a \"derives\" clause for it earlier in the list; facts derived so far: {known}"));
                None
            }
        }
    }

    fn clause(
        &mut self,
        v: &Value,
        ptr: &str,
        facts: &mut Vec<String>,
        sets: &SetLookup<'_>,
        secrets: &BTreeSet<OutputPath>,
    ) -> Option<Clause> {
        let before = self.diags.len();
        let kind = str_at(v, "kind").unwrap_or_default();
        let when = v
            .get("when")
            .and_then(|w| self.condition(w, &format!("{ptr}/when"), sets));
        let check = crate::clause::compile(
            &mut ClauseCx {
                c: self,
                sets,
                secrets,
            },
            &kind,
            v,
            ptr,
            facts,
        );
        if self.diags.len() > before {
            return None;
        }
        Some(Clause {
            location: self.locate(ptr),
            id: str_at(v, "id").unwrap_or_default(),
            severity: if str_at(v, "severity").as_deref() == Some("warning") {
                Severity::Warning
            } else {
                Severity::Error
            },
            why: str_at(v, "why").unwrap_or_default(),
            when,
            check: check?,
            pointer: ptr.to_string(),
        })
    }
}
