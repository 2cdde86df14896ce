//! A snapshot folded as records arrive: per group, the instance count, the regions and, per
//! output, how many instances carry it and its few distinct values (by region) or, past
//! [`MAX_VALUES`], their shapes. No record is kept, so `checker snapshot` reads a live fleet page
//! by page through [`Source::read_into`], each part (a region) folded on its own and merged when
//! it is read completely; a part that fails is dropped, as [`RecordSink`] says.
//!
//! Folding gives what summarizing the whole fleet at once gives: every piece is a count, a set
//! or a flag, merged by adding or uniting. The one choice that depended on order (an output's
//! JSON type when instances disagree) is the type of the first carrier by (region, id), the
//! order a live read sorts its records in.

use super::{Group, MAX_VALUES, OutputSummary, Snapshot, bucket, shape};
use crate::contract::ContractSet;
use crate::error::Result;
use crate::fleet::{Instance, REDACTED_PREFIX, Read, UserData};
use crate::output::OutputPath;
use crate::report::SourceInfo;
use crate::source::{PartFold, RecordSink, Source};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// A snapshot being folded: what has been seen of each group and consumer.
#[derive(Debug, Default)]
pub struct Summary {
    groups: BTreeMap<String, GroupFold>,
    /// Instances each consumer (by its index in the set) selects.
    consumers: Vec<usize>,
    /// The groups of values seen (not merged: a part's own).
    cache: super::GroupCache,
}

#[derive(Debug, Default)]
struct GroupFold {
    instances: usize,
    regions: BTreeSet<String>,
    /// By path; sorted when the group is finished. (A tree's lookup cost ~250 instructions an
    /// output of each instance.)
    outputs: std::collections::HashMap<String, OutputFold, foldhash::fast::RandomState>,
}

/// One output of one group so far.
#[derive(Debug)]
struct OutputFold {
    /// Instances carrying it.
    carried: usize,
    /// The JSON type (user-data fields) of its first carrier by (region, id), with that key.
    json_type: Option<(&'static str, String, String)>,
    /// Some value is a secret: only presence is recorded.
    secret: bool,
    /// What is recorded of the values (nothing for per-instance outputs).
    values: Values,
    /// The region and value of the last instance added whose value was recorded: a group's
    /// instances mostly repeat it, and adding it again changes nothing.
    last: Option<(String, String)>,
}

#[derive(Debug)]
enum Values {
    /// Particular to each instance: no values are recorded.
    PerInstance,
    /// Few so far: the distinct (secret-stable) values, and those of each region.
    Few {
        distinct: BTreeSet<String>,
        per_region: BTreeMap<String, BTreeSet<String>>,
    },
    /// More than [`MAX_VALUES`]: their shapes.
    Shapes(BTreeSet<String>),
}

impl OutputFold {
    fn new(set: &ContractSet, path: &str) -> OutputFold {
        let per_instance = OutputPath::parse(path).is_ok_and(|p| set.per_instance(&p));
        OutputFold {
            carried: 0,
            json_type: None,
            secret: false,
            values: if per_instance {
                Values::PerInstance
            } else {
                Values::Few {
                    distinct: BTreeSet::new(),
                    per_region: BTreeMap::new(),
                }
            },
            last: None,
        }
    }

    fn add(&mut self, i: &Instance, v: &str, json_type: Option<&'static str>) {
        self.carried += 1;
        if let Some(t) = json_type {
            let earlier = self.json_type.as_ref().is_some_and(|(_, r, id)| {
                (r.as_str(), id.as_str()) <= (i.region.as_str(), i.id.as_str())
            });
            if !earlier {
                self.json_type = Some((t, i.region.clone(), i.id.clone()));
            }
        }
        if self.secret || v.starts_with(REDACTED_PREFIX) {
            // Only presence is recorded from here on.
            self.secret = true;
            self.values = Values::PerInstance;
            return;
        }
        if matches!(self.values, Values::PerInstance) {
            return;
        }
        match &mut self.last {
            Some((r, last)) if *r == i.region && last == v => return,
            Some((r, last)) => {
                r.clone_from(&i.region);
                v.clone_into(last);
            }
            None => self.last = Some((i.region.clone(), v.to_string())),
        }
        let v = crate::redact::presence_only(v);
        match &mut self.values {
            Values::PerInstance => {}
            Values::Shapes(s) => {
                s.insert(shape(&v));
            }
            Values::Few {
                distinct,
                per_region,
            } => {
                if !distinct.contains(v.as_ref()) {
                    distinct.insert(v.to_string());
                }
                match per_region.get_mut(&i.region) {
                    Some(r) => {
                        if !r.contains(v.as_ref()) {
                            r.insert(v.into_owned());
                        }
                    }
                    None => {
                        per_region.insert(i.region.clone(), BTreeSet::from([v.into_owned()]));
                    }
                }
                self.overflow();
            }
        }
    }

    /// Past [`MAX_VALUES`] distinct values, only their shapes are kept.
    fn overflow(&mut self) {
        if let Values::Few { distinct, .. } = &self.values
            && distinct.len() > MAX_VALUES
        {
            self.values = Values::Shapes(distinct.iter().map(|v| shape(v)).collect());
        }
    }

    fn merge(&mut self, o: OutputFold) {
        self.carried += o.carried;
        if let Some((t, r, id)) = o.json_type {
            let earlier = self
                .json_type
                .as_ref()
                .is_some_and(|(_, r0, id0)| (r0, id0) <= (&r, &id));
            if !earlier {
                self.json_type = Some((t, r, id));
            }
        }
        if self.secret || o.secret {
            self.secret = true;
            self.values = Values::PerInstance;
            return;
        }
        match (&mut self.values, o.values) {
            (Values::PerInstance, _) | (_, Values::PerInstance) => {}
            (Values::Shapes(a), Values::Shapes(b)) => a.extend(b),
            (Values::Shapes(a), Values::Few { distinct, .. }) => {
                a.extend(distinct.iter().map(|v| shape(v)));
            }
            (mine @ Values::Few { .. }, Values::Shapes(mut b)) => {
                if let Values::Few { distinct, .. } = mine {
                    b.extend(distinct.iter().map(|v| shape(v)));
                }
                *mine = Values::Shapes(b);
            }
            (
                Values::Few {
                    distinct,
                    per_region,
                },
                Values::Few {
                    distinct: d,
                    per_region: p,
                },
            ) => {
                distinct.extend(d);
                for (r, vs) in p {
                    per_region.entry(r).or_default().extend(vs);
                }
                self.overflow();
            }
        }
    }

    /// The output's summary in a group of `n` instances.
    fn finish(self, n: usize) -> OutputSummary {
        let mut s = OutputSummary {
            present: if self.carried >= n { "all" } else { "some" }.to_string(),
            json_type: self.json_type.map(|(t, _, _)| t.to_string()),
            values: None,
            per_region: None,
            shapes: None,
            secret: None,
            per_instance: None,
            count: None,
        };
        if self.secret {
            s.secret = Some(true);
            return s;
        }
        match self.values {
            Values::PerInstance => {
                s.per_instance = Some(true);
                if self.carried < n {
                    s.count = Some(bucket(self.carried));
                }
            }
            Values::Shapes(shapes) => s.shapes = Some(shapes),
            Values::Few {
                distinct,
                per_region,
            } => {
                // Never decide by how many instances share a value: a count-based rule would
                // flip as the fleet scales and churn the file. Timestamps become shapes.
                if distinct.iter().all(|v| shape(v).contains("{time}")) {
                    s.shapes = Some(distinct.iter().map(|v| shape(v)).collect());
                    return s;
                }
                let first = per_region.values().next();
                if per_region.len() > 1 && per_region.values().any(|v| Some(v) != first) {
                    s.per_region = Some(per_region);
                } else {
                    s.values = Some(distinct);
                }
            }
        }
        s
    }
}

impl GroupFold {
    /// Adds `i`'s reading of the output at `path`.
    fn output(
        &mut self,
        set: &ContractSet,
        path: &str,
        i: &Instance,
        v: &str,
        t: Option<&'static str>,
    ) {
        match self.outputs.get_mut(path) {
            Some(o) => o.add(i, v, t),
            None => {
                let mut o = OutputFold::new(set, path);
                o.add(i, v, t);
                self.outputs.insert(path.to_string(), o);
            }
        }
    }

    fn add(&mut self, set: &ContractSet, i: &Instance) {
        self.instances += 1;
        if !self.regions.contains(&i.region) {
            self.regions.insert(i.region.clone());
        }
        let mut key = String::new();
        for f in i.cloud().fields().filter(|f| f.in_snapshots()) {
            if let Read::Value(v) = i.read(&OutputPath::Field(f)) {
                self.output(set, f.name(), i, &v, None);
            }
        }
        for (k, v) in &i.tags {
            key.clear();
            key.push_str("tag:");
            key.push_str(k);
            self.output(set, &key, i, v, None);
        }
        if let UserData::Json(m) = &i.user_data {
            for (k, v) in m.iter() {
                let text = match v {
                    Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                    Value::Object(o) => std::borrow::Cow::Owned(format!(
                        "{{{}}}",
                        o.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                    other => std::borrow::Cow::Owned(other.to_string()),
                };
                key.clear();
                key.push_str("userData.");
                key.push_str(k);
                self.output(set, &key, i, &text, Some(crate::fleet::json_type(v)));
            }
        }
    }

    fn merge(&mut self, o: GroupFold) {
        self.instances += o.instances;
        self.regions.extend(o.regions);
        for (path, f) in o.outputs {
            match self.outputs.get_mut(&path) {
                Some(mine) => mine.merge(f),
                None => {
                    self.outputs.insert(path, f);
                }
            }
        }
    }

    fn finish(self) -> Group {
        let n = self.instances;
        Group {
            instances: bucket(n),
            regions: self.regions,
            outputs: self
                .outputs
                .into_iter()
                .map(|(path, f)| (path, f.finish(n)))
                .collect(),
        }
    }
}

impl Summary {
    /// Folds in some records.
    pub fn add(&mut self, set: &ContractSet, records: &[Instance]) {
        for i in records {
            let g = self.cache.group_of(set, i);
            self.add_one(set, &g, i);
        }
    }

    /// Folds in one record of group `g` ([`group_of`]).
    pub(super) fn add_one(&mut self, set: &ContractSet, g: &str, i: &Instance) {
        if self.consumers.len() < set.consumers.len() {
            self.consumers.resize(set.consumers.len(), 0);
        }
        match self.groups.get_mut(g) {
            Some(f) => f.add(set, i),
            None => self.groups.entry(g.to_string()).or_default().add(set, i),
        }
        for (n, c) in self.consumers.iter_mut().zip(&set.consumers) {
            if set.selects(&c.selector, i) {
                *n += 1;
            }
        }
    }

    /// Merges another fold (another part) into this one.
    pub fn merge(&mut self, o: Summary) {
        if self.consumers.len() < o.consumers.len() {
            self.consumers.resize(o.consumers.len(), 0);
        }
        for (n, m) in self.consumers.iter_mut().zip(o.consumers) {
            *n += m;
        }
        for (k, g) in o.groups {
            match self.groups.get_mut(&k) {
                Some(mine) => mine.merge(g),
                None => {
                    self.groups.insert(k, g);
                }
            }
        }
    }

    /// The snapshot of everything folded in.
    pub fn finish(self, set: &ContractSet) -> Snapshot {
        let consumers = set
            .consumers
            .iter()
            .zip(self.consumers.into_iter().chain(std::iter::repeat(0)))
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.name.clone(), bucket(n)))
            .collect();
        Snapshot {
            format: super::FORMAT.into(),
            version: super::VERSION,
            groups: self
                .groups
                .into_iter()
                .map(|(k, g)| (k, g.finish()))
                .collect(),
            consumers,
        }
    }
}

/// Summarizes a fleet.
pub fn take(set: &ContractSet, fleet: &[Instance]) -> Snapshot {
    let mut s = Summary::default();
    s.add(set, fleet);
    s.finish(set)
}

/// Folds every part a source reads completely, merging the parts' folds.
struct SummarySink {
    set: Arc<ContractSet>,
    kept: Arc<Mutex<Summary>>,
}

/// One part's fold, merged into the whole when the part is kept.
struct SummaryPart {
    set: Arc<ContractSet>,
    fold: Summary,
    kept: Arc<Mutex<Summary>>,
}

impl RecordSink for SummarySink {
    fn part(&self) -> Box<dyn PartFold> {
        Box::new(SummaryPart {
            set: self.set.clone(),
            fold: Summary::default(),
            kept: self.kept.clone(),
        })
    }
}

impl PartFold for SummaryPart {
    fn add(&mut self, records: &[Instance]) {
        self.fold.add(&self.set, records);
    }

    fn keep(self: Box<Self>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.merge(self.fold);
    }
}

/// The snapshot of what `from` reads, folded as it reads (a live fleet page by page, keeping no
/// records; recorded files once read), with the source's description: only the parts read
/// completely are in the snapshot, and the caller decides what a failed part means.
pub fn read_snapshot(from: &dyn Source, set: &Arc<ContractSet>) -> Result<(SourceInfo, Snapshot)> {
    let kept = Arc::new(Mutex::new(Summary::default()));
    let sink = Arc::new(SummarySink {
        set: set.clone(),
        kept: kept.clone(),
    });
    let source = from.read_into(set, sink)?;
    let fold = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((source, fold.finish(set)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{REDACTED_PREFIX, UserData};
    use crate::report::{PartKind, SourcePart};
    use crate::source::{Capabilities, Fleet, HealthRead, HealthRequest};
    use futures::future::BoxFuture;

    /// Instance `n` of a fleet whose outputs take every path of the fold: few values the same
    /// in every region, values varying by region, more than `MAX_VALUES` values (shapes),
    /// timestamps, a secret in one region, user-data whose type differs between instances,
    /// and outputs only some instances carry.
    fn instance(n: usize) -> Instance {
        let mut i = Instance::of_cloud(crate::output::Cloud::Ec2);
        let region = ["us-east-1", "eu-west-1", "ap-south-1"][n % 3];
        i.id = format!("i-{:017x}", 0xabc000 + n * 7919);
        i.region = region.into();
        let tags = [
            ("Name", format!("pool-{}", n % 2)),
            ("Ami", format!("ami-{region}")),
            // The same value in two regions, another in the third.
            (
                "Ring",
                (if region == "ap-south-1" {
                    "inner"
                } else {
                    "outer"
                })
                .to_string(),
            ),
            ("Serial", format!("worker-{n}")),
            ("Born", format!("2026-12-0{}T01:02:03Z", 1 + n % 9)),
            ("Token", format!("{REDACTED_PREFIX}{n}>")),
        ];
        for (k, v) in tags {
            if k != "Token" || region == "eu-west-1" {
                i.tags.insert(k.into(), v);
            }
        }
        if !n.is_multiple_of(4) {
            let v = if n.is_multiple_of(5) {
                serde_json::json!(n)
            } else {
                serde_json::json!(format!("v{}", n % 3))
            };
            let m = serde_json::Map::from_iter([("kind".to_string(), v)]);
            i.user_data = UserData::Json(Arc::new(m));
        }
        i
    }

    fn fleet() -> Vec<Instance> {
        // Not sorted: parts arrive in any order, and records within them too.
        let mut f: Vec<Instance> = (0..60).map(instance).collect();
        f.reverse();
        f
    }

    /// Folding parts apart and merging them gives what one fold of the whole fleet gives,
    /// whatever the parts and their order; a part never kept counts for nothing.
    #[test]
    fn parts_folded_apart_give_the_whole_fleets_snapshot() {
        let set = ContractSet::default();
        let f = fleet();
        let whole = take(&set, &f);
        assert!(whole.groups.len() > 1, "{whole:?}");
        let text = crate::snapshot::to_text(&whole).expect("renders");
        for needle in ["\"shapes\"", "\"perRegion\"", "\"secret\"", "\"values\""] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
        for (size, split) in [(1, 7), (17, 3), (60, 1)] {
            let mut all = Summary::default();
            for (k, chunk) in f.chunks(size).enumerate().rev() {
                let mut part = Summary::default();
                for page in chunk.chunks(split) {
                    part.add(&set, page);
                }
                all.merge(part);
                if k == 0 {
                    let mut dropped = Summary::default();
                    dropped.add(&set, &[instance(1000)]);
                    drop(dropped);
                }
            }
            assert_eq!(all.finish(&set), whole, "parts of {size}");
        }
    }

    /// Runs of instances with the same value, one region after another, fold as any order of
    /// them does: a value repeated from the previous instance is skipped only in its own region.
    #[test]
    fn runs_of_equal_values_fold_as_any_order_does() {
        let set = ContractSet::default();
        let mut runs = fleet();
        runs.sort_by(|a, b| (a.tags.get("Name"), &a.region).cmp(&(b.tags.get("Name"), &b.region)));
        let whole = take(&set, &runs);
        let text = crate::snapshot::to_text(&whole).expect("renders");
        assert!(text.contains("\"outer\""), "{text}");
        assert_eq!(whole, take(&set, &fleet()));
    }

    /// A source that can only hand its records over in parts: one of them fails.
    #[derive(Debug)]
    struct Parts(Vec<Vec<Instance>>);

    impl Source for Parts {
        fn describe(&self) -> String {
            "parts".into()
        }
        fn capabilities(&self) -> Capabilities {
            crate::source::fake::Fake::unable("parts").caps
        }
        fn read(&self, _: &ContractSet) -> Result<Fleet> {
            Err(crate::Error::usage(
                "snapshot must not read the whole fleet",
            ))
        }
        fn read_into(&self, _: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
            let mut info = SourceInfo::default();
            for (n, records) in self.0.iter().enumerate() {
                let mut part = sink.part();
                part.add(records);
                if n == 1 {
                    info.parts
                        .push(SourcePart::failed("eu-west-1", PartKind::Region, "boom"));
                } else {
                    part.keep();
                }
            }
            Ok(info)
        }
        fn read_for_cull<'a>(
            &'a self,
            _: &'a ContractSet,
            _: &'a HealthRequest,
        ) -> BoxFuture<'a, Result<HealthRead>> {
            Box::pin(async { Err(crate::Error::usage("no")) })
        }
    }

    /// `checker snapshot` folds what the source hands over, part by part, and never asks it
    /// for the whole fleet; a failed part is not in the snapshot and the source says so.
    #[test]
    fn a_snapshot_is_folded_from_the_parts_a_source_hands_over() {
        let set = Arc::new(ContractSet::default());
        let f = fleet();
        let (a, rest) = f.split_at(20);
        let (failed, c) = rest.split_at(20);
        let src = Parts(vec![a.to_vec(), failed.to_vec(), c.to_vec()]);
        let (info, snap) = read_snapshot(&src, &set).expect("read_into is enough");
        assert!(info.incomplete());
        let kept: Vec<Instance> = a.iter().chain(c).cloned().collect();
        assert_eq!(snap, take(&set, &kept));
        assert_ne!(snap, take(&set, &f));
    }
}
