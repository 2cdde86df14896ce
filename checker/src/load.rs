//! Loading contracts: collect files, parse, validate against the shipped JSON Schemas, then
//! compile and cross-check (regexes, facts, sets, templates, unique ids). Every problem in every
//! file is collected before loading fails, each with its file, JSON pointer and a hint.

use crate::contract::*;
use crate::diag::{Diagnostic, Diagnostics, Place, pointer_push};
use crate::output::OutputPath;
use crate::template::Template;
use chrono::NaiveDate;
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

/// The shipped schemas, by file name. Editors find them through each file's `$schema`.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "common.schema.json",
        include_str!("../../contracts/schema/common.schema.json"),
    ),
    (
        "provider.schema.json",
        include_str!("../../contracts/schema/provider.schema.json"),
    ),
    (
        "consumer.schema.json",
        include_str!("../../contracts/schema/consumer.schema.json"),
    ),
    (
        "waivers.schema.json",
        include_str!("../../contracts/schema/waivers.schema.json"),
    ),
];

const SCHEMA_BASE: &str = "https://checker.invalid/schema/";

/// Resolves our schemas' `$ref`s from memory; nothing is ever fetched.
struct EmbeddedSchemas;

impl jsonschema::Retrieve for EmbeddedSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix(SCHEMA_BASE)
            .unwrap_or(uri.as_str());
        SCHEMAS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| serde_json::from_str(text).map_err(|e| e.into()))
            .unwrap_or_else(|| Err(format!("no embedded schema {name}").into()))
    }
}

fn schema_value(name: &str) -> Value {
    let text = SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or("{}");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

static VALIDATORS: LazyLock<Result<HashMap<&'static str, jsonschema::Validator>, String>> =
    LazyLock::new(|| {
        let mut out = HashMap::new();
        for kind in ["provider", "consumer", "waivers"] {
            let v = jsonschema::options()
                .with_retriever(EmbeddedSchemas)
                .build(&schema_value(&format!("{kind}.schema.json")))
                .map_err(|e| format!("the built-in {kind} schema does not compile: {e}"))?;
            out.insert(kind, v);
        }
        Ok(out)
    });

/// Loads and compiles every contract under `paths` (files or directories, combined).
pub fn load(paths: &[PathBuf]) -> Result<ContractSet, Diagnostics> {
    load_with(paths, &[], &[])
}

/// Like [`load`], leaving out the files in `exclude` and adding those in `extra` (the gate swaps
/// a provider manifest for its proposed or base revision this way).
pub fn load_with(
    paths: &[PathBuf],
    extra: &[PathBuf],
    exclude: &[PathBuf],
) -> Result<ContractSet, Diagnostics> {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files, &mut diags);
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => normalize(a) == normalize(b),
    };
    files.retain(|f| !exclude.iter().chain(extra).any(|x| same(f, x)));
    for x in extra {
        collect_files(x, &mut files, &mut diags);
    }
    if files.is_empty() && diags.is_empty() {
        let named = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        diags.push(
            Diagnostic::file(paths.first().map(PathBuf::as_path).unwrap_or(Path::new(".")), format!("no contract files (*.json) found in {named}"))
                .hint("point --contracts at a directory holding provider manifests and consumer contracts, e.g. contracts/"),
        );
    }
    // Phase 1: parse.
    let mut docs: Vec<(PathBuf, Value)> = Vec::new();
    for f in files {
        match std::fs::read(&f) {
            Err(e) => diags.push(Diagnostic::file(&f, format!("cannot read: {e}"))),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => docs.push((f, v)),
                Err(e) => diags.push(Diagnostic::from_json_error(&f, &e)),
            },
        }
    }
    // Data files that manifests name (lists of worker types) are not contracts.
    let data_files: BTreeSet<PathBuf> = docs
        .iter()
        .filter(|(_, v)| v.get("kind").and_then(Value::as_str) == Some("provider"))
        .flat_map(|(f, v)| {
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            v.get("sets")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|s| s.get("file").and_then(Value::as_str))
                .map(move |rel| path_key(&dir.join(rel)))
                .collect::<Vec<_>>()
        })
        .collect();
    docs.retain(|(f, _)| !data_files.contains(&path_key(f)));

    // Phase 1b: schema.
    let validators = match &*VALIDATORS {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::file(Path::new("<built-in schema>"), e.clone()));
            return Err(Diagnostics(diags));
        }
    };
    let mut valid: Vec<(PathBuf, Value, &'static str)> = Vec::new();
    for (f, v) in docs {
        let kind = match v.get("kind").and_then(Value::as_str) {
            Some(k @ ("provider" | "consumer" | "waivers")) => match k {
                "provider" => "provider",
                "consumer" => "consumer",
                _ => "waivers",
            },
            Some(other) => {
                diags.push(
                    Diagnostic::at(&f, "/kind", format!("unknown kind \"{other}\""))
                        .hint("kind is one of provider, consumer, waivers"),
                );
                continue;
            }
            None => {
                diags.push(
                    Diagnostic::at(&f, "", "the file has no \"kind\"; checker cannot tell what it is")
                        .hint("add \"kind\": \"provider\", \"consumer\" or \"waivers\" (and \"$schema\" so editors can help)"),
                );
                continue;
            }
        };
        let before = diags.len();
        for err in validators[kind].iter_errors(&v) {
            diags.push(schema_diagnostic(&f, kind, &err));
        }
        if diags.len() == before {
            valid.push((f, v, kind));
        }
    }

    // Phase 2: compile and cross-check.
    let mut set = ContractSet {
        files: valid.iter().map(|(f, _, _)| f.clone()).collect(),
        ..Default::default()
    };
    let mut c = Compiler {
        diags: &mut diags,
        file: PathBuf::new(),
    };
    for (f, v, _) in valid.iter().filter(|(_, _, k)| *k == "provider") {
        c.file = f.clone();
        if let Some(p) = c.provider(v) {
            if let Some(first) = set.providers.iter().find(|q| q.name == p.name) {
                let d = Diagnostic::at(
                    f,
                    "/name",
                    format!("provider \"{}\" is defined twice", p.name),
                )
                .hint(format!(
                    "it is also defined in {}; provider names must be unique",
                    first.file.display()
                ));
                c.diags.push(d);
            } else {
                set.providers.push(p);
            }
        }
    }
    let mut clause_ids: HashMap<String, (PathBuf, String)> = HashMap::new();
    for (f, v, _) in valid.iter().filter(|(_, _, k)| *k == "consumer") {
        c.file = f.clone();
        if let Some(cons) = c.consumer(v, &set) {
            if let Some(first) = set.consumers.iter().find(|q| q.name == cons.name) {
                let d = Diagnostic::at(
                    f,
                    "/name",
                    format!("consumer \"{}\" is defined twice", cons.name),
                )
                .hint(format!(
                    "it is also defined in {}; consumer names must be unique",
                    first.file.display()
                ));
                c.diags.push(d);
                continue;
            }
            let mut dup = false;
            for cl in &cons.clauses {
                if let Some((ff, fp)) = clause_ids.get(&cl.id) {
                    c.diags.push(
                        Diagnostic::at(f, format!("{}/id", cl.pointer), format!("clause id \"{}\" is used twice", cl.id))
                            .hint(format!("it is also used at {} {}; clause ids are global: prefix them with the consumer's name", ff.display(), fp)),
                    );
                    dup = true;
                } else {
                    clause_ids.insert(cl.id.clone(), (f.clone(), cl.pointer.clone()));
                }
            }
            if !dup {
                set.consumers.push(cons);
            }
        }
    }
    for (f, v, _) in valid.iter().filter(|(_, _, k)| *k == "waivers") {
        c.file = f.clone();
        let waivers = c.waivers(v, &set);
        set.waivers.extend(waivers);
    }
    if diags.is_empty() {
        Ok(set)
    } else {
        Err(Diagnostics(diags))
    }
}

/// One spelling per file: canonical when it exists, else lexically normalized.
fn path_key(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| normalize(p))
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in p.components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => {
            diags.push(
                Diagnostic::file(p, format!("cannot read contracts path: {e}"))
                    .hint("--contracts takes files or directories of *.json contracts"),
            );
            return;
        }
    };
    if meta.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
        Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => {
            diags.push(Diagnostic::file(p, format!("cannot list directory: {e}")));
            return;
        }
    };
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            // The schemas describe contracts; they are not contracts.
            if name != "schema" {
                collect_files(&e, out, diags);
            }
        } else if name.ends_with(".json") && !name.ends_with(".schema.json") {
            out.push(e);
        }
    }
}

fn schema_diagnostic(file: &Path, kind: &str, err: &jsonschema::ValidationError<'_>) -> Diagnostic {
    let mut message = err.to_string();
    if message.len() > 240 {
        let mut cut = 240;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    let keyword = err
        .schema_path()
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let schema = format!("contracts/schema/{kind}.schema.json");
    let hint = match keyword.as_str() {
        "additionalProperties" => {
            format!("remove that property or fix its spelling; {schema} lists the allowed ones")
        }
        "required" => format!("add the missing property ({schema} documents it)"),
        "enum" | "const" => "use one of the allowed values".to_string(),
        "type" => "change the value to the expected JSON type".to_string(),
        "pattern" => {
            "identifiers are kebab-case: lower-case letters, digits and dashes".to_string()
        }
        "oneOf" | "anyOf" => format!(
            "the value must take exactly one of the shapes {schema} allows (e.g. a condition has one output and one test)"
        ),
        "minItems" | "minProperties" | "minLength" => "the value may not be empty".to_string(),
        "maxProperties" => {
            "a condition tests one thing: split it into several conditions".to_string()
        }
        _ => format!("see {schema}"),
    };
    Diagnostic {
        file: file.to_path_buf(),
        place: Place::Pointer(err.instance_path().as_str().to_string()),
        message,
        hint: Some(hint),
    }
}

struct Compiler<'d> {
    diags: &'d mut Vec<Diagnostic>,
    file: PathBuf,
}

type SetLookup<'a> = dyn Fn(&str) -> Option<SetRef> + 'a;

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
    fn err(&mut self, ptr: impl Into<String>, msg: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::at(&self.file, ptr, msg).hint(hint);
        self.diags.push(d);
    }

    fn output(&mut self, v: Option<&Value>, ptr: &str) -> Option<OutputPath> {
        let s = v.and_then(Value::as_str)?;
        match OutputPath::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(ptr, e.message, e.hint);
                None
            }
        }
    }

    fn regex(&mut self, s: &str, ptr: &str) -> Option<Regex> {
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

    fn condition(&mut self, v: &Value, ptr: &str, sets: &SetLookup<'_>) -> Option<Condition> {
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
                    self.err(format!("{ptr}/member-of"), format!("no provider declares a set named \"{name}\""), "member-of names a set under a provider manifest's \"sets\" (e.g. workerTypes)");
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

    fn selector(
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
        let states = match v.get("states").and_then(Value::as_array) {
            Some(a) => strings(a),
            None => DEFAULT_STATES.iter().map(|s| s.to_string()).collect(),
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
            provider,
            states,
            conditions,
        })
    }

    fn provider(&mut self, v: &Value) -> Option<Provider> {
        let name = str_at(v, "name");
        let before = self.diags.len();
        // Sets first: variables and the selector refer to them.
        let mut sets: BTreeMap<String, Arc<BTreeSet<String>>> = BTreeMap::new();
        for (k, s) in v
            .get("sets")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/sets", k);
            let values = match s {
                Value::Array(a) => Some(strings(a)),
                other => other
                    .get("file")
                    .and_then(Value::as_str)
                    .and_then(|rel| self.read_set_file(rel, &format!("{ptr}/file"))),
            };
            if let Some(vals) = values {
                sets.insert(k.clone(), Arc::new(vals.into_iter().collect()));
            }
        }
        let own_sets = |n: &str| {
            sets.get(n).map(|s| SetRef {
                name: n.to_string(),
                values: s.clone(),
            })
        };
        let selector = self.selector(
            v.get("selector").unwrap_or(&Value::Null),
            "/selector",
            None,
            &own_sets,
        );
        let mut variables = BTreeMap::new();
        for (k, var) in v
            .get("variables")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/variables", k);
            let pattern = var
                .get("pattern")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(p) = &pattern
                && self
                    .regex(&format!("^(?:{p})$"), &format!("{ptr}/pattern"))
                    .is_none()
            {
                continue;
            }
            let set_name = var.get("set").and_then(Value::as_str).map(str::to_string);
            if let Some(s) = &set_name
                && !sets.contains_key(s)
            {
                let known = sets.keys().cloned().collect::<Vec<_>>().join(", ");
                self.err(
                    format!("{ptr}/set"),
                    format!("variable {k} names set \"{s}\", which this manifest does not declare"),
                    format!("declare it under \"sets\"; declared: [{known}]"),
                );
            }
            let builtin = var.get("builtin").and_then(Value::as_str).map(|b| match b {
                "region" => Builtin::Region,
                "availabilityZone" => Builtin::AvailabilityZone,
                "instanceType" => Builtin::InstanceType,
                _ => Builtin::ImageId,
            });
            if pattern.is_none() && set_name.is_none() && builtin.is_none() {
                self.err(
                    ptr.clone(),
                    format!("variable {k} has no pattern, set or builtin"),
                    "say what values it takes: \"pattern\", \"set\" or \"builtin\"",
                );
            }
            variables.insert(
                k.clone(),
                Variable {
                    description: str_at(var, "description"),
                    pattern,
                    set: set_name,
                    example: str_at(var, "example"),
                    builtin,
                },
            );
        }
        let group_by = str_at(v, "groupBy").unwrap_or_default();
        if !variables.contains_key(&group_by) {
            self.err(
                "/groupBy",
                format!("groupBy names \"{group_by}\", which is not a variable"),
                "groupBy is the variable that names a group, e.g. workerType",
            );
        }
        let patterns: BTreeMap<String, String> = variables
            .iter()
            .map(|(k, var)| {
                let pat = match (&var.pattern, var.builtin) {
                    (Some(p), _) => p.clone(),
                    (None, Some(_)) => "[^:/]+".to_string(),
                    (None, None) => ".+?".to_string(),
                };
                (k.clone(), pat)
            })
            .collect();
        let mut outputs = Vec::new();
        for (k, o) in v
            .get("outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/outputs", k);
            let Some(path) = self.output(Some(&Value::String(k.clone())), &ptr) else {
                continue;
            };
            let secret = o.get("secret").and_then(Value::as_bool).unwrap_or(false);
            let mut template = None;
            let mut regex = None;
            if let Some(t) = o.get("template").and_then(Value::as_str) {
                if secret {
                    self.err(
                        format!("{ptr}/template"),
                        "a secret output cannot have a template",
                        "secrets are never compared; remove the template",
                    );
                }
                match Template::parse(t) {
                    Err(e) => self.err(
                        format!("{ptr}/template"),
                        format!("bad template: {e}"),
                        "templates are text with {variable} placeholders",
                    ),
                    Ok(tpl) => {
                        let unknown: Vec<&str> = tpl
                            .variables()
                            .into_iter()
                            .filter(|v| !variables.contains_key(*v))
                            .collect();
                        if unknown.is_empty() {
                            match tpl.to_regex(&patterns) {
                                Ok(r) => regex = Some(r),
                                Err(e) => self.err(
                                    format!("{ptr}/template"),
                                    format!("the template does not make a valid regex: {e}"),
                                    "check the patterns of the variables it uses",
                                ),
                            }
                            template = Some(tpl);
                        } else {
                            let known = variables.keys().cloned().collect::<Vec<_>>().join(", ");
                            self.err(
                                format!("{ptr}/template"),
                                format!(
                                    "the template uses unknown variable(s) {}",
                                    unknown
                                        .iter()
                                        .map(|u| format!("{{{u}}}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                                format!("declare them under \"variables\"; known: [{known}]"),
                            );
                        }
                    }
                }
            }
            outputs.push(ProviderOutput {
                path,
                template,
                regex,
                secret,
                optional: o.get("optional").and_then(Value::as_bool).unwrap_or(false),
                description: str_at(o, "description"),
            });
        }
        if self.diags.len() > before {
            return None;
        }
        Some(Provider {
            name: name.unwrap_or_default(),
            description: str_at(v, "description").unwrap_or_default(),
            owner: str_at(v, "owner"),
            file: self.file.clone(),
            selector: selector?,
            group_by,
            variables,
            sets,
            outputs,
        })
    }

    fn read_set_file(&mut self, rel: &str, ptr: &str) -> Option<Vec<String>> {
        let path = self.file.parent().unwrap_or(Path::new(".")).join(rel);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    ptr,
                    format!("cannot read set file {}: {e}", path.display()),
                    "the path is relative to the manifest",
                );
                return None;
            }
        };
        if rel.ends_with(".json") {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(a)) if a.iter().all(Value::is_string) => Some(strings(&a)),
                Ok(_) => {
                    let d = Diagnostic::at(&path, "", "a set file must be a JSON array of strings")
                        .hint(format!("referenced from {} {ptr}", self.file.display()));
                    self.diags.push(d);
                    None
                }
                Err(e) => {
                    self.diags.push(Diagnostic::from_json_error(&path, &e));
                    None
                }
            }
        } else {
            Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect(),
            )
        }
    }

    fn consumer(&mut self, v: &Value, set: &ContractSet) -> Option<Consumer> {
        let before = self.diags.len();
        let provider_name = v
            .get("selector")
            .and_then(|s| s.get("provider"))
            .and_then(Value::as_str);
        let provider = provider_name.and_then(|n| set.providers.iter().find(|p| p.name == n));
        let lookup = |name: &str| -> Option<SetRef> {
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

    fn waivers(&mut self, v: &Value, set: &ContractSet) -> Vec<Waiver> {
        let mut out = Vec::new();
        let union = |name: &str| -> Option<SetRef> {
            let mut u = BTreeSet::new();
            let mut found = false;
            for p in &set.providers {
                if let Some(s) = p.sets.get(name) {
                    found = true;
                    u.extend(s.iter().cloned());
                }
            }
            found.then(|| SetRef {
                name: name.into(),
                values: Arc::new(u),
            })
        };
        for (i, w) in v
            .get("waivers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ptr = format!("/waivers/{i}");
            let consumer = str_at(w, "consumer").unwrap_or_default();
            let clause = str_at(w, "clause");
            match set.consumer(&consumer) {
                None => {
                    let known = set
                        .consumers
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.err(
                        format!("{ptr}/consumer"),
                        format!("no consumer contract is named \"{consumer}\""),
                        format!("known consumers: [{known}]"),
                    );
                    continue;
                }
                Some(c) => {
                    if let Some(id) = &clause
                        && !c.clauses.iter().any(|cl| &cl.id == id)
                    {
                        let ids = c
                            .clauses
                            .iter()
                            .map(|cl| cl.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ");
                        self.err(
                            format!("{ptr}/clause"),
                            format!("consumer {consumer} has no clause \"{id}\""),
                            format!("its clauses: [{ids}]"),
                        );
                        continue;
                    }
                }
            }
            let expires_s = str_at(w, "expires").unwrap_or_default();
            let Ok(expires) = NaiveDate::parse_from_str(&expires_s, "%Y-%m-%d") else {
                self.err(
                    format!("{ptr}/expires"),
                    format!("\"{expires_s}\" is not a calendar date"),
                    "write the last day the waiver applies as YYYY-MM-DD",
                );
                continue;
            };
            let selector = match w.get("selector") {
                Some(s) => match self.selector(s, &format!("{ptr}/selector"), Some(set), &union) {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            out.push(Waiver {
                consumer,
                clause,
                selector,
                owner: str_at(w, "owner").unwrap_or_default(),
                reason: str_at(w, "reason").unwrap_or_default(),
                expires,
                file: self.file.clone(),
                pointer: ptr,
            });
        }
        out
    }
}

fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}
