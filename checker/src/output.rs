//! Output paths: the names by which contracts refer to what a provisioner puts on an instance.
//!
//! An output is an EC2 field (`KeyName`, `ImageId`, ...), a tag (`tag:Owner`) or a field of the
//! instance's user-data JSON (`userData.workerType`, `userData.data.x`). Paths are parsed once,
//! when contracts load, so evaluation never compares strings to find out what to read.

use std::fmt;

/// The EC2 instance fields contracts may read, with what each one is.
pub const EC2_FIELDS: &[(&str, &str)] = &[
    (
        "KeyName",
        "the EC2 key pair name the instance was launched with",
    ),
    ("ImageId", "the AMI id"),
    ("InstanceType", "the instance type, e.g. c5.4xlarge"),
    (
        "region",
        "the region, derived from Placement.AvailabilityZone",
    ),
    ("Placement.AvailabilityZone", "the availability zone"),
    ("State", "the instance state name (pending, running, ...)"),
    ("LaunchTime", "the launch time, RFC 3339"),
    ("IamInstanceProfile", "the ARN of the IAM instance profile"),
    ("SubnetId", "the subnet id"),
    ("VpcId", "the VPC id"),
    (
        "InstanceLifecycle",
        "`spot` for spot instances, absent for on-demand",
    ),
    (
        "MetadataOptions.HttpTokens",
        "`optional` (IMDSv1 and v2) or `required` (IMDSv2 only: clients without a session token get 401)",
    ),
    (
        "MetadataOptions.HttpEndpoint",
        "`enabled` or `disabled`: whether the instance metadata service answers at all",
    ),
    (
        "MetadataOptions.HttpPutResponseHopLimit",
        "the IMDSv2 token PUT response's hop limit (1 to 64): containers behind a bridge need 2",
    ),
    (
        "PublicIpAddress",
        "the public IPv4 address; absent without one (IMDS `meta-data/public-ipv4` then answers 404)",
    ),
    (
        "SecurityGroups",
        "the security group ids, sorted and comma-separated (`sg-1,sg-2`)",
    ),
];

/// A parsed output path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputPath {
    /// One of [`EC2_FIELDS`], by index.
    Field(Ec2Field),
    /// `tag:NAME`.
    Tag(String),
    /// `userData.a.b`: the JSON path inside the decoded user-data object.
    UserData(Vec<String>),
}

/// The EC2 fields a record carries; see [`EC2_FIELDS`] for their documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs, reason = "each variant is documented in EC2_FIELDS")]
pub enum Ec2Field {
    KeyName,
    ImageId,
    InstanceType,
    Region,
    AvailabilityZone,
    State,
    LaunchTime,
    IamInstanceProfile,
    SubnetId,
    VpcId,
    InstanceLifecycle,
    HttpTokens,
    HttpEndpoint,
    HopLimit,
    PublicIp,
    SecurityGroups,
}

impl Ec2Field {
    const ALL: [Ec2Field; 16] = [
        Ec2Field::KeyName,
        Ec2Field::ImageId,
        Ec2Field::InstanceType,
        Ec2Field::Region,
        Ec2Field::AvailabilityZone,
        Ec2Field::State,
        Ec2Field::LaunchTime,
        Ec2Field::IamInstanceProfile,
        Ec2Field::SubnetId,
        Ec2Field::VpcId,
        Ec2Field::InstanceLifecycle,
        Ec2Field::HttpTokens,
        Ec2Field::HttpEndpoint,
        Ec2Field::HopLimit,
        Ec2Field::PublicIp,
        Ec2Field::SecurityGroups,
    ];

    /// The name contracts use for this field.
    pub fn name(self) -> &'static str {
        EC2_FIELDS[self as usize].0
    }

    /// Whether every instance has its own value: a public IPv4 address is assigned per
    /// instance (and changes on every stop and start), a launch time per launch. Such values
    /// say nothing about the fleet's shape; snapshots record only whether instances carry them.
    pub fn per_instance(self) -> bool {
        matches!(self, Ec2Field::PublicIp | Ec2Field::LaunchTime)
    }
}

/// Why a string is not an output path, with a suggestion when one is close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOutputPath {
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl OutputPath {
    /// Parses `KeyName`, `tag:Owner`, `userData.workerType`, ...
    pub fn parse(s: &str) -> Result<Self, BadOutputPath> {
        if let Some(tag) = s.strip_prefix("tag:") {
            if tag.is_empty() || tag.len() > 128 {
                return Err(BadOutputPath {
                    message: format!("`{s}` has an empty or over-long tag key"),
                    hint: "write tag:KEY with a key of 1 to 128 characters, e.g. tag:Owner".into(),
                });
            }
            return Ok(OutputPath::Tag(tag.to_string()));
        }
        if let Some(rest) = s.strip_prefix("userData.") {
            let parts: Vec<String> = rest.split('.').map(str::to_string).collect();
            if parts.iter().any(String::is_empty) {
                return Err(BadOutputPath {
                    message: format!("`{s}` has an empty user-data field name"),
                    hint: "write userData.FIELD or userData.FIELD.SUBFIELD".into(),
                });
            }
            return Ok(OutputPath::UserData(parts));
        }
        if let Some(field) = Ec2Field::ALL.iter().find(|f| f.name() == s) {
            return Ok(OutputPath::Field(*field));
        }
        let suggestion = closest(s);
        Err(BadOutputPath {
            message: format!("`{s}` is not an output checker knows"),
            hint: match suggestion {
                Some(name) => format!(
                    "did you mean `{name}`? Outputs are EC2 fields ({}), tag:KEY or userData.FIELD",
                    field_list()
                ),
                None => format!(
                    "outputs are EC2 fields ({}), tag:KEY or userData.FIELD",
                    field_list()
                ),
            },
        })
    }

    /// Outputs that may be missing from an instance, so that a consumer reading one that no
    /// provider promises is a real risk (tags, user-data, key pair, instance profile, ...).
    pub fn provider_dependent(&self) -> bool {
        use Ec2Field::*;
        match self {
            OutputPath::Tag(_) | OutputPath::UserData(_) => true,
            OutputPath::Field(f) => matches!(
                f,
                KeyName
                    | IamInstanceProfile
                    | InstanceLifecycle
                    | HttpTokens
                    | HttpEndpoint
                    | HopLimit
                    | PublicIp
            ),
        }
    }

    /// Whether a provider promising `self` promises `other` too: the same path, or a user-data
    /// field inside a promised user-data object (`userData.data` covers `userData.data.x`).
    pub fn covers(&self, other: &OutputPath) -> bool {
        match (self, other) {
            (OutputPath::UserData(a), OutputPath::UserData(b)) => b.starts_with(a),
            _ => self == other,
        }
    }

    /// True for `userData.*` paths: reading them costs a DescribeInstanceAttribute call live.
    pub fn is_user_data(&self) -> bool {
        matches!(self, OutputPath::UserData(_))
    }
}

fn field_list() -> String {
    EC2_FIELDS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known name closest to `s` by edit distance, if it is plausibly a typo of it.
fn closest(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    let mut candidates: Vec<&'static str> = EC2_FIELDS.iter().map(|(n, _)| *n).collect();
    candidates.extend(["tag:Name", "tag:Owner", "userData.workerType"]);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl fmt::Display for OutputPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputPath::Field(field) => f.write_str(field.name()),
            OutputPath::Tag(t) => write!(f, "tag:{t}"),
            OutputPath::UserData(p) => write!(f, "userData.{}", p.join(".")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_prints_it_back() {
        for s in [
            "KeyName",
            "tag:Owner",
            "userData.workerType",
            "userData.data.x",
            "region",
        ] {
            assert_eq!(
                OutputPath::parse(s).map(|p| p.to_string()),
                Ok(s.to_string())
            );
        }
    }

    #[test]
    fn suggests_the_field_a_typo_meant() {
        let err = OutputPath::parse("KeyNmae").unwrap_err();
        assert!(err.hint.contains("did you mean `KeyName`"), "{}", err.hint);
    }

    #[test]
    fn rejects_empty_tag_and_user_data_names() {
        assert!(OutputPath::parse("tag:").is_err());
        assert!(OutputPath::parse("userData.a..b").is_err());
    }
}
