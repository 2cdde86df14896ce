//! Budgets that hold across runs. Before acting on an instance a run *claims* it with a tag of
//! its own: key `checker:claim:<run>`, value `<time> <state> <group>` (state `claimed`, then
//! `acted` once the call succeeded). EC2 keeps tags on terminated instances for as long as it
//! lists them (about an hour), so a fresh container reads what earlier runs did from EC2
//! itself, with no state of its own.
//!
//! A claim is one run's own tag: a second run never overwrites it, and a run removes only its
//! own, with DeleteTags naming the key *and* the value it wrote (EC2 deletes a tag given with a
//! value only when the value matches), so a release can never drop another run's claim.
//!
//! A group's budget is per window (`--budget-window`, at most an hour): the distinct instances
//! claimed in the window count against it whoever claimed them. Overlapping runs: each run
//! claims, re-reads the claims, and keeps only its claims on instances no other run has
//! claimed, and only as many as the budget leaves after *every other run's* claims in the
//! window, releasing the rest. Two runs that see each other may both yield (nothing is culled
//! this time; the next run will); they can never both act past the budget, nor both act on one
//! instance: the run whose re-read came last saw every claim the others kept.
//!
//! Claim times are not trusted: a claim dated after the reader's clock (beyond
//! [`MAX_SKEW_SECONDS`]), or one whose time or group cannot be read, is reported as suspect and
//! counts against the budget (against every group, when its group is unreadable) for as long as
//! it exists: a forged or garbled tag can hold culling back, never let it exceed the budget.
//!
//! Claims written by releases before this format (`checker:culled-at`, `checker:cull-run`,
//! `checker:cull-group`) are still read, as acted.

use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The prefix of a claim's tag key: `checker:claim:<run>`.
pub const CLAIM_PREFIX: &str = "checker:claim:";
/// The `tag-key` filter value that finds every run's claims.
pub const CLAIM_FILTER: &str = "checker:claim:*";
/// The claim time tag of releases before per-run claim keys (still read).
pub const LEGACY_CULLED_AT: &str = "checker:culled-at";
/// The run tag of releases before per-run claim keys (still read).
pub const LEGACY_CULL_RUN: &str = "checker:cull-run";
/// The group tag of releases before per-run claim keys (still read).
pub const LEGACY_CULL_GROUP: &str = "checker:cull-group";

/// The longest window: EC2 lists terminated instances, and so their claim tags, for about an
/// hour; a longer window would silently forget older claims.
pub const MAX_WINDOW_MINUTES: i64 = 60;

/// How far in the reader's future a claim may be dated before it is called forged-looking
/// (clocks of two machines differ by a little, never by minutes under NTP).
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Where a claim is in its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClaimState {
    /// Claimed; the call may be in flight (or its run died before it could say).
    Claimed,
    /// The call succeeded.
    Acted,
}

impl ClaimState {
    fn name(self) -> &'static str {
        match self {
            ClaimState::Claimed => "claimed",
            ClaimState::Acted => "acted",
        }
    }
}

/// One instance claimed by a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    /// The instance.
    pub instance: String,
    /// The run that claimed it.
    pub run: String,
    /// Its group; `None` when the tag could not be read (counts against every group).
    pub group: Option<String>,
    /// When; `None` when the tag could not be read (counts as in the window).
    pub at: Option<DateTime<Utc>>,
    /// Claimed or acted.
    pub state: ClaimState,
}

impl Claim {
    /// A well-formed claim (what a run writes).
    pub fn new(
        instance: &str,
        run: &str,
        group: &str,
        at: DateTime<Utc>,
        state: ClaimState,
    ) -> Self {
        Claim {
            instance: instance.to_string(),
            run: run.to_string(),
            group: Some(group.to_string()),
            at: Some(at),
            state,
        }
    }

    /// Every claim an instance's tags make (one per run; legacy tags make one more).
    pub fn from_tags<'a>(
        instance: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<Claim> {
        let mut out = Vec::new();
        let mut legacy: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in tags {
            if let Some(run) = k.strip_prefix(CLAIM_PREFIX) {
                out.push(Claim::parse(instance, run, v));
            } else if [LEGACY_CULLED_AT, LEGACY_CULL_RUN, LEGACY_CULL_GROUP].contains(&k) {
                legacy.insert(k, v);
            }
        }
        if let Some(at) = legacy.get(LEGACY_CULLED_AT) {
            out.push(Claim {
                instance: instance.to_string(),
                run: legacy
                    .get(LEGACY_CULL_RUN)
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
                group: legacy
                    .get(LEGACY_CULL_GROUP)
                    .map(|g| (*g).to_string())
                    .filter(|g| !g.is_empty()),
                at: parse_time(at),
                state: ClaimState::Acted,
            });
        }
        out
    }

    /// A claim from its tag value `<time> <state> <group>`; what cannot be read stays `None`.
    fn parse(instance: &str, run: &str, value: &str) -> Claim {
        let mut parts = value.splitn(3, ' ');
        let at = parts.next().and_then(parse_time);
        let state = match parts.next() {
            Some("acted") => ClaimState::Acted,
            _ => ClaimState::Claimed,
        };
        let group = parts.next().filter(|g| !g.is_empty()).map(str::to_string);
        Claim {
            instance: instance.to_string(),
            run: run.to_string(),
            group,
            at,
            state,
        }
    }

    /// The tag key: `checker:claim:<run>`.
    pub fn key(&self) -> String {
        format!("{CLAIM_PREFIX}{}", self.run)
    }

    /// The tag value: `<time> <state> <group>`.
    pub fn value(&self) -> String {
        format!(
            "{} {} {}",
            self.at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            self.state.name(),
            self.group.as_deref().unwrap_or_default()
        )
    }

    /// Why this claim cannot be taken at its word, if so: it is then counted as spent budget.
    pub fn suspect(&self, now: DateTime<Utc>) -> Option<String> {
        match self.at {
            None => Some(format!(
                "the claim of run {} on {} has no readable time",
                self.run, self.instance
            )),
            Some(at) if at > now + Duration::seconds(MAX_SKEW_SECONDS) => Some(format!(
                "the claim of run {} on {} is dated {}, after this run's clock ({}): forged-looking",
                self.run,
                self.instance,
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            _ if self.group.is_none() => Some(format!(
                "the claim of run {} on {} names no group",
                self.run, self.instance
            )),
            _ => None,
        }
    }

    /// Whether the claim counts now: in the window, or suspect (then always).
    pub fn counts(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.suspect(now).is_some() || self.at.is_some_and(|at| at >= now - window)
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The instances claimed in the window, per group (a claim with no readable group counts
/// against every group).
#[derive(Debug, Default)]
pub struct Used {
    by_group: BTreeMap<String, BTreeSet<String>>,
    any_group: BTreeSet<String>,
}

impl Used {
    /// Distinct instances claimed against `group`.
    pub fn get(&self, group: &str) -> usize {
        match self.by_group.get(group) {
            Some(s) => s.union(&self.any_group).count(),
            None => self.any_group.len(),
        }
    }
}

/// Per group: distinct instances with a claim that counts (any run).
pub fn used_in_window(claims: &[Claim], now: DateTime<Utc>, window: Duration) -> Used {
    let mut used = Used::default();
    for c in claims.iter().filter(|c| c.counts(now, window)) {
        match &c.group {
            Some(g) => used
                .by_group
                .entry(g.clone())
                .or_default()
                .insert(c.instance.clone()),
            None => used.any_group.insert(c.instance.clone()),
        };
    }
    used
}

/// Which of `run`'s claims it may act on, given what the re-read shows (`visible`, every
/// claim present) and each group's budget per window: an instance another run has claimed
/// too (in any state, at any time) is never kept; other runs' counting claims come first; of
/// its own, the oldest (then lowest id) fill what is left.
pub fn keep(
    budgets: &BTreeMap<String, usize>,
    visible: &[Claim],
    run: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> BTreeSet<String> {
    let contested: BTreeSet<&str> = visible
        .iter()
        .filter(|c| c.run != run)
        .map(|c| c.instance.as_str())
        .collect();
    let others: Vec<Claim> = visible.iter().filter(|c| c.run != run).cloned().collect();
    let used = used_in_window(&others, now, window);
    let mut own: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    for c in visible.iter().filter(|c| c.run == run) {
        if let Some(g) = &c.group {
            own.entry(g).or_default().push(c);
        }
    }
    let mut out = BTreeSet::new();
    for (g, mut mine) in own {
        let budget = budgets.get(g).copied().unwrap_or(0);
        let left = budget.saturating_sub(used.get(g));
        mine.retain(|c| !contested.contains(c.instance.as_str()));
        mine.sort_by(|a, b| (a.at, &a.instance).cmp(&(b.at, &b.instance)));
        out.extend(mine.into_iter().take(left).map(|c| c.instance.clone()));
    }
    out
}

/// An instance another run has claimed: acted on (not again), or claimed and not confirmed
/// (in flight, or its run died before it could act or release: it counts until the window
/// ends, and a suspect claim for as long as it exists).
pub(super) fn decision(c: &Claim, now: DateTime<Utc>) -> (super::Decision, String) {
    let at = c.at.map_or_else(
        || "an unreadable time".to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if let Some(s) = c.suspect(now) {
        return (
            super::Decision::Claimed,
            format!(
                "{s}; it counts against the budget until the tag {} is removed",
                c.key()
            ),
        );
    }
    match c.state {
        ClaimState::Acted => (
            super::Decision::AlreadyActed,
            format!("acted on by run {} at {at}: not acted on twice", c.run),
        ),
        ClaimState::Claimed => (
            super::Decision::Claimed,
            format!(
                "claimed by run {} at {at} and not confirmed: in flight, or that run stopped before it could act or release; not acted on while the claim is in the window",
                c.run
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2018-02-14T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    /// EC2's tags as the runs see them: instance -> key -> value.
    type Store = BTreeMap<String, BTreeMap<String, String>>;

    fn claims_in(store: &Store) -> Vec<Claim> {
        store
            .iter()
            .flat_map(|(i, t)| Claim::from_tags(i, t.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .collect()
    }

    /// DeleteTags with a value: removed only when the value still matches.
    fn release(store: &mut Store, c: &Claim) {
        if let Some(t) = store.get_mut(&c.instance)
            && t.get(&c.key()) == Some(&c.value())
        {
            t.remove(&c.key());
        }
    }

    /// One run's steps: read the claims and plan (choose what the window leaves), claim (tag),
    /// re-read and keep (the claims it does not keep are released), act (then mark the claims
    /// acted) or fail (then release them).
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Plan,
        Claim,
        Decide,
        Act,
    }

    #[derive(Default, Debug)]
    struct Run {
        chosen: Vec<String>,
        kept: Vec<String>,
        step: usize,
        at: Option<DateTime<Utc>>,
    }

    /// Runs `runs` over one group of `size` candidates with `budget` per window, their steps
    /// interleaved in `order` (each entry picks the run that takes its next step; runs in
    /// `failing` fail their act call); returns every (run, instance) acted on.
    fn simulate(
        budget: usize,
        size: usize,
        runs: usize,
        order: &[usize],
        failing: &[bool],
    ) -> Vec<(usize, String)> {
        let budgets: BTreeMap<String, usize> = [("g".to_string(), budget)].into();
        let window = Duration::minutes(60);
        let mut store: Store = (0..size)
            .map(|i| (format!("i-{i:02}"), BTreeMap::new()))
            .collect();
        let mut acted = Vec::new();
        let mut state: Vec<Run> = (0..runs).map(|_| Run::default()).collect();
        let steps = [Step::Plan, Step::Claim, Step::Decide, Step::Act];
        let mut clock = 0;
        let rest: Vec<usize> = (0..runs).flat_map(|r| [r; 4]).collect();
        for &r in order.iter().chain(rest.iter()) {
            let r = r % runs;
            let Some(step) = steps.get(state[r].step) else {
                continue;
            };
            clock += 1;
            let now = t0() + Duration::seconds(clock);
            let name = format!("run-{r}");
            let mine = |i: &str, at, st| Claim::new(i, &name, "g", at, st);
            match step {
                Step::Plan => {
                    let claims = claims_in(&store);
                    let left = budget.saturating_sub(used_in_window(&claims, now, window).get("g"));
                    let blocked: BTreeSet<&str> = claims
                        .iter()
                        .filter(|c| c.counts(now, window))
                        .map(|c| c.instance.as_str())
                        .collect();
                    state[r].chosen = store
                        .keys()
                        .filter(|i| !blocked.contains(i.as_str()))
                        .take(left)
                        .cloned()
                        .collect();
                }
                Step::Claim => {
                    state[r].at = Some(now);
                    for i in &state[r].chosen {
                        let c = mine(i, now, ClaimState::Claimed);
                        store
                            .entry(i.clone())
                            .or_default()
                            .insert(c.key(), c.value());
                    }
                }
                Step::Decide => {
                    let kept = keep(&budgets, &claims_in(&store), &name, now, window);
                    let at = state[r].at.unwrap_or(now);
                    for i in &state[r].chosen {
                        if !kept.contains(i) {
                            release(&mut store, &mine(i, at, ClaimState::Claimed));
                        }
                    }
                    state[r].kept = kept.into_iter().collect();
                }
                Step::Act => {
                    let at = state[r].at.unwrap_or(now);
                    for i in state[r].kept.clone() {
                        let claimed = mine(&i, at, ClaimState::Claimed);
                        if failing.get(r).copied().unwrap_or(false) {
                            release(&mut store, &claimed);
                        } else {
                            acted.push((r, i.clone()));
                            let done = mine(&i, at, ClaimState::Acted);
                            store.entry(i).or_default().insert(done.key(), done.value());
                        }
                    }
                }
            }
            state[r].step += 1;
        }
        acted
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// However the steps of overlapping runs interleave (and whichever of them fail to
        /// act), together they never act on more than the budget, nor twice on one instance.
        #[test]
        fn interleaved_runs_never_exceed_the_budget_or_act_twice(
            budget in 0usize..6,
            size in 0usize..20,
            runs in 1usize..5,
            order in proptest::collection::vec(0usize..5, 0..24),
            failing in proptest::collection::vec(any::<bool>(), 5),
        ) {
            let acted = simulate(budget, size, runs, &order, &failing);
            prop_assert!(acted.len() <= budget, "{} acted on against a budget of {budget}: {acted:?}", acted.len());
            let distinct: BTreeSet<&String> = acted.iter().map(|(_, i)| i).collect();
            prop_assert_eq!(distinct.len(), acted.len(), "an instance acted on twice: {:?}", acted);
        }
    }

    #[test]
    fn runs_one_after_another_share_the_window_budget() {
        // Three back-to-back runs, budget 4: 4, then nothing, then nothing (was 4 + 4 + 4).
        let order = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
        assert_eq!(simulate(4, 30, 3, &order, &[]).len(), 4);
    }

    #[test]
    fn two_runs_that_planned_together_never_both_act_on_one_instance() {
        // Both plan before either claims (both choose i-00, i-01), then run 0 claims and
        // decides before run 1 claims: run 0 acts; run 1 sees run 0's claims and yields.
        let acted = simulate(2, 10, 2, &[0, 1, 0, 0, 1, 1, 0, 1], &[]);
        assert_eq!(acted, vec![(0, "i-00".into()), (0, "i-01".into())]);
        // Both claim before either decides: run 0 sees run 1's claims and yields (releasing
        // its own); run 1 decides after that release, sees only its own, and acts.
        let acted = simulate(2, 10, 2, &[0, 1, 0, 1, 0, 1, 0, 1], &[]);
        assert_eq!(acted, vec![(1, "i-00".into()), (1, "i-01".into())]);
    }

    #[test]
    fn a_failed_run_releases_its_claims_and_the_next_run_may_act() {
        let acted = simulate(2, 10, 2, &[0, 0, 0, 0, 1, 1, 1, 1], &[true, false]);
        assert_eq!(acted, vec![(1, "i-00".into()), (1, "i-01".into())]);
    }

    #[test]
    fn a_second_claim_never_overwrites_the_first_and_a_release_removes_only_its_own() {
        let mut store: Store = BTreeMap::new();
        let a = Claim::new("i-1", "run-a", "g", t0(), ClaimState::Claimed);
        let b = Claim::new("i-1", "run-b", "g", t0(), ClaimState::Claimed);
        for c in [&a, &b] {
            store
                .entry("i-1".into())
                .or_default()
                .insert(c.key(), c.value());
        }
        assert_eq!(claims_in(&store).len(), 2);
        release(&mut store, &b);
        assert_eq!(claims_in(&store), vec![a.clone()]);
        // A release with a stale value (the claim was marked acted since) removes nothing.
        let acted = Claim::new("i-1", "run-a", "g", t0(), ClaimState::Acted);
        store
            .entry("i-1".into())
            .or_default()
            .insert(acted.key(), acted.value());
        release(&mut store, &a);
        assert_eq!(claims_in(&store), vec![acted]);
    }

    #[test]
    fn a_run_yields_to_the_claims_of_others_in_the_window() {
        let budgets: BTreeMap<String, usize> = [("g".to_string(), 1)].into();
        let c = |i: &str, run: &str, min: i64| {
            Claim::new(
                i,
                run,
                "g",
                t0() - Duration::minutes(min),
                ClaimState::Acted,
            )
        };
        let w = Duration::minutes(60);
        // Another run's claim 10 minutes ago takes the budget.
        assert!(
            keep(
                &budgets,
                &[c("a", "other", 10), c("b", "me", 0)],
                "me",
                t0(),
                w
            )
            .is_empty()
        );
        // Outside the window it no longer counts.
        assert_eq!(
            keep(
                &budgets,
                &[c("a", "other", 90), c("b", "me", 0)],
                "me",
                t0(),
                w
            ),
            ["b".to_string()].into()
        );
        // An instance another run claimed too is never kept, even with budget left.
        let roomy: BTreeMap<String, usize> = [("g".to_string(), 5)].into();
        assert!(
            keep(
                &roomy,
                &[c("b", "other", 90), c("b", "me", 0)],
                "me",
                t0(),
                w
            )
            .is_empty()
        );
    }

    #[test]
    fn suspect_claims_count_as_spent_budget_and_are_reported() {
        let w = Duration::minutes(60);
        let future = Claim::new("a", "x", "g", t0() + Duration::days(365), ClaimState::Acted);
        assert!(
            future
                .suspect(t0())
                .is_some_and(|s| s.contains("forged-looking"))
        );
        assert!(future.counts(t0(), w));
        // A little clock skew is not suspect.
        let skewed = Claim::new(
            "a",
            "x",
            "g",
            t0() + Duration::seconds(30),
            ClaimState::Acted,
        );
        assert!(skewed.suspect(t0()).is_none());
        let garbled = Claim::from_tags("b", [("checker:claim:x", "yesterday acted g")]);
        assert_eq!(garbled.len(), 1);
        assert!(garbled[0].suspect(t0()).is_some());
        assert!(garbled[0].counts(t0(), w));
        // No group: counts against every group.
        let nogroup = Claim::from_tags("c", [("checker:claim:x", "2018-02-14T11:00:00Z acted")]);
        let used = used_in_window(&nogroup, t0(), w);
        assert_eq!((used.get("g"), used.get("h")), (1, 1));
        let all: Vec<Claim> = [future, garbled[0].clone(), nogroup[0].clone()].into();
        let used = used_in_window(&all, t0(), w);
        assert_eq!((used.get("g"), used.get("h")), (3, 1));
    }

    #[test]
    fn a_claim_round_trips_through_its_tag_and_legacy_claims_are_read() {
        let c = Claim::new("i-1", "r", "gecko t/win 10", t0(), ClaimState::Claimed);
        let back = Claim::from_tags("i-1", [(c.key().as_str(), c.value().as_str())]);
        assert_eq!(back, vec![c]);
        let legacy = Claim::from_tags(
            "i-2",
            [
                (LEGACY_CULLED_AT, "2018-02-14T11:00:00Z"),
                (LEGACY_CULL_RUN, "old"),
                (LEGACY_CULL_GROUP, "g"),
                ("Name", "x"),
            ],
        );
        assert_eq!(
            legacy,
            vec![Claim::new(
                "i-2",
                "old",
                "g",
                t0() - Duration::hours(1),
                ClaimState::Acted
            )]
        );
    }
}
