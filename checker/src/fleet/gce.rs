//! GCE's recorded form: the Compute Engine v1 `Instance` resources `gcloud compute instances
//! list --format=json` prints (and the REST list responses hold), read into records.
//! Labels are tags; the `taskcluster` metadata item's JSON is the user-data, redacted as EC2's.

use super::shape::{array, get, last_segment, segment_after, string_map, text};
use super::{Instance, ReadCache, SecretPolicy, UserData};
use crate::diag::{Diagnostic, pointer_push};
use crate::output::{Cloud, GceField};
use serde_json::Value;
use std::path::Path;

/// The metadata item worker-manager's google provider writes its JSON to.
const TASKCLUSTER_ITEM: &str = "taskcluster";

/// `us-central1-a` → `us-central1`.
pub fn region_from_zone(zone: &str) -> Option<&str> {
    zone.rsplit_once('-')
        .map(|(r, _)| r)
        .filter(|r| r.contains('-'))
}

/// The `taskcluster` metadata item's JSON: absent when `metadata` lists no such item, not
/// fetched when the listing has no `metadata` at all.
fn user_data(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
    cache: &mut ReadCache,
) -> Result<UserData, Diagnostic> {
    let Some(meta) = get(v, "metadata").filter(|m| !m.is_null()) else {
        return Ok(UserData::NotFetched);
    };
    let mptr = pointer_push(ptr, "metadata");
    if !meta.is_object() {
        return Err(Diagnostic::at(path, mptr, "\"metadata\" must be an object"));
    }
    for (n, item) in array(path, &mptr, meta, "items")?.iter().enumerate() {
        let iptr = format!("{mptr}/items/{n}");
        if text(path, &iptr, item, &["key"])?.as_deref() != Some(TASKCLUSTER_ITEM) {
            continue;
        }
        return Ok(match get(item, "value") {
            None | Some(Value::Null) => UserData::Absent,
            Some(Value::String(s)) => cache.from_bytes(s.as_bytes(), secrets),
            Some(_) => {
                return Err(Diagnostic::at(
                    path,
                    format!("{iptr}/value"),
                    "a metadata item's \"value\" must be a string",
                ));
            }
        });
    }
    Ok(UserData::Absent)
}

/// Sets the fields read from `disks`: the boot disk's image and the local SSDs.
fn disks(path: &Path, ptr: &str, v: &Value, i: &mut Instance) -> Result<(), Diagnostic> {
    let mut scratch = 0usize;
    for (n, d) in array(path, ptr, v, "disks")?.iter().enumerate() {
        let dptr = format!("{ptr}/disks/{n}");
        if !d.is_object() {
            return Err(Diagnostic::at(path, dptr, "a disk must be an object"));
        }
        if text(path, &dptr, d, &["boot"])?.as_deref() == Some("true") {
            // The list has the disk's `source`, not its image: only a record that carries the
            // image (initializeParams, or sourceImage merged in from the disk) says it.
            let img = match text(path, &dptr, d, &["initializeParams", "sourceImage"])? {
                Some(i) => Some(i),
                None => text(path, &dptr, d, &["sourceImage"])?,
            };
            if let Some(img) = img {
                i.set_field(GceField::SourceImage, img);
            }
        }
        if text(path, &dptr, d, &["type"])?.as_deref() == Some("SCRATCH") {
            if scratch == 0 {
                // GCE's default interface for a local SSD is SCSI.
                let iface = text(path, &dptr, d, &["interface"])?.unwrap_or_else(|| "SCSI".into());
                i.set_field(GceField::LocalSsdInterface, iface);
            }
            scratch += 1;
        }
    }
    i.set_field(GceField::LocalSsdCount, scratch.to_string());
    Ok(())
}

/// The first element of the array `key` of `v`, if any.
fn first<'v>(
    path: &Path,
    ptr: &str,
    v: &'v Value,
    key: &str,
) -> Result<Option<&'v Value>, Diagnostic> {
    Ok(array(path, ptr, v, key)?.first())
}

/// Reads one `compute#instance` (at `ptr` in `path`) into its record. Its id is the instance
/// name (what `gcloud compute instances describe` and `checker explain` take); its scope the
/// project of its zone or self link.
pub fn parse_instance(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
) -> Result<Instance, Diagnostic> {
    parse_instance_with(path, ptr, v, secrets, &mut ReadCache::default())
}

/// [`parse_instance`], the `taskcluster` item read through `cache` (a listing's instances of one
/// pool and zone carry the same text: it is parsed and redacted once).
pub fn parse_instance_with(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
    cache: &mut ReadCache,
) -> Result<Instance, Diagnostic> {
    if !v.is_object() {
        return Err(Diagnostic::at(
            path,
            ptr,
            "an instance must be a JSON object",
        ));
    }
    let name = text(path, ptr, v, &["name"])?.ok_or_else(|| {
        Diagnostic::at(path, ptr, "the instance has no \"name\"")
            .hint("every instance gcloud compute instances list prints has a name")
    })?;
    let zone_url = text(path, ptr, v, &["zone"])?.ok_or_else(|| {
        Diagnostic::at(
            path,
            ptr,
            format!("instance {name} has no \"zone\", so its region is unknown"),
        )
        .hint(
            "record with `gcloud compute instances list --format=json`, which prints the zone URL",
        )
    })?;
    let zone = last_segment(&zone_url).to_string();
    let region = region_from_zone(&zone).ok_or_else(|| {
        Diagnostic::at(
            path,
            pointer_push(ptr, "zone"),
            format!("`{zone}` is not a zone name, so the region is unknown"),
        )
        .hint("GCE zones look like us-central1-a")
    })?;
    let mut i = Instance::of_cloud(Cloud::Gce);
    i.region = region.to_string();
    let link = text(path, ptr, v, &["selfLink"])?;
    i.scope = segment_after(&zone_url, "projects")
        .or_else(|| link.as_deref().and_then(|l| segment_after(l, "projects")))
        .map(Into::into);
    i.set_field(GceField::Name, name.clone());
    i.set_field(GceField::Zone, zone);
    for (f, keys) in [
        (GceField::Status, &["status"][..]),
        (GceField::MinCpuPlatform, &["minCpuPlatform"]),
        (
            GceField::ProvisioningModel,
            &["scheduling", "provisioningModel"],
        ),
        (
            GceField::AutomaticRestart,
            &["scheduling", "automaticRestart"],
        ),
    ] {
        if let Some(x) = text(path, ptr, v, keys)? {
            i.set_field(f, x);
        }
    }
    if let Some(m) = text(path, ptr, v, &["machineType"])? {
        i.set_field(GceField::MachineType, last_segment(&m).to_string());
    }
    if let Some(sa) = first(path, ptr, v, "serviceAccounts")?
        && let Some(e) = text(path, &format!("{ptr}/serviceAccounts/0"), sa, &["email"])?
    {
        i.set_field(GceField::ServiceAccount, e);
    }
    if let Some(nic) = first(path, ptr, v, "networkInterfaces")? {
        let nptr = format!("{ptr}/networkInterfaces/0");
        if let Some(ac) = first(path, &nptr, nic, "accessConfigs")?
            && let Some(ip) = text(path, &format!("{nptr}/accessConfigs/0"), ac, &["natIP"])?
        {
            i.set_field(GceField::ExternalIp, ip);
        }
    }
    disks(path, ptr, v, &mut i)?;
    i.tags = string_map(path, ptr, v, "labels")?;
    crate::redact::redact_tags(&mut i.tags);
    i.user_data = user_data(path, ptr, v, secrets, cache)?;
    i.id = name;
    Ok(i)
}

/// A record written back as gcloud prints an instance (what it holds: secrets already
/// redacted), for drafted contract tests; [`parse_instance`] reads it back.
pub fn to_gcloud(i: &Instance) -> Value {
    use serde_json::json;
    let f = |x: GceField| i.field(x).map(str::to_string);
    let zone = f(GceField::Zone).unwrap_or_else(|| format!("{}-a", i.region));
    let zone_url = match &i.scope {
        Some(p) => format!("projects/{p}/zones/{zone}"),
        None => zone.clone(),
    };
    let mut m = json!({"kind": "compute#instance", "name": f(GceField::Name).unwrap_or_else(|| i.id.clone()), "zone": zone_url});
    for (x, key) in [
        (GceField::MachineType, "machineType"),
        (GceField::Status, "status"),
        (GceField::MinCpuPlatform, "minCpuPlatform"),
    ] {
        if let Some(v) = f(x) {
            m[key] = v.into();
        }
    }
    if let Some(v) = f(GceField::ProvisioningModel) {
        m["scheduling"]["provisioningModel"] = v.into();
    }
    if let Some(v) = f(GceField::AutomaticRestart) {
        m["scheduling"]["automaticRestart"] = (v == "true").into();
    }
    if let Some(v) = f(GceField::ServiceAccount) {
        m["serviceAccounts"] = json!([{"email": v}]);
    }
    if let Some(v) = f(GceField::ExternalIp) {
        m["networkInterfaces"] = json!([{"accessConfigs": [{"natIP": v}]}]);
    }
    let mut disks = vec![match f(GceField::SourceImage) {
        Some(img) => {
            json!({"boot": true, "type": "PERSISTENT", "initializeParams": {"sourceImage": img}})
        }
        None => json!({"boot": true, "type": "PERSISTENT"}),
    }];
    let n: usize = f(GceField::LocalSsdCount)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let iface = f(GceField::LocalSsdInterface).unwrap_or_else(|| "SCSI".into());
    disks.extend((0..n).map(|_| json!({"type": "SCRATCH", "interface": iface})));
    m["disks"] = Value::Array(disks);
    if !i.tags.is_empty() {
        m["labels"] = json!(i.tags);
    }
    m["metadata"] = match &i.user_data {
        UserData::Json(map) => {
            json!({"items": [{"key": TASKCLUSTER_ITEM, "value": Value::Object((**map).clone()).to_string()}]})
        }
        UserData::Invalid(_) => {
            json!({"items": [{"key": TASKCLUSTER_ITEM, "value": "<unparseable user-data withheld>"}]})
        }
        UserData::Absent => json!({"items": []}),
        UserData::NotFetched => Value::Null,
    };
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Read;
    use crate::output::OutputPath;
    use serde_json::json;

    fn inst() -> Value {
        json!({
            "kind": "compute#instance", "name": "w-1", "id": "42",
            "zone": "https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a",
            "machineType": "https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a/machineTypes/n2-standard-4",
            "status": "RUNNING",
            "scheduling": {"automaticRestart": false, "provisioningModel": "SPOT"},
            "labels": {"worker-pool-id": "a-b", "deploy-token": "s3cr3t-label"},
            "metadata": {"items": [{"key": "startup-script", "value": "password=hunter2"},
                {"key": "taskcluster", "value": "{\"rootUrl\":\"https://tc\",\"workerConfig\":{\"accessToken\":\"s3cr3t-wc\"}}"}]},
            "networkInterfaces": [{"accessConfigs": [{"natIP": "203.0.113.1"}]}],
            "disks": [{"boot": true, "type": "PERSISTENT"}, {"type": "SCRATCH", "interface": "NVME"}, {"type": "SCRATCH", "interface": "NVME"}],
            "serviceAccounts": [{"email": "sa@p-1.iam.gserviceaccount.com"}]
        })
    }

    #[test]
    fn an_instance_reads_into_the_gce_fields() {
        let i =
            parse_instance(Path::new("f"), "/0", &inst(), &SecretPolicy::default()).expect("reads");
        let r = |p: &str| i.read(&OutputPath::parse(p).expect("path"));
        assert_eq!(i.id, "w-1");
        assert_eq!(i.scope.as_deref(), Some("p-1"));
        assert_eq!(r("region"), Read::Value("us-central1".into()));
        assert_eq!(r("zone"), Read::Value("us-central1-a".into()));
        assert_eq!(r("machineType"), Read::Value("n2-standard-4".into()));
        assert_eq!(
            r("scheduling.automaticRestart"),
            Read::Value("false".into())
        );
        assert_eq!(r("externalIp"), Read::Value("203.0.113.1".into()));
        assert_eq!(r("localSsd.count"), Read::Value("2".into()));
        assert_eq!(r("localSsd.interface"), Read::Value("NVME".into()));
        assert_eq!(r("sourceImage"), Read::Missing);
        assert_eq!(r("userData.rootUrl"), Read::Value("https://tc".into()));
        let all = format!("{i:?}");
        for s in ["s3cr3t", "hunter2"] {
            assert!(!all.contains(s), "{s} kept: {all}");
        }
    }

    #[test]
    fn a_wrong_type_is_located_and_no_metadata_item_is_absent() {
        let mut v = inst();
        v["networkInterfaces"][0]["accessConfigs"] = json!({"natIP": 1});
        let e = parse_instance(Path::new("f"), "/3", &v, &SecretPolicy::default())
            .expect_err("not an array");
        assert!(
            format!("{e:?}").contains("/3/networkInterfaces/0/accessConfigs"),
            "{e:?}"
        );
        let mut v = inst();
        v["metadata"]["items"] = json!([]);
        let i = parse_instance(Path::new("f"), "/0", &v, &SecretPolicy::default()).expect("reads");
        assert_eq!(i.user_data, UserData::Absent);
    }

    #[test]
    fn what_is_written_reads_back() {
        let i =
            parse_instance(Path::new("f"), "/0", &inst(), &SecretPolicy::default()).expect("reads");
        let again = parse_instance(
            Path::new("f"),
            "/0",
            &to_gcloud(&i),
            &SecretPolicy::default(),
        )
        .expect("reads back");
        // A marker is redacted again (its key is credential-like), so compare all but values.
        assert_eq!(
            (&again.id, &again.scope, &again.region, &again.fields),
            (&i.id, &i.scope, &i.region, &i.fields)
        );
        assert_eq!(
            again.tags.keys().collect::<Vec<_>>(),
            i.tags.keys().collect::<Vec<_>>()
        );
    }

    /// A page builds only the keys a record reads (`fleet::prune`) and reads each distinct
    /// `taskcluster` text once: the records are the ones the full tree gives, and two instances
    /// with the same text share one parsed (redacted) map.
    #[test]
    fn a_page_reads_what_the_full_tree_gives_and_each_user_data_text_once() {
        let mut other = inst();
        other["name"] = json!("w-2");
        other["metadata"]["items"][1]["value"] = json!("{\"rootUrl\":\"https://other\"}");
        let mut same = inst();
        same["name"] = json!("w-3");
        same["description"] = json!({"unread": [1, 2, {"deep": true}]});
        let all = [inst(), other, same];
        let page = json!({"items": {"zones/us-central1-a": {"instances": all}}});
        let bytes = serde_json::to_vec(&page).expect("json");
        let s = SecretPolicy::default();
        let (got, _) = crate::fleet::read_gce_page(&bytes, Path::new("page"), &s).expect("reads");
        for (n, (g, v)) in got.iter().zip(&all).enumerate() {
            let want = parse_instance(Path::new("page"), "/x", v, &s).expect("reads");
            assert_eq!(
                (&g.id, &g.scope, &g.region, &g.fields, &g.tags, &g.user_data),
                (
                    &want.id,
                    &want.scope,
                    &want.region,
                    &want.fields,
                    &want.tags,
                    &want.user_data
                ),
                "instance {n}"
            );
        }
        let map = |i: &Instance| match &i.user_data {
            UserData::Json(m) => m.clone(),
            other => panic!("json expected, not {other:?}"),
        };
        assert!(std::sync::Arc::ptr_eq(&map(&got[0]), &map(&got[2])));
        assert!(!std::sync::Arc::ptr_eq(&map(&got[0]), &map(&got[1])));
    }

    /// A live page is parsed from its bytes (not a reader): it still reads, and too deep or
    /// truncated input is still located (the depth scanner now runs only on a page that failed).
    #[test]
    fn a_live_page_reads_and_bad_pages_are_located() {
        let page = json!({"kind": "compute#instanceAggregatedList",
            "items": {"zones/us-central1-a": {"instances": [inst()]}}, "nextPageToken": "t2"});
        let bytes = serde_json::to_vec(&page).expect("json");
        let (got, next) =
            crate::fleet::read_gce_page(&bytes, Path::new("page"), &SecretPolicy::default())
                .expect("reads");
        assert_eq!((got.len(), next.as_deref()), (1, Some("t2")));
        let deep = format!(
            r#"{{"items": {{"zones/a": {{"instances": [{{"labels": {}1{}}}]}}}}}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let e = crate::fleet::read_gce_page(
            deep.as_bytes(),
            Path::new("page"),
            &SecretPolicy::default(),
        )
        .expect_err("too deep");
        let e = format!("{e:?}");
        assert!(
            e.contains("levels deep") && e.contains("/items/zones~1a/instances/0/labels"),
            "{e}"
        );
        let e = crate::fleet::read_gce_page(
            &bytes[..bytes.len() / 2],
            Path::new("page"),
            &SecretPolicy::default(),
        )
        .expect_err("truncated");
        assert!(!format!("{e:?}").contains("levels deep"), "{e:?}");
    }
}
