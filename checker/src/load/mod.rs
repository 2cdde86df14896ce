//! Loading contracts: collect files, parse, validate against the shipped JSON Schemas, then
//! compile and cross-check (regexes, facts, sets, templates, unique ids). Every problem in every
//! file is collected before loading fails, each with its file, JSON pointer and a hint.

use crate::contract::*;
use crate::diag::{Diagnostic, Diagnostics, Place};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::LazyLock;

mod compile;
mod provider;
mod waivers;

use compile::Compiler;

/// The shipped schemas, by file name. Editors find them through each file's `$schema`.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "common.schema.json",
        include_str!("../../../contracts/schema/common.schema.json"),
    ),
    (
        "provider.schema.json",
        include_str!("../../../contracts/schema/provider.schema.json"),
    ),
    (
        "consumer.schema.json",
        include_str!("../../../contracts/schema/consumer.schema.json"),
    ),
    (
        "waivers.schema.json",
        include_str!("../../../contracts/schema/waivers.schema.json"),
    ),
    (
        "test.schema.json",
        include_str!("../../../contracts/schema/test.schema.json"),
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

/// The contract test files (`"kind": "test"`) under `paths`, in order.
pub fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files, &mut diags);
    }
    if !diags.is_empty() {
        return Err(Diagnostics(diags));
    }
    Ok(files
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v.get("kind").and_then(Value::as_str) == Some("test"))
        })
        .collect())
}

/// Validates a contract test file against the built-in test schema.
pub fn validate_test(file: &Path, v: &Value) -> Vec<Diagnostic> {
    static TEST: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
        jsonschema::options()
            .with_retriever(EmbeddedSchemas)
            .build(&schema_value("test.schema.json"))
            .map_err(|e| format!("the built-in test schema does not compile: {e}"))
    });
    match &*TEST {
        Ok(val) => val
            .iter_errors(v)
            .map(|e| schema_diagnostic(file, "test", &e))
            .collect(),
        Err(e) => vec![Diagnostic::file(Path::new("<built-in schema>"), e.clone())],
    }
}

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
    load_knowing(paths, extra, exclude, &BTreeMap::new())
}

/// Like [`load_with`], adding `known[provider]` to the set of that provider's `groupBy`
/// variable before consumers resolve their sets: the gate makes a proposal's own pools known.
pub fn load_knowing(
    paths: &[PathBuf],
    extra: &[PathBuf],
    exclude: &[PathBuf],
    known: &BTreeMap<String, BTreeSet<String>>,
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
    // Phase 1: parse; the data files that manifests name (lists of worker types) are not contracts.
    let mut texts = Texts::new();
    let docs = parse_all(files, &mut texts, &mut diags);
    // Phase 1b: schema.
    let unread = !diags.is_empty();
    let valid = match validate_all(docs, &mut diags) {
        Some(v) => v,
        None => return Err(Diagnostics(diags)),
    };
    // A file that could not be read or parsed may declare the providers and sets the others
    // name: checking their references now would report its one missing comma again as errors
    // in every file that relies on it. Each file's own schema problems are still reported.
    if unread {
        return Err(Diagnostics(diags));
    }
    // Phase 2: compile and cross-check.
    let set = compile_all(&valid, known, texts, &mut diags);
    if diags.is_empty() {
        Ok(set)
    } else {
        Err(Diagnostics(diags))
    }
}

/// Phase 1: reads and parses every file, leaving out the data files manifests name.
/// The texts of the files read, kept so the compiler can locate clauses without reading again.
type Texts = HashMap<PathBuf, String>;

fn parse_all(
    files: Vec<PathBuf>,
    texts: &mut Texts,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(PathBuf, Value)> {
    let mut docs: Vec<(PathBuf, Value)> = Vec::new();
    for f in files {
        match std::fs::read(&f) {
            Err(e) => diags.push(Diagnostic::file(&f, format!("cannot read: {e}"))),
            Ok(bytes) => match crate::diag::parse_json::<Value>(&f, &bytes) {
                Ok(v) => {
                    if let Ok(text) = String::from_utf8(bytes) {
                        texts.insert(f.clone(), text);
                    }
                    docs.push((f, v));
                }
                Err(d) => diags.push(d),
            },
        }
    }
    // Data files that manifests name (lists of worker types) are not contracts.
    let data_files: BTreeSet<PathBuf> = docs
        .iter()
        .filter(|(_, v)| {
            matches!(
                v.get("kind").and_then(Value::as_str),
                Some("provider" | "consumer")
            )
        })
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

    docs
}

/// Phase 1b: each document's kind and its schema; the valid ones, or `None` when the built-in
/// schemas themselves do not compile.
fn validate_all(
    docs: Vec<(PathBuf, Value)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<(PathBuf, Value, &'static str)>> {
    let validators = match &*VALIDATORS {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::file(Path::new("<built-in schema>"), e.clone()));
            return None;
        }
    };
    let mut valid: Vec<(PathBuf, Value, &'static str)> = Vec::new();
    for (f, v) in docs {
        // Contract tests live beside contracts; `checker test` reads them.
        if v.get("kind").and_then(Value::as_str) == Some("test") {
            continue;
        }
        let kind = match v.get("kind").and_then(Value::as_str) {
            Some(k @ ("provider" | "consumer" | "waivers")) => match k {
                "provider" => "provider",
                "consumer" => "consumer",
                _ => "waivers",
            },
            Some(other) => {
                diags.push(
                    Diagnostic::at(&f, "/kind", format!("unknown kind \"{other}\"")).hint(
                        "kind is one of provider, consumer, waivers (and test, for checker test)",
                    ),
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

    Some(valid)
}

/// Phase 2: compiles providers first (consumers resolve their sets), then consumers (clause
/// ids are global), then waivers (they name consumers).
fn compile_all(
    valid: &[(PathBuf, Value, &'static str)],
    known: &BTreeMap<String, BTreeSet<String>>,
    mut texts: Texts,
    diags: &mut Vec<Diagnostic>,
) -> ContractSet {
    let mut set = ContractSet {
        files: valid.iter().map(|(f, _, _)| f.clone()).collect(),
        ..Default::default()
    };
    let mut c = Compiler {
        diags,
        file: PathBuf::new(),
        locator: None,
        cloud: crate::output::Cloud::Ec2,
        cloud_known: true,
    };
    for (f, v, _) in valid.iter().filter(|(_, _, k)| *k == "provider") {
        c.start(f, texts.remove(f));
        if let Some(mut p) = c.provider(v) {
            add_known_groups(&mut p, known);
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
        c.start(f, texts.remove(f));
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
        c.start(f, texts.remove(f));
        let waivers = c.waivers(v, &set);
        set.waivers.extend(waivers);
    }
    set
}

/// Adds the groups a proposal brings to the set of the provider's `groupBy` variable.
fn add_known_groups(p: &mut Provider, known: &BTreeMap<String, BTreeSet<String>>) {
    let (Some(groups), Some(set)) = (
        known.get(&p.name),
        p.variables.get(&p.group_by).and_then(|v| v.set.clone()),
    ) else {
        return;
    };
    if let Some(members) = p.sets.get_mut(&set) {
        Arc::make_mut(members).extend(groups.iter().cloned());
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

/// The contract files under `p` (a file, or a directory read recursively, following links),
/// each once: a file reached twice (through a link) is read once, by its canonical path. A
/// symbolic link loop and a name that is not UTF-8 are reported, never skipped silently.
fn collect_files(p: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeSet<PathBuf> = out.iter().map(|f| path_key(f)).collect();
    let walk = walkdir::WalkDir::new(p)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            // Hidden entries and the schemas (they describe contracts; they are not contracts).
            e.depth() == 0
                || !(name.starts_with('.') || (e.file_type().is_dir() && name == "schema"))
        });
    for entry in walk {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                let at = err.path().unwrap_or(p);
                let d = match err.loop_ancestor() {
                    Some(anc) => Diagnostic::file(
                        at,
                        format!("a symbolic link loop: this leads back to {}", anc.display()),
                    )
                    .hint("remove the link; a contracts directory must be a tree"),
                    None if err.depth() == 0 => {
                        Diagnostic::file(at, format!("cannot read contracts path: {err}"))
                            .hint("--contracts takes files or directories of *.json contracts")
                    }
                    None => Diagnostic::file(at, format!("cannot read: {err}")),
                };
                diags.push(d);
                continue;
            }
        };
        if e.file_type().is_dir() {
            if e.file_name().to_str().is_none() {
                diags.push(
                    Diagnostic::file(e.path(), "this directory's name is not UTF-8, so what it holds could not be told apart")
                        .hint("rename it with a UTF-8 name"),
                );
            }
            continue;
        }
        let Some(name) = e.file_name().to_str() else {
            diags.push(
                Diagnostic::file(e.path(), "this file's name is not UTF-8: it is not read, and a contract in it would be missing")
                    .hint("rename it with a UTF-8 name ending in .json"),
            );
            continue;
        };
        let wanted = e.depth() == 0 || (name.ends_with(".json") && !name.ends_with(".schema.json"));
        if wanted && seen.insert(path_key(e.path())) {
            out.push(e.path().to_path_buf());
        }
    }
}

/// What to write instead of a value its schema pattern refuses: the schema has two patterns, a
/// date (waivers' `expires`) and kebab-case identifiers; anything else names the pattern.
fn pattern_hint(err: &jsonschema::ValidationError<'_>) -> String {
    let pattern = match err.kind() {
        jsonschema::error::ValidationErrorKind::Pattern { pattern } => pattern.clone(),
        _ => String::new(),
    };
    if pattern.contains(r"\d{4}-\d{2}-\d{2}") {
        "write the date as YYYY-MM-DD, e.g. 2018-03-01 (the last day, UTC, the waiver applies)"
            .to_string()
    } else if pattern == "^[a-z0-9][a-z0-9-]*$" {
        "identifiers are kebab-case: lower-case letters, digits and dashes".to_string()
    } else {
        format!("the value must match the pattern {pattern}")
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
        "pattern" => pattern_hint(err),
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

pub(super) fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(super) fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}
