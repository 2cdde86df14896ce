//! What a manifest revision changes, output by output and set by set, and who reads each.

use crate::contract::{ContractSet, Provider};
use crate::report::{Change, ChangeKind};
use std::collections::{BTreeMap, BTreeSet};

fn describe_output(o: &crate::contract::ProviderOutput) -> String {
    match (&o.template, o.secret, o.optional) {
        (_, true, _) => "secret".into(),
        (Some(t), _, false) => format!("\"{}\"", t.source),
        (Some(t), _, true) => format!("\"{}\" (optional)", t.source),
        (None, _, false) => "present".into(),
        (None, _, true) => "optional".into(),
    }
}

/// What a manifest revision changes, and who reads each change.
pub fn manifest_changes(set: &ContractSet, base: &Provider, proposed: &Provider) -> Vec<Change> {
    let reads = set.consumer_reads();
    let mut out = Vec::new();
    let b: BTreeMap<String, String> = base
        .outputs
        .iter()
        .map(|o| (o.path.to_string(), describe_output(o)))
        .collect();
    let p: BTreeMap<String, String> = proposed
        .outputs
        .iter()
        .map(|o| (o.path.to_string(), describe_output(o)))
        .collect();
    let read_by = |path: &str| -> Vec<String> {
        crate::output::OutputPath::parse(path)
            .ok()
            .and_then(|op| reads.get(&op).map(|s| s.iter().cloned().collect()))
            .unwrap_or_default()
    };
    for k in b.keys().chain(p.keys()).collect::<BTreeSet<_>>() {
        let (kind, before, after) = match (b.get(k), p.get(k)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => (ChangeKind::Changed, Some(x.clone()), Some(y.clone())),
            (Some(x), None) => (ChangeKind::Removed, Some(x.clone()), None),
            (None, Some(y)) => (ChangeKind::Added, None, Some(y.clone())),
            (None, None) => continue,
        };
        out.push(Change {
            kind,
            output: k.clone(),
            before,
            after,
            read_by: read_by(k),
        });
    }
    for name in base
        .sets
        .keys()
        .chain(proposed.sets.keys())
        .collect::<BTreeSet<_>>()
    {
        let empty = Default::default();
        let bs = base.sets.get(name).map(|s| s.as_ref()).unwrap_or(&empty);
        let ps = proposed
            .sets
            .get(name)
            .map(|s| s.as_ref())
            .unwrap_or(&empty);
        if bs == ps {
            continue;
        }
        let removed: Vec<&String> = bs.difference(ps).collect();
        let added: Vec<&String> = ps.difference(bs).collect();
        let users: Vec<String> = set
            .consumers
            .iter()
            .filter(|c| {
                c.clauses
                    .iter()
                    .any(|cl| cl.check.set_name() == Some(name.as_str()))
            })
            .map(|c| c.name.clone())
            .collect();
        out.push(Change {
            kind: ChangeKind::Changed,
            output: format!("set:{name}"),
            before: (!removed.is_empty()).then(|| {
                format!(
                    "removed: {}",
                    removed
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
            after: (!added.is_empty()).then(|| {
                format!(
                    "added: {}",
                    added
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
            read_by: users,
        });
    }
    out
}
