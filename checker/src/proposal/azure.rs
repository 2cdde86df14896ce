//! Worker-manager's Azure provider: a launch configuration rendered as the VM it would create
//! (directly, or through an ARM template deployment), and the launches Azure would refuse.
//!
//! Modelled on taskcluster/taskcluster 9d59eb59f6fd0912075c194100d8910f2da40f52
//! `services/worker-manager/src/providers/azure/index.js`:
//! - lines 352-362 (`#buildCustomData`): customData is base64 JSON {workerPoolId, workerGroup,
//!   providerId, rootUrl, workerConfig: {}};
//! - lines 373-385 (`#deploymentTags`): the launch configuration's `tags`, then `created-by`,
//!   `managed-by`, `provider-id`, `worker-group` (the location), `worker-pool-id`, `root-url`,
//!   `owner`, `launch-config-id` (worker-manager's win: a colliding pool tag is overwritten);
//! - lines 416-422: the VM name `vm-` and 35 random characters; a 15-character computer name;
//! - lines 510-512, 565: without an ARM template the location is `location` and a public IP
//!   only with `workerManager.publicIp`; the tags go on every resource it creates (line 1699);
//! - lines 644-666: with `armDeployment`, the location is `armDeployment.parameters.location
//!   .value` (asserted: without it nothing launches) and the template gets `tags`, `vmName`,
//!   `computerName`, admin credentials and `customData` as parameters. What the template does
//!   with them is the template's: the provider manifest's `armTemplates` say, or it is unknown.
//!
//! Azure's own limits (Azure Resource Manager "Tag resources" documentation): 50 tags per
//! resource, tag names at most 512 characters, values at most 256.

use super::pools::{ASSIGNED_AT_LAUNCH, Pool, RefusalKind, RenderCx, RenderedPools};
use crate::contract::ArmTemplate;
use crate::fleet::{Instance, Unknowable, UserData};
use crate::output::{AzureField, Cloud};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The most tags on one resource.
const MAX_TAGS: usize = 50;
/// The longest tag name.
const MAX_TAG_NAME: usize = 512;
/// The longest tag value.
const MAX_TAG_VALUE: usize = 256;

/// The tags worker-manager passes (index.js lines 373-385), the pool's first.
fn tags(
    pool: &Pool<'_>,
    lc: &Value,
    location: &str,
    lc_id: &str,
    root_url: &str,
) -> BTreeMap<String, String> {
    let mut t: BTreeMap<String, String> = lc
        .get("tags")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    for (k, v) in [
        ("created-by", format!("taskcluster-wm-{}", pool.provider_id)),
        ("managed-by", "taskcluster".into()),
        ("provider-id", pool.provider_id.to_string()),
        ("worker-group", location.to_string()),
        ("worker-pool-id", pool.id.to_string()),
        ("root-url", root_url.to_string()),
        ("owner", pool.owner.to_string()),
        ("launch-config-id", lc_id.to_string()),
    ] {
        t.insert(k.to_string(), v);
    }
    t
}

/// Why Azure would refuse the tags, if it would.
fn tag_refusal(tags: &BTreeMap<String, String>) -> Option<(RefusalKind, String)> {
    if tags.len() > MAX_TAGS {
        return Some((
            RefusalKind::TooManyTags,
            format!(
                "the VM would carry {} tags (the pool's and worker-manager's 8); Azure allows at most {MAX_TAGS} per resource",
                tags.len()
            ),
        ));
    }
    tags.iter().find_map(|(k, v)| {
        let (kn, vn) = (k.chars().count(), v.chars().count());
        (kn > MAX_TAG_NAME || vn > MAX_TAG_VALUE).then(|| {
            (
                RefusalKind::TagTooLong,
                format!("tag {k:?} has a {kn}-character name and a {vn}-character value; Azure allows names of at most {MAX_TAG_NAME} and values of at most {MAX_TAG_VALUE}"),
            )
        })
    })
}

/// Two tag names equal but for case, if any.
fn case_twins(tags: &BTreeMap<String, String>) -> Option<(String, String)> {
    let mut seen: BTreeMap<String, &String> = BTreeMap::new();
    for k in tags.keys() {
        if let Some(first) = seen.insert(k.to_lowercase(), k) {
            return Some((first.clone(), k.clone()));
        }
    }
    None
}

/// An ARM template parameter's value.
fn param<'v>(arm: &'v Value, name: &str) -> Option<&'v str> {
    arm.get("parameters")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("value"))
        .and_then(Value::as_str)
}

/// What the template `arm` deploys does, as the provider manifests declare it: `Err` says why
/// it is unknown.
fn described<'s>(cx: &RenderCx<'s>, arm: &Value) -> Result<&'s ArmTemplate, String> {
    let link = arm.get("templateLink");
    let id = link
        .and_then(|l| l.get("id").or_else(|| l.get("uri")))
        .and_then(Value::as_str);
    let Some(id) = id else {
        return Err("the ARM deployment's template is inline (no templateLink id or uri), and no provider manifest can describe an inline template".into());
    };
    cx.set
        .providers
        .iter()
        .filter(|p| p.cloud == Cloud::Azure)
        .flat_map(|p| &p.arm_templates)
        .find(|t| t.describes(id))
        .ok_or_else(|| format!("what ARM template {id} does with the tags, customData and public IP worker-manager passes is in no provider manifest (the template's content is not something checker can read): describe it under the Azure provider manifest's armTemplates, with its source"))
}

/// What worker-manager would put on a VM of launch configuration `i`, or why it would launch
/// nothing.
pub(super) fn render_launch_config(
    pool: &Pool<'_>,
    i: usize,
    lc: &Value,
    cx: &RenderCx<'_>,
    out: &mut RenderedPools,
) {
    let ptr = format!("{}/config/launchConfigs/{i}", pool.base);
    let lc_id = super::jsonb::launch_config_id(pool.id, lc);
    let arm = lc.get("armDeployment");
    let location = match arm {
        Some(a) => param(a, "location"),
        None => lc.get("location").and_then(Value::as_str),
    };
    let Some(location) = location.filter(|l| !l.is_empty()) else {
        let (what, at) = match arm {
            Some(_) => (
                "armDeployment.parameters.location.value",
                format!("{ptr}/armDeployment/parameters"),
            ),
            None => ("location", ptr.clone()),
        };
        pool.refuse(out, &lc_id, RefusalKind::NoLocation, format!("it has no {what}; worker-manager asserts it (index.js lines 512 and 646) and launches nothing"), at);
        return;
    };
    let tags = tags(pool, lc, location, &lc_id, cx.root_url);
    overridden(pool, lc, &ptr, &tags, out);
    let template = arm.map(|a| described(cx, a));
    let tags_applied = match &template {
        None => true,
        Some(Ok(t)) => t.applies_tags,
        Some(Err(_)) => false,
    };
    if tags_applied && let Some((kind, message)) = tag_refusal(&tags) {
        pool.refuse(
            out,
            &lc_id,
            kind,
            format!("({location}): {message}"),
            format!("{ptr}/tags"),
        );
        return;
    }
    let case_twins = case_twins(&tags);
    let mut inst = Instance::of_cloud(Cloud::Azure);
    inst.id = pool.record_id(location, &lc_id);
    inst.region = location.to_string();
    let custom = json!({
        "workerPoolId": pool.id,
        "workerGroup": location,
        "providerId": pool.provider_id,
        "rootUrl": cx.root_url,
        "workerConfig": {},
    });
    let user_data = UserData::from_bytes(custom.to_string().as_bytes(), cx.secrets);
    applied(&mut inst, template.as_ref(), lc, tags, user_data);
    if tags_applied && let Some((a, b)) = case_twins {
        inst.tags.clear();
        inst.set_unknowable(
            Unknowable::Tags,
            format!("tags {a:?} and {b:?} differ only by case: Azure tag names are case-insensitive, and which of the two values the VM keeps is not documented (worker-manager merges them as distinct keys)"),
        );
    }
    set_fields(&mut inst, lc, arm, &lc_id);
    out.records.push(inst);
}

/// A warning per pool tag worker-manager overrides (harmless: its value wins).
fn overridden(
    pool: &Pool<'_>,
    lc: &Value,
    ptr: &str,
    tags: &BTreeMap<String, String>,
    out: &mut RenderedPools,
) {
    let own = lc.get("tags").and_then(Value::as_object);
    for (k, v) in own.into_iter().flatten() {
        if tags.get(k).map(String::as_str) != v.as_str() {
            out.warnings.push(
                crate::diag::Diagnostic::at(
                    pool.file,
                    format!("{ptr}/tags/{k}"),
                    format!("worker-manager sets tag {k:?} itself and overrides the pool's value"),
                )
                .hint("remove it from the pool's tags; it never reaches the VM (harmless)"),
            );
        }
    }
}

/// What reaches the VM: the tags, customData and public IP, as the template (if any) applies
/// them, or unknown when no manifest describes it.
fn applied(
    inst: &mut Instance,
    template: Option<&Result<&ArmTemplate, String>>,
    lc: &Value,
    tags: BTreeMap<String, String>,
    user_data: UserData,
) {
    match template {
        Some(Err(why)) => {
            for what in [
                Unknowable::Tags,
                Unknowable::UserData,
                Unknowable::Field(AzureField::PublicIp.into()),
            ] {
                inst.set_unknowable(what, why.clone());
            }
        }
        Some(Ok(t)) => {
            if t.applies_tags {
                inst.tags = tags;
            }
            if t.custom_data {
                inst.user_data = user_data;
            }
            if t.public_ip {
                inst.set_field(AzureField::PublicIp, ASSIGNED_AT_LAUNCH.into());
            }
        }
        None => {
            inst.tags = tags;
            inst.user_data = user_data;
            let public = lc
                .get("workerManager")
                .and_then(|w| w.get("publicIp"))
                .and_then(Value::as_bool)
                == Some(true);
            if public {
                inst.set_field(AzureField::PublicIp, ASSIGNED_AT_LAUNCH.into());
            }
        }
    }
}

/// The VM's own fields: the template's parameters for an ARM deployment (`vmSize`, `priority`,
/// `imageId`), else the VM configuration worker-manager sends.
fn set_fields(inst: &mut Instance, lc: &Value, arm: Option<&Value>, lc_id: &str) {
    let at = |path: &[&str]| -> Option<String> {
        path.iter()
            .try_fold(lc, |v, k| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let tail: String = lc_id.chars().filter(char::is_ascii_alphanumeric).collect();
    inst.set_field(
        AzureField::VmName,
        format!(
            "vm-{}",
            format!("{tail:a<35}")
                .chars()
                .take(35)
                .collect::<String>()
                .to_lowercase()
        ),
    );
    inst.set_field(
        AzureField::ComputerName,
        format!("{tail:a<15}").chars().take(15).collect(),
    );
    inst.set_field(
        AzureField::PowerState,
        Cloud::Azure.launch_state().to_string(),
    );
    let (size, priority, image) = match arm {
        Some(a) => (
            param(a, "vmSize").map(str::to_string),
            param(a, "priority").map(str::to_string),
            param(a, "imageId").map(str::to_string),
        ),
        None => {
            let r = |k: &str| at(&["storageProfile", "imageReference", k]);
            let image = r("id").or_else(|| {
                Some(format!(
                    "{}:{}:{}:{}",
                    r("publisher")?,
                    r("offer")?,
                    r("sku")?,
                    r("version").unwrap_or_else(|| "latest".into())
                ))
            });
            (at(&["hardwareProfile", "vmSize"]), at(&["priority"]), image)
        }
    };
    for (f, v) in [
        (AzureField::VmSize, size),
        (AzureField::Priority, priority),
        (AzureField::Image, image),
        (
            AzureField::OsType,
            at(&["storageProfile", "osDisk", "osType"]),
        ),
    ] {
        if let Some(v) = v {
            inst.set_field(f, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_tag_limits() {
        let mut t: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(tag_refusal(&t).map(|r| r.0), Some(RefusalKind::TooManyTags));
        t.clear();
        t.insert("k".into(), "v".repeat(257));
        assert_eq!(tag_refusal(&t).map(|r| r.0), Some(RefusalKind::TagTooLong));
        t.insert("k".into(), "v".repeat(256));
        assert!(tag_refusal(&t).is_none());
    }
}
