//! `checker cull`: terminate (or reboot) impaired instances, safely.
//!
//! Scope and grouping come from the cull contract (a consumer contract with `"role": "cull"`):
//! only instances its selector selects are candidates, grouped by the first fact it derives
//! (the worker type). The plan is computed by [`plan`], a pure function, and has the same shape
//! in dry-run and apply. It refuses to act at all when any region's data is partial, when the
//! cull contract is itself violated, or when its selector matches nothing while instances are
//! impaired: the 2018 culling script failed by silently doing nothing; this one fails loudly.

use crate::contract::{Check, ContractSet, Role, Severity};
use crate::eval::{ClauseOutcome, Detail, FactValue, eval_clause_with};
use crate::fleet::Instance;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Per-group limits for one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// At most this many per group per run.
    pub max_count: Option<usize>,
    /// At most this percent of the group per run (rounded up, like Karpenter's budgets).
    pub max_percent: u32,
    /// Act on a group only while at least this many of its instances are healthy: when a whole
    /// group is impaired the cause is systemic (an AMI, a region), and terminating will not help.
    pub min_healthy: usize,
}

/// What to do to the chosen instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// TerminateInstances.
    Terminate,
    /// RebootInstances.
    Reboot,
}

/// An instance the cull contract selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Instance id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Its group (the derived fact), if it could be derived.
    pub group: Option<String>,
}

/// An instance whose status checks say impaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impairment {
    /// Instance id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Which check (`instance-status impaired`, `system-status impaired`, `event instance-retirement`).
    pub reason: String,
    /// The earliest ImpairedSince.
    pub since: Option<DateTime<Utc>>,
}

/// Everything [`plan`] decides from.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// The cull contract's name.
    pub contract: String,
    /// Instances it selects.
    pub members: Vec<Member>,
    /// Impaired instances (all of them, selected or not).
    pub impaired: Vec<Impairment>,
    /// Regions whose fleet or status data is incomplete.
    pub partial_regions: Vec<String>,
    /// Violations of the cull contract itself.
    pub contract_problems: Vec<String>,
    /// The evaluation time.
    pub now: DateTime<Utc>,
    /// Impaired for less than this: left alone.
    pub threshold: Duration,
    /// Limits.
    pub budget: Budget,
    /// What to do.
    pub action: Action,
}

/// What the plan does with one impaired instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// Instance id.
    pub instance: String,
    /// Region.
    pub region: String,
    /// Group.
    pub group: Option<String>,
    /// `act`, `deferred`, `too-recent`, `outside-selector`, `unknown-since`, `held`.
    pub decision: &'static str,
    /// Why it is impaired, and why this decision.
    pub reason: String,
    /// Earliest ImpairedSince, RFC 3339.
    pub impaired_since: Option<String>,
    /// After apply: the state EC2 reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// One group's budget arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupBudget {
    /// Group.
    pub group: String,
    /// Instances the contract selects in it.
    pub size: usize,
    /// Of which impaired.
    pub impaired: usize,
    /// Allowed this run.
    pub allowed: usize,
    /// Chosen.
    pub acting: usize,
    /// Over budget, left for a later run.
    pub deferred: usize,
}

/// The plan: identical in dry-run and apply, but for `dryRun` and the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The cull contract.
    pub contract: String,
    /// Terminate or reboot.
    pub action: Action,
    /// Nothing is done.
    pub dry_run: bool,
    /// Why nothing at all may be done, if so.
    pub refused: Option<String>,
    /// `partial-data` or `broken-contract`.
    pub refusal_kind: Option<&'static str>,
    /// Minutes an instance must have been impaired.
    pub threshold_minutes: i64,
    /// Per impaired instance.
    pub entries: Vec<PlanEntry>,
    /// Per group.
    pub groups: Vec<GroupBudget>,
}

impl Plan {
    /// The instances to act on.
    pub fn chosen(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.iter().filter(|e| e.decision == "act")
    }
}

/// Decides, without I/O, what to do with each impaired instance.
pub fn plan(input: &PlanInput) -> Plan {
    let members: BTreeMap<&str, &Member> =
        input.members.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut refused: Option<(String, &'static str)> = None;
    if !input.partial_regions.is_empty() {
        refused = Some((
            format!(
                "the data of {} is incomplete: nothing is done anywhere until every region reads cleanly",
                input.partial_regions.join(", ")
            ),
            "partial-data",
        ));
    } else if !input.contract_problems.is_empty() {
        refused = Some((
            format!(
                "the cull contract {} does not hold, so its scope and grouping cannot be trusted: {}",
                input.contract,
                input.contract_problems.join("; ")
            ),
            "broken-contract",
        ));
    } else if input.members.is_empty() && !input.impaired.is_empty() {
        refused = Some((
            format!(
                "the cull contract {} selects no instance while {} are impaired: its selector no longer matches the fleet",
                input.contract,
                input.impaired.len()
            ),
            "broken-contract",
        ));
    } else if let Some(m) = input
        .impaired
        .iter()
        .filter_map(|i| members.get(i.id.as_str()))
        .find(|m| m.group.is_none())
    {
        refused = Some((
            format!(
                "the cull contract {} cannot derive the group of impaired instance {}",
                input.contract, m.id
            ),
            "broken-contract",
        ));
    }
    // Group sizes count every selected instance, impaired or not.
    let mut size: BTreeMap<String, usize> = BTreeMap::new();
    for m in &input.members {
        if let Some(g) = &m.group {
            *size.entry(g.clone()).or_default() += 1;
        }
    }
    let cutoff = input.now - input.threshold;
    let mut entries = Vec::new();
    let mut candidates: BTreeMap<String, Vec<(DateTime<Utc>, usize)>> = BTreeMap::new();
    let mut impaired_in: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for imp in &input.impaired {
        if !seen.insert(imp.id.as_str()) {
            continue;
        }
        let since = imp
            .since
            .map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let member = members.get(imp.id.as_str());
        let group = member.and_then(|m| m.group.clone());
        let (decision, why) = match (member, imp.since) {
            (None, _) => (
                "outside-selector",
                format!("not selected by {}: never touched", input.contract),
            ),
            (Some(_), None) => (
                "unknown-since",
                "no ImpairedSince reported: left alone".to_string(),
            ),
            (Some(_), Some(s)) if s > cutoff => (
                "too-recent",
                format!(
                    "impaired for {} min, under the {} min threshold",
                    (input.now - s).num_minutes(),
                    input.threshold.num_minutes()
                ),
            ),
            (Some(_), Some(s)) => {
                if let Some(g) = &group {
                    candidates
                        .entry(g.clone())
                        .or_default()
                        .push((s, entries.len()));
                }
                (
                    "candidate",
                    format!("impaired for {} min", (input.now - s).num_minutes()),
                )
            }
        };
        if let Some(g) = &group {
            *impaired_in.entry(g.clone()).or_default() += 1;
        }
        entries.push(PlanEntry {
            instance: imp.id.clone(),
            region: imp.region.clone(),
            group,
            decision,
            reason: format!("{}; {why}", imp.reason),
            impaired_since: since,
            result: None,
        });
    }
    let mut groups = Vec::new();
    for (g, mut cands) in candidates {
        let n = size.get(&g).copied().unwrap_or(0);
        let impaired = impaired_in.get(&g).copied().unwrap_or(0);
        let healthy = n.saturating_sub(impaired);
        let by_percent = (n * input.budget.max_percent as usize).div_ceil(100);
        let mut allowed = input
            .budget
            .max_count
            .map_or(by_percent, |m| m.min(by_percent));
        let mut note = format!("budget {allowed} of {n} per run");
        if healthy < input.budget.min_healthy {
            allowed = 0;
            note = format!(
                "only {healthy} healthy in the group, under --min-healthy {}: a systemic problem, not culled",
                input.budget.min_healthy
            );
        }
        cands.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| entries[a.1].instance.cmp(&entries[b.1].instance))
        });
        let mut acting = 0;
        for (k, (_, idx)) in cands.iter().enumerate() {
            let e = &mut entries[*idx];
            if k < allowed && refused.is_none() {
                e.decision = "act";
                acting += 1;
            } else if refused.is_some() {
                e.decision = "held";
            } else {
                e.decision = "deferred";
                e.reason.push_str(&format!("; deferred: {note}"));
            }
        }
        groups.push(GroupBudget {
            group: g,
            size: n,
            impaired,
            allowed,
            acting,
            deferred: cands.len() - acting,
        });
    }
    if refused.is_some() {
        for e in entries.iter_mut().filter(|e| e.decision == "candidate") {
            e.decision = "held";
        }
    }
    entries.sort_by(|a, b| {
        (a.decision, &a.region, &a.instance).cmp(&(b.decision, &b.region, &b.instance))
    });
    let (refused, refusal_kind) = match refused {
        Some((r, k)) => (Some(r), Some(k)),
        None => (None, None),
    };
    Plan {
        contract: input.contract.clone(),
        action: input.action,
        dry_run: true,
        refused,
        refusal_kind,
        threshold_minutes: input.threshold.num_minutes(),
        entries,
        groups,
    }
}

/// The cull contract: the one consumer with role `cull` (or the one named).
pub fn cull_contract<'a>(
    set: &'a ContractSet,
    name: Option<&str>,
) -> Result<&'a crate::contract::Consumer, String> {
    let culls: Vec<&crate::contract::Consumer> = set
        .consumers
        .iter()
        .filter(|c| c.role == Role::Cull && name.is_none_or(|n| c.name == n))
        .collect();
    match culls.as_slice() {
        [one] => Ok(one),
        [] => Err(match name {
            Some(n) => format!("no consumer contract named {n} has \"role\": \"cull\""),
            None => "no consumer contract has \"role\": \"cull\"; cull needs one to know its scope and grouping".into(),
        }),
        many => Err(format!("several cull contracts ({}); pick one with --cull-contract", many.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))),
    }
}

/// Members and contract problems: evaluates the cull contract on the instances it selects.
pub fn members(
    set: &ContractSet,
    contract: &crate::contract::Consumer,
    fleet: &[Instance],
) -> (Vec<Member>, Vec<String>) {
    let group_fact = contract.clauses.iter().find_map(|cl| match &cl.check {
        Check::Derives { fact, .. } => Some(*fact),
        _ => None,
    });
    let mut members = Vec::new();
    let mut failing: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for i in fleet.iter().filter(|i| set.selects(&contract.selector, i)) {
        let mut facts: Vec<Option<FactValue>> = vec![None; contract.facts.len()];
        for cl in &contract.clauses {
            if let ClauseOutcome::Fail(v) =
                eval_clause_with(contract, cl, i, &mut facts, Detail::Failures)
                && cl.severity == Severity::Error
            {
                let e = failing.entry(cl.id.clone()).or_insert((0, v));
                e.0 += 1;
            }
        }
        let group = group_fact.and_then(|f| facts[f].as_ref().map(|fv| fv.value.clone()));
        members.push(Member {
            id: i.id.clone(),
            region: i.region.clone(),
            group,
        });
    }
    let problems = failing
        .into_iter()
        .map(|(id, (n, example))| format!("clause {id} fails on {n} instance(s), e.g. {example}"))
        .collect();
    (members, problems)
}

/// Parses `aws ec2 describe-instance-status --output json` (recorded statuses for offline runs).
pub fn read_status_file(
    path: &std::path::Path,
) -> Result<Vec<(String, checker_ec2::RawStatus)>, crate::diag::Diagnostics> {
    use crate::diag::{Diagnostic, Diagnostics};
    use serde_json::Value;
    let text = std::fs::read(path).map_err(|e| {
        Diagnostics(vec![
            Diagnostic::file(path, format!("cannot read the status file: {e}"))
                .hint("pass what `aws ec2 describe-instance-status --output json` prints"),
        ])
    })?;
    let v: Value = serde_json::from_slice(&text)
        .map_err(|e| Diagnostics(vec![Diagnostic::from_json_error(path, &e)]))?;
    let Some(list) = v.get("InstanceStatuses").and_then(Value::as_array) else {
        return Err(Diagnostics(vec![
            Diagnostic::at(
                path,
                "",
                "this is not describe-instance-status output: no \"InstanceStatuses\" array",
            )
            .hint("record it with `aws ec2 describe-instance-status --output json`"),
        ]));
    };
    let mut out = Vec::new();
    for (k, s) in list.iter().enumerate() {
        let ptr = format!("/InstanceStatuses/{k}");
        let Some(id) = s.get("InstanceId").and_then(Value::as_str) else {
            return Err(Diagnostics(vec![Diagnostic::at(
                path,
                ptr,
                "a status has no \"InstanceId\"",
            )]));
        };
        let az = s
            .get("AvailabilityZone")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(region) = az.as_deref().and_then(crate::fleet::region_from_az) else {
            return Err(Diagnostics(vec![Diagnostic::at(
                path,
                format!("{ptr}/AvailabilityZone"),
                "missing or not an availability zone, so the region is unknown",
            )]));
        };
        let mut since: Vec<String> = Vec::new();
        let mut summary = |key: &str| -> Option<String> {
            let x = s.get(key)?;
            for d in x
                .get("Details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = d.get("ImpairedSince").and_then(Value::as_str) {
                    since.push(t.to_string());
                }
            }
            x.get("Status").and_then(Value::as_str).map(str::to_string)
        };
        let instance_status = summary("InstanceStatus");
        let system_status = summary("SystemStatus");
        since.sort();
        out.push((
            region,
            checker_ec2::RawStatus {
                id: id.to_string(),
                availability_zone: az,
                state: s
                    .get("InstanceState")
                    .and_then(|x| x.get("Name"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                instance_status,
                system_status,
                impaired_since: since.into_iter().next(),
                events: s
                    .get("Events")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("Code").and_then(Value::as_str).map(str::to_string))
                    .collect(),
            },
        ));
    }
    Ok(out)
}

/// Client-side re-check of the status fields (server-side filters are only an optimization:
/// moto, for one, ignores them).
pub fn impairments(
    statuses: &[(String, checker_ec2::RawStatus)],
    include_events: bool,
) -> Vec<Impairment> {
    let mut out = Vec::new();
    for (region, s) in statuses {
        let mut why = Vec::new();
        if s.instance_status.as_deref() == Some("impaired") {
            why.push("instance-status impaired".to_string());
        }
        if s.system_status.as_deref() == Some("impaired") {
            why.push("system-status impaired".to_string());
        }
        if include_events {
            why.extend(
                s.events
                    .iter()
                    .filter(|e| e.contains("retirement") || e.contains("system-reboot"))
                    .map(|e| format!("scheduled {e}")),
            );
        }
        if why.is_empty() || !matches!(s.state.as_deref(), None | Some("running") | Some("pending"))
        {
            continue;
        }
        let since = s
            .impaired_since
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        out.push(Impairment {
            id: s.id.clone(),
            region: region.clone(),
            reason: why.join(", "),
            since,
        });
    }
    out
}

/// The DescribeInstanceStatus filter sets: one call set per condition.
pub fn status_conditions(include_events: bool) -> Vec<(String, Vec<String>)> {
    let mut c = vec![
        (
            "instance-status.status".to_string(),
            vec!["impaired".to_string()],
        ),
        (
            "system-status.status".to_string(),
            vec!["impaired".to_string()],
        ),
    ];
    if include_events {
        c.push((
            "event.code".to_string(),
            vec!["instance-retirement".into(), "system-reboot".into()],
        ));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(min_ago: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2018-02-14T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            - Duration::minutes(min_ago)
    }

    fn input(members: Vec<Member>, impaired: Vec<Impairment>) -> PlanInput {
        PlanInput {
            contract: "cull".into(),
            members,
            impaired,
            partial_regions: vec![],
            contract_problems: vec![],
            now: t(0),
            threshold: Duration::minutes(10),
            budget: Budget {
                max_count: None,
                max_percent: 10,
                min_healthy: 1,
            },
            action: Action::Terminate,
        }
    }

    #[test]
    fn ten_percent_of_a_hundred_is_ten_oldest_first() {
        let members = (0..100)
            .map(|k| Member {
                id: format!("i-{k:03}"),
                region: "us-east-1".into(),
                group: Some("wt".into()),
            })
            .collect();
        let impaired = (0..50)
            .map(|k| Impairment {
                id: format!("i-{k:03}"),
                region: "us-east-1".into(),
                reason: "instance-status impaired".into(),
                since: Some(t(60 + k)),
            })
            .collect();
        let p = plan(&input(members, impaired));
        // i-049 has been impaired longest (109 min): the ten oldest are i-040..i-049.
        let mut chosen: Vec<&str> = p.chosen().map(|e| e.instance.as_str()).collect();
        chosen.sort();
        let expected: Vec<String> = (40..50).map(|k| format!("i-{k:03}")).collect();
        assert_eq!(
            chosen,
            expected.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(
            p.entries
                .iter()
                .filter(|e| e.decision == "deferred")
                .count(),
            40
        );
        assert_eq!(p.groups[0].allowed, 10);
    }

    fn arb_input() -> impl Strategy<Value = PlanInput> {
        (
            proptest::collection::vec(
                (0u8..40, 0u8..3, proptest::option::weighted(0.9, 0u8..4)),
                0..60,
            ),
            proptest::collection::vec(
                (0u8..50, 0u8..3, proptest::option::weighted(0.9, 0i64..120)),
                0..60,
            ),
            any::<bool>(),
            any::<bool>(),
            0u32..=100,
            proptest::option::of(0usize..10),
            0usize..5,
            0i64..60,
        )
            .prop_map(
                |(ms, imps, partial, problem, pct, max, min_healthy, threshold)| {
                    let regions = ["us-east-1", "us-west-2", "eu-central-1"];
                    let mut members: Vec<Member> = ms
                        .into_iter()
                        .map(|(id, r, g)| Member {
                            id: format!("i-{id}"),
                            region: regions[r as usize].into(),
                            group: g.map(|g| format!("g{g}")),
                        })
                        .collect();
                    members.sort_by(|a, b| a.id.cmp(&b.id));
                    members.dedup_by(|a, b| a.id == b.id);
                    let impaired = imps
                        .into_iter()
                        .map(|(id, r, since)| Impairment {
                            id: format!("i-{id}"),
                            region: regions[r as usize].into(),
                            reason: "instance-status impaired".into(),
                            since: since.map(t),
                        })
                        .collect();
                    let mut i = input(members, impaired);
                    if partial {
                        i.partial_regions = vec!["us-west-2".into()];
                    }
                    if problem {
                        i.contract_problems = vec!["clause x fails".into()];
                    }
                    i.budget = Budget {
                        max_count: max,
                        max_percent: pct,
                        min_healthy,
                    };
                    i.threshold = Duration::minutes(threshold);
                    i
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn plans_never_break_the_invariants(input in arb_input()) {
            let p = plan(&input);
            let members: BTreeMap<&str, &Member> = input.members.iter().map(|m| (m.id.as_str(), m)).collect();
            let chosen: Vec<&PlanEntry> = p.chosen().collect();
            // Nothing at all on partial data or a broken contract.
            if !input.partial_regions.is_empty() || !input.contract_problems.is_empty() {
                prop_assert!(chosen.is_empty());
                prop_assert!(p.refused.is_some());
            }
            let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
            for e in &chosen {
                // Never outside the selector, never under the threshold.
                let m = members.get(e.instance.as_str());
                prop_assert!(m.is_some(), "{} is not selected", e.instance);
                let imp = input.impaired.iter().find(|i| i.id == e.instance).unwrap();
                let since = imp.since.unwrap();
                prop_assert!(input.now - since >= input.threshold);
                *per_group.entry(e.group.as_deref().unwrap()).or_default() += 1;
            }
            // Never more than a group's budget.
            for (g, n) in per_group {
                let size = input.members.iter().filter(|m| m.group.as_deref() == Some(g)).count();
                let by_pct = (size * input.budget.max_percent as usize).div_ceil(100);
                prop_assert!(n <= by_pct);
                if let Some(m) = input.budget.max_count { prop_assert!(n <= m); }
            }
            // Each impaired instance appears once.
            let ids: BTreeSet<&str> = p.entries.iter().map(|e| e.instance.as_str()).collect();
            prop_assert_eq!(ids.len(), p.entries.len());
        }
    }
}
