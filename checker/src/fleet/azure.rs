//! Azure's recorded form: the VMs `az vm list -d -o json` prints (the ARM model with
//! `properties` flattened, plus `powerState` and `publicIps`), and rows of a Resource Graph or
//! REST result (`properties` nested; the power state in `properties.extended.instanceView`).
//! customData, when a record carries it, is base64 JSON read as user-data, redacted as EC2's.

use super::shape::{get, segment_after, string_map, text};
use super::{Instance, SecretPolicy, UserData};
use crate::diag::{Diagnostic, pointer_push};
use crate::output::{AzureField, Cloud};
use serde_json::Value;
use std::path::Path;

/// The image: `imageReference.id` (or a gallery image id), else `publisher:offer:sku:version`.
fn image(path: &Path, ptr: &str, p: &Value) -> Result<Option<String>, Diagnostic> {
    let r = |k: &str| text(path, ptr, p, &["storageProfile", "imageReference", k]);
    for k in ["id", "sharedGalleryImageId", "communityGalleryImageId"] {
        if let Some(id) = r(k)? {
            return Ok(Some(id));
        }
    }
    Ok(match (r("publisher")?, r("offer")?, r("sku")?) {
        (Some(p), Some(o), Some(s)) => Some(format!(
            "{p}:{o}:{s}:{}",
            r("version")?.unwrap_or_else(|| "latest".into())
        )),
        _ => None,
    })
}

/// customData: base64 of worker-manager's JSON; `null` or absent (what the API returns: it
/// hands custom data to the VM at provisioning only) is not fetched.
fn custom_data(
    path: &Path,
    ptr: &str,
    p: &Value,
    secrets: &SecretPolicy,
) -> Result<UserData, Diagnostic> {
    match text(path, ptr, p, &["osProfile", "customData"])? {
        None => Ok(UserData::NotFetched),
        Some(b64) => match UserData::from_base64(&b64, secrets) {
            UserData::Invalid(why) if why.contains("base64") => Err(Diagnostic::at(
                path,
                pointer_push(&pointer_push(ptr, "osProfile"), "customData"),
                why,
            )
            .hint("osProfile.customData holds base64, as ARM takes it")),
            other => Ok(other),
        },
    }
}

/// Reads one VM (at `ptr` in `path`) into its record. Its id is the VM name (worker-manager's
/// workerId); its scope the subscription of its resource id.
pub fn parse_vm(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
) -> Result<Instance, Diagnostic> {
    if !v.is_object() {
        return Err(Diagnostic::at(path, ptr, "a VM must be a JSON object"));
    }
    if let Some(t) = text(path, ptr, v, &["type"])?
        && !t.eq_ignore_ascii_case("Microsoft.Compute/virtualMachines")
    {
        return Err(Diagnostic::at(path, pointer_push(ptr, "type"), format!("a {t} is not a virtual machine"))
            .hint("list VMs only: `az vm list -d -o json`, or a Resource Graph query over microsoft.compute/virtualmachines"));
    }
    // Resource Graph and REST rows nest the model under `properties`; az flattens it.
    let (p, pptr) = match get(v, "properties").filter(|p| p.is_object()) {
        Some(p) => (p, pointer_push(ptr, "properties")),
        None => (v, ptr.to_string()),
    };
    let name = text(path, ptr, v, &["name"])?.ok_or_else(|| {
        Diagnostic::at(path, ptr, "the VM has no \"name\"")
            .hint("every VM az vm list prints has a name")
    })?;
    let location = text(path, ptr, v, &["location"])?.ok_or_else(|| {
        Diagnostic::at(
            path,
            ptr,
            format!("VM {name} has no \"location\", so its region is unknown"),
        )
        .hint("record with `az vm list -d -o json`, which prints the location")
    })?;
    let mut i = Instance::of_cloud(Cloud::Azure);
    i.region = location;
    let sub = match text(path, ptr, v, &["subscriptionId"])? {
        Some(s) => Some(s),
        None => text(path, ptr, v, &["id"])?
            .and_then(|id| segment_after(&id, "subscriptions").map(str::to_string)),
    };
    i.scope = sub.map(Into::into);
    i.set_field(AzureField::VmName, name.clone());
    for (f, keys) in [
        (AzureField::ComputerName, &["osProfile", "computerName"][..]),
        (AzureField::VmSize, &["hardwareProfile", "vmSize"]),
        (AzureField::Priority, &["priority"]),
        (AzureField::OsType, &["storageProfile", "osDisk", "osType"]),
    ] {
        if let Some(x) = text(path, &pptr, p, keys)? {
            i.set_field(f, x);
        }
    }
    if let Some(img) = image(path, &pptr, p)? {
        i.set_field(AzureField::Image, img);
    }
    let power = match text(path, ptr, v, &["powerState"])? {
        Some(s) => Some(s),
        None => text(
            path,
            &pptr,
            p,
            &["extended", "instanceView", "powerState", "displayStatus"],
        )?,
    };
    if let Some(s) = power {
        i.set_field(AzureField::PowerState, s);
    }
    // `az vm list -d` joins a VM's public IPs with commas; the first is the VM's.
    let ips = match text(path, ptr, v, &["publicIps"])? {
        Some(s) => Some(s),
        None => text(path, ptr, v, &["publicIp"])?,
    };
    if let Some(ip) = ips
        .as_deref()
        .and_then(|s| s.split(',').map(str::trim).find(|s| !s.is_empty()))
    {
        i.set_field(AzureField::PublicIp, ip.to_string());
    }
    i.tags = string_map(path, ptr, v, "tags")?;
    crate::redact::redact_tags(&mut i.tags);
    i.user_data = custom_data(path, &pptr, p, secrets)?;
    i.id = name;
    Ok(i)
}

/// A record written back as `az vm list -d` prints a VM (secrets already redacted), for drafted
/// contract tests; [`parse_vm`] reads it back.
pub fn to_az(i: &Instance) -> Value {
    use base64::Engine;
    use serde_json::json;
    let f = |x: AzureField| i.field(x).map(str::to_string);
    let name = f(AzureField::VmName).unwrap_or_else(|| i.id.clone());
    let mut m =
        json!({"name": name, "type": "Microsoft.Compute/virtualMachines", "location": i.region});
    if let Some(s) = &i.scope {
        m["id"] = format!("/subscriptions/{s}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}").into();
    }
    for (x, keys) in [
        (AzureField::ComputerName, &["osProfile", "computerName"][..]),
        (AzureField::VmSize, &["hardwareProfile", "vmSize"]),
        (AzureField::Priority, &["priority"]),
        (AzureField::OsType, &["storageProfile", "osDisk", "osType"]),
        (AzureField::PowerState, &["powerState"]),
        (AzureField::PublicIp, &["publicIps"]),
        (
            AzureField::Image,
            &["storageProfile", "imageReference", "id"],
        ),
    ] {
        if let Some(v) = f(x) {
            let mut cur = &mut m;
            for k in keys {
                cur = &mut cur[*k];
            }
            *cur = v.into();
        }
    }
    // An image written as publisher:offer:sku:version goes back to its parts.
    if let Some(img) = f(AzureField::Image).filter(|x| !x.starts_with('/'))
        && let [p, o, s, v] = img.split(':').collect::<Vec<_>>()[..]
    {
        m["storageProfile"]["imageReference"] =
            json!({"publisher": p, "offer": o, "sku": s, "version": v});
    }
    if !i.tags.is_empty() {
        m["tags"] = json!(i.tags);
    }
    let text = match &i.user_data {
        UserData::Json(map) => Some(Value::Object((**map).clone()).to_string()),
        UserData::Invalid(_) => Some("<unparseable user-data withheld>".to_string()),
        UserData::Absent | UserData::NotFetched => None,
    };
    if let Some(t) = text {
        m["osProfile"]["customData"] = base64::engine::general_purpose::STANDARD.encode(t).into();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Read;
    use crate::output::OutputPath;
    use base64::Engine;
    use serde_json::json;

    #[test]
    fn az_and_resource_graph_rows_read_the_same() {
        let cd = base64::engine::general_purpose::STANDARD
            .encode(r#"{"rootUrl":"https://tc","workerConfig":{"clientSecret":"s3cr3t-cd"}}"#);
        let az = json!({
            "name": "vm-1", "location": "eastus", "type": "Microsoft.Compute/virtualMachines",
            "id": "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
            "hardwareProfile": {"vmSize": "Standard_F8s_v2"}, "priority": "Spot",
            "osProfile": {"computerName": "c1", "customData": cd},
            "storageProfile": {"imageReference": {"publisher": "P", "offer": "O", "sku": "S", "version": "1"}, "osDisk": {"osType": "Windows"}},
            "powerState": "VM running", "publicIps": "203.0.113.9,203.0.113.10",
            "tags": {"worker-pool-id": "a/b", "apiToken": "s3cr3t-tag"}
        });
        let mut graph = json!({"name": "vm-1", "location": "eastus", "subscriptionId": "sub-1",
            "type": "microsoft.compute/virtualmachines", "tags": az["tags"].clone(),
            "properties": {"hardwareProfile": az["hardwareProfile"].clone(), "priority": "Spot",
                "osProfile": az["osProfile"].clone(), "storageProfile": az["storageProfile"].clone(),
                "extended": {"instanceView": {"powerState": {"displayStatus": "VM running"}}}},
            "publicIp": "203.0.113.9"});
        let s = SecretPolicy::default();
        let a = parse_vm(Path::new("f"), "/0", &az, &s).expect("az");
        let g = parse_vm(Path::new("f"), "/data/0", &graph, &s).expect("graph");
        assert_eq!(
            (&a.scope, &a.fields, a.tags.len()),
            (&g.scope, &g.fields, g.tags.len())
        );
        let r = |p: &str| a.read(&OutputPath::parse(p).expect("path"));
        assert_eq!(a.scope.as_deref(), Some("sub-1"));
        assert_eq!(r("region"), Read::Value("eastus".into()));
        assert_eq!(r("image"), Read::Value("P:O:S:1".into()));
        assert_eq!(r("publicIp"), Read::Value("203.0.113.9".into()));
        assert_eq!(r("userData.rootUrl"), Read::Value("https://tc".into()));
        assert!(!format!("{a:?}").contains("s3cr3t"), "{a:?}");
        let again = parse_vm(Path::new("f"), "/0", &to_az(&a), &s).expect("reads back");
        // A marker is redacted again (its key is credential-like), so compare all but values.
        assert_eq!(
            (&again.id, &again.scope, &again.region, &again.fields),
            (&a.id, &a.scope, &a.region, &a.fields)
        );
        assert_eq!(
            again.tags.keys().collect::<Vec<_>>(),
            a.tags.keys().collect::<Vec<_>>()
        );
        // Azure tag names are case-insensitive: `tag:worker-pool-id` reads `Worker-Pool-Id`.
        let mut cased = az.clone();
        cased["tags"] = json!({"Worker-Pool-Id": "a/b"});
        let c = parse_vm(Path::new("f"), "/0", &cased, &s).expect("cased");
        let tag = OutputPath::parse("tag:worker-pool-id").expect("path");
        assert_eq!(c.read(&tag), Read::Value("a/b".into()));
        assert_eq!(
            c.read(&OutputPath::parse("tag:other").expect("path")),
            Read::Missing
        );
        graph["type"] = json!("Microsoft.Network/publicIPAddresses");
        let e = parse_vm(Path::new("f"), "/data/0", &graph, &s).expect_err("not a VM");
        assert!(format!("{e:?}").contains("/data/0/type"), "{e:?}");
    }
}
