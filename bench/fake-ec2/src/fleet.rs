//! The generated fleet: instance k of region r is a pure function of (r, k), its XML, the filters
//! and the walk over instance indexes a page makes. [`reference_page`] writes every page with
//! `write!`, as the fake did before templates (the specification [`crate::template`] is tested
//! against, and `--reference-pages`).

use std::collections::BTreeMap;
use std::io::Write as _;

pub const WORKER_TYPES: [&str; 7] = [
    "gecko-t-win10-64",
    "gecko-t-win10-64-gpu",
    "gecko-t-win7-32",
    "gecko-t-win7-32-gpu",
    "gecko-1-b-win2012",
    "gecko-2-b-win2012",
    "gecko-3-b-win2012",
];
pub const NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
pub const KEY: &str = "aws-provisioner-v1-managed:ffe27db";
pub const OWNER: &str = "ec2-manager-production";

/// FNV-1a over `bytes`, continuing from `x`.
pub fn fnv(mut x: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        x ^= u64::from(*b);
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    x
}

/// FNV-1a over `parts`, each followed by `/`: the seed of [`h`].
pub fn seed(parts: &[&str]) -> u64 {
    parts.iter().fold(0xcbf2_9ce4_8422_2325, |x, p| {
        fnv(fnv(x, p.as_bytes()), b"/")
    })
}

/// `n` hex characters from `x` (splitmix64, 16 characters a step, lower case), appended to `out`.
pub fn hex(mut x: u64, n: usize, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut left = n;
    while left > 0 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        for i in 0..left.min(16) {
            out.push(DIGITS[((z >> (60 - 4 * i)) & 0xf) as usize]);
        }
        left = left.saturating_sub(16);
    }
}

/// A deterministic hex string of `n` characters for `parts` (FNV-1a, then splitmix64): ids that
/// look random, cost nothing, and are the same on every run. The endpoint shares the machine's
/// cores with the program under test, so it must be cheap.
pub fn h(parts: &[&str], n: usize) -> String {
    let mut out = Vec::with_capacity(n);
    hex(seed(parts), n, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The fields filters look at; the XML is written only for instances that pass.
pub struct Inst {
    pub id: String,
    pub zone: String,
    pub wt: &'static str,
    pub key: String,
    pub owner: &'static str,
    pub impaired: bool,
}

/// Instance k's zone letter, worker type and impairment: all the filters look at but its id.
pub fn zone_index(zones: usize, k: usize) -> usize {
    k % zones
}

pub fn worker_type_index(zones: usize, k: usize) -> usize {
    (k / zones) % WORKER_TYPES.len()
}

pub fn impaired(impaired_every: usize, k: usize) -> bool {
    impaired_every > 0 && k % impaired_every == impaired_every - 1
}

pub fn zone_name(region: &str, z: usize) -> String {
    format!("{region}{}", (b'a' + z as u8) as char)
}

pub fn inst(region: &str, zones: usize, impaired_every: usize, k: usize) -> Inst {
    let ks = k.to_string();
    Inst {
        id: format!("i-0{}", h(&[region, &ks], 16)),
        zone: zone_name(region, zone_index(zones, k)),
        wt: WORKER_TYPES[worker_type_index(zones, k)],
        key: KEY.into(),
        owner: OWNER,
        impaired: impaired(impaired_every, k),
    }
}

/// Every value a reservation's XML holds. [`reference_page`] fills it with one instance's values;
/// a template fills the per-instance ones with placeholders.
pub struct Fields<'a> {
    pub region: &'a str,
    pub res: &'a str,
    pub id: &'a str,
    pub ami: &'a str,
    pub dash: &'a str,
    pub key: &'a str,
    pub hour: &'a str,
    pub zone: &'a str,
    pub sub: &'a str,
    pub vpc: &'a str,
    pub sg: &'a str,
    pub sg2: &'a str,
    pub ip: &'a str,
    pub vol: &'a str,
    pub sir: &'a str,
    pub ct: &'a str,
    pub wt: &'a str,
    pub owner: &'a str,
    pub eni: &'a str,
    /// The MAC address after `0e:`: five pairs of `eni`'s first ten characters.
    pub mac: &'a str,
}

/// One reservation of one instance.
pub fn reservation_xml(out: &mut Vec<u8>, f: &Fields) {
    let _ = write!(
        out,
        "<item><reservationId>r-0{res}</reservationId><ownerId>692406183521</ownerId><groupSet/><instancesSet>\
<item><instanceId>{id}</instanceId><imageId>ami-0{ami}</imageId><instanceState><code>16</code><name>running</name></instanceState>\
<privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><dnsName></dnsName><reason></reason><keyName>{key}</keyName><amiLaunchIndex>0</amiLaunchIndex><productCodes/>\
<instanceType>c5.2xlarge</instanceType><launchTime>2018-02-14T0{hour}:12:33.000Z</launchTime><placement><availabilityZone>{zone}</availabilityZone><groupName></groupName><tenancy>default</tenancy></placement>\
<platform>windows</platform><monitoring><state>disabled</state></monitoring><subnetId>subnet-0{sub}</subnetId><vpcId>vpc-0{vpc}</vpcId><privateIpAddress>{ip}</privateIpAddress>\
<sourceDestCheck>true</sourceDestCheck><groupSet><item><groupId>sg-0{sg}</groupId><groupName>livelog-direct</groupName></item><item><groupId>sg-0{sg2}</groupId><groupName>rdp-only</groupName></item></groupSet>\
<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/sda1</rootDeviceName><blockDeviceMapping>\
<item><deviceName>/dev/sda1</deviceName><ebs><volumeId>vol-0{vol}</volumeId><status>attached</status><attachTime>2018-02-14T01:12:34.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>\
<item><deviceName>xvdb</deviceName><ebs><volumeId>vol-1{vol}</volumeId><status>attached</status><attachTime>2018-02-14T01:12:34.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item></blockDeviceMapping>\
<instanceLifecycle>spot</instanceLifecycle><spotInstanceRequestId>sir-{sir}</spotInstanceRequestId><virtualizationType>hvm</virtualizationType><clientToken>{ct}</clientToken>\
<tagSet><item><key>Name</key><value>{wt}</value></item><item><key>Owner</key><value>{owner}</value></item><item><key>WorkerType</key><value>{owner}/{wt}</value></item></tagSet><hypervisor>xen</hypervisor>\
<networkInterfaceSet><item><networkInterfaceId>eni-0{eni}</networkInterfaceId><subnetId>subnet-0{sub}</subnetId><vpcId>vpc-0{vpc}</vpcId><description></description><ownerId>692406183521</ownerId><status>in-use</status>\
<macAddress>0e:{mac}</macAddress><privateIpAddress>{ip}</privateIpAddress><privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><sourceDestCheck>true</sourceDestCheck>\
<groupSet><item><groupId>sg-0{sg}</groupId><groupName>livelog-direct</groupName></item></groupSet><attachment><attachmentId>eni-attach-0{eni}</attachmentId><deviceIndex>0</deviceIndex><status>attached</status>\
<attachTime>2018-02-14T01:12:33.000Z</attachTime><deleteOnTermination>true</deleteOnTermination><networkCardIndex>0</networkCardIndex></attachment><privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress>\
<privateDnsName>ip-{dash}.{region}.compute.internal</privateDnsName><primary>true</primary></item></privateIpAddressesSet><ipv6AddressesSet/><interfaceType>interface</interfaceType></item></networkInterfaceSet>\
<ebsOptimized>true</ebsOptimized><enaSupport>true</enaSupport><cpuOptions><coreCount>4</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions><capacityReservationSpecification><capacityReservationPreference>open</capacityReservationPreference></capacityReservationSpecification>\
<hibernationOptions><configured>false</configured></hibernationOptions><metadataOptions><state>applied</state><httpTokens>optional</httpTokens><httpPutResponseHopLimit>1</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint></metadataOptions>\
<enclaveOptions><enabled>false</enabled></enclaveOptions><platformDetails>Windows</platformDetails><usageOperation>RunInstances:0002</usageOperation><usageOperationUpdateTime>2018-02-14T01:12:33.000Z</usageOperationUpdateTime>\
<privateDnsNameOptions><hostnameType>ip-name</hostnameType></privateDnsNameOptions><maintenanceOptions><autoRecovery>default</autoRecovery></maintenanceOptions></item>\
</instancesSet><requesterId>043234062703</requesterId></item>",
        res = f.res,
        id = f.id,
        ami = f.ami,
        dash = f.dash,
        region = f.region,
        key = f.key,
        hour = f.hour,
        zone = f.zone,
        sub = f.sub,
        vpc = f.vpc,
        sg = f.sg,
        sg2 = f.sg2,
        ip = f.ip,
        vol = f.vol,
        sir = f.sir,
        ct = f.ct,
        wt = f.wt,
        owner = f.owner,
        eni = f.eni,
        mac = f.mac,
    );
}

/// One DescribeInstanceStatus item.
pub fn status_xml(out: &mut Vec<u8>, id: &str, zone: &str, impaired: bool) {
    let st = if impaired { "impaired" } else { "ok" };
    let details = if impaired {
        "<details><item><name>reachability</name><status>failed</status><impairedSince>2018-02-14T01:00:00.000Z</impairedSince></item></details>"
    } else {
        "<details><item><name>reachability</name><status>passed</status></item></details>"
    };
    let _ = write!(
        out,
        "<item><instanceId>{id}</instanceId><availabilityZone>{zone}</availabilityZone><instanceState><code>16</code><name>running</name></instanceState><systemStatus><status>ok</status><details><item><name>reachability</name><status>passed</status></item></details></systemStatus><instanceStatus><status>{st}</status>{details}</instanceStatus></item>"
    );
}

/// Instance k's reservation, every value computed here (the reference the templates must equal).
fn reference_reservation(out: &mut Vec<u8>, region: &str, i: &Inst, k: usize) {
    let ip = format!("10.{}.{}.{}", k / 65536 % 256, k / 256 % 256, k % 256);
    let eni = h(&[&i.id, "eni"], 17);
    let mac = format!(
        "{}:{}:{}:{}:{}",
        &eni[0..2],
        &eni[2..4],
        &eni[4..6],
        &eni[6..8],
        &eni[8..10]
    );
    reservation_xml(
        out,
        &Fields {
            region,
            res: &h(&[&i.id, "r"], 16),
            id: &i.id,
            ami: &h(&[region, i.wt], 16),
            dash: &ip.replace('.', "-"),
            key: &i.key,
            hour: &(k % 10).to_string(),
            zone: &i.zone,
            sub: &h(&[&i.zone, "subnet"], 16),
            vpc: &h(&[region, "vpc"], 16),
            sg: &h(&[region, "sg"], 16),
            sg2: &h(&[region, "sg2"], 16),
            ip: &ip,
            vol: &h(&[&i.id, "vol"], 17),
            sir: &h(&[&i.id, "sir"], 8),
            ct: &h(&[&i.id, "ct"], 24),
            wt: i.wt,
            owner: i.owner,
            eni: &eni,
            mac: &mac,
        },
    );
}

pub type Params = Vec<(String, String)>;

pub fn param<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

pub type Filters = Vec<(String, Vec<String>)>;

/// Filter.N.Name / Filter.N.Value.M pairs.
pub fn filters(p: &Params) -> Filters {
    let mut out: BTreeMap<usize, (String, Vec<String>)> = BTreeMap::new();
    for (k, v) in p {
        let mut parts = k.split('.');
        if parts.next() != Some("Filter") {
            continue;
        }
        let Some(n) = parts.next().and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        let e = out.entry(n).or_default();
        match parts.next() {
            Some("Name") => e.0 = v.clone(),
            Some("Value") => e.1.push(v.clone()),
            _ => {}
        }
    }
    out.into_values().collect()
}

fn glob(pattern: &str, s: &str) -> bool {
    // EC2 filter globs: * and ?.
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

pub fn matches(i: &Inst, fs: &[(String, Vec<String>)]) -> bool {
    fs.iter().all(|(name, vals)| {
        let field: Option<String> = match name.as_str() {
            "availability-zone" => Some(i.zone.clone()),
            "instance-state-name" => Some("running".into()),
            "key-name" => Some(i.key.clone()),
            "tag:Name" => Some(i.wt.into()),
            "tag:Owner" => Some(i.owner.into()),
            "tag:WorkerType" => Some(format!("{}/{}", i.owner, i.wt)),
            "tag-key" => {
                return vals
                    .iter()
                    .any(|v| ["Name", "Owner", "WorkerType"].contains(&v.as_str()));
            }
            "instance-status.status" => Some(if i.impaired {
                "impaired".into()
            } else {
                "ok".into()
            }),
            "system-status.status" => Some("ok".into()),
            "instance-id" => Some(i.id.clone()),
            _ => None,
        };
        match field {
            Some(f) => vals.iter().any(|v| glob(v, &f)),
            None => true,
        }
    })
}

/// What a page request asks for: the first index, the stride, the page size, the filters and
/// the ids (`InstanceId.N`).
pub struct Walk {
    pub region: String,
    pub zones: usize,
    pub per_region: usize,
    pub impaired_every: usize,
    pub fs: Filters,
    pub ids: Vec<String>,
    pub max: usize,
    pub start: usize,
    pub step: usize,
    pub status: bool,
}

/// Pages over instance indexes: `NextToken` is the next index. An availability-zone filter of one
/// zone (exact, or `*` and its last letter) lets the page stride over that zone's instances only;
/// anything else is matched instance by instance.
pub fn walk(
    region: &str,
    zones: usize,
    per_region: usize,
    impaired_every: usize,
    p: &Params,
    status: bool,
) -> Walk {
    let fs = filters(p);
    let max = param(p, "MaxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(5, 1000);
    let mut k = param(p, "NextToken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let zone_filter: Option<usize> =
        fs.iter()
            .find(|(n, _)| n == "availability-zone")
            .and_then(|(_, v)| {
                if v.len() == 1 {
                    // An exact zone (`us-east-1a`) or checker's shard by ending (`*a`).
                    v[0].strip_prefix(region)
                        .or_else(|| v[0].strip_prefix('*'))
                        .filter(|z| z.len() == 1)
                        .and_then(|z| z.bytes().next())
                        .filter(|b| b.is_ascii_lowercase() && ((b - b'a') as usize) < zones)
                        .map(|b| (b - b'a') as usize)
                } else {
                    None
                }
            });
    let step = if zone_filter.is_some() { zones } else { 1 };
    if let Some(z) = zone_filter
        && k % zones != z
    {
        k = k - k % zones + z;
    }
    let ids = p
        .iter()
        .filter(|(n, _)| n.starts_with("InstanceId."))
        .map(|(_, v)| v.clone())
        .collect();
    Walk {
        region: region.to_string(),
        zones,
        per_region,
        impaired_every,
        fs,
        ids,
        max,
        start: k,
        step,
        status,
    }
}

impl Walk {
    /// The page, written into `out` (emptied first): up to `max` items for which `include`
    /// holds, written by `item`, in the response's envelope with the next index as its token.
    pub fn page(
        &self,
        mut out: Vec<u8>,
        mut include: impl FnMut(usize) -> bool,
        mut item: impl FnMut(&mut Vec<u8>, usize),
    ) -> Vec<u8> {
        let (name, set) = if self.status {
            ("DescribeInstanceStatusResponse", "instanceStatusSet")
        } else {
            ("DescribeInstancesResponse", "reservationSet")
        };
        out.clear();
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{name} xmlns=\"{NS}\"><requestId>fake</requestId><{set}>"
        );
        let (mut k, mut n, mut next) = (self.start, 0, None);
        while k < self.per_region {
            if include(k) {
                if n == self.max {
                    next = Some(k);
                    break;
                }
                item(&mut out, k);
                n += 1;
            }
            k += self.step;
        }
        let _ = write!(out, "</{set}>");
        if let Some(t) = next {
            let _ = write!(out, "<nextToken>{t}</nextToken>");
        }
        let _ = write!(out, "</{name}>");
        out
    }
}

/// A page as the fake wrote it before templates: every instance built and matched, every value
/// formatted.
pub fn reference_page(w: &Walk) -> Vec<u8> {
    let one = |k| inst(&w.region, w.zones, w.impaired_every, k);
    let include = |k| {
        let i = one(k);
        matches(&i, &w.fs) && (w.ids.is_empty() || w.ids.contains(&i.id))
    };
    let item = |out: &mut Vec<u8>, k| {
        let i = one(k);
        if w.status {
            status_xml(out, &i.id, &i.zone, i.impaired);
        } else {
            reference_reservation(out, &w.region, &i, k);
        }
    };
    let capacity = w.max * if w.status { 700 } else { 5200 };
    w.page(Vec::with_capacity(capacity), include, item)
}
