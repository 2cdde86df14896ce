//! `checker init`: draft contracts inferred from a fleet. Per provisioner found (identified by
//! `tag:ManagedBy`, else a `KeyName` prefix, else `tag:CreatedBy`, else `tag:Owner`), a provider
//! manifest whose every output is the strongest promise the fleet supports: a constant; a
//! template whose `{variables}` are bound to the group, to the instance's own region, zone or
//! type, or to a hex hash; a set of observed values; or presence alone (secrets by presence
//! only). Plus a consumer skeleton per provider, every clause marked as a draft. Deterministic:
//! the same fleet gives the same files.

use crate::fleet::{Instance, Read, UserData};
use crate::output::{Ec2Field, OutputPath};
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
    if let Some(v) = i.tags.get("ManagedBy") {
        return Some((json!({"output": "tag:ManagedBy", "equals": v}), v.clone()));
    }
    if let Some((prefix, _)) = i.key_name.as_deref().and_then(|k| k.split_once(':')) {
        let re = format!("^{}:", regex::escape(prefix));
        return Some((
            json!({"output": "KeyName", "matches": re}),
            prefix.to_string(),
        ));
    }
    for tag in ["CreatedBy", "Owner"] {
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

/// The group output and its variable: the pool or worker type tag every instance carries.
fn group_of(members: &[&Instance]) -> Option<(OutputPath, String)> {
    for (tag, var) in [
        ("WorkerPoolId", "workerPoolId"),
        ("Name", "workerType"),
        ("WorkerType", "workerType"),
    ] {
        if members.iter().all(|i| i.tags.contains_key(tag)) {
            return Some((OutputPath::Tag(tag.into()), var.into()));
        }
    }
    None
}

/// Every output the members carry, in a stable order.
fn outputs_seen(members: &[&Instance]) -> Vec<OutputPath> {
    let mut seen: BTreeSet<OutputPath> = BTreeSet::new();
    for i in members {
        for f in [
            Ec2Field::KeyName,
            Ec2Field::IamInstanceProfile,
            Ec2Field::InstanceLifecycle,
            Ec2Field::HttpTokens,
            Ec2Field::HttpEndpoint,
        ] {
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

/// A segment that looks like a generated hash.
fn is_hash(s: &str) -> bool {
    s.len() >= 7
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
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
            ("availabilityZone", i.availability_zone.clone()),
            ("instanceType", i.instance_type.clone()),
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

/// One output's promise.
fn promise(
    path: &OutputPath,
    members: &[&Instance],
    group: Option<&(OutputPath, String)>,
    vars: &mut BTreeMap<String, Value>,
    sets: &mut BTreeMap<String, Value>,
) -> Option<Value> {
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
        let mut name = var_name(path);
        while vars.contains_key(&name) {
            name.push('2');
        }
        let set = format!("{name}Values");
        vars.insert(name.clone(), json!({"set": set}));
        sets.insert(set, json!(distinct.into_iter().collect::<Vec<_>>()));
        o.insert("template".into(), format!("{{{name}}}").into());
    }
    Some(Value::Object(o))
}

/// Draft contracts for the fleet: a provider manifest and a consumer skeleton per provisioner.
pub fn infer(fleet: &[Instance]) -> Vec<Draft> {
    let mut by: BTreeMap<String, (Value, Vec<&Instance>)> = BTreeMap::new();
    for i in fleet {
        if let Some((selector, key)) = identity(i) {
            by.entry(slug(&key))
                .or_insert_with(|| (selector, Vec::new()))
                .1
                .push(i);
        }
    }
    let mut out = Vec::new();
    for (name, (selector, members)) in by {
        let group = group_of(&members);
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        let mut sets: BTreeMap<String, Value> = BTreeMap::new();
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
            if let Some(p) = promise(&path, &members, group.as_ref(), &mut vars, &mut sets) {
                outputs.insert(path.to_string(), p);
            }
        }
        let provider = json!({
            "$schema": "../../contracts/schema/provider.schema.json",
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
        out.push(Draft {
            path: format!("providers/{name}.json"),
            doc: provider,
        });
        out.push(Draft {
            path: format!("consumers/{name}-draft.json"),
            doc: consumer_skeleton(&name, group.as_ref(), &outputs),
        });
    }
    out
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
        "$schema": "../../contracts/schema/consumer.schema.json",
        "kind": "consumer",
        "name": format!("{provider}-consumer-draft"),
        "owner": "TODO",
        "description": format!("DRAFT skeleton of a consumer of {provider}, by checker init: keep the clauses the consumer's code really relies on, cite the code in each why, delete the rest."),
        "selector": {"provider": provider},
        "clauses": clauses,
    })
}
