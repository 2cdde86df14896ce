//! `checker init`: draft contracts inferred from a fleet. Per provisioner found (identified by
//! `tag:ManagedBy`, else a `KeyName` prefix, else `tag:CreatedBy`, else `tag:Owner`), a provider
//! manifest whose every output is the strongest promise the fleet supports: a constant; a
//! template whose `{variables}` are bound to the group, to the instance's own region, zone or
//! type, or to a hex hash; a set of observed values; or presence alone (secrets by presence
//! only). Outputs equal on every instance share one variable, so a disagreement between them
//! breaks the promise; a 12-digit segment equal to the record's account is the `account`
//! builtin, never a hash; the group variable is named after the tag it is read from. Plus a
//! consumer skeleton per provider, every clause marked as a draft, contract tests for it, and
//! the JSON Schemas the drafts' `$schema` name. Deterministic: the same fleet gives the same
//! files.

use crate::fleet::{Instance, Read, UserData};
use crate::output::{Cloud, Ec2Field, OutputPath};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Distinct values up to which an output is promised as a set.
const MAX_SET: usize = 20;

/// One drafted file: where it goes (relative to the output folder) and its JSON.
#[derive(Debug, Clone)]
pub struct Draft {
    /// `providers/NAME.json`, `consumers/NAME-draft.json`.
    pub path: String,
    /// The document.
    pub doc: Value,
}

/// How instances are told apart by provisioner.
fn identity(i: &Instance) -> Option<(Value, String)> {
    // GCE labels are lower case, and worker-manager writes them (and Azure tags) in kebab case.
    for tag in ["ManagedBy", "managed-by"] {
        if let Some(v) = i.tags.get(tag) {
            return Some((
                json!({"output": format!("tag:{tag}"), "equals": v}),
                v.clone(),
            ));
        }
    }
    if let Some((prefix, _)) = i.field(Ec2Field::KeyName).and_then(|k| k.split_once(':')) {
        let re = format!("^{}:", regex::escape(prefix));
        return Some((
            json!({"output": "KeyName", "matches": re}),
            prefix.to_string(),
        ));
    }
    for tag in ["CreatedBy", "created-by", "Owner", "owner"] {
        if let Some(v) = i.tags.get(tag) {
            return Some((
                json!({"output": format!("tag:{tag}"), "equals": v}),
                v.clone(),
            ));
        }
    }
    None
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "provider".into() } else { t }
}

/// A camelCase variable name for an output.
fn var_name(path: &OutputPath) -> String {
    let raw = match path {
        OutputPath::Tag(t) => t.clone(),
        OutputPath::UserData(p) => p.join("_"),
        OutputPath::Field(f) => f.name().replace('.', "_"),
    };
    let mut out = String::new();
    let mut upper = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            if out.is_empty() {
                out.push(c.to_ascii_lowercase());
            } else if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'v');
    }
    out
}

/// The group output and its variable: the pool tag every instance carries. The variable is
/// named after the tag (`tag:Name` gives `name`), not after one provisioner's word for a group.
fn group_of(members: &[&Instance]) -> Option<(OutputPath, String)> {
    for tag in ["WorkerPoolId", "Name", "WorkerType", "worker-pool-id"] {
        if members.iter().all(|i| i.tags.contains_key(tag)) {
            let path = OutputPath::Tag(tag.into());
            let var = var_name(&path);
            return Some((path, var));
        }
    }
    None
}

/// Every output the members carry, in a stable order.
fn outputs_seen(members: &[&Instance]) -> Vec<OutputPath> {
    let mut seen: BTreeSet<OutputPath> = BTreeSet::new();
    for i in members {
        for f in i.cloud().fields().filter(|f| f.drafted()) {
            if matches!(i.read(&OutputPath::Field(f)), Read::Value(_)) {
                seen.insert(OutputPath::Field(f));
            }
        }
        seen.extend(i.tags.keys().map(|k| OutputPath::Tag(k.clone())));
        if let UserData::Json(m) = &i.user_data {
            seen.extend(m.keys().map(|k| OutputPath::UserData(vec![k.clone()])));
        }
    }
    seen.into_iter().collect()
}

/// A segment that looks like a generated hash (never an AWS account id: 12 digits).
fn is_hash(s: &str) -> bool {
    s.len() >= 7
        && s.len() <= 64
        && !is_account_id(s)
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// An AWS account id: 12 digits.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn escape(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// The template every member's value fits, binding the group, the instance's own fields and
/// hash segments; `None` when no single template fits.
fn infer_template(
    values: &[(&Instance, String)],
    group: Option<&(OutputPath, String)>,
    vars: &mut BTreeMap<String, Value>,
) -> Option<String> {
    let mut shapes: BTreeSet<String> = BTreeSet::new();
    let mut hash_len: BTreeSet<usize> = BTreeSet::new();
    for (i, v) in values {
        let builtins = [
            ("region", Some(i.region.clone())),
            ("availabilityZone", i.zone().map(str::to_string)),
            (
                "instanceType",
                i.field(Ec2Field::InstanceType).map(str::to_string),
            ),
            ("account", i.scope.as_deref().map(str::to_string)),
        ];
        let group_value = group.and_then(|(p, _)| match i.read(p) {
            Read::Value(g) => Some(g.into_owned()),
            _ => None,
        });
        let segs: Vec<String> = v
            .split(':')
            .map(|seg| {
                if let (Some(g), Some((_, name))) = (&group_value, group)
                    && seg == g
                {
                    return format!("{{{name}}}");
                }
                for (name, b) in &builtins {
                    if b.as_deref() == Some(seg) {
                        return format!("{{{name}}}");
                    }
                }
                if is_hash(seg) {
                    hash_len.insert(seg.len());
                    return "{keyHash}".into();
                }
                escape(seg)
            })
            .collect();
        shapes.insert(segs.join(":"));
    }
    if shapes.len() != 1 {
        return None;
    }
    let t = shapes.into_iter().next()?;
    for (name, builtin) in [
        ("region", "region"),
        ("availabilityZone", "availabilityZone"),
        ("instanceType", "instanceType"),
        ("account", "account"),
    ] {
        if t.contains(&format!("{{{name}}}")) {
            vars.insert(name.into(), json!({"builtin": builtin}));
        }
    }
    if t.contains("{keyHash}") {
        let pattern = match hash_len.iter().collect::<Vec<_>>().as_slice() {
            [n] => format!("[0-9a-f]{{{n}}}"),
            _ => "[0-9a-f]+".into(),
        };
        vars.insert(
            "keyHash".into(),
            json!({"description": "a hash (inferred: hex)", "pattern": pattern}),
        );
    }
    Some(t)
}

/// What the promises of one provider's outputs build up: its variables and sets, and which
/// variable each set of per-instance values is bound to.
#[derive(Default)]
struct Drafting {
    vars: BTreeMap<String, Value>,
    sets: BTreeMap<String, Value>,
    /// (instance id, value) on every member that carries the output -> the variable bound to
    /// it: outputs equal on every instance share one variable, so a disagreement fails.
    shared: BTreeMap<Vec<(String, String)>, String>,
}

/// One output's promise.
fn promise(
    path: &OutputPath,
    members: &[&Instance],
    group: Option<&(OutputPath, String)>,
    d: &mut Drafting,
) -> Option<Value> {
    let vars = &mut d.vars;
    let mut values: Vec<(&Instance, String)> = Vec::new();
    let mut readable = 0;
    let mut secret = false;
    for i in members {
        match i.read(path) {
            Read::Value(v) => {
                readable += 1;
                secret |= v.starts_with(crate::fleet::REDACTED_PREFIX);
                values.push((i, v.into_owned()));
            }
            Read::Missing => readable += 1,
            Read::Unknown(_) | Read::NotSampled => {}
        }
    }
    if values.is_empty() {
        return None;
    }
    let mut o = Map::new();
    if values.len() < readable {
        o.insert("optional".into(), true.into());
    }
    if secret {
        o.insert("secret".into(), true.into());
        o.insert(
            "description".into(),
            "DRAFT: a secret; promised by presence only".into(),
        );
        return Some(Value::Object(o));
    }
    let distinct: BTreeSet<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    let described = match path {
        OutputPath::UserData(p) => {
            let kinds: BTreeSet<&str> = members
                .iter()
                .filter_map(|i| match &i.user_data {
                    UserData::Json(m) => m.get(&p[0]).map(crate::fleet::json_type),
                    _ => None,
                })
                .collect();
            format!(
                "DRAFT: user-data field, a JSON {}",
                kinds.into_iter().collect::<Vec<_>>().join(" or ")
            )
        }
        _ => "DRAFT: inferred by checker init".into(),
    };
    o.insert("description".into(), described.into());
    if group.is_some_and(|(g, _)| g == path) {
        let (_, name) = group?;
        o.insert("template".into(), format!("{{{name}}}").into());
        return Some(Value::Object(o));
    }
    if let Some(t) = infer_template(&values, group, vars)
        && (distinct.len() == 1
            || crate::template::Template::parse(&t).is_ok_and(|x| !x.variables().is_empty()))
    {
        o.insert("template".into(), t.into());
        return Some(Value::Object(o));
    }
    // A set only when values repeat: per-instance values (times, ids) promise nothing.
    if distinct.len() <= MAX_SET
        && distinct.len() < values.len()
        && !distinct.iter().any(|v| v.contains('{') || v.contains('}'))
    {
        let key: Vec<(String, String)> = values
            .iter()
            .map(|(i, v)| (i.id.clone(), v.clone()))
            .collect();
        if let Some(name) = d.shared.get(&key) {
            o.insert("template".into(), format!("{{{name}}}").into());
            return Some(Value::Object(o));
        }
        let mut name = var_name(path);
        while vars.contains_key(&name) {
            name.push('2');
        }
        let set = format!("{name}Values");
        vars.insert(name.clone(), json!({"set": set}));
        d.sets
            .insert(set, json!(distinct.into_iter().collect::<Vec<_>>()));
        o.insert("template".into(), format!("{{{name}}}").into());
        d.shared.insert(key, name);
    }
    Some(Value::Object(o))
}

/// Draft contracts for the fleet: a provider manifest and a consumer skeleton per provisioner.
pub fn infer(fleet: &[Instance]) -> Vec<Draft> {
    let mut by: BTreeMap<String, (Value, Vec<&Instance>)> = BTreeMap::new();
    for i in fleet {
        if let Some((selector, key)) = identity(i) {
            // A provider is of one cloud: the same tag on two clouds drafts two providers.
            let key = match i.cloud() {
                Cloud::Ec2 => key,
                c => format!("{key}-{}", c.name()),
            };
            by.entry(slug(&key))
                .or_insert_with(|| (selector, Vec::new()))
                .1
                .push(i);
        }
    }
    let mut out = Vec::new();
    for (name, (selector, members)) in by {
        let group = group_of(&members);
        let mut d = Drafting::default();
        let (vars, sets) = (&mut d.vars, &mut d.sets);
        let group_by = match &group {
            Some((p, var)) => {
                let values: BTreeSet<String> = members
                    .iter()
                    .filter_map(|i| match i.read(p) {
                        Read::Value(v) => Some(v.into_owned()),
                        _ => None,
                    })
                    .collect();
                let set = format!("{var}s");
                vars.insert(var.clone(), json!({"description": format!("DRAFT: the group, read from {p}"), "set": set, "example": values.iter().next()}));
                sets.insert(set, json!(values));
                var.clone()
            }
            None => {
                vars.insert("region".into(), json!({"builtin": "region"}));
                "region".into()
            }
        };
        let mut outputs = Map::new();
        for path in outputs_seen(&members) {
            if let Some(p) = promise(&path, &members, group.as_ref(), &mut d) {
                outputs.insert(path.to_string(), p);
            }
        }
        let Drafting { vars, sets, .. } = d;
        let provider = json!({
            "$schema": "../schema/provider.schema.json",
            "kind": "provider",
            "name": name,
            "description": format!("DRAFT inferred by checker init from {} instance(s): review every promise before relying on it.", members.len()),
            "owner": "TODO",
            "selector": {"conditions": [selector]},
            "groupBy": group_by,
            "variables": vars,
            "sets": sets,
            "outputs": outputs,
        });
        let mut provider = provider;
        let cloud = members[0].cloud();
        if cloud != Cloud::Ec2 {
            provider["cloud"] = cloud.name().into();
        }
        out.push(Draft {
            path: format!("providers/{name}.json"),
            doc: provider,
        });
        let consumer = consumer_skeleton(&name, group.as_ref(), &outputs);
        out.push(Draft {
            path: format!("tests/{name}-draft.test.json"),
            doc: test_cases(&name, &consumer, members[0]),
        });
        out.push(Draft {
            path: format!("consumers/{name}-draft.json"),
            doc: consumer,
        });
    }
    if !out.is_empty() {
        out.extend(schemas());
    }
    out
}

/// The JSON Schemas the drafts' `$schema` name, written beside them (`OUT/schema/`, which
/// loading skips), so editors find them wherever the drafts are kept.
fn schemas() -> Vec<Draft> {
    crate::load::SCHEMAS
        .iter()
        .filter_map(|(name, text)| {
            Some(Draft {
                path: format!("schema/{name}"),
                doc: serde_json::from_str(text).ok()?,
            })
        })
        .collect()
}

/// A contract test file (`checker test`) for the consumer skeleton: one of the provider's own
/// instances passes it; the same instance without the output the first clause reads fails it.
fn test_cases(provider: &str, consumer: &Value, sample: &Instance) -> Value {
    let name = consumer["name"].as_str().unwrap_or_default();
    let instance = test_instance(sample);
    let mut cases = vec![json!({
        "name": format!("DRAFT: {} (an instance of the fleet) passes {name}", sample.id),
        "instances": [instance.clone()],
        "expect": {name: "pass"},
    })];
    let first = consumer["clauses"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(|cl| {
            let output = cl
                .get("output")
                .or_else(|| cl.get("from").and_then(|f| f.get("output")))?
                .as_str()?;
            Some((cl["id"].as_str()?.to_string(), output.to_string()))
        });
    if let Some((clause, output)) = first
        && let Some(without) = without_output(&instance, &output)
    {
        cases.push(json!({
            "name": format!("DRAFT: without {output}, {name} fails ({clause})"),
            "instances": [without],
            "expect": {name: "fail", clause: "fail"},
        }));
    }
    json!({
        "$schema": "../schema/test.schema.json",
        "kind": "test",
        "description": format!("DRAFT contract tests of the {provider} drafts, by checker init: add a case for every way the consumer can break"),
        "cases": cases,
    })
}

/// An instance as a test case writes it: its cloud's recorded shape (on EC2 describe-instances,
/// user-data JSON inline).
fn test_instance(i: &Instance) -> Value {
    let mut inst = crate::fleet::to_recorded(i);
    if i.cloud() != Cloud::Ec2 {
        return inst;
    }
    if let (Some(o), UserData::Json(m)) = (inst.as_object_mut(), &i.user_data) {
        o.remove("UserData");
        o.insert("UserDataJson".into(), Value::Object((**m).clone()));
    }
    inst
}

/// The test instance without one output (a tag, a top-level EC2 field or user-data field);
/// `None` when it cannot be taken away in the file.
fn without_output(inst: &Value, output: &str) -> Option<Value> {
    let mut out = inst.clone();
    let o = out.as_object_mut()?;
    match OutputPath::parse(output).ok()? {
        OutputPath::Tag(k) => match o.get_mut("Tags") {
            Some(tags) => tags
                .as_array_mut()?
                .retain(|t| t["Key"].as_str() != Some(k.as_str())),
            // GCE labels, Azure tags: an object.
            None => {
                let key = if o.contains_key("labels") {
                    "labels"
                } else {
                    "tags"
                };
                o.get_mut(key)?.as_object_mut()?.remove(&k)?;
            }
        },
        OutputPath::UserData(p) if p.len() == 1 => {
            o.get_mut("UserDataJson")?.as_object_mut()?.remove(&p[0])?;
        }
        OutputPath::Field(f) if !f.name().contains('.') => {
            o.remove(f.name())?;
        }
        _ => return None,
    }
    Some(out)
}

/// What the drafts could not see: a fleet without user-data (`aws ec2 describe-instances` does
/// not return it) drafts no user-data promise, and that must not pass unnoticed.
pub fn warnings(fleet: &[Instance]) -> Vec<String> {
    let without = fleet
        .iter()
        .filter(|i| matches!(i.user_data, UserData::NotFetched))
        .count();
    if without == 0 {
        return Vec::new();
    }
    let whose = if without == fleet.len() {
        format!("none of the {} instance(s) carries", fleet.len())
    } else {
        format!("{without} of the {} instance(s) carry no", fleet.len())
    };
    if fleet
        .iter()
        .filter(|i| matches!(i.user_data, UserData::NotFetched))
        .all(|i| i.cloud() == Cloud::Azure)
    {
        return vec![format!(
            "{whose} customData (Azure hands it to the VM at provisioning only and never returns it), so no userData output was drafted from them"
        )];
    }
    vec![format!(
        "{whose} user-data (`aws ec2 describe-instances` does not return it), so no user-data output was drafted from them: record the fleet with `checker fleet record --output FILE` (it fetches user-data), or give instances \"UserData\": {{\"Value\": BASE64}} as `aws ec2 describe-instance-attribute --attribute userData` returns it"
    )]
}

/// The clauses a consumer of this provider most likely relies on, each marked as a draft.
fn consumer_skeleton(
    provider: &str,
    group: Option<&(OutputPath, String)>,
    outputs: &Map<String, Value>,
) -> Value {
    let mut clauses = Vec::new();
    if let Some((p, var)) = group {
        clauses.push(json!({"id": format!("{provider}-draft-group"), "kind": "derives", "fact": var, "from": {"output": p.to_string()},
            "why": format!("DRAFT: a consumer finds the group of an instance in {p}; say what breaks without it")}));
        clauses.push(json!({"id": format!("{provider}-draft-group-known"), "kind": "member-of", "fact": var, "set": format!("{var}s"),
            "why": "DRAFT: the group must be one the provider knows; say what an unknown one breaks"}));
    }
    for (k, path) in outputs
        .iter()
        .filter(|(_, o)| o.get("optional").is_none())
        .map(|(path, _)| path)
        .enumerate()
    {
        if group.is_some_and(|(g, _)| g.to_string() == *path) {
            continue;
        }
        clauses.push(json!({"id": format!("{provider}-draft-reads-{k}"), "kind": "present", "output": path,
            "why": format!("DRAFT: keep only if the consumer reads {path}; say what breaks without it")}));
    }
    json!({
        "$schema": "../schema/consumer.schema.json",
        "kind": "consumer",
        "name": format!("{provider}-consumer-draft"),
        "owner": "TODO",
        "description": format!("DRAFT skeleton of a consumer of {provider}, by checker init: keep the clauses the consumer's code really relies on, cite the code in each why, delete the rest."),
        "selector": {"provider": provider},
        "clauses": clauses,
    })
}
