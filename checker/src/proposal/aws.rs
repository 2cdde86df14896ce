//! Worker-manager's AWS provider: a launch configuration rendered as RunInstances would
//! launch it (tags, user-data, launch parameters), and the launches it would refuse.
//!
//! Modelled on taskcluster/taskcluster `services/worker-manager/src/providers/aws.js`,
//! `provision()`, commit 9d59eb59f6fd0912075c194100d8910f2da40f52; see docs/taskcluster.md for
//! each fact and its lines.

use super::jsonb;
use super::pools::{
    ASSIGNED_AT_LAUNCH, LaunchRefusal, Pool, RefusalKind, RenderCx, RenderedPools, USER_DATA_LIMIT,
};
use crate::contract::{ContractSet, LaunchDefaults};
use crate::diag::Diagnostic;
use crate::fleet::{Instance, MetadataOptions, SecretPolicy, UserData, security_group_list};
use crate::output::Ec2Field;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The user-data fields config-aws.json forbids in `additionalUserData` (`{not: {}}`):
/// worker-manager sets them itself. `launchConfigId` is not among them: it is overwritten.
const RESERVED_USER_DATA: [&str; 5] = [
    "rootUrl",
    "workerPoolId",
    "providerId",
    "workerGroup",
    "workerConfig",
];

/// The schema's words for a reserved field (`{} is not allowed for ...`) made plain.
pub(super) fn reserved_words(mut d: Diagnostic) -> Diagnostic {
    let field = match &d.place {
        crate::diag::Place::Pointer(p) | crate::diag::Place::Located(p, _, _) => p
            .rsplit_once("/additionalUserData/")
            .map(|(_, k)| k.to_string()),
        _ => None,
    };
    if let Some(k) = field.filter(|k| RESERVED_USER_DATA.contains(&k.as_str())) {
        d.message = format!(
            "additionalUserData may not set \"{k}\": worker-manager sets it itself (Taskcluster's config-aws.json schema forbids it)"
        );
        d.hint = Some(format!(
            "remove it; the reserved user-data fields are {}",
            RESERVED_USER_DATA.join(", ")
        ));
    }
    d
}

/// The `Tags` of every TagSpecification of `resource`, concatenated, as aws.js does.
fn spec_tags(launch: &Value, resource: &str) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    for spec in launch
        .get("TagSpecifications")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.get("ResourceType").and_then(Value::as_str) == Some(resource))
    {
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
                tags.push((k.to_string(), v.to_string()));
            }
        }
    }
    tags
}

/// Keys that occur more than once, sorted.
fn duplicates(tags: &[(String, String)]) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, _) in tags {
        *count.entry(k).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k.to_string())
        .collect()
}

/// The public IPv4 a launch gets: the first network interface's `AssociatePublicIpAddress`,
/// else the subnet's `MapPublicIpOnLaunch` as the provider manifest declares it.
fn public_ip(launch: &Value, defaults: Option<&LaunchDefaults>) -> Result<bool, String> {
    let nic = launch
        .get("NetworkInterfaces")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|n| n.get("DeviceIndex").and_then(Value::as_u64) == Some(0))
                .or_else(|| a.first())
        });
    if let Some(b) = nic
        .and_then(|n| n.get("AssociatePublicIpAddress"))
        .and_then(Value::as_bool)
    {
        return Ok(b);
    }
    let subnet = nic
        .and_then(|n| n.get("SubnetId"))
        .or_else(|| launch.get("SubnetId"))
        .and_then(Value::as_str);
    if let (Some(subnet), Some(set)) = (subnet, defaults.and_then(|d| d.public_ip_subnets.as_ref()))
    {
        return Ok(set.contains(subnet));
    }
    default_public_ip(defaults, subnet)
}

/// The provider's declared answer for a launch nothing else decides, or why it is unknown.
pub(crate) fn default_public_ip(
    defaults: Option<&LaunchDefaults>,
    subnet: Option<&str>,
) -> Result<bool, String> {
    if let Some(b) = defaults.and_then(|d| d.public_ip) {
        return Ok(b);
    }
    Err(match subnet {
        Some(subnet) => format!("whether subnet {subnet} maps a public IPv4 on launch is not declared: list the subnets that do under the provider manifest's launchDefaults.publicIpSubnets (or set launchDefaults.publicIpv4)"),
        None => "the launch names no subnet and the provider manifest declares no launchDefaults.publicIpv4, so whether it gets a public IPv4 is not known".into(),
    })
}

/// What the launch's `MetadataOptions` are: the launch configuration's, else the manifest's
/// declared account defaults, else EC2's documented defaults (optional, enabled, 1).
pub(crate) fn metadata(launch: &Value, defaults: Option<&LaunchDefaults>) -> MetadataOptions {
    let given = launch.get("MetadataOptions");
    let pick = |k: &str, d: Option<&String>, ec2: &str| -> Option<String> {
        match given.and_then(|m| m.get(k)) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => Some(d.cloned().unwrap_or_else(|| ec2.to_string())),
        }
    };
    let d = defaults.map(|d| &d.metadata);
    MetadataOptions {
        http_tokens: pick(
            "HttpTokens",
            d.and_then(|m| m.http_tokens.as_ref()),
            "optional",
        ),
        http_endpoint: pick(
            "HttpEndpoint",
            d.and_then(|m| m.http_endpoint.as_ref()),
            "enabled",
        ),
        hop_limit: pick(
            "HttpPutResponseHopLimit",
            d.and_then(|m| m.hop_limit.as_ref()),
            "1",
        ),
    }
}

/// The first provider selecting `inst` that declares launch defaults.
fn defaults_for<'s>(set: &'s ContractSet, inst: &Instance) -> Option<&'s LaunchDefaults> {
    set.providers
        .iter()
        .filter(|p| set.selects(&p.selector, inst))
        .find_map(|p| p.launch.as_ref())
}

/// Tags as sent: key, value, in order.
type Tags = Vec<(String, String)>;

/// The instance tags worker-manager sends, or the resource (`instance`, `volume`) and the keys
/// that would occur twice.
fn launch_tags(pool: &Pool<'_>, launch: &Value) -> Result<Tags, (&'static str, Vec<String>)> {
    let own = [
        ("CreatedBy", format!("taskcluster-wm-{}", pool.provider_id)),
        ("Owner", pool.owner.to_string()),
        ("ManagedBy", "taskcluster".to_string()),
        ("Name", pool.id.to_string()),
        ("WorkerPoolId", pool.id.to_string()),
    ];
    let mut instance = spec_tags(launch, "instance");
    instance.extend(own.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut volume = spec_tags(launch, "volume");
    volume.extend(own.iter().map(|(k, v)| (k.to_string(), v.clone())));
    for (what, list) in [("instance", &instance), ("volume", &volume)] {
        let dup = duplicates(list);
        if !dup.is_empty() {
            return Err((what, dup));
        }
    }
    Ok(instance)
}

/// The user-data JSON worker-manager sends: `JSON.stringify({...additionalUserData, rootUrl,
/// workerPoolId, providerId, workerGroup, launchConfigId, workerConfig})`. A reserved key the
/// pool also sets keeps its place and takes worker-manager's value, as in JavaScript
/// (serde_json's map keeps insertion order).
fn user_data_text(
    pool: &Pool<'_>,
    lc: &Value,
    ptr: &str,
    region: &str,
    lc_id: &str,
    root_url: &str,
    warnings: &mut Vec<Diagnostic>,
) -> String {
    let mut ud = Map::new();
    let additional = lc.get("additionalUserData").and_then(Value::as_object);
    for (k, v) in additional.into_iter().flatten() {
        ud.insert(k.clone(), v.clone());
    }
    if additional.is_some_and(|m| m.contains_key("launchConfigId")) {
        warnings.push(
            Diagnostic::at(pool.file, format!("{ptr}/additionalUserData/launchConfigId"), format!("worker-manager overwrites additionalUserData.launchConfigId with the launch configuration's id ({lc_id}); the value here never reaches the instance"))
                .hint("remove it; to name the launch configuration, set workerManager.launchConfigId"),
        );
    }
    ud.insert("rootUrl".into(), root_url.into());
    ud.insert("workerPoolId".into(), pool.id.into());
    ud.insert("providerId".into(), pool.provider_id.into());
    ud.insert("workerGroup".into(), region.into());
    ud.insert("launchConfigId".into(), lc_id.into());
    ud.insert(
        "workerConfig".into(),
        lc.get("workerConfig").cloned().unwrap_or(json!({})),
    );
    Value::Object(ud).to_string()
}

/// The record of one launch: what RunInstances gets from the launch configuration.
fn launched(
    pool: &Pool<'_>,
    launch: &Value,
    region: String,
    lc_id: &str,
    tags: Tags,
    user_data: &str,
    secrets: &SecretPolicy,
) -> Instance {
    let az = launch
        .get("Placement")
        .and_then(|p| p.get("AvailabilityZone"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{region}a"));
    let groups: Vec<&str> = launch
        .get("SecurityGroupIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let spot = launch
        .get("InstanceMarketOptions")
        .and_then(|m| m.get("MarketType"))
        .and_then(Value::as_str)
        == Some("spot");
    let mut i = Instance {
        id: format!("proposed:{}:{region}:{lc_id}", pool.id),
        region,
        tags: tags.into_iter().collect(),
        user_data: UserData::from_bytes(user_data.as_bytes(), secrets),
        ..Default::default()
    };
    // The fields RunInstances takes under the path DescribeInstances reports them at.
    for f in Ec2Field::all() {
        let at = f.spec().launch.and_then(|path| {
            path.iter()
                .try_fold(launch, |v, k| v.get(k))
                .and_then(Value::as_str)
        });
        if let Some(v) = at {
            i.set_field(f, v.to_string());
        }
    }
    i.set_field(Ec2Field::AvailabilityZone, az);
    i.set_field(Ec2Field::State, "pending".into());
    if let Some(g) = security_group_list(groups) {
        i.set_field(Ec2Field::SecurityGroups, g);
    }
    if spot {
        i.set_field(Ec2Field::InstanceLifecycle, "spot".into());
    }
    i
}

/// What worker-manager would put on an instance of launch configuration `i`, or why it would
/// launch nothing.
pub(super) fn render_launch_config(
    pool: &Pool<'_>,
    i: usize,
    lc: &Value,
    cx: &RenderCx<'_>,
    out: &mut RenderedPools,
) {
    let ptr = format!("{}/config/launchConfigs/{i}", pool.base);
    let lc_id = jsonb::launch_config_id(pool.id, lc);
    let region = lc
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("us-east-1")
        .to_string();
    let launch = lc.get("launchConfig").cloned().unwrap_or(json!({}));
    let refuse = |out: &mut RenderedPools, kind: RefusalKind, message: String, at: String| {
        out.refusals.push(LaunchRefusal {
            pool: pool.id.to_string(),
            launch_config_id: lc_id.clone(),
            kind,
            message,
            file: pool.file.to_path_buf(),
            pointer: at,
        });
    };
    let tags = match launch_tags(pool, &launch) {
        Ok(t) => t,
        Err((what, dup)) => {
            refuse(
                out,
                RefusalKind::DuplicateTagKey,
                format!(
                    "pool {} launch configuration {lc_id} ({region}): the {what} tags would carry {} twice: worker-manager appends its own CreatedBy, Owner, ManagedBy, Name and WorkerPoolId to the pool's TagSpecifications without removing duplicates, and EC2 rejects a RunInstances call whose tags repeat a key, so this launch configuration launches nothing",
                    pool.id,
                    dup.join(", ")
                ),
                format!("{ptr}/launchConfig/TagSpecifications"),
            );
            return;
        }
    };
    let text = user_data_text(
        pool,
        lc,
        &ptr,
        &region,
        &lc_id,
        cx.root_url,
        &mut out.warnings,
    );
    if text.len() > USER_DATA_LIMIT {
        refuse(
            out,
            RefusalKind::UserDataTooLong,
            format!(
                "pool {} launch configuration {lc_id} ({region}): its user-data would be {} bytes; worker-manager refuses more than {USER_DATA_LIMIT} (a \"User Data is too long\" creation error) and launches nothing",
                pool.id,
                text.len()
            ),
            ptr.clone(),
        );
        return;
    }
    let mut inst = launched(pool, &launch, region, &lc_id, tags, &text, cx.secrets);
    let defaults = defaults_for(cx.set, &inst);
    let m = metadata(&launch, defaults);
    for (f, v) in [
        (Ec2Field::HttpTokens, m.http_tokens),
        (Ec2Field::HttpEndpoint, m.http_endpoint),
        (Ec2Field::HopLimit, m.hop_limit),
    ] {
        if let Some(v) = v {
            inst.set_field(f, v);
        }
    }
    match public_ip(&launch, defaults) {
        Ok(true) => inst.set_field(Ec2Field::PublicIp, ASSIGNED_AT_LAUNCH.into()),
        Ok(false) => {}
        Err(why) => inst.set_unknown(Ec2Field::PublicIp, why),
    }
    out.records.push(inst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every field a launch configuration sets under DescribeInstances' own path (from the
    /// rows: a row given a launch path is tested here without a new line) reaches the record.
    #[test]
    fn a_launch_configuration_sets_every_field_of_the_rows_it_shares() {
        let mut launch = serde_json::Map::new();
        let shared: Vec<Ec2Field> = Ec2Field::all()
            .filter(|f| f.spec().launch.is_some())
            .collect();
        assert!(shared.contains(&Ec2Field::Tenancy));
        for f in &shared {
            let path = f.spec().launch.unwrap_or_default();
            let mut cur = &mut launch;
            for k in &path[..path.len() - 1] {
                cur = cur
                    .entry((*k).to_string())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("an object on the way");
            }
            cur.insert(
                path[path.len() - 1].to_string(),
                format!("v{}", *f as usize).into(),
            );
        }
        let pool = Pool {
            id: "proj/pool",
            provider_id: "aws",
            owner: "o",
            file: Path::new("pool.json"),
            base: "",
        };
        let i = launched(
            &pool,
            &Value::Object(launch),
            "us-east-1".into(),
            "lc",
            Vec::new(),
            "{}",
            &SecretPolicy::default(),
        );
        for f in shared {
            assert_eq!(
                i.field(f),
                Some(format!("v{}", f as usize).as_str()),
                "{}",
                f.name()
            );
        }
    }
}
