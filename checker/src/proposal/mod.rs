//! Proposals rendered into the records a provisioner would create, for the gate: a provider
//! manifest (one record per group and region), Taskcluster worker-manager pool definitions (one
//! per launch configuration, with the tags and user-data worker-manager adds), and 2018
//! aws-provisioner worker type definitions combined with a manifest's naming rules.

use crate::contract::{Builtin, Provider};
use crate::diag::Diagnostic;
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{Cloud, Ec2Field, OutputPath};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod aws;
mod azure;
mod google;
mod jsonb;
mod pools;
mod providers;
mod worker_types;
pub use pools::{
    LaunchRefusal, ProposedPool, RefusalKind, RenderedPools, Unmodelled, render_pools,
};
pub use providers::{ProviderKind, ProviderKinds};
pub use worker_types::render_worker_types;

/// The value an untemplated, non-secret output gets: the provider sets it, we cannot know it.
pub const PROVIDER_DEFINED: &str = "<set by the provider at launch>";

fn set_user_data(root: &mut Map<String, Value>, path: &[String], v: Value) {
    let mut cur = root;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur.insert(k.clone(), v);
            return;
        }
        let next = cur
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        match next.as_object_mut() {
            Some(m) => cur = m,
            None => return,
        }
    }
}

fn put(i: &mut Instance, ud: &mut Map<String, Value>, path: &OutputPath, value: Value) {
    let s = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match path {
        OutputPath::Tag(t) => {
            i.tags.insert(t.clone(), s);
        }
        OutputPath::UserData(p) => set_user_data(ud, p, value),
        OutputPath::Field(f) if f.promisable() => i.set_field(*f, s),
        // The region, state and launch time are the instance's, not the provisioner's.
        OutputPath::Field(_) => {}
    }
}

/// A proposed record of `cloud` before its outputs: starting in the region's first zone, with
/// the instance type and AMI a worker type definition supplies (EC2).
fn pending(
    cloud: Cloud,
    group: &str,
    region: &str,
    az: &str,
    overrides: &BTreeMap<String, String>,
) -> Instance {
    let mut inst = Instance::of_cloud(cloud);
    inst.id = format!("proposed:{group}:{region}");
    inst.region = region.to_string();
    inst.set_field(cloud.state_field(), cloud.launch_state().into());
    match cloud {
        Cloud::Ec2 => inst.set_field(Ec2Field::AvailabilityZone, az.to_string()),
        Cloud::Gce => inst.set_field(crate::output::GceField::Zone, az.to_string()),
        Cloud::Azure => {}
    }
    for (var, f) in [
        ("instanceType", Ec2Field::InstanceType),
        ("imageId", Ec2Field::ImageId),
    ] {
        if let Some(v) = overrides.get(var) {
            inst.set_field(f, v.clone());
        }
    }
    inst
}

/// Renders one record for `group` in `region` from a manifest. `overrides` binds variables
/// (instance type, AMI) a worker type definition supplies.
pub fn render_one(
    p: &Provider,
    group: &str,
    region: &str,
    overrides: &BTreeMap<String, String>,
    extra_user_data: Option<&Value>,
    secrets: &SecretPolicy,
) -> Result<Instance, String> {
    // The region's first zone, in the cloud's form (`us-east-1a`, `us-central1-a`).
    let az = match p.cloud {
        Cloud::Gce => format!("{region}-a"),
        _ => format!("{region}a"),
    };
    let mut inst = pending(p.cloud, group, region, &az, overrides);
    let var = |name: &str| -> Option<String> {
        if name == p.group_by {
            return Some(group.to_string());
        }
        if let Some(v) = overrides.get(name) {
            return Some(v.clone());
        }
        let v = p.variables.get(name)?;
        match v.builtin {
            Some(Builtin::Region) => Some(region.to_string()),
            Some(Builtin::AvailabilityZone) => Some(az.clone()),
            Some(Builtin::InstanceType) => overrides
                .get("instanceType")
                .cloned()
                .or_else(|| v.example.clone()),
            Some(Builtin::ImageId) => overrides
                .get("imageId")
                .cloned()
                .or_else(|| v.example.clone()),
            Some(Builtin::Account) | None => v.example.clone(),
        }
    };
    let mut ud = Map::new();
    for o in &p.outputs {
        let value = match (&o.template, o.secret) {
            (_, true) => Value::String(secrets.marker(&Value::String(format!("proposed-{group}-{region}")))),
            (Some(t), false) => Value::String(t.render(&var).map_err(|missing| {
                format!("{} of provider {} uses {{{missing}}}, which has no value to render: give variable {missing} an \"example\"", o.path, p.name)
            })?),
            (None, false) if o.optional => continue,
            (None, false) => Value::String(PROVIDER_DEFINED.into()),
        };
        put(&mut inst, &mut ud, &o.path, value);
    }
    if p.cloud == Cloud::Ec2 {
        ec2_defaults(p, &mut inst, &mut ud);
    }
    if let Some(extra) = extra_user_data
        && !ud.contains_key("data")
    {
        ud.insert("data".into(), extra.clone());
    }
    inst.user_data = if ud.is_empty() && !p.outputs.iter().any(|o| o.path.is_user_data()) {
        UserData::Absent
    } else {
        UserData::from_bytes(Value::Object(ud).to_string().as_bytes(), secrets)
    };
    Ok(inst)
}

/// What EC2 sets that the manifest leaves to the account: its declared launch defaults.
fn ec2_defaults(p: &Provider, inst: &mut Instance, ud: &mut Map<String, Value>) {
    let defaults = p.launch.as_ref();
    let promised = |f: Ec2Field| {
        p.outputs
            .iter()
            .any(|o| o.path == OutputPath::Field(f.into()))
    };
    let metadata = aws::metadata(&Value::Null, defaults);
    for (f, v) in [
        (Ec2Field::HttpTokens, metadata.http_tokens),
        (Ec2Field::HttpEndpoint, metadata.http_endpoint),
        (Ec2Field::HopLimit, metadata.hop_limit),
    ] {
        if !promised(f)
            && let Some(v) = v
        {
            put(inst, ud, &OutputPath::Field(f.into()), Value::String(v));
        }
    }
    if !promised(Ec2Field::PublicIp) {
        match aws::default_public_ip(defaults, None) {
            Ok(true) => inst.set_field(Ec2Field::PublicIp, pools::ASSIGNED_AT_LAUNCH.into()),
            Ok(false) => {}
            Err(why) => inst.set_unknown(Ec2Field::PublicIp, why),
        }
    }
}

/// Every record a manifest promises: each member of its group set, in each of its regions
/// (the manifest's `regions` set, else `default_regions`).
pub fn render_manifest(
    p: &Provider,
    default_regions: &[String],
    secrets: &SecretPolicy,
) -> Result<Vec<Instance>, String> {
    let groups: Vec<String> = p
        .variables
        .get(&p.group_by)
        .and_then(|v| v.set.as_ref())
        .and_then(|s| p.sets.get(s))
        .map(|s| s.iter().cloned().collect())
        .or_else(|| p.variables.get(&p.group_by).and_then(|v| v.example.clone()).map(|e| vec![e]))
        .ok_or_else(|| format!("provider {}: groupBy variable {} has neither a set nor an example, so there is nothing to render", p.name, p.group_by))?;
    let regions: Vec<String> = p
        .sets
        .get("regions")
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_else(|| default_regions.to_vec());
    let mut out = Vec::new();
    for g in &groups {
        for r in &regions {
            out.push(render_one(p, g, r, &BTreeMap::new(), None, secrets)?);
        }
    }
    Ok(out)
}

pub(crate) fn json_files(path: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|e| e == "json" || e == "yml" || e == "yaml")
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        if v.is_empty() {
            diags.push(
                Diagnostic::file(path, "no *.json definitions in this directory")
                    .hint("pass a definition file or a directory of them"),
            );
        }
        v
    } else if path.exists() {
        vec![path.to_path_buf()]
    } else {
        diags.push(Diagnostic::file(path, "no such file or directory"));
        vec![]
    }
}

pub(crate) fn read_value(f: &Path, diags: &mut Vec<Diagnostic>) -> Option<Value> {
    let text = match std::fs::read_to_string(f) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::file(f, format!("cannot read: {e}")));
            return None;
        }
    };
    if f.extension().is_some_and(|e| e == "yml" || e == "yaml") {
        match serde_yaml_ng::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                let (l, c) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                diags.push(Diagnostic {
                    file: f.to_path_buf(),
                    place: crate::diag::Place::LineColumn(l, c),
                    message: format!("not valid YAML: {e}"),
                    hint: None,
                });
                None
            }
        }
    } else {
        match crate::diag::parse_json(f, text.as_bytes()) {
            Ok(v) => Some(v),
            Err(d) => {
                diags.push(d);
                None
            }
        }
    }
}
