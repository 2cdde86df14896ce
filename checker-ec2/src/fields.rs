//! EC2's instance fields: one row per field, and every reader follows the rows.
//!
//! A field's row ([`Ec2Field::spec`]) says what contracts call it, where DescribeInstances puts
//! it (the path in `aws ec2 describe-instances` JSON and in the query API's XML), the server-side
//! filter that selects on it, where a worker-manager launch configuration sets it, and how
//! checker treats it (per-instance, provider-dependent, kept by snapshots, drafted by `init`).
//! The recorded-JSON reader, the fast XML reader, the fleet writer and the filter builder follow
//! the rows; the one reader that cannot, the conversion from the SDK's typed `Instance`
//! ([`crate::scan`]), is an exhaustive `match`, so the compiler names it when a row is added.
//!
//! Paths are from the EC2 API reference (`Instance`, `Placement`, `InstanceMetadataOptionsResponse`,
//! `IamInstanceProfile`, `GroupIdentifier`) and the DescribeInstances filter list.

/// The EC2 instance fields contracts may read. Their order is the order of [`Values`] and of
/// every listing of fields; it is stable (new fields go at the end).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumCount, strum::EnumIter,
)]
#[allow(
    missing_docs,
    reason = "each variant is documented by its row in Ec2Field::spec"
)]
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
    Tenancy,
}

/// Where DescribeInstances puts a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A string at `json` in the CLI's JSON (a key path inside the instance) and at `xml` in the
    /// query API's XML (element names inside the instance's `<item>`).
    Text {
        /// The key path in describe-instances JSON.
        json: &'static [&'static str],
        /// The element path in the DescribeInstances response.
        xml: &'static [&'static str],
    },
    /// A number in JSON (text in XML), kept as its decimal text.
    Number {
        /// The key path in describe-instances JSON.
        json: &'static [&'static str],
        /// The element path in the DescribeInstances response.
        xml: &'static [&'static str],
    },
    /// The `GroupId`s of `SecurityGroups` (`groupSet/item/groupId`), sorted, de-duplicated and
    /// comma-separated ([`group_list`]).
    GroupIds,
    /// Not in the answer: derived from the availability zone (or the region a scan asked).
    Region,
}

impl At {
    /// The JSON key path, for fields read from one place.
    pub fn json(self) -> Option<&'static [&'static str]> {
        match self {
            At::Text { json, .. } | At::Number { json, .. } => Some(json),
            At::GroupIds | At::Region => None,
        }
    }

    /// The XML element path, for fields read from one place.
    pub fn xml(self) -> Option<&'static [&'static str]> {
        match self {
            At::Text { xml, .. } | At::Number { xml, .. } => Some(xml),
            At::GroupIds | At::Region => None,
        }
    }
}

/// One field's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name contracts use (`KeyName`, `MetadataOptions.HttpTokens`).
    pub name: &'static str,
    /// What it is, for users.
    pub doc: &'static str,
    /// Where DescribeInstances puts it.
    pub at: At,
    /// The DescribeInstances filter that selects on it, when one does exactly.
    pub filter: Option<&'static str>,
    /// Where a launch configuration (RunInstances' parameters, as worker-manager's AWS provider
    /// passes them on) sets it under the same path, when it does.
    pub launch: Option<&'static [&'static str]>,
    /// Every instance has its own value (snapshots record only whether instances carry it).
    pub per_instance: bool,
    /// An instance may lack it depending on what its provisioner does (key pair, profile...),
    /// so a consumer reading one that no provider promises is a risk.
    pub provider_dependent: bool,
    /// Snapshots keep it as a pool property.
    pub snapshot: bool,
    /// `checker init` drafts it as a promise when a pool carries it.
    pub init: bool,
    /// Set by the instance's life (its state, its launch time), not by what launched it: no
    /// provisioner can promise it.
    pub by_life: bool,
}

impl Spec {
    const fn new(name: &'static str, at: At, doc: &'static str) -> Spec {
        Spec {
            name,
            doc,
            at,
            filter: None,
            launch: None,
            per_instance: false,
            provider_dependent: false,
            snapshot: false,
            init: false,
            by_life: false,
        }
    }
    const fn filter(mut self, f: &'static str) -> Spec {
        self.filter = Some(f);
        self
    }
    const fn launch(mut self, path: &'static [&'static str]) -> Spec {
        self.launch = Some(path);
        self
    }
    const fn per_instance(mut self) -> Spec {
        self.per_instance = true;
        self
    }
    const fn dependent(mut self) -> Spec {
        self.provider_dependent = true;
        self
    }
    const fn snapshot(mut self) -> Spec {
        self.snapshot = true;
        self
    }
    const fn init(mut self) -> Spec {
        self.init = true;
        self
    }
    const fn by_life(mut self) -> Spec {
        self.by_life = true;
        self
    }
}

const fn text(json: &'static [&'static str], xml: &'static [&'static str]) -> At {
    At::Text { json, xml }
}

impl Ec2Field {
    /// The field's row.
    pub const fn spec(self) -> Spec {
        use Ec2Field::*;
        match self {
            KeyName => Spec::new(
                "KeyName",
                text(&["KeyName"], &["keyName"]),
                "the EC2 key pair name the instance was launched with",
            )
            .filter("key-name")
            .launch(&["KeyName"])
            .dependent()
            .snapshot()
            .init(),
            ImageId => Spec::new("ImageId", text(&["ImageId"], &["imageId"]), "the AMI id")
                .filter("image-id")
                .launch(&["ImageId"])
                .snapshot(),
            InstanceType => Spec::new(
                "InstanceType",
                text(&["InstanceType"], &["instanceType"]),
                "the instance type, e.g. c5.4xlarge",
            )
            .filter("instance-type")
            .launch(&["InstanceType"])
            .snapshot(),
            Region => Spec::new(
                "region",
                At::Region,
                "the region, derived from Placement.AvailabilityZone",
            ),
            AvailabilityZone => Spec::new(
                "Placement.AvailabilityZone",
                text(
                    &["Placement", "AvailabilityZone"],
                    &["placement", "availabilityZone"],
                ),
                "the availability zone",
            )
            .filter("availability-zone"),
            State => Spec::new(
                "State",
                text(&["State", "Name"], &["instanceState", "name"]),
                "the instance state name (pending, running, ...)",
            )
            .by_life(),
            LaunchTime => Spec::new(
                "LaunchTime",
                text(&["LaunchTime"], &["launchTime"]),
                "the launch time, RFC 3339",
            )
            .per_instance()
            .by_life(),
            IamInstanceProfile => Spec::new(
                "IamInstanceProfile",
                text(&["IamInstanceProfile", "Arn"], &["iamInstanceProfile", "arn"]),
                "the ARN of the IAM instance profile",
            )
            .dependent()
            .snapshot()
            .init(),
            SubnetId => Spec::new("SubnetId", text(&["SubnetId"], &["subnetId"]), "the subnet id")
                .launch(&["SubnetId"])
                .snapshot(),
            VpcId => Spec::new("VpcId", text(&["VpcId"], &["vpcId"]), "the VPC id").snapshot(),
            InstanceLifecycle => Spec::new(
                "InstanceLifecycle",
                text(&["InstanceLifecycle"], &["instanceLifecycle"]),
                "`spot` for spot instances, absent for on-demand",
            )
            .dependent()
            .snapshot()
            .init(),
            HttpTokens => Spec::new(
                "MetadataOptions.HttpTokens",
                text(
                    &["MetadataOptions", "HttpTokens"],
                    &["metadataOptions", "httpTokens"],
                ),
                "`optional` (IMDSv1 and v2) or `required` (IMDSv2 only: clients without a session token get 401)",
            )
            .filter("metadata-options.http-tokens")
            .dependent()
            .snapshot()
            .init(),
            HttpEndpoint => Spec::new(
                "MetadataOptions.HttpEndpoint",
                text(
                    &["MetadataOptions", "HttpEndpoint"],
                    &["metadataOptions", "httpEndpoint"],
                ),
                "`enabled` or `disabled`: whether the instance metadata service answers at all",
            )
            .filter("metadata-options.http-endpoint")
            .dependent()
            .snapshot()
            .init(),
            HopLimit => Spec::new(
                "MetadataOptions.HttpPutResponseHopLimit",
                At::Number {
                    json: &["MetadataOptions", "HttpPutResponseHopLimit"],
                    xml: &["metadataOptions", "httpPutResponseHopLimit"],
                },
                "the IMDSv2 token PUT response's hop limit (1 to 64): containers behind a bridge need 2",
            )
            .dependent()
            .snapshot(),
            PublicIp => Spec::new(
                "PublicIpAddress",
                text(&["PublicIpAddress"], &["ipAddress"]),
                "the public IPv4 address; absent without one (IMDS `meta-data/public-ipv4` then answers 404)",
            )
            .per_instance()
            .dependent()
            .snapshot(),
            SecurityGroups => Spec::new(
                "SecurityGroups",
                At::GroupIds,
                "the security group ids, sorted and comma-separated (`sg-1,sg-2`)",
            )
            .snapshot(),
            Tenancy => Spec::new(
                "Placement.Tenancy",
                text(&["Placement", "Tenancy"], &["placement", "tenancy"]),
                "`default` (shared hardware), `dedicated` or `host`",
            )
            .filter("tenancy")
            .launch(&["Placement", "Tenancy"]),
        }
    }

    /// The name contracts use for this field.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Every field, in declaration order.
    pub fn all() -> impl Iterator<Item = Ec2Field> {
        <Ec2Field as strum::IntoEnumIterator>::iter()
    }

    /// The field contracts call `name`.
    pub fn by_name(name: &str) -> Option<Ec2Field> {
        Ec2Field::all().find(|f| f.name() == name)
    }
}

/// An instance's field values, one slot per [`Ec2Field`] (the region's slot stays empty: the
/// region is the record's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values([Option<String>; <Ec2Field as strum::EnumCount>::COUNT]);

impl Values {
    /// The value of `f`, if the instance has it.
    pub fn get(&self, f: Ec2Field) -> Option<&str> {
        self.0[f as usize].as_deref()
    }

    /// Sets `f`.
    pub fn set(&mut self, f: Ec2Field, v: String) {
        self.0[f as usize] = Some(v);
    }

    /// Sets or clears `f`.
    pub fn put(&mut self, f: Ec2Field, v: Option<String>) {
        self.0[f as usize] = v;
    }

    /// The fields that have a value, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (Ec2Field, &str)> {
        Ec2Field::all().filter_map(|f| self.get(f).map(|v| (f, v)))
    }
}

/// Security group ids as the `SecurityGroups` output shows them: sorted, de-duplicated,
/// comma-separated; `None` for none.
pub fn group_list<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<String> {
    // An instance has a few groups: a sorted vector, not a tree (the tree was 1.5% of a scan).
    let mut v: Vec<&str> = ids.into_iter().filter(|s| !s.is_empty()).collect();
    v.sort_unstable();
    v.dedup();
    (!v.is_empty()).then(|| v.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_filters_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        let mut xml = std::collections::BTreeSet::new();
        let mut filters = std::collections::BTreeSet::new();
        for f in Ec2Field::all() {
            let s = f.spec();
            assert!(names.insert(s.name), "{} twice", s.name);
            if let Some(p) = s.at.xml() {
                assert!(xml.insert(p), "{p:?} twice");
            }
            if let Some(fl) = s.filter {
                assert!(filters.insert(fl), "{fl} twice");
            }
            assert_eq!(Ec2Field::by_name(s.name), Some(f));
        }
    }

    #[test]
    fn values_keep_each_field_in_its_own_slot() {
        let mut v = Values::default();
        for (k, f) in Ec2Field::all().enumerate() {
            v.set(f, format!("v{k}"));
        }
        for (k, f) in Ec2Field::all().enumerate() {
            assert_eq!(v.get(f), Some(format!("v{k}").as_str()));
        }
    }
}
