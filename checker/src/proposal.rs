//! Proposals rendered into the records a provisioner would create, for the gate: a provider
//! manifest (one record per group and region), Taskcluster worker-manager pool definitions (one
//! per launch configuration, with the tags and user-data worker-manager adds), and 2018
//! aws-provisioner worker type definitions combined with a manifest's naming rules.

use crate::contract::{Builtin, Provider};
use crate::diag::{Diagnostic, Diagnostics};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{Ec2Field, OutputPath};
use crate::tcschema::TcSchema;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
        OutputPath::Field(f) => match f {
            Ec2Field::KeyName => i.key_name = Some(s),
            Ec2Field::ImageId => i.image_id = Some(s),
            Ec2Field::InstanceType => i.instance_type = Some(s),
            Ec2Field::IamInstanceProfile => i.iam_instance_profile = Some(s),
            Ec2Field::SubnetId => i.subnet_id = Some(s),
            Ec2Field::VpcId => i.vpc_id = Some(s),
            Ec2Field::InstanceLifecycle => i.instance_lifecycle = Some(s),
            Ec2Field::AvailabilityZone => i.availability_zone = Some(s),
            Ec2Field::Region | Ec2Field::State | Ec2Field::LaunchTime => {}
        },
    }
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
    let az = format!("{region}a");
    let mut inst = Instance {
        id: format!("proposed:{group}:{region}"),
        region: region.to_string(),
        availability_zone: Some(az.clone()),
        state: "pending".into(),
        instance_type: overrides.get("instanceType").cloned(),
        image_id: overrides.get("imageId").cloned(),
        ..Default::default()
    };
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
            None => v.example.clone(),
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

/// User-data fields worker-manager sets itself; a pool's additionalUserData may not.
pub const RESERVED_USER_DATA: &[&str] = &[
    "rootUrl",
    "workerPoolId",
    "providerId",
    "workerGroup",
    "launchConfigId",
    "workerConfig",
];

/// Fields of a create-worker-pool-request; the rest of an API response (workerPoolId, capacity
/// counters, timestamps) is not part of the definition.
const POOL_REQUEST_FIELDS: &[&str] = &[
    "providerId",
    "description",
    "config",
    "owner",
    "emailOnError",
];

fn json_files(path: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
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

fn read_value(f: &Path, diags: &mut Vec<Diagnostic>) -> Option<Value> {
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
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                diags.push(Diagnostic::from_json_error(f, &e));
                None
            }
        }
    }
}

/// The pool a launch configuration belongs to.
struct Pool<'a> {
    id: &'a str,
    provider_id: &'a str,
    owner: &'a str,
}

/// What worker-manager would put on an instance of one launch configuration.
fn render_launch_config(
    pool: &Pool<'_>,
    i: usize,
    lc: &Value,
    root_url: &str,
    secrets: &SecretPolicy,
) -> Instance {
    let region = lc
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("us-east-1")
        .to_string();
    let launch = lc.get("launchConfig").cloned().unwrap_or(json!({}));
    let s = |k: &str| launch.get(k).and_then(Value::as_str).map(str::to_string);
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    for spec in launch
        .get("TagSpecifications")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if spec.get("ResourceType").and_then(Value::as_str) == Some("instance") {
            for t in spec
                .get("Tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(k), Some(v)) = (
                    t.get("Key").and_then(Value::as_str),
                    t.get("Value").and_then(Value::as_str),
                ) {
                    tags.insert(k.into(), v.into());
                }
            }
        }
    }
    // worker-manager's own tags win over the pool's.
    tags.insert(
        "CreatedBy".into(),
        format!("taskcluster-wm-{}", pool.provider_id),
    );
    tags.insert("Owner".into(), pool.owner.to_string());
    tags.insert("ManagedBy".into(), "taskcluster".into());
    tags.insert("Name".into(), pool.id.to_string());
    tags.insert("WorkerPoolId".into(), pool.id.to_string());
    let mut ud = Map::new();
    for (k, v) in lc
        .get("additionalUserData")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        ud.insert(k.clone(), v.clone());
    }
    ud.insert("rootUrl".into(), root_url.into());
    ud.insert("workerPoolId".into(), pool.id.to_string().into());
    ud.insert("providerId".into(), pool.provider_id.into());
    ud.insert("workerGroup".into(), region.clone().into());
    ud.insert("launchConfigId".into(), format!("lc-{i}").into());
    ud.insert(
        "workerConfig".into(),
        lc.get("workerConfig").cloned().unwrap_or(json!({})),
    );
    let az = launch
        .get("Placement")
        .and_then(|p| p.get("AvailabilityZone"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{region}a"));
    Instance {
        id: format!("proposed:{}:{region}:{i}", pool.id),
        region,
        availability_zone: Some(az),
        state: "pending".into(),
        key_name: s("KeyName"),
        image_id: s("ImageId"),
        instance_type: s("InstanceType"),
        subnet_id: s("SubnetId"),
        tags,
        user_data: UserData::from_bytes(Value::Object(ud).to_string().as_bytes(), secrets),
        ..Default::default()
    }
}

/// Reads worker-manager pool definitions (each a create-worker-pool-request with its
/// `workerPoolId`), validates them against Taskcluster's schemas, and renders one record per
/// launch configuration with the tags and user-data worker-manager adds.
pub fn render_pools(
    paths: &[PathBuf],
    schemas: &Path,
    root_url: &str,
    secrets: &SecretPolicy,
) -> Result<Vec<Instance>, Diagnostics> {
    let mut diags = Vec::new();
    let (request, aws) = match (
        TcSchema::load(schemas, "worker-manager/v1/create-worker-pool-request.json"),
        TcSchema::load(schemas, "worker-manager/v1/config-aws.json"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(Diagnostics(vec![Diagnostic::file(schemas, e)])),
    };
    let mut out = Vec::new();
    for path in paths {
        for f in json_files(path, &mut diags) {
            let Some(v) = read_value(&f, &mut diags) else {
                continue;
            };
            let Some(pool_id) = v
                .get("workerPoolId")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                diags.push(Diagnostic::at(&f, "", "the pool has no \"workerPoolId\"").hint("each file is a create-worker-pool-request with its workerPoolId added, as the worker-manager API returns a pool"));
                continue;
            };
            let req: Map<String, Value> = v
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| POOL_REQUEST_FIELDS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let req = Value::Object(req);
            let before = diags.len();
            diags.extend(request.check(&f, "", &req));
            if let Some(cfg) = req.get("config") {
                diags.extend(aws.check(&f, "/config", cfg));
            }
            let provider_id = req
                .get("providerId")
                .and_then(Value::as_str)
                .unwrap_or("aws")
                .to_string();
            let owner = req
                .get("owner")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let lcs = req
                .get("config")
                .and_then(|c| c.get("launchConfigs"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, lc) in lcs.iter().enumerate() {
                for k in lc
                    .get("additionalUserData")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|m| m.keys())
                {
                    if RESERVED_USER_DATA.contains(&k.as_str()) {
                        diags.push(
                            Diagnostic::at(&f, format!("/config/launchConfigs/{i}/additionalUserData/{k}"), format!("additionalUserData may not set \"{k}\": worker-manager sets it itself"))
                                .hint(format!("remove it; reserved user-data fields are {}", RESERVED_USER_DATA.join(", "))),
                        );
                    }
                }
            }
            if diags.len() > before {
                continue;
            }
            let pool = Pool {
                id: &pool_id,
                provider_id: &provider_id,
                owner: &owner,
            };
            for (i, lc) in lcs.iter().enumerate() {
                out.push(render_launch_config(&pool, i, lc, root_url, secrets));
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

/// Reads 2018 aws-provisioner worker type definitions (create-worker-type-request, JSON or YAML,
/// with `workerType` added or named by the file), validates them against aws-provisioner's
/// schema, and renders them with the manifest's naming rules: one record per region and
/// instance type.
pub fn render_worker_types(
    paths: &[PathBuf],
    schemas: &Path,
    manifest: &Provider,
    secrets: &SecretPolicy,
) -> Result<Vec<Instance>, Diagnostics> {
    let mut diags = Vec::new();
    let schema = match TcSchema::load(schemas, "aws-provisioner/create-worker-type-request.yml") {
        Ok(s) => s,
        Err(e) => return Err(Diagnostics(vec![Diagnostic::file(schemas, e)])),
    };
    let mut out = Vec::new();
    for path in paths {
        for f in json_files(path, &mut diags) {
            let Some(mut v) = read_value(&f, &mut diags) else {
                continue;
            };
            let name = v
                .as_object_mut()
                .and_then(|o| o.remove("workerType"))
                .and_then(|n| n.as_str().map(str::to_string))
                .or_else(|| {
                    f.file_stem()
                        .and_then(|s| s.to_str())
                        .map(|s| s.trim_end_matches(".json").to_string())
                })
                .unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("lastModified");
            }
            let before = diags.len();
            diags.extend(schema.check(&f, "", &v));
            if diags.len() > before {
                continue;
            }
            let data = v.get("userData").cloned();
            for (ri, r) in v
                .get("regions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let region = r
                    .get("region")
                    .and_then(Value::as_str)
                    .unwrap_or("us-east-1");
                let image = r
                    .get("launchSpec")
                    .and_then(|l| l.get("ImageId"))
                    .and_then(Value::as_str);
                for it in v
                    .get("instanceTypes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut ov = BTreeMap::new();
                    if let Some(t) = it.get("instanceType").and_then(Value::as_str) {
                        ov.insert("instanceType".to_string(), t.to_string());
                    }
                    if let Some(i) = image {
                        ov.insert("imageId".to_string(), i.to_string());
                    }
                    match render_one(manifest, &name, region, &ov, data.as_ref(), secrets) {
                        Ok(mut inst) => {
                            inst.id = format!(
                                "proposed:{name}:{region}:{}",
                                ov.get("instanceType").map(String::as_str).unwrap_or("?")
                            );
                            out.push(inst);
                        }
                        Err(e) => diags.push(Diagnostic::at(&f, format!("/regions/{ri}"), e)),
                    }
                }
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}
