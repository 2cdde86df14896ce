//! `checker cull`: terminate (or reboot) impaired instances, safely.
//!
//! Scope and grouping come from the cull contract (a consumer contract with `"role": "cull"`):
//! only instances its selector selects are candidates, grouped by the first fact it derives
//! (the worker type). The plan is computed by [`plan`], a pure function, and has the same shape
//! in dry-run and apply. It refuses to act at all when any region's data is partial, when the
//! cull contract is itself violated, or when its selector matches nothing while instances are
//! impaired: the 2018 culling script failed by silently doing nothing; this one fails loudly.

use crate::exit::ExitStatus;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

mod apply;
pub mod audit;
pub mod budget;
mod collect;
pub(crate) mod run;
mod scope;
mod status;
pub use crate::source::Action;
pub use apply::{Outcome, apply};
pub use budget::Claim;
pub use collect::{InScope, ScopeSink};
pub use run::{
    CullSettings, Gathered, gather_in_scope, make_plan, refuse_apply_unless_able, stop_on_signal,
};
pub use scope::{cull_contract, members};
pub use status::impairments;

/// Per-group limits, per window of time (across runs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// At most this many per group per window.
    pub max_count: Option<usize>,
    /// At most this percent of the group per window (rounded up, like Karpenter's budgets).
    pub max_percent: u32,
    /// Act on a group only while at least this many of its instances are healthy: when a whole
    /// group is impaired the cause is systemic (an AMI, a region), and terminating will not help.
    pub min_healthy: usize,
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
    /// Claims of earlier and concurrent runs (`checker:claim:<run>` tags, and the legacy `checker:culled-at`).
    pub claims: Vec<Claim>,
    /// The budget's window.
    pub window: Duration,
    /// How many instances were read, selected or not.
    pub fleet_size: usize,
    /// The contract says it may select nothing (`mayBeEmpty`).
    pub may_be_empty: bool,
}

/// What the plan does with one impaired instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// Instance id.
    pub instance: String,
    /// Region.
    pub region: String,
    /// Group.
    pub group: Option<String>,
    /// What is done with it.
    pub decision: Decision,
    /// Why it is impaired, and why this decision.
    pub reason: String,
    /// Earliest ImpairedSince, RFC 3339.
    pub impaired_since: Option<String>,
    /// After apply: the state EC2 reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// One group's budget arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    /// Already claimed in the window, by this or other runs (counted against `allowed`).
    pub used_in_window: usize,
    /// Chosen.
    pub acting: usize,
    /// Over budget, left for a later run.
    pub deferred: usize,
}

/// The plan: identical in dry-run and apply, but for `dryRun` and the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always [`PLAN_FORMAT`].
    pub format: &'static str,
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// [`PLAN_MINOR_VERSION`].
    pub minor_version: u32,
    /// `checker x.y.z`.
    pub tool: String,
    /// The binary: version, git commit, dirty flag, build time (report 1.3, diff 1.3, plan 1.2).
    pub build: crate::build::BuildInfo,
    /// The cull contract.
    pub contract: String,
    /// Terminate or reboot.
    pub action: Action,
    /// Nothing is done.
    pub dry_run: bool,
    /// Why nothing at all may be done, if so.
    pub refused: Option<String>,
    /// `partial-data` or `broken-contract`.
    pub refusal_kind: Option<Refusal>,
    /// Minutes an instance must have been impaired.
    pub threshold_minutes: i64,
    /// The budget's window, in minutes.
    pub budget_window_minutes: i64,
    /// Per impaired instance.
    pub entries: Vec<PlanEntry>,
    /// Per group.
    pub groups: Vec<GroupBudget>,
    /// Claims that cannot be taken at their word (dated after this run's clock, or unreadable):
    /// each counts against the budget for as long as it exists (plan 1.3).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub suspect_claims: Vec<String>,
    /// After `--apply`: what happened, counted (plan 1.3).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<Outcome>,
}

/// The cull plan's format name.
pub const PLAN_FORMAT: &str = "checker-cull-plan";
/// The cull plan's (major) version.
pub const PLAN_VERSION: u32 = 1;
/// The cull plan's minor version (1: `budgetWindowMinutes`, `groups[].usedInWindow`, the
/// `already-acted` decision; 3: the `claimed` decision, `suspectClaims`, `outcome`).
pub const PLAN_MINOR_VERSION: u32 = 3;

/// What the plan does with one impaired instance. The order is the plan's: entries are sorted
/// by decision (then region and instance), as the names sort.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Terminate (or reboot) it this run.
    Act,
    /// Acted on by a run in the window: not again.
    AlreadyActed,
    /// Impaired past the threshold; not decided yet (never in a finished plan).
    Candidate,
    /// Claimed by a run in the window that has not confirmed acting (in flight, or it died
    /// before it could act or release), or by a suspect claim: left alone, counted as spent.
    Claimed,
    /// Over this run's budget: left for a later run.
    Deferred,
    /// The run refused to act: nothing is done anywhere.
    Held,
    /// Not selected by the cull contract: never touched.
    OutsideSelector,
    /// Impaired for less than the threshold.
    TooRecent,
    /// No ImpairedSince: left alone.
    UnknownSince,
}

impl Decision {
    /// As plans write it.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Act => "act",
            Decision::AlreadyActed => "already-acted",
            Decision::Candidate => "candidate",
            Decision::Claimed => "claimed",
            Decision::Deferred => "deferred",
            Decision::Held => "held",
            Decision::OutsideSelector => "outside-selector",
            Decision::TooRecent => "too-recent",
            Decision::UnknownSince => "unknown-since",
        }
    }
}

crate::code::display_as_name!(Decision);

/// Why a run acts on nothing at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// Some region's fleet or status data is incomplete (exit 3).
    PartialData,
    /// The cull contract does not hold, or selects nothing while instances are impaired (exit 1).
    BrokenContract,
}

impl Plan {
    /// The instances to act on.
    pub fn chosen(&self) -> impl Iterator<Item = &PlanEntry> {
        self.entries.iter().filter(|e| e.decision == Decision::Act)
    }

    /// The exit status the plan calls for.
    pub fn exit_status(&self) -> ExitStatus {
        match self.refusal_kind {
            Some(Refusal::PartialData) => ExitStatus::Incomplete,
            Some(Refusal::BrokenContract) => ExitStatus::Violations,
            None => ExitStatus::Clean,
        }
    }
}

/// Why nothing at all may be done, if so.
fn refusal(input: &PlanInput, members: &ById) -> Option<(String, Refusal)> {
    if !input.partial_regions.is_empty() {
        return Some((
            format!(
                "the data of {} is incomplete: nothing is done anywhere until every region reads cleanly",
                input.partial_regions.join(", ")
            ),
            Refusal::PartialData,
        ));
    }
    if !input.contract_problems.is_empty() {
        return Some((
            format!(
                "the cull contract {} does not hold, so its scope and grouping cannot be trusted: {}",
                input.contract,
                input.contract_problems.join("; ")
            ),
            Refusal::BrokenContract,
        ));
    }
    if input.members.is_empty() && !input.impaired.is_empty() {
        return Some((
            format!(
                "the cull contract {} selects no instance while {} are impaired: its selector no longer matches the fleet",
                input.contract,
                input.impaired.len()
            ),
            Refusal::BrokenContract,
        ));
    }
    if input.members.is_empty() && !input.may_be_empty {
        return Some((
            format!(
                "the cull contract {} selects none of the {} instance(s) read: a selector that matches nothing (a typo, a renamed tag) would cull nothing, silently; fix it, or declare \"mayBeEmpty\": true if the pool is legitimately idle",
                input.contract, input.fleet_size
            ),
            Refusal::BrokenContract,
        ));
    }
    let m = input
        .impaired
        .iter()
        .filter_map(|i| members.get(i.id.as_str()))
        .find(|m| m.group.is_none())?;
    Some((
        format!(
            "the cull contract {} cannot derive the group of impaired instance {}",
            input.contract, m.id
        ),
        Refusal::BrokenContract,
    ))
}

/// One entry per impaired instance (the first report of each), with its first decision; and per
/// group, the candidates' impairment times and entry indexes.
type Candidates = BTreeMap<String, Vec<(DateTime<Utc>, usize)>>;

fn entries(
    input: &PlanInput,
    members: &ById,
) -> (Vec<PlanEntry>, Candidates, BTreeMap<String, usize>) {
    let cutoff = input.now - input.threshold;
    let mut entries = Vec::new();
    let mut candidates: Candidates = BTreeMap::new();
    let mut impaired_in: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for imp in &input.impaired {
        if !seen.insert(imp.id.as_str()) {
            continue;
        }
        let member = members.get(imp.id.as_str());
        let group = member.and_then(|m| m.group.clone());
        let claimed = input
            .claims
            .iter()
            .filter(|c| c.instance == imp.id && c.counts(input.now, input.window))
            .max_by_key(|c| c.state);
        let (decision, why) = match (member, imp.since) {
            _ if let Some(c) = claimed => budget::decision(c, input.now),
            (None, _) => (
                Decision::OutsideSelector,
                format!("not selected by {}: never touched", input.contract),
            ),
            (Some(_), None) => (
                Decision::UnknownSince,
                "no ImpairedSince reported: left alone".to_string(),
            ),
            (Some(_), Some(s)) if s > cutoff => (
                Decision::TooRecent,
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
                    Decision::Candidate,
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
            impaired_since: imp
                .since
                .map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            result: None,
        });
    }
    (entries, candidates, impaired_in)
}

/// A group's budget per window (before what earlier runs used).
pub fn window_budget(budget: &Budget, size: usize) -> usize {
    let by_percent = (size * budget.max_percent as usize).div_ceil(100);
    budget.max_count.map_or(by_percent, |m| m.min(by_percent))
}

/// What a group may still use this run, and the words a deferred entry gets.
fn allowance(input: &PlanInput, size: usize, impaired: usize, used: usize) -> (usize, String) {
    let budget = &input.budget;
    let healthy = size.saturating_sub(impaired);
    let per_window = window_budget(budget, size);
    let allowed = per_window.saturating_sub(used);
    if healthy < budget.min_healthy {
        return (
            0,
            format!(
                "only {healthy} healthy in the group, under --min-healthy {}: a systemic problem, not culled",
                budget.min_healthy
            ),
        );
    }
    (
        allowed,
        format!(
            "budget {per_window} of {size} per {} min, {used} used in the window",
            input.window.num_minutes()
        ),
    )
}

/// The members in scope by instance id.
type ById<'a> = std::collections::HashMap<&'a str, &'a Member, foldhash::fast::RandomState>;

/// Decides, without I/O, what to do with each impaired instance.
pub fn plan(input: &PlanInput) -> Plan {
    // Looked up by the impaired instances' ids only: a hash map, as a tree of a million
    // members cost a second of sorting after the last page.
    let members: ById = input.members.iter().map(|m| (m.id.as_str(), m)).collect();
    let refused = refusal(input, &members);
    // Group sizes count every selected instance, impaired or not.
    let mut size: BTreeMap<String, usize> = BTreeMap::new();
    for m in &input.members {
        if let Some(g) = &m.group {
            match size.get_mut(g) {
                Some(n) => *n += 1,
                None => {
                    size.insert(g.clone(), 1);
                }
            }
        }
    }
    let (mut entries, candidates, impaired_in) = entries(input, &members);
    let used = budget::used_in_window(&input.claims, input.now, input.window);
    let mut groups = Vec::new();
    for (g, mut cands) in candidates {
        let n = size.get(&g).copied().unwrap_or(0);
        let impaired = impaired_in.get(&g).copied().unwrap_or(0);
        let used = used.get(&g);
        let (allowed, note) = allowance(input, n, impaired, used);
        cands.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| entries[a.1].instance.cmp(&entries[b.1].instance))
        });
        let mut acting = 0;
        for (k, (_, idx)) in cands.iter().enumerate() {
            let e = &mut entries[*idx];
            if refused.is_some() {
                e.decision = Decision::Held;
            } else if k < allowed {
                e.decision = Decision::Act;
                acting += 1;
            } else {
                e.decision = Decision::Deferred;
                e.reason.push_str(&format!("; deferred: {note}"));
            }
        }
        groups.push(GroupBudget {
            group: g,
            size: n,
            impaired,
            allowed,
            used_in_window: used,
            acting,
            deferred: cands.len() - acting,
        });
    }
    if refused.is_some() {
        for e in entries
            .iter_mut()
            .filter(|e| e.decision == Decision::Candidate)
        {
            e.decision = Decision::Held;
        }
    }
    entries.sort_by(|a, b| {
        (a.decision, &a.region, &a.instance).cmp(&(b.decision, &b.region, &b.instance))
    });
    let (refused, refusal_kind) = refused.map_or((None, None), |(r, k)| (Some(r), Some(k)));
    Plan {
        format: PLAN_FORMAT,
        version: PLAN_VERSION,
        minor_version: PLAN_MINOR_VERSION,
        tool: crate::eval::tool(),
        build: crate::build::info(),
        contract: input.contract.clone(),
        action: input.action,
        dry_run: true,
        refused,
        refusal_kind,
        threshold_minutes: input.threshold.num_minutes(),
        budget_window_minutes: input.window.num_minutes(),
        entries,
        groups,
        suspect_claims: input
            .claims
            .iter()
            .filter_map(|c| c.suspect(input.now))
            .collect(),
        outcome: None,
    }
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
            fleet_size: 100,
            may_be_empty: false,
            claims: vec![],
            window: Duration::minutes(60),
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
                .filter(|e| e.decision == Decision::Deferred)
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
            // Claims up to two hours old, and some dated in the future (forged-looking).
            proptest::collection::vec((0u8..50, 0u8..4, -600i64..120), 0..10),
        )
            .prop_map(
                |(ms, imps, partial, problem, pct, max, min_healthy, threshold, claims)| {
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
                    i.claims = claims
                        .into_iter()
                        .map(|(id, g, ago)| {
                            Claim::new(
                                &format!("i-{id}"),
                                "earlier",
                                &format!("g{g}"),
                                t(ago),
                                budget::ClaimState::Acted,
                            )
                        })
                        .collect();
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
            // Never an instance claimed in the window, never more than a group's budget per
            // window with what earlier runs used.
            let used = budget::used_in_window(&input.claims, input.now, input.window);
            for e in &chosen {
                prop_assert!(!input.claims.iter().any(|c| c.instance == e.instance && c.counts(input.now, input.window)));
            }
            for (g, n) in per_group {
                let size = input.members.iter().filter(|m| m.group.as_deref() == Some(g)).count();
                let by_pct = (size * input.budget.max_percent as usize).div_ceil(100);
                prop_assert!(n <= by_pct.saturating_sub(used.get(g)));
                if let Some(m) = input.budget.max_count { prop_assert!(n <= m); }
            }
            // Each impaired instance appears once.
            let ids: BTreeSet<&str> = p.entries.iter().map(|e| e.instance.as_str()).collect();
            prop_assert_eq!(ids.len(), p.entries.len());
        }
    }
}
