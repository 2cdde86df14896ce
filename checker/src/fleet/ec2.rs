//! EC2's recorded form: `aws ec2 describe-instances` JSON, read into records and written back.
//! Fields follow their rows ([`checker_ec2::Ec2Field::spec`]): a new row is read and written
//! here without a line of its own.

use super::{CloudFields, Instance, SecretPolicy, UserData};
use crate::diag::Diagnostic;
use base64::Engine;
use checker_ec2::{At, Ec2Field, Values};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

/// `us-east-1a` → `us-east-1`; also local and wavelength zones (`us-west-2-lax-1a`).
pub fn region_from_az(az: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)(?:[a-z]|-.+)$")
            .expect("static regex")
    });
    RE.captures(az).map(|c| c[1].to_string())
}

/// An instance's `Tags`, as a map.
fn parse_tags(path: &Path, ptr: &str, v: &Value) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut tags = BTreeMap::new();
    if let Some(t) = v.get("Tags") {
        let Some(arr) = t.as_array() else {
            return Err(Diagnostic::at(
                path,
                format!("{ptr}/Tags"),
                "\"Tags\" must be an array of {\"Key\", \"Value\"}",
            ));
        };
        for (ti, tag) in arr.iter().enumerate() {
            match (
                tag.get("Key").and_then(Value::as_str),
                tag.get("Value").and_then(Value::as_str),
            ) {
                (Some(k), Some(val)) => {
                    tags.insert(k.to_string(), val.to_string());
                }
                _ => {
                    return Err(Diagnostic::at(
                        path,
                        format!("{ptr}/Tags/{ti}"),
                        "a tag needs string \"Key\" and \"Value\"",
                    ));
                }
            }
        }
    }
    Ok(tags)
}

/// An instance's inline `UserData` (the checker extension), decoded and redacted.
fn parse_user_data(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
) -> Result<UserData, Diagnostic> {
    Ok(match v.get("UserData") {
        None | Some(Value::Null) => UserData::NotFetched,
        Some(ud) => match ud.get("Value") {
            None | Some(Value::Null) => UserData::Absent,
            Some(Value::String(b64)) => match UserData::from_base64(b64, secrets) {
                UserData::Invalid(why) if why.contains("base64") => {
                    return Err(Diagnostic::at(path, format!("{ptr}/UserData/Value"), why)
                        .hint("UserData.Value holds base64, as DescribeInstanceAttribute returns it; encode with `base64 -w0`"));
                }
                other => other,
            },
            Some(_) => {
                return Err(Diagnostic::at(
                    path,
                    format!("{ptr}/UserData/Value"),
                    "\"UserData.Value\" must be a base64 string",
                ));
            }
        },
    })
}

/// The value at `keys` inside the instance `v` (at `ptr`): a string, or a number when
/// `number`; absent or `null` anywhere on the way is `None`, anything else a located error.
fn at_path(
    path: &Path,
    ptr: &str,
    v: &Value,
    keys: &[&str],
    number: bool,
) -> Result<Option<String>, Diagnostic> {
    let Some(cur) = super::shape::walk(path, ptr, v, keys, ", as describe-instances prints it")?
    else {
        return Ok(None);
    };
    let key = keys.last().copied().unwrap_or_default();
    match cur {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if number => Ok(Some(n.to_string())),
        _ => Err(Diagnostic::at(
            path,
            super::shape::pointer(ptr, keys),
            format!(
                "\"{key}\" must be a {}",
                if number { "number" } else { "string" }
            ),
        )),
    }
}

/// Every field of the rows, read from the instance `v`.
fn parse_fields(path: &Path, ptr: &str, v: &Value) -> Result<Values, Diagnostic> {
    let mut fields = Values::default();
    for f in Ec2Field::all() {
        let value = match f.spec().at {
            At::Text { json, .. } => at_path(path, ptr, v, json, false)?,
            At::Number { json, .. } => at_path(path, ptr, v, json, true)?,
            At::GroupIds => parse_security_groups(path, ptr, v)?,
            At::Region => None,
        };
        fields.put(f, value);
    }
    Ok(fields)
}

/// Reads one instance of describe-instances JSON (at `ptr` in `path`) into its record.
pub fn parse_instance(
    path: &Path,
    ptr: &str,
    v: &Value,
    secrets: &SecretPolicy,
) -> Result<Instance, Diagnostic> {
    if !v.is_object() {
        return Err(Diagnostic::at(
            path,
            ptr,
            "an instance must be a JSON object",
        ));
    }
    let id = at_path(path, ptr, v, &["InstanceId"], false)?.ok_or_else(|| {
        Diagnostic::at(path, ptr, "the instance has no \"InstanceId\"")
            .hint("every instance in describe-instances output has an InstanceId")
    })?;
    let fields = parse_fields(path, ptr, v)?;
    let region = match fields.get(Ec2Field::AvailabilityZone) {
        Some(az) => region_from_az(az).ok_or_else(|| {
            Diagnostic::at(
                path,
                format!("{ptr}/Placement/AvailabilityZone"),
                format!("`{az}` is not an availability zone name, so the region is unknown"),
            )
            .hint("availability zones look like us-east-1a")
        })?,
        None => {
            return Err(Diagnostic::at(path, ptr, format!("instance {id} has no Placement.AvailabilityZone, so its region is unknown"))
                .hint("record fleets with `aws ec2 describe-instances` or `checker fleet record`, which include Placement"));
        }
    };
    let mut tags = parse_tags(path, ptr, v)?;
    crate::redact::redact_tags(&mut tags);
    let user_data = parse_user_data(path, ptr, v, secrets)?;
    Ok(Instance {
        scope: None,
        id,
        region,
        fields: CloudFields::Ec2(fields),
        tags,
        user_data,
        unknown: None,
    })
}

/// `SecurityGroups: [{GroupId, GroupName}]` as the `SecurityGroups` output.
fn parse_security_groups(path: &Path, ptr: &str, v: &Value) -> Result<Option<String>, Diagnostic> {
    let Some(groups) = v.get("SecurityGroups").filter(|g| !g.is_null()) else {
        return Ok(None);
    };
    let Some(arr) = groups.as_array() else {
        return Err(Diagnostic::at(
            path,
            format!("{ptr}/SecurityGroups"),
            "\"SecurityGroups\" must be an array of {\"GroupId\", \"GroupName\"}",
        ));
    };
    let mut ids = Vec::with_capacity(arr.len());
    for (gi, g) in arr.iter().enumerate() {
        match g.get("GroupId").and_then(Value::as_str) {
            Some(id) => ids.push(id),
            None => {
                return Err(Diagnostic::at(
                    path,
                    format!("{ptr}/SecurityGroups/{gi}"),
                    "a security group needs a string \"GroupId\"",
                ));
            }
        }
    }
    Ok(checker_ec2::group_list(ids))
}

/// Puts `value` at `keys` in `m`, making the objects on the way.
fn put_at(m: &mut Map<String, Value>, keys: &[&str], value: Value) {
    let Some((last, outer)) = keys.split_last() else {
        return;
    };
    let mut cur = m;
    for k in outer {
        let slot = cur
            .entry((*k).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        cur = next;
    }
    cur.insert((*last).to_string(), value);
}

/// One record's fields in describe-instances shape, by their rows.
fn write_fields(m: &mut Map<String, Value>, i: &Instance) {
    for f in Ec2Field::all() {
        // The zone is written below, where a region is read back from.
        let value = match f {
            Ec2Field::AvailabilityZone => None,
            _ => i.fields.get(f.into()),
        };
        let Some(value) = value else { continue };
        match f.spec().at {
            At::Text { json, .. } => put_at(m, json, value.into()),
            At::Number { json, .. } => {
                let n = value
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| value.into());
                put_at(m, json, n);
            }
            At::GroupIds => {
                let groups: Vec<Value> = value
                    .split(',')
                    .map(|id| serde_json::json!({ "GroupId": id }))
                    .collect();
                m.insert("SecurityGroups".into(), Value::Array(groups));
            }
            At::Region => {}
        }
    }
    let zone = i
        .zone()
        .map_or_else(|| format!("{}a", i.region), str::to_string);
    put_at(m, &["Placement", "AvailabilityZone"], zone.into());
}

/// Writes records back as describe-instances JSON (secrets already redacted in the records),
/// one reservation per instance, sorted by region then id so the file is stable.
pub fn to_describe_instances(instances: &[Instance]) -> Value {
    let mut sorted: Vec<&Instance> = instances.iter().collect();
    sorted.sort_by(|a, b| (&a.scope, &a.region, &a.id).cmp(&(&b.scope, &b.region, &b.id)));
    let reservations: Vec<Value> = sorted
        .into_iter()
        .map(|i| {
            let mut m = Map::new();
            m.insert("InstanceId".into(), i.id.clone().into());
            write_fields(&mut m, i);
            if !i.tags.is_empty() {
                let tags: Vec<Value> = i
                    .tags
                    .iter()
                    .map(|(k, v)| serde_json::json!({ "Key": k, "Value": v }))
                    .collect();
                m.insert("Tags".into(), Value::Array(tags));
            }
            match &i.user_data {
                UserData::NotFetched => {}
                UserData::Absent => {
                    m.insert("UserData".into(), serde_json::json!({}));
                }
                UserData::Json(map) => {
                    let text = Value::Object((**map).clone()).to_string();
                    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
                    m.insert("UserData".into(), serde_json::json!({ "Value": b64 }));
                }
                // The original text is gone (it may have held secrets); keep the fact that it
                // was unreadable so a replay reports the same unknowns.
                UserData::Invalid(_) => {
                    let b64 = base64::engine::general_purpose::STANDARD
                        .encode("<unparseable user-data withheld>");
                    m.insert("UserData".into(), serde_json::json!({ "Value": b64 }));
                }
            }
            match &i.scope {
                Some(a) => serde_json::json!({ "Instances": [Value::Object(m)], "OwnerId": &**a }),
                None => serde_json::json!({ "Instances": [Value::Object(m)] }),
            }
        })
        .collect();
    serde_json::json!({ "Reservations": reservations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Read;
    use crate::output::OutputPath;

    /// What the test puts at a field's path: a number where describe-instances prints one, a
    /// zone where the region is read from, text elsewhere.
    fn json_value(f: Ec2Field) -> Value {
        match f.spec().at {
            At::Number { .. } => Value::from(f as u64),
            _ if f == Ec2Field::AvailabilityZone => "us-east-1a".into(),
            _ => format!("v{}", f as usize).into(),
        }
    }

    /// describe-instances JSON holding a value at every field's path, from the rows alone: a
    /// field added to the rows is tested here without a new line.
    fn every_field_json() -> Value {
        let mut m = Map::new();
        m.insert("InstanceId".into(), "i-every".into());
        for f in Ec2Field::all() {
            match f.spec().at {
                At::Text { json, .. } | At::Number { json, .. } => {
                    put_at(&mut m, json, json_value(f))
                }
                At::GroupIds => {
                    m.insert(
                        "SecurityGroups".into(),
                        serde_json::json!([{ "GroupId": json_value(f) }]),
                    );
                }
                At::Region => {}
            }
        }
        Value::Object(m)
    }

    #[test]
    fn the_recorded_reader_and_the_writer_see_every_field_of_the_rows() {
        let path = Path::new("fleet.json");
        let ptr = "/Reservations/0/Instances/0";
        let secrets = SecretPolicy::default();
        let i = parse_instance(path, ptr, &every_field_json(), &secrets).expect("it reads");
        for f in Ec2Field::all() {
            let want = match f.spec().at {
                At::Region => "us-east-1".to_string(),
                _ => match json_value(f) {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            };
            assert_eq!(
                i.read(&OutputPath::Field(f.into())),
                Read::Value(want.into()),
                "{}",
                f.name()
            );
        }
        let written = to_describe_instances(std::slice::from_ref(&i));
        let again = parse_instance(
            path,
            ptr,
            &written["Reservations"][0]["Instances"][0],
            &secrets,
        )
        .expect("what it writes reads back");
        assert_eq!(again, i, "written and read back, a record is the same");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_located() {
        let mut v = every_field_json();
        v["Placement"]["Tenancy"] = Value::from(1);
        let e = parse_instance(
            Path::new("f.json"),
            "/Reservations/0/Instances/3",
            &v,
            &SecretPolicy::default(),
        )
        .expect_err("a number is not a tenancy");
        let text = format!("{e:?}");
        assert!(
            text.contains("/Reservations/0/Instances/3/Placement/Tenancy"),
            "{text}"
        );
        v["Placement"] = Value::from("us-east-1a");
        let e = parse_instance(Path::new("f.json"), "/R", &v, &SecretPolicy::default())
            .expect_err("Placement is an object");
        assert!(format!("{e:?}").contains("must be an object"), "{e:?}");
    }
}
