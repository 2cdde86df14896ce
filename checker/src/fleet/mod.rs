//! Fleet records: one small, normalized struct per instance, whatever the source.
//!
//! Rules read [`Instance`] only, never SDK types or raw JSON. User-data is decoded once, parsed
//! as JSON when it is JSON, and secret fields are replaced by a marker and a short hash before
//! the record exists: nothing downstream can leak what it never held.

use crate::diag::{Diagnostic, Diagnostics, pointer_push};
use crate::output::{Ec2Field, OutputPath};
use base64::Engine;
use regex::Regex;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

/// One EC2 instance, as the rules see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    /// `i-...`.
    pub id: String,
    /// The AWS account (12 digits) that owns it: the reservation's `OwnerId`, or the account a
    /// live scan reached. Shared by every record of the account.
    pub account: Option<std::sync::Arc<str>>,
    /// Derived from the availability zone (or the API region, live).
    pub region: String,
    /// `Placement.AvailabilityZone`.
    pub availability_zone: Option<String>,
    /// `State.Name`.
    pub state: String,
    /// RFC 3339.
    pub launch_time: Option<String>,
    /// `KeyName`; absent when launched without a key pair.
    pub key_name: Option<String>,
    /// `ImageId`.
    pub image_id: Option<String>,
    /// `InstanceType`.
    pub instance_type: Option<String>,
    /// `IamInstanceProfile.Arn`.
    pub iam_instance_profile: Option<String>,
    /// `SubnetId`.
    pub subnet_id: Option<String>,
    /// `VpcId`.
    pub vpc_id: Option<String>,
    /// `InstanceLifecycle` (`spot`, or absent for on-demand).
    pub instance_lifecycle: Option<String>,
    /// `MetadataOptions`: `HttpTokens`, `HttpEndpoint`, `HttpPutResponseHopLimit`.
    pub metadata: MetadataOptions,
    /// `PublicIpAddress`.
    pub public_ip: Option<String>,
    /// The security group ids, sorted, comma-separated.
    pub security_groups: Option<String>,
    /// Tags by key.
    pub tags: BTreeMap<String, String>,
    /// Decoded, secret-free user-data.
    pub user_data: UserData,
    /// EC2 fields that cannot be known, with why (a proposal's public IPv4 when its subnet's
    /// mapping is not declared). Recorded and live instances have none.
    pub unknown: Option<Box<BTreeMap<Ec2Field, String>>>,
}

/// One shared copy of each distinct string (account ids: every record of an account points at
/// the same one).
#[derive(Debug, Default)]
pub struct Interner(std::collections::HashSet<std::sync::Arc<str>>);

impl Interner {
    /// The shared copy of `s`.
    pub fn intern(&mut self, s: &str) -> std::sync::Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: std::sync::Arc<str> = s.into();
        self.0.insert(a.clone());
        a
    }
}

/// An instance's metadata service settings, as DescribeInstances reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataOptions {
    /// `optional` or `required`.
    pub http_tokens: Option<String>,
    /// `enabled` or `disabled`.
    pub http_endpoint: Option<String>,
    /// 1 to 64, as text.
    pub hop_limit: Option<String>,
}

/// Security group ids as the `SecurityGroups` output shows them: sorted, de-duplicated,
/// comma-separated; `None` for none.
pub fn security_group_list<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let set: std::collections::BTreeSet<&str> = ids.into_iter().filter(|s| !s.is_empty()).collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(","))
}

/// What we know of an instance's user-data.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum UserData {
    /// Not fetched (live scans fetch user-data only for a sample).
    #[default]
    NotFetched,
    /// The instance has no user-data.
    Absent,
    /// A JSON object, secrets redacted.
    Json(Map<String, Value>),
    /// Present but not a JSON object; only the reason is kept (the text may hold secrets).
    Invalid(String),
}

/// The result of reading one output of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<'a> {
    /// The output's value (non-string user-data values in compact JSON).
    Value(Cow<'a, str>),
    /// The instance does not have this output.
    Missing,
    /// It cannot be known (user-data that is not JSON, ...): why.
    Unknown(Cow<'a, str>),
    /// User-data was not fetched for this instance (outside the sample).
    NotSampled,
}

pub use crate::redact::{REDACTED_PREFIX, SecretPolicy};

mod stream;

impl UserData {
    /// Decodes base64 user-data as EC2 returns it, parses JSON, and redacts secrets.
    pub fn from_base64(b64: &str, secrets: &SecretPolicy) -> UserData {
        let trimmed = b64.trim();
        if trimmed.is_empty() {
            return UserData::Absent;
        }
        let bytes = match base64::engine::general_purpose::STANDARD.decode(trimmed) {
            Ok(b) => b,
            Err(e) => return UserData::Invalid(format!("user-data is not valid base64 ({e})")),
        };
        Self::from_bytes(&bytes, secrets)
    }

    /// Parses decoded user-data bytes (gzip is inflated first, as cloud-init does).
    pub fn from_bytes(bytes: &[u8], secrets: &SecretPolicy) -> UserData {
        let text = match crate::redact::decode(bytes) {
            crate::redact::Decoded::Text(text) => text,
            crate::redact::Decoded::Opaque(why) => {
                return UserData::Invalid(format!("user-data ({} bytes) is {why}", bytes.len()));
            }
            crate::redact::Decoded::Binary => {
                return UserData::Invalid(format!(
                    "user-data ({} bytes) is neither UTF-8 text nor gzip",
                    bytes.len()
                ));
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(mut map)) => {
                secrets.redact_object(&mut map);
                UserData::Json(map)
            }
            Ok(other) => UserData::Invalid(format!(
                "user-data is JSON but not an object (a {})",
                json_type(&other)
            )),
            Err(e) => UserData::Invalid(format!(
                "user-data ({} bytes) is not JSON: {} at line {} column {}",
                text.len(),
                match e.classify() {
                    serde_json::error::Category::Eof => "it ends early",
                    _ => "syntax error",
                },
                e.line(),
                e.column()
            )),
        }
    }
}

/// The JSON type of a value, as JSON Schema names it (`string`, `number`, ...).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Instance {
    /// Marks an EC2 field as not knowable, with why.
    pub fn set_unknown(&mut self, field: Ec2Field, why: String) {
        self.unknown.get_or_insert_default().insert(field, why);
    }

    /// Reads one output.
    pub fn read(&self, path: &OutputPath) -> Read<'_> {
        if let (OutputPath::Field(f), Some(u)) = (path, &self.unknown)
            && let Some(why) = u.get(f)
        {
            return Read::Unknown(Cow::Borrowed(why));
        }
        fn opt(v: &Option<String>) -> Read<'_> {
            match v {
                Some(s) => Read::Value(Cow::Borrowed(s.as_str())),
                None => Read::Missing,
            }
        }
        match path {
            OutputPath::Field(f) => match f {
                Ec2Field::KeyName => opt(&self.key_name),
                Ec2Field::ImageId => opt(&self.image_id),
                Ec2Field::InstanceType => opt(&self.instance_type),
                Ec2Field::Region => Read::Value(Cow::Borrowed(&self.region)),
                Ec2Field::AvailabilityZone => opt(&self.availability_zone),
                Ec2Field::State => Read::Value(Cow::Borrowed(&self.state)),
                Ec2Field::LaunchTime => opt(&self.launch_time),
                Ec2Field::IamInstanceProfile => opt(&self.iam_instance_profile),
                Ec2Field::SubnetId => opt(&self.subnet_id),
                Ec2Field::VpcId => opt(&self.vpc_id),
                Ec2Field::InstanceLifecycle => opt(&self.instance_lifecycle),
                Ec2Field::HttpTokens => opt(&self.metadata.http_tokens),
                Ec2Field::HttpEndpoint => opt(&self.metadata.http_endpoint),
                Ec2Field::HopLimit => opt(&self.metadata.hop_limit),
                Ec2Field::PublicIp => opt(&self.public_ip),
                Ec2Field::SecurityGroups => opt(&self.security_groups),
            },
            OutputPath::Tag(t) => match self.tags.get(t) {
                Some(v) => Read::Value(Cow::Borrowed(v)),
                None => Read::Missing,
            },
            OutputPath::UserData(p) => match &self.user_data {
                UserData::NotFetched => Read::NotSampled,
                UserData::Absent => Read::Missing,
                UserData::Invalid(why) => Read::Unknown(Cow::Borrowed(why)),
                UserData::Json(map) => {
                    let mut cur: Option<&Value> = None;
                    for (i, key) in p.iter().enumerate() {
                        cur = if i == 0 {
                            map.get(key)
                        } else {
                            cur.and_then(|v| v.get(key))
                        };
                        if cur.is_none() {
                            return Read::Missing;
                        }
                    }
                    match cur {
                        Some(Value::String(s)) => Read::Value(Cow::Borrowed(s)),
                        Some(Value::Null) | None => Read::Missing,
                        Some(other) => Read::Value(Cow::Owned(other.to_string())),
                    }
                }
            },
        }
    }
}

/// `us-east-1a` → `us-east-1`; also local and wavelength zones (`us-west-2-lax-1a`).
pub fn region_from_az(az: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)(?:[a-z]|-.+)$")
            .expect("static regex")
    });
    RE.captures(az).map(|c| c[1].to_string())
}

/// Reads a file of `aws ec2 describe-instances` output (our extension: an optional
/// `UserData: {"Value": base64}` per instance, the shape DescribeInstanceAttribute returns).
pub fn read_recorded(path: &Path, secrets: &SecretPolicy) -> Result<Vec<Instance>, Diagnostics> {
    stream::read(path, secrets)
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
    let s = |key: &str| -> Result<Option<String>, Diagnostic> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Diagnostic::at(
                path,
                pointer_push(ptr, key),
                format!("\"{key}\" must be a string"),
            )),
        }
    };
    let id = s("InstanceId")?.ok_or_else(|| {
        Diagnostic::at(path, ptr, "the instance has no \"InstanceId\"")
            .hint("every instance in describe-instances output has an InstanceId")
    })?;
    let az = v
        .get("Placement")
        .and_then(|p| p.get("AvailabilityZone"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let region = match &az {
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
    let state = v
        .get("State")
        .and_then(|s| s.get("Name"))
        .and_then(Value::as_str)
        .unwrap_or("running")
        .to_string();
    let mut tags = parse_tags(path, ptr, v)?;
    crate::redact::redact_tags(&mut tags);
    let user_data = parse_user_data(path, ptr, v, secrets)?;
    let metadata = parse_metadata_options(path, ptr, v)?;
    let security_groups = parse_security_groups(path, ptr, v)?;
    Ok(Instance {
        account: None,
        id,
        region,
        availability_zone: az,
        state,
        launch_time: s("LaunchTime")?,
        key_name: s("KeyName")?,
        image_id: s("ImageId")?,
        instance_type: s("InstanceType")?,
        iam_instance_profile: v
            .get("IamInstanceProfile")
            .and_then(|p| p.get("Arn"))
            .and_then(Value::as_str)
            .map(str::to_string),
        subnet_id: s("SubnetId")?,
        vpc_id: s("VpcId")?,
        instance_lifecycle: s("InstanceLifecycle")?,
        metadata,
        public_ip: s("PublicIpAddress")?,
        security_groups,
        tags,
        user_data,
        unknown: None,
    })
}

/// `MetadataOptions` as describe-instances prints it (`HttpPutResponseHopLimit` is a number).
fn parse_metadata_options(
    path: &Path,
    ptr: &str,
    v: &Value,
) -> Result<MetadataOptions, Diagnostic> {
    let Some(m) = v.get("MetadataOptions").filter(|m| !m.is_null()) else {
        return Ok(MetadataOptions::default());
    };
    let at = |k: &str| format!("{ptr}/MetadataOptions/{k}");
    if !m.is_object() {
        return Err(Diagnostic::at(
            path,
            format!("{ptr}/MetadataOptions"),
            "\"MetadataOptions\" must be an object, as describe-instances prints it",
        ));
    }
    let text = |k: &str| -> Result<Option<String>, Diagnostic> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if k == "HttpPutResponseHopLimit" => Ok(Some(n.to_string())),
            Some(_) => Err(Diagnostic::at(
                path,
                at(k),
                format!(
                    "\"{k}\" must be a {}",
                    if k == "HttpPutResponseHopLimit" {
                        "number"
                    } else {
                        "string"
                    }
                ),
            )),
        }
    };
    Ok(MetadataOptions {
        http_tokens: text("HttpTokens")?,
        http_endpoint: text("HttpEndpoint")?,
        hop_limit: text("HttpPutResponseHopLimit")?,
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
    Ok(security_group_list(ids))
}

/// Writes records back as describe-instances JSON (secrets already redacted in the records),
/// one reservation per instance, sorted by region then id so the file is stable.
pub fn to_describe_instances(instances: &[Instance]) -> Value {
    let mut sorted: Vec<&Instance> = instances.iter().collect();
    sorted.sort_by(|a, b| (&a.account, &a.region, &a.id).cmp(&(&b.account, &b.region, &b.id)));
    let reservations: Vec<Value> = sorted
        .into_iter()
        .map(|i| {
            let mut m = Map::new();
            m.insert("InstanceId".into(), i.id.clone().into());
            let mut put = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    m.insert(k.into(), v.clone().into());
                }
            };
            put("ImageId", &i.image_id);
            put("InstanceType", &i.instance_type);
            put("KeyName", &i.key_name);
            put("LaunchTime", &i.launch_time);
            put("SubnetId", &i.subnet_id);
            put("VpcId", &i.vpc_id);
            put("InstanceLifecycle", &i.instance_lifecycle);
            put("PublicIpAddress", &i.public_ip);
            if i.metadata != MetadataOptions::default() {
                let mut mo = Map::new();
                if let Some(t) = &i.metadata.http_tokens {
                    mo.insert("HttpTokens".into(), t.clone().into());
                }
                if let Some(e) = &i.metadata.http_endpoint {
                    mo.insert("HttpEndpoint".into(), e.clone().into());
                }
                if let Some(h) = &i.metadata.hop_limit {
                    let n = h.parse::<u64>().map(Value::from).unwrap_or_else(|_| h.clone().into());
                    mo.insert("HttpPutResponseHopLimit".into(), n);
                }
                m.insert("MetadataOptions".into(), Value::Object(mo));
            }
            if let Some(g) = &i.security_groups {
                let groups: Vec<Value> = g.split(',').map(|id| serde_json::json!({ "GroupId": id })).collect();
                m.insert("SecurityGroups".into(), Value::Array(groups));
            }
            m.insert(
                "Placement".into(),
                serde_json::json!({ "AvailabilityZone": i.availability_zone.clone().unwrap_or_else(|| format!("{}a", i.region)) }),
            );
            m.insert("State".into(), serde_json::json!({ "Name": i.state }));
            if let Some(arn) = &i.iam_instance_profile {
                m.insert("IamInstanceProfile".into(), serde_json::json!({ "Arn": arn }));
            }
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
                    let text = Value::Object(map.clone()).to_string();
                    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
                    m.insert("UserData".into(), serde_json::json!({ "Value": b64 }));
                }
                // The original text is gone (it may have held secrets); keep the fact that it
                // was unreadable so a replay reports the same unknowns.
                UserData::Invalid(_) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode("<unparseable user-data withheld>");
                    m.insert("UserData".into(), serde_json::json!({ "Value": b64 }));
                }
            }
            match &i.account {
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

    #[test]
    fn regions_come_from_zones_including_local_zones() {
        assert_eq!(region_from_az("us-east-1a").as_deref(), Some("us-east-1"));
        assert_eq!(
            region_from_az("eu-central-1b").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            region_from_az("us-west-2-lax-1a").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_from_az("us-gov-west-1a").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(region_from_az("nowhere"), None);
    }

    #[test]
    fn secrets_are_redacted_at_any_depth_and_by_manifest_path() {
        let policy = SecretPolicy::new(vec![vec!["data".into(), "x".into()]]);
        let ud = UserData::from_bytes(
            br#"{"securityToken":"s3cr3t","workerType":"w","data":{"x":"hidden","accessToken":"t0k"}}"#,
            &policy,
        );
        let UserData::Json(map) = ud else {
            panic!("json expected")
        };
        let text = Value::Object(map).to_string();
        for secret in ["s3cr3t", "hidden", "t0k"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("\"workerType\":\"w\""));
    }

    #[test]
    fn reads_nested_and_non_string_user_data_values() {
        let ud = UserData::from_bytes(
            br#"{"capacity":1,"data":{"a":{"b":"c"}},"n":null}"#,
            &SecretPolicy::default(),
        );
        let i = Instance {
            user_data: ud,
            ..Instance::default()
        };
        let p = |s| OutputPath::parse(s).unwrap();
        assert_eq!(i.read(&p("userData.capacity")), Read::Value("1".into()));
        assert_eq!(i.read(&p("userData.data.a.b")), Read::Value("c".into()));
        assert_eq!(i.read(&p("userData.n")), Read::Missing);
        assert_eq!(i.read(&p("userData.zzz")), Read::Missing);
    }

    #[test]
    fn non_json_user_data_reads_as_unknown_without_keeping_the_text() {
        let ud = UserData::from_bytes(b"<powershell>secret</powershell>", &SecretPolicy::default());
        let UserData::Invalid(why) = &ud else {
            panic!()
        };
        assert!(!why.contains("secret"));
        let i = Instance {
            user_data: ud,
            ..Instance::default()
        };
        assert!(matches!(
            i.read(&OutputPath::parse("userData.a").unwrap()),
            Read::Unknown(_)
        ));
    }
}
