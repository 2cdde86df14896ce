//! Which recorded shape a fleet file is in, told by its content, and the small typed readers the
//! GCE and Azure readers share (each error names the file and the JSON pointer).

use crate::diag::{Diagnostic, pointer_push};
use serde_json::Value;
use std::path::Path;

/// The recorded shapes a fleet file may be in.
pub const SHAPES_READ: &str = "`aws ec2 describe-instances --output json` ({\"Reservations\": [...]}), \
`gcloud compute instances list --format=json` (an array of compute#instance), the Compute REST \
`instances.aggregatedList`/`instances.list` response ({\"items\": ...}), `az vm list -d -o json` \
(an array of VMs), or an Azure Resource Graph result ({\"data\": [...]})";

/// One element's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A Compute Engine `Instance` resource.
    Gce,
    /// An Azure VM (`az vm list -d`, or a Resource Graph / REST row with `properties`).
    Azure,
}

impl Shape {
    /// In words.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Gce => "a GCE instance (gcloud compute instances list)",
            Shape::Azure => "an Azure VM (az vm list -d / Resource Graph)",
        }
    }

    /// The shape of one element of a top-level array, or `None`.
    pub fn of(v: &Value) -> Option<Shape> {
        let kind = get(v, "kind").and_then(Value::as_str);
        let ty = get(v, "type").and_then(Value::as_str);
        if kind == Some("compute#instance")
            || (kind.is_none() && get(v, "machineType").is_some() && get(v, "zone").is_some())
        {
            return Some(Shape::Gce);
        }
        if ty.is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Compute/virtualMachines"))
            || get(v, "hardwareProfile").is_some()
            || v.pointer("/properties/hardwareProfile").is_some()
        {
            return Some(Shape::Azure);
        }
        None
    }
}

/// The value of `key` in `v` when `v` is an object (what `Value::get` gives). A record's objects
/// are small: a scan compares a few keys where the map's lookup hashes the key (SipHash), which
/// was 4% of a live Azure run.
pub fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) if m.len() <= 16 => m.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
        _ => v.get(key),
    }
}

/// The value at `keys` under `v` (at `ptr`): absent or `null` on the way is `None`; a key on
/// the way that is not an object a located error, `how` saying where the shape comes from
/// (`, as describe-instances prints it`). Every recorded reader walks paths with it. The
/// pointer is built only for an error ([`pointer`]): building it for every field read was 7%
/// of a live Azure run's CPU.
pub fn walk<'v>(
    path: &Path,
    ptr: &str,
    v: &'v Value,
    keys: &[&str],
    how: &str,
) -> Result<Option<&'v Value>, Diagnostic> {
    let mut cur = v;
    for (k, key) in keys.iter().enumerate() {
        cur = match get(cur, key) {
            None | Some(Value::Null) => return Ok(None),
            Some(next) => next,
        };
        if k + 1 < keys.len() && !cur.is_object() {
            return Err(Diagnostic::at(
                path,
                pointer(ptr, &keys[..=k]),
                format!("\"{key}\" must be an object{how}"),
            ));
        }
    }
    Ok(Some(cur))
}

/// The JSON pointer of `keys` under `ptr`.
pub fn pointer(ptr: &str, keys: &[&str]) -> String {
    keys.iter()
        .fold(ptr.to_string(), |p, k| pointer_push(&p, k))
}

/// The value at `keys` under `v` (at `ptr`): absent or `null` on the way is `None`; a string is
/// itself, a boolean or a number its JSON text; anything else a located error.
pub fn text(
    path: &Path,
    ptr: &str,
    v: &Value,
    keys: &[&str],
) -> Result<Option<String>, Diagnostic> {
    let Some(cur) = walk(path, ptr, v, keys, "")? else {
        return Ok(None);
    };
    match cur {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(Diagnostic::at(
            path,
            pointer(ptr, keys),
            format!(
                "\"{}\" must be a string",
                keys.last().copied().unwrap_or_default()
            ),
        )),
    }
}

/// The array at `key` of `v` (absent or `null`: empty), or a located error.
pub fn array<'v>(
    path: &Path,
    ptr: &str,
    v: &'v Value,
    key: &str,
) -> Result<&'v [Value], Diagnostic> {
    match get(v, key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(Diagnostic::at(
            path,
            pointer_push(ptr, key),
            format!("\"{key}\" must be an array"),
        )),
    }
}

/// A `{KEY: VALUE}` object of strings (GCE labels, Azure tags) at `key`; absent or `null`: empty.
pub fn string_map(
    path: &Path,
    ptr: &str,
    v: &Value,
    key: &str,
) -> Result<std::collections::BTreeMap<String, String>, Diagnostic> {
    let mut out = std::collections::BTreeMap::new();
    match get(v, key) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                match val {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    Value::Null => {
                        out.insert(k.clone(), String::new());
                    }
                    _ => {
                        return Err(Diagnostic::at(
                            path,
                            pointer_push(&pointer_push(ptr, key), k),
                            format!("the value of {key} {k:?} must be a string"),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(Diagnostic::at(
                path,
                pointer_push(ptr, key),
                format!("\"{key}\" must be an object of strings"),
            ));
        }
    }
    Ok(out)
}

/// The segment after `/{name}/` in a resource URL or id (`projects/P/...` → `P`).
pub fn segment_after<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let mut it = url.split('/');
    while let Some(s) = it.next() {
        if s.eq_ignore_ascii_case(name) {
            return it.next().filter(|x| !x.is_empty());
        }
    }
    None
}

/// The last path segment of a URL (`.../machineTypes/n2-standard-4` → `n2-standard-4`).
pub fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Reads one instance in any recorded shape: a GCE instance, an Azure VM, else an EC2
/// describe-instances instance (contract tests' `instances`).
pub fn parse_any(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &super::SecretPolicy,
) -> Result<super::Instance, Diagnostic> {
    match Shape::of(v) {
        Some(Shape::Gce) => super::gce::parse_instance(path, ptr, v, secrets),
        Some(Shape::Azure) => super::azure::parse_vm(path, ptr, v, secrets),
        None => super::ec2::parse_instance(path, ptr, v, secrets),
    }
}

/// One record written in its cloud's recorded shape (the element `parse_any` reads).
pub fn to_recorded(i: &super::Instance) -> Value {
    match i.cloud() {
        crate::output::Cloud::Gce => super::gce::to_gcloud(i),
        crate::output::Cloud::Azure => super::azure::to_az(i),
        crate::output::Cloud::Ec2 => {
            super::ec2::to_describe_instances(std::slice::from_ref(i))["Reservations"][0]["Instances"][0].clone()
        }
    }
}
