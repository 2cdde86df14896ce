//! Worker-manager's Google provider: a launch configuration rendered as `instances.insert`
//! would create it, and the launches GCE would refuse.
//!
//! Modelled on taskcluster/taskcluster 9d59eb59f6fd0912075c194100d8910f2da40f52
//! `services/worker-manager/src/providers/google.js`, `provision()`:
//! - lines 252-253: the name is the pool id with `/` and `_` as `-`, cut to 38 characters, a
//!   dash and a lower-cased slugid (`_` as `-`); GCE names must match
//!   `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters;
//! - line 258: the worker group is the zone;
//! - lines 259-265: labels `created-by` (`taskcluster-wm-<providerId>`, `[^a-zA-Z0-9-]` as `-`,
//!   not lower-cased), `managed-by`, `worker-pool-id` and `owner` (sanitised and lower-cased,
//!   not cut), `launch-config-id`;
//! - lines 268-284: PERSISTENT disks get the labels in `initializeParams.labels`; other disks
//!   lose `labels` but keep any `initializeParams.labels` (GCE refuses labels on SCRATCH
//!   disks: taskcluster#6958);
//! - lines 292-297: the pool's labels under worker-manager's (worker-manager's win);
//! - lines 301-319: the provider's service account forced; line 321 `automaticRestart: false`;
//! - lines 323-338: metadata: the pool's items, then `taskcluster` = JSON {workerPoolId,
//!   providerId, workerGroup, rootUrl, workerConfig}.
//!
//! GCE's own limits (Compute Engine "Labels" and "Naming resources" documentation): at most 64
//! labels; keys start with a lower-case letter; keys and values at most 63 characters of
//! lower-case letters, digits, `_` and `-`; metadata keys unique.

use super::pools::{Pool, RefusalKind, RenderCx, RenderedPools};
use crate::fleet::{Instance, UserData};
use crate::output::{Cloud, GceField};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The longest GCE label key or value, and resource name.
const GCE_MAX: usize = 63;
/// The most labels on one resource.
const MAX_LABELS: usize = 64;

/// `s` with every character outside `[a-zA-Z0-9-]` as `-` (google.js's sanitising).
fn sanitise(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Whether GCE accepts `name` as an instance name.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= GCE_MAX
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Why GCE refuses a label, if it does.
fn bad_label(k: &str, v: &str) -> Option<String> {
    let ok_char = |c: char| c.is_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if k.is_empty() || !k.starts_with(|c: char| c.is_lowercase()) {
        return Some(format!(
            "label key {k:?} does not start with a lower-case letter"
        ));
    }
    for (what, s) in [("key", k), ("value", v)] {
        if s.chars().count() > GCE_MAX {
            return Some(format!(
                "label {k:?}'s {what} is {} characters; GCE allows at most {GCE_MAX}",
                s.chars().count()
            ));
        }
        if let Some(c) = s.chars().find(|c| !ok_char(*c)) {
            return Some(format!(
                "label {k:?}'s {what} {s:?} has {c:?}; GCE allows only lower-case letters, digits, '_' and '-'"
            ));
        }
    }
    None
}

/// The labels worker-manager sets (google.js lines 259-265).
fn own_labels(pool: &Pool<'_>, lc_id: &str) -> Vec<(String, String)> {
    vec![
        (
            "created-by".into(),
            sanitise(&format!("taskcluster-wm-{}", pool.provider_id)),
        ),
        ("managed-by".into(), "taskcluster".into()),
        ("worker-pool-id".into(), sanitise(pool.id).to_lowercase()),
        ("owner".into(), sanitise(pool.owner).to_lowercase()),
        ("launch-config-id".into(), lc_id.to_string()),
    ]
}

/// A string map of `v` (labels), keys in order.
fn string_map(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect()
}

/// `a` with `b` merged over it, as `{...a, ...b}`.
fn merged(a: Vec<(String, String)>, b: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = a.into_iter().collect();
    m.extend(b.iter().cloned());
    m
}

/// The last segment of a resource URL or path (`zones/z/machineTypes/n2-standard-4`).
fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Why GCE would refuse the launch, with where: the first reason found.
fn refusal(
    pool: &Pool<'_>,
    lc: &Value,
    ptr: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<(RefusalKind, String, String)> {
    if !valid_name(name) {
        return Some((
            RefusalKind::InvalidInstanceName,
            format!(
                "worker-manager would name its instances {name:?} (the pool id with '/' and '_' as '-', cut to 38 characters, and a slugid), which GCE refuses: a name must be lower-case letters, digits and '-', starting with a letter (google.js line 253 does not lower-case the pool id)"
            ),
            format!("{}/workerPoolId", pool.base),
        ));
    }
    if labels.len() > MAX_LABELS {
        return Some((
            RefusalKind::TooManyLabels,
            format!(
                "the instance would carry {} labels (the pool's and worker-manager's 5); GCE allows at most {MAX_LABELS}",
                labels.len()
            ),
            format!("{ptr}/labels"),
        ));
    }
    if let Some(why) = labels.iter().find_map(|(k, v)| bad_label(k, v)) {
        return Some((
            RefusalKind::InvalidLabel,
            format!(
                "{why}, so GCE refuses the instance (worker-manager sanitises its own label values and lower-cases some, but does not cut them or check the pool's)"
            ),
            format!("{ptr}/labels"),
        ));
    }
    for (i, d) in disks(lc).iter().enumerate() {
        let scratch = d.get("type").and_then(Value::as_str) != Some("PERSISTENT");
        let init_labels = d
            .get("initializeParams")
            .and_then(|p| p.get("labels"))
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty());
        if scratch && init_labels {
            return Some((
                RefusalKind::LabelsOnLocalSsd,
                format!(
                    "disk {i} is a {} disk with initializeParams.labels; worker-manager removes `labels` from non-PERSISTENT disks but keeps initializeParams.labels, and GCE refuses labels on local SSDs (taskcluster#6958), so every launch fails",
                    d.get("type").and_then(Value::as_str).unwrap_or("SCRATCH")
                ),
                format!("{ptr}/disks/{i}/initializeParams/labels"),
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in metadata_items(lc).iter().enumerate() {
        let key = item.get("key").and_then(Value::as_str).unwrap_or("");
        if key == "taskcluster" || !seen.insert(key) {
            return Some((
                RefusalKind::DuplicateMetadataKey,
                format!(
                    "metadata key {key:?} would occur twice: worker-manager appends its own `taskcluster` item after the pool's items without removing duplicates, and GCE refuses repeated metadata keys"
                ),
                format!("{ptr}/metadata/items/{i}/key"),
            ));
        }
    }
    None
}

fn disks(lc: &Value) -> Vec<&Value> {
    lc.get("disks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect()
}

fn metadata_items(lc: &Value) -> Vec<&Value> {
    lc.get("metadata")
        .and_then(|m| m.get("items"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect()
}

/// A representative slugid for a proposed instance's name: 22 lower-case characters derived
/// from the launch configuration id (worker-manager's is random).
fn slug(lc_id: &str) -> String {
    let hex: String = lc_id.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{hex:a<22}")
        .chars()
        .take(22)
        .collect::<String>()
        .to_lowercase()
}

/// What worker-manager would put on an instance of launch configuration `i`, or why GCE would
/// launch nothing.
pub(super) fn render_launch_config(
    pool: &Pool<'_>,
    i: usize,
    lc: &Value,
    cx: &RenderCx<'_>,
    out: &mut RenderedPools,
) {
    let ptr = format!("{}/config/launchConfigs/{i}", pool.base);
    let lc_id = super::jsonb::launch_config_id(pool.id, lc);
    let text = |k: &str| lc.get(k).and_then(Value::as_str).unwrap_or("");
    let zone = text("zone");
    let region = match text("region") {
        "" => crate::fleet::region_from_gce_zone(zone).unwrap_or(zone),
        r => r,
    };
    let pool_name: String = pool.id.replace(['/', '_'], "-").chars().take(38).collect();
    let name = format!("{pool_name}-{}", slug(&lc_id));
    let own = own_labels(pool, &lc_id);
    for (k, _) in string_map(lc.get("labels")) {
        if own.iter().any(|(o, _)| *o == k) {
            out.warnings.push(
                crate::diag::Diagnostic::at(
                    pool.file,
                    format!("{ptr}/labels/{k}"),
                    format!(
                        "worker-manager sets label {k:?} itself and overrides the pool's value"
                    ),
                )
                .hint("remove it from the pool's labels; it never reaches the instance"),
            );
        }
    }
    let labels = merged(string_map(lc.get("labels")), &own);
    if let Some((kind, message, at)) = refusal(pool, lc, &ptr, &name, &labels) {
        pool.refuse(out, &lc_id, kind, format!("({zone}): {message}"), at);
        return;
    }
    let user_data = json!({
        "workerPoolId": pool.id,
        "providerId": pool.provider_id,
        "workerGroup": zone,
        "rootUrl": cx.root_url,
        "workerConfig": lc.get("workerConfig").cloned().unwrap_or_else(|| Value::Object(Map::new())),
    });
    let mut inst = Instance::of_cloud(Cloud::Gce);
    inst.id = pool.record_id(zone, &lc_id);
    inst.region = region.to_string();
    inst.tags = labels;
    inst.user_data = UserData::from_bytes(user_data.to_string().as_bytes(), cx.secrets);
    set_fields(&mut inst, lc, &name, zone);
    out.records.push(inst);
}

/// The instance's own fields, from the launch configuration as `instances.insert` gets it.
fn set_fields(inst: &mut Instance, lc: &Value, name: &str, zone: &str) {
    let at = |path: &[&str]| -> Option<String> {
        path.iter().try_fold(lc, |v, k| v.get(k)).and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_bool().map(|b| b.to_string()))
        })
    };
    inst.set_field(GceField::Name, name.to_string());
    inst.set_field(GceField::Zone, zone.to_string());
    inst.set_field(GceField::Status, Cloud::Gce.launch_state().to_string());
    if let Some(m) = at(&["machineType"]) {
        inst.set_field(GceField::MachineType, last_segment(&m).to_string());
    }
    if let Some(m) = at(&["minCpuPlatform"]) {
        inst.set_field(GceField::MinCpuPlatform, m);
    }
    if let Some(m) = at(&["scheduling", "provisioningModel"]) {
        inst.set_field(GceField::ProvisioningModel, m);
    }
    inst.set_field(GceField::AutomaticRestart, "false".into());
    // Forced to the provider's configured service account (google.js lines 301-318): always
    // set, its value the deployment's configuration's, not the pool's.
    inst.set_field(GceField::ServiceAccount, super::PROVIDER_DEFINED.into());
    let ds = disks(lc);
    if let Some(img) = ds
        .iter()
        .find(|d| d.get("boot").and_then(Value::as_bool) == Some(true))
        .and_then(|d| d.get("initializeParams"))
        .and_then(|p| p.get("sourceImage"))
        .and_then(Value::as_str)
    {
        inst.set_field(GceField::SourceImage, img.to_string());
    }
    let scratch: Vec<&&Value> = ds
        .iter()
        .filter(|d| d.get("type").and_then(Value::as_str) == Some("SCRATCH"))
        .collect();
    inst.set_field(GceField::LocalSsdCount, scratch.len().to_string());
    if let Some(first) = scratch.first() {
        // GCE's default interface for a local SSD is SCSI.
        let iface = first
            .get("interface")
            .and_then(Value::as_str)
            .unwrap_or("SCSI");
        inst.set_field(GceField::LocalSsdInterface, iface.to_string());
    }
    let nat = lc
        .get("networkInterfaces")
        .and_then(|n| n.get(0))
        .and_then(|n| n.get("accessConfigs"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if nat {
        inst.set_field(
            GceField::ExternalIp,
            super::pools::ASSIGNED_AT_LAUNCH.into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_gce_rules() {
        assert!(valid_name("gecko-t-t-linux-aaaaaaaaaaaaaaaaaaaaaa"));
        assert!(!valid_name("Gecko-t-x"));
        assert!(!valid_name("a-"));
        assert!(bad_label("owner", "release-tc-workers-mozilla-com").is_none());
        assert!(bad_label("owner", &"a".repeat(64)).is_some());
        assert!(bad_label("Owner", "x").is_some());
        assert!(bad_label("created-by", "taskcluster-wm-Fx").is_some());
        assert_eq!(sanitise("release+tc@mozilla.com"), "release-tc-mozilla-com");
        assert_eq!(slug("lc-4907b8cd78f815f44f72").len(), 22);
    }
}
