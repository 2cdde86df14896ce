//! Fleet records: one small, normalized struct per instance, whatever the source.
//!
//! Rules read [`Instance`] only, never SDK types or raw JSON. User-data is decoded once, parsed
//! as JSON when it is JSON, and secret fields are replaced by a marker and a short hash before
//! the record exists: nothing downstream can leak what it never held.

use crate::output::{AzureValues, Cloud, Ec2Field, Field, GceValues, OutputPath};
use base64::Engine;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

mod azure;
mod ec2;
mod gce;
pub(crate) mod prune;
mod shape;
pub use azure::parse_vm as parse_azure_vm;
pub use checker_ec2::group_list as security_group_list;
pub use ec2::{parse_instance, region_from_az, to_describe_instances};
pub use gce::parse_instance as parse_gce_instance;
pub use gce::region_from_zone as region_from_gce_zone;
pub use gce::to_gcloud;
pub use shape::{SHAPES_READ, parse_any, to_recorded};
pub use stream::read_page as read_gce_page;

/// One instance, as the rules see it, whatever its cloud: who owns it and where it is (the
/// neutral header), its cloud's own fields, tags and user-data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    /// The cloud's instance id (`i-...` on EC2).
    pub id: String,
    /// The scope that owns it (an AWS account's 12 digits: the reservation's `OwnerId`, or the
    /// account a live scan reached), shared by every record of the scope; its kind is the
    /// cloud's ([`Cloud::scope_kind`]).
    pub scope: Option<std::sync::Arc<str>>,
    /// The region (on EC2 derived from the availability zone, or the API region, live).
    pub region: String,
    /// The cloud's own fields.
    pub fields: CloudFields,
    /// Tags (labels) by key.
    pub tags: BTreeMap<String, String>,
    /// Decoded, secret-free user-data.
    pub user_data: UserData,
    /// Outputs that cannot be known, with why (a proposal's public IPv4 when its subnet's
    /// mapping is not declared; the tags of a VM an undescribed ARM template deploys).
    /// Recorded and live instances have none.
    pub unknown: Option<Box<BTreeMap<Unknowable, String>>>,
}

/// What of a record can be unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unknowable {
    /// One of the cloud's fields.
    Field(Field),
    /// Every tag (label).
    Tags,
    /// The user-data (GCE's `taskcluster` metadata, Azure's customData).
    UserData,
}

impl From<Field> for Unknowable {
    fn from(f: Field) -> Self {
        Unknowable::Field(f)
    }
}

/// A record's cloud-specific fields: one variant per cloud, each the cloud's table of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudFields {
    /// EC2's fields ([`checker_ec2::Ec2Field`]).
    Ec2(checker_ec2::Values),
    /// GCE's fields ([`crate::output::GceField`]).
    Gce(GceValues),
    /// Azure's fields ([`crate::output::AzureField`]).
    Azure(AzureValues),
}

impl Default for CloudFields {
    fn default() -> Self {
        CloudFields::Ec2(checker_ec2::Values::default())
    }
}

impl CloudFields {
    /// The cloud the fields are of.
    pub fn cloud(&self) -> Cloud {
        match self {
            CloudFields::Ec2(_) => Cloud::Ec2,
            CloudFields::Gce(_) => Cloud::Gce,
            CloudFields::Azure(_) => Cloud::Azure,
        }
    }

    /// The value of `f`; `None` when the instance lacks it (or `f` is another cloud's). An EC2
    /// record that does not say its state is `running` (the one place that default lives).
    pub fn get(&self, f: Field) -> Option<&str> {
        match (self, f) {
            (CloudFields::Ec2(v), Field::Ec2(Ec2Field::State)) => {
                Some(v.get(Ec2Field::State).unwrap_or("running"))
            }
            (CloudFields::Ec2(v), Field::Ec2(f)) => v.get(f),
            (CloudFields::Gce(v), Field::Gce(f)) => v.get(f as usize),
            (CloudFields::Azure(v), Field::Azure(f)) => v.get(f as usize),
            _ => None,
        }
    }

    /// Sets `f`; a field of another cloud is ignored.
    pub fn set(&mut self, f: Field, value: String) {
        match (self, f) {
            (CloudFields::Ec2(v), Field::Ec2(f)) => v.set(f, value),
            (CloudFields::Gce(v), Field::Gce(f)) => v.set(f as usize, value),
            (CloudFields::Azure(v), Field::Azure(f)) => v.set(f as usize, value),
            _ => {}
        }
    }
}

/// An instance's metadata service settings, as DescribeInstances reports them (a manifest's
/// launch defaults, and what a proposal renders from them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataOptions {
    /// `optional` or `required`.
    pub http_tokens: Option<String>,
    /// `enabled` or `disabled`.
    pub http_endpoint: Option<String>,
    /// 1 to 64, as text.
    pub hop_limit: Option<String>,
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

/// What we know of an instance's user-data.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum UserData {
    /// Not fetched (live scans fetch user-data only for a sample).
    #[default]
    NotFetched,
    /// The instance has no user-data.
    Absent,
    /// A JSON object, secrets redacted; shared by the records whose user-data is the same
    /// text ([`ReadCache`]).
    Json(std::sync::Arc<Map<String, Value>>),
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
                UserData::Json(std::sync::Arc::new(map))
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

/// What a reader reads once per distinct text: the records of one pool (and zone) carry the
/// same user-data (GCE's `taskcluster` metadata item), so it is parsed and redacted once and the
/// records share the result ([`UserData::Json`] is an `Arc`). At most [`ReadCache::MAX`] are
/// kept; a reader keeps one cache per page (live) or per file (recorded). Tags need no cache
/// here: [`crate::redact::redact_tags`] remembers the pairs it found clean, for every cloud.
#[derive(Debug, Default)]
pub struct ReadCache {
    user_data: std::collections::HashMap<Box<[u8]>, UserData>,
}

impl ReadCache {
    /// The most texts kept; the rest are read each time.
    pub const MAX: usize = 256;

    /// [`UserData::from_bytes`], once per distinct `bytes` (`secrets` is the reader's, the same
    /// for every call on one cache).
    pub fn from_bytes(&mut self, bytes: &[u8], secrets: &SecretPolicy) -> UserData {
        if let Some(u) = self.user_data.get(bytes) {
            return u.clone();
        }
        let u = UserData::from_bytes(bytes, secrets);
        if self.user_data.len() < Self::MAX {
            self.user_data.insert(bytes.into(), u.clone());
        }
        u
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
    /// An empty record of `cloud`.
    pub fn of_cloud(cloud: Cloud) -> Instance {
        Instance {
            fields: match cloud {
                Cloud::Ec2 => CloudFields::Ec2(checker_ec2::Values::default()),
                Cloud::Gce => CloudFields::Gce(GceValues::default()),
                Cloud::Azure => CloudFields::Azure(AzureValues::default()),
            },
            ..Default::default()
        }
    }

    /// Marks a field as not knowable, with why.
    pub fn set_unknown(&mut self, field: impl Into<Field>, why: String) {
        self.set_unknowable(Unknowable::Field(field.into()), why);
    }

    /// Marks a field, the tags or the user-data as not knowable, with why.
    pub fn set_unknowable(&mut self, what: Unknowable, why: String) {
        self.unknown.get_or_insert_default().insert(what, why);
    }

    /// The cloud the record is of.
    pub fn cloud(&self) -> Cloud {
        self.fields.cloud()
    }

    /// One of the cloud's fields.
    pub fn field(&self, f: impl Into<Field>) -> Option<&str> {
        self.fields.get(f.into())
    }

    /// Sets one of the cloud's fields.
    pub fn set_field(&mut self, f: impl Into<Field>, value: String) {
        self.fields.set(f.into(), value);
    }

    /// The zone within the region, when the cloud places instances in one.
    pub fn zone(&self) -> Option<&str> {
        match &self.fields {
            CloudFields::Ec2(v) => v.get(Ec2Field::AvailabilityZone),
            CloudFields::Gce(v) => v.get(crate::output::GceField::Zone as usize),
            CloudFields::Azure(_) => None,
        }
    }

    /// The lifecycle state, in the cloud's words ([`CloudFields::get`] gives the cloud's default
    /// when a record does not say).
    pub fn state(&self) -> &str {
        self.fields
            .get(self.cloud().state_field())
            .unwrap_or_default()
    }

    /// On Azure, the tag whose name matches `t` in any case: "A tag name ... is
    /// case-insensitive" (ARM Tags API, <https://learn.microsoft.com/en-us/javascript/api/@azure/arm-resources/tagsoperations>;
    /// <https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/tag-resources#limitations>),
    /// so `tag:worker-pool-id` reads a VM tagged `Worker-Pool-Id`. Other clouds' keys are
    /// exact (EC2 tag keys are case-sensitive).
    fn tag_any_case(&self, t: &str) -> Option<&String> {
        (self.cloud() == Cloud::Azure)
            .then(|| {
                self.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(t))
                    .map(|(_, v)| v)
            })
            .flatten()
    }

    /// Reads one output.
    pub fn read(&self, path: &OutputPath) -> Read<'_> {
        if let Some(u) = &self.unknown {
            let what = match path {
                OutputPath::Field(f) => Unknowable::Field(*f),
                OutputPath::Tag(_) => Unknowable::Tags,
                OutputPath::UserData(_) => Unknowable::UserData,
            };
            if let Some(why) = u.get(&what) {
                return Read::Unknown(Cow::Borrowed(why));
            }
        }
        match path {
            OutputPath::Field(f) => match self.fields.get(*f) {
                Some(v) => Read::Value(Cow::Borrowed(v)),
                // The region's slot is always empty: the region is the record's. Asked only
                // here, so reading a present field costs no row lookup.
                None if f.is_region() => Read::Value(Cow::Borrowed(&self.region)),
                None => Read::Missing,
            },
            OutputPath::Tag(t) => match self.tags.get(t).or_else(|| self.tag_any_case(t)) {
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

/// Reads a recorded fleet file, its shape told by its content: `aws ec2 describe-instances`
/// output (our extension: an optional `UserData: {"Value": base64}` per instance, the shape
/// DescribeInstanceAttribute returns), `gcloud compute instances list --format=json` (or a
/// Compute REST list), `az vm list -d -o json` or a Resource Graph result ([`SHAPES_READ`]).
pub fn read_recorded(
    path: &Path,
    secrets: &SecretPolicy,
) -> Result<Vec<Instance>, crate::diag::Diagnostics> {
    stream::read(path, secrets)
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
        let text = Value::Object((*map).clone()).to_string();
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
