//! The server-side `filter` of a live GCE read, from the contracts' selectors: only ever a
//! superset of what some selector selects (records are still selected client-side), so the
//! filter only saves pages.
//!
//! Compute's filter ANDs parenthesised expressions and allows explicit `OR`, with no stated
//! precedence between the two (google-cloud-compute-v1 4.1.0, `src/model.rs`, the `filter`
//! field of `instances::AggregatedListRequest`, line 462028), so a filter here never mixes them:
//! label equalities every GCE selector requires (one value each) ANDed, or, when there is none,
//! the selected statuses ORed.

use crate::contract::{Condition, ContractSet, Selector};
use crate::output::{Cloud, OutputPath};
use std::collections::{BTreeMap, BTreeSet};

/// Every status an instance can be in (Compute v1 `Instance.status`).
pub const STATUSES: [&str; 9] = [
    "PROVISIONING",
    "STAGING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "SUSPENDING",
    "SUSPENDED",
    "REPAIRING",
    "TERMINATED",
];

/// A label key or value the filter can carry as it is (label keys and values are lower-case
/// letters, digits, `-` and `_`).
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The label equalities one selector (with its provider's) requires: label to values.
fn labels(set: &ContractSet, sel: &Selector) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |c: &Condition| {
        let (k, vs) = match c {
            Condition::Equals(OutputPath::Tag(k), v) => (k, vec![v.clone()]),
            Condition::OneOf(OutputPath::Tag(k), vs) => (k, vs.clone()),
            _ => return,
        };
        // Two conditions on one label AND: the first is a superset of both.
        out.entry(k.clone())
            .or_insert_with(|| vs.into_iter().collect());
    };
    sel.conditions.iter().for_each(&mut add);
    if let Some(p) = sel.provider {
        set.providers[p].selector.conditions.iter().for_each(add);
    }
    out
}

/// The filter for `set`, or `None` when no sound one narrows the listing.
pub fn server_filter(set: &ContractSet) -> Option<String> {
    let selectors: Vec<&Selector> = set
        .providers
        .iter()
        .map(|p| &p.selector)
        .chain(set.consumers.iter().map(|c| &c.selector))
        .filter(|s| s.cloud == Cloud::Gce)
        .collect();
    if selectors.is_empty() {
        return None;
    }
    let mut common: Option<BTreeMap<String, BTreeSet<String>>> = None;
    let mut states: BTreeSet<&str> = BTreeSet::new();
    for s in &selectors {
        states.extend(s.states.iter().map(String::as_str));
        let l = labels(set, s);
        common = Some(match common {
            None => l,
            Some(c) => c
                .into_iter()
                .filter_map(|(k, mut v)| {
                    let w = l.get(&k)?;
                    v.extend(w.iter().cloned());
                    Some((k, v))
                })
                .collect(),
        });
    }
    let exprs: Vec<String> = common
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| v.len() == 1 && plain(k) && v.iter().all(|x| plain(x)))
        .filter_map(|(k, v)| Some(format!("(labels.{k} = \"{}\")", v.first()?)))
        .collect();
    if !exprs.is_empty() {
        return Some(exprs.join(" "));
    }
    if states.is_empty() || STATUSES.iter().all(|s| states.contains(s)) {
        return None;
    }
    let ors: Vec<String> = states
        .iter()
        .map(|s| format!("(status = \"{s}\")"))
        .collect();
    Some(ors.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(consumers: &[(&str, Vec<Condition>)], gce: bool) -> ContractSet {
        let mut s = ContractSet::default();
        for (name, conds) in consumers {
            let cloud = if gce { Cloud::Gce } else { Cloud::Ec2 };
            s.consumers.push(crate::contract::Consumer {
                name: name.to_string(),
                owner: String::new(),
                description: String::new(),
                runbook: None,
                role: crate::contract::Role::Reader,
                file: Default::default(),
                selector: Selector {
                    cloud,
                    provider: None,
                    states: cloud
                        .default_states()
                        .iter()
                        .map(|x| x.to_string())
                        .collect(),
                    conditions: conds.clone(),
                },
                clauses: Vec::new(),
                facts: Vec::new(),
                may_be_empty: false,
            });
        }
        s
    }

    fn eq(k: &str, v: &str) -> Condition {
        Condition::Equals(OutputPath::Tag(k.into()), v.into())
    }

    #[test]
    fn a_label_every_selector_requires_filters_and_one_some_lack_does_not() {
        let s = set(
            &[
                ("a", vec![eq("managed-by", "taskcluster"), eq("x", "1")]),
                ("b", vec![eq("managed-by", "taskcluster")]),
            ],
            true,
        );
        assert_eq!(
            server_filter(&s).as_deref(),
            Some("(labels.managed-by = \"taskcluster\")")
        );
    }

    #[test]
    fn two_values_of_one_label_or_a_quoted_value_fall_back_to_the_statuses() {
        let s = set(
            &[("a", vec![eq("pool", "p1")]), ("b", vec![eq("pool", "p2")])],
            true,
        );
        assert_eq!(
            server_filter(&s).as_deref(),
            Some("(status = \"PROVISIONING\") OR (status = \"RUNNING\") OR (status = \"STAGING\")")
        );
        let s = set(&[("a", vec![eq("pool", "a\" OR \"x")])], true);
        assert!(!server_filter(&s).unwrap_or_default().contains("labels"));
    }

    #[test]
    fn no_gce_selector_means_no_filter() {
        assert_eq!(server_filter(&set(&[("a", vec![])], false)), None);
    }
}
