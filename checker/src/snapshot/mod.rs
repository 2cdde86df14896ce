//! Snapshots: a committed, normalized, secret-free summary of a fleet's outputs per group (per
//! worker type, as the provider manifests define groups), and the diff of two of them with, for
//! each change, the consumers whose contracts read that output.
//!
//! A snapshot changes only when the fleet's *shape* changes: outputs whose value is particular
//! to each instance ([`ContractSet::per_instance`]: public IPv4 addresses, launch times, what a
//! manifest marks `perInstance`) are recorded only as present on all or some instances, with a
//! coarse count; other values unique per instance are kept as shapes (`i-{hex}`), instance
//! counts only as coarse buckets, keys and sets are sorted, so an unchanged fleet (and normal
//! churn: instances replaced, addresses reassigned) gives a byte-identical file.
//!
//! Secrets are recorded by presence only: an output whose every value is a secret is
//! `"secret": true`, and a secret inside a value (an element of a user-data array, a field of a
//! JSON string) is written `<redacted>`, never its per-run `<redacted hmac:…>` marker, which
//! changes from run to run (a key stored with the snapshot would make it stable, but would let
//! anyone holding the committed file confirm a guessed secret). Changing a secret is therefore
//! not drift; adding or removing one is.

use crate::contract::ContractSet;
use crate::diag::{Diagnostic, Diagnostics};
use crate::fleet::{Instance, Read};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::LazyLock;

/// The snapshot file's format name.
pub const FORMAT: &str = "checker-snapshot";
/// The version this checker writes and reads.
pub const VERSION: u32 = 1;
/// Above this many distinct values an output is summarized by its shapes.
const MAX_VALUES: usize = 10;

/// A snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Group (`provider/group`) to its summary.
    pub groups: BTreeMap<String, Group>,
    /// Consumer to how many instances it selected (a bucket, as `instances`); consumers that
    /// selected none are left out. Absent in snapshots written before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consumers: BTreeMap<String, String>,
}

/// One group's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Instances, as a coarse bucket (`1`, `2-9`, `10-99`, ...), so scaling does not churn the file.
    pub instances: String,
    /// Regions it runs in.
    pub regions: BTreeSet<String>,
    /// Output path to its summary.
    pub outputs: BTreeMap<String, OutputSummary>,
}

/// One output of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSummary {
    /// `all` instances have it, or only `some`.
    pub present: String,
    /// The JSON type, for user-data fields.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    pub json_type: Option<String>,
    /// The distinct values, when few and the same in every region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeSet<String>>,
    /// The distinct values per region, when they vary by region (AMIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_region: Option<BTreeMap<String, BTreeSet<String>>>,
    /// The shapes of values unique per instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shapes: Option<BTreeSet<String>>,
    /// A secret: only its presence is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
    /// Particular to each instance: only its presence is recorded (`present`, and `count`
    /// when only some instances carry it), never its values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_instance: Option<bool>,
    /// How many instances carry it, as a bucket (`instances`' buckets), for a per-instance
    /// output only some instances carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<String>,
}

fn bucket(n: usize) -> String {
    match n {
        0 => "0".into(),
        1 => "1".into(),
        2..=9 => "2-9".into(),
        10..=99 => "10-99".into(),
        100..=999 => "100-999".into(),
        1000..=9999 => "1000-9999".into(),
        _ => "10000+".into(),
    }
}

/// `aws-provisioner-v1-managed:ffe27db` → `aws-provisioner-v1-managed:{hex}`.
pub fn shape(v: &str) -> String {
    static TIME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
            .expect("static regex")
    });
    static HEX: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*\b",
        )
        .expect("static regex")
    });
    static NUM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+").expect("static regex"));
    let s = TIME.replace_all(v, "{time}");
    let s = HEX.replace_all(&s, |c: &regex::Captures<'_>| {
        if c[0].len() >= 6 {
            "{hex}".to_string()
        } else {
            c[0].to_string()
        }
    });
    NUM.replace_all(&s, "{n}").into_owned()
}

/// The group an instance belongs to: `provider/group` from the first provider that selects it
/// (the group value read through the manifest's templates), else `(unmanaged)/NAME`; prefixed
/// `ACCOUNT/` when the record carries its account, so no group spans accounts.
pub fn group_of(set: &ContractSet, i: &Instance) -> String {
    group_with(set, i, None)
}

/// The groups that a part's provider output values gave, so a value repeated across a fleet
/// (a worker type, a pool) is matched against its pattern once. For one contract set only.
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupCache(HashMap<(usize, usize), HashMap<String, Option<String>>>);

/// Values remembered per provider output, at most (then it starts again).
const GROUP_CACHE_MAX: usize = 4096;

impl GroupCache {
    /// [`group_of`], remembering the values' groups.
    pub(crate) fn group_of(&mut self, set: &ContractSet, i: &Instance) -> String {
        group_with(set, i, Some(self))
    }
}

fn group_with(set: &ContractSet, i: &Instance, cache: Option<&mut GroupCache>) -> String {
    let g = group_in_account(set, i, cache);
    match &i.scope {
        Some(a) => format!("{a}/{g}"),
        None => g,
    }
}

fn group_in_account(set: &ContractSet, i: &Instance, mut cache: Option<&mut GroupCache>) -> String {
    for (pi, p) in set.providers.iter().enumerate() {
        if !set.selects(&p.selector, i) {
            continue;
        }
        for (oi, o) in p.outputs.iter().enumerate() {
            let (Some(re), Read::Value(v)) = (&o.regex, i.read(&o.path)) else {
                continue;
            };
            let matched = |v: &str| {
                re.captures(v).and_then(|c| {
                    c.name(&p.group_by)
                        .map(|m| format!("{}/{}", p.name, m.as_str()))
                })
            };
            let group = match cache.as_deref_mut() {
                Some(GroupCache(c)) => {
                    let values = c.entry((pi, oi)).or_default();
                    match values.get(v.as_ref()) {
                        Some(g) => g.clone(),
                        None => {
                            let g = matched(&v);
                            if values.len() >= GROUP_CACHE_MAX {
                                values.clear();
                            }
                            values.insert(v.to_string(), g.clone());
                            g
                        }
                    }
                }
                None => matched(&v),
            };
            if let Some(g) = group {
                return g;
            }
        }
        return format!("{}/(no {})", p.name, p.group_by);
    }
    let name = i
        .tags
        .get("Name")
        .or_else(|| i.tags.get("WorkerType"))
        .map(String::as_str)
        .unwrap_or("-");
    format!("(unmanaged)/{name}")
}

/// The snapshot as written: pretty JSON, sorted keys, trailing newline.
pub fn to_text(s: &Snapshot) -> crate::Result<String> {
    let mut t = serde_json::to_string_pretty(s)
        .map_err(|e| crate::Error::Incomplete(format!("cannot render the snapshot: {e}")))?;
    t.push('\n');
    Ok(t)
}

/// Reads a snapshot, refusing files that are missing, corrupt or from a newer checker.
pub fn read(path: &Path) -> Result<Snapshot, Diagnostics> {
    let one = |d: Diagnostic| Diagnostics(vec![d]);
    let text = std::fs::read(path).map_err(|e| {
        one(
            Diagnostic::file(path, format!("cannot read the snapshot: {e}")).hint(format!(
                "create it with `checker snapshot --output {}`",
                path.display()
            )),
        )
    })?;
    let v: Value = crate::diag::parse_json(path, &text).map_err(|d| one(d.hint("the snapshot is corrupt: restore it from git (`git checkout -- FILE`) or write a new one with `checker snapshot --output FILE`")))?;
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(one(Diagnostic::at(
            path,
            "/format",
            format!("this is not a checker snapshot (\"format\" is not \"{FORMAT}\")"),
        )
        .hint("write one with `checker snapshot --output FILE`")));
    }
    match v.get("version").and_then(Value::as_u64) {
        Some(n) if n == u64::from(VERSION) => {}
        Some(n) if n > u64::from(VERSION) => {
            return Err(one(
                Diagnostic::at(path, "/version", format!("the snapshot was written by a newer checker (format version {n}; this checker reads version {VERSION})")).hint("upgrade checker; the file is left as it is"),
            ));
        }
        other => {
            return Err(one(Diagnostic::at(
                path,
                "/version",
                format!("unsupported snapshot version {other:?}"),
            )
            .hint(format!(
                "this checker reads version {VERSION}; write a new snapshot with `checker snapshot`"
            ))));
        }
    }
    serde_json::from_value(v).map_err(|e| {
        one(Diagnostic::file(
            path,
            format!("the snapshot's content is not what version {VERSION} holds: {e}"),
        )
        .hint("restore it from git or write a new one with `checker snapshot`"))
    })
}

mod diff;
mod fold;
mod stream;
pub use diff::{
    DIFF_FORMAT, DIFF_MINOR_VERSION, DIFF_VERSION, DiffReport, Holds, Impact, OutputChange,
    SnapshotDiff, diff, lost_inputs, report,
};
pub use fold::{Summary, read_snapshot, take};
pub use stream::{Broken, DiffSink, GroupEvaluations, read_diffed};

/// The lost inputs of [`lost_inputs`] as error findings, for `check --baseline`: `ev` is the
/// evaluation of the fleet read (its tallies say what each consumer selected).
pub fn lost_input_findings(
    set: &ContractSet,
    old: &Snapshot,
    ev: &crate::eval::Evaluation,
) -> Vec<crate::report::Finding> {
    use crate::report::{Finding, TallyRole};
    let selects = |c: &crate::contract::Consumer| {
        ev.consumers
            .iter()
            .any(|t| t.role == TallyRole::Consumer && t.name == c.name && t.selected > 0)
    };
    lost_inputs(set, old, selects)
        .into_iter()
        .filter_map(|name| {
            let c = set.consumer(&name)?;
            Some(Finding::input_lost(
                c,
                format!(
                    "{name} selects nothing: it lost its input (the snapshot has instances of what it selects, {}; the fleet has none it matches)",
                    set.describe_selector(&c.selector)
                ),
                "to select instances, as it did when the snapshot was taken".into(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_hide_what_is_unique_and_keep_the_pattern() {
        assert_eq!(
            shape("aws-provisioner-v1-managed:ffe27db"),
            "aws-provisioner-v{n}-managed:{hex}"
        );
        assert_eq!(shape("i-0a1b2c3d4e5f60718"), "i-{hex}");
        assert_eq!(shape("2018-02-14T01:12:33.000Z"), "{time}");
        assert_eq!(shape("gecko-t-win10-64"), "gecko-t-win{n}-{n}");
    }

    /// A guard: the groups a part remembers are the groups, past the cache's bound too.
    #[test]
    fn remembered_groups_are_the_groups() {
        let set = crate::source::fake::bench_set();
        let mut cache = GroupCache::default();
        for n in 0..(GROUP_CACHE_MAX + 50) * 2 {
            let name = if n % 2 == 0 {
                "gecko-t-win7-32".to_string()
            } else {
                format!("pool-{}", n / 2)
            };
            let i = crate::source::fake::instance("us-east-1", n, &name, n % 3 == 0);
            assert_eq!(cache.group_of(&set, &i), group_of(&set, &i), "{n}");
        }
    }

    #[test]
    fn buckets_are_coarse() {
        assert_eq!(bucket(1), "1");
        assert_eq!(bucket(7), "2-9");
        assert_eq!(bucket(10), "10-99");
        assert_eq!(bucket(12_345), "10000+");
    }

    /// The fields the rows mark for snapshots are kept, by their names; no other field is.
    #[test]
    fn snapshots_keep_the_fields_their_rows_mark() {
        for cloud in <crate::output::Cloud as strum::IntoEnumIterator>::iter() {
            let mut i = Instance::of_cloud(cloud);
            i.id = "i-1".into();
            i.region = "us-east-1".into();
            for f in cloud.fields() {
                i.set_field(f, format!("value-{}", f.name()));
            }
            let snap = take(&ContractSet::default(), &[i]);
            let g = snap.groups.values().next().expect("one group");
            let text = serde_json::to_string(&g).expect("a group serializes");
            for f in cloud.fields().filter(|f| !f.is_region()) {
                let key = format!("\"{}\"", f.name());
                assert_eq!(
                    text.contains(&key),
                    f.in_snapshots(),
                    "{}: {text}",
                    f.name()
                );
            }
        }
    }
}
