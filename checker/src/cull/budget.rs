//! Budgets that hold across runs. Before acting on an instance a run *claims* it: it tags it
//! `checker:culled-at` (when), `checker:cull-run` (which run) and `checker:cull-group`. EC2 keeps
//! tags on terminated instances for as long as it lists them (about an hour), so a fresh
//! container reads what earlier runs did from EC2 itself, with no state of its own.
//!
//! A group's budget is per window (`--budget-window`, at most an hour): claims in the window
//! count against it whoever made them. Overlapping runs: each run claims, re-reads the claims,
//! and keeps only as many of its own as the budget leaves after *every other run's* claims in
//! the window (a run always yields to others), releasing the rest. Two runs that see each other
//! may both yield (nothing is culled this time; the next run will); they can never both act past
//! the budget: the run whose re-read came last saw every claim the others kept.

use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The claim tags.
pub const CULLED_AT: &str = "checker:culled-at";
/// The run that claimed.
pub const CULL_RUN: &str = "checker:cull-run";
/// The group the claim counts against.
pub const CULL_GROUP: &str = "checker:cull-group";

/// The longest window: EC2 lists terminated instances, and so their claim tags, for about an
/// hour; a longer window would silently forget older claims.
pub const MAX_WINDOW_MINUTES: i64 = 60;

/// One instance claimed by a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    /// The instance.
    pub instance: String,
    /// Its group.
    pub group: String,
    /// The run that claimed it.
    pub run: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Claim {
    /// A claim from an instance's tags, if it carries one.
    pub fn from_tags<'a>(
        instance: &str,
        mut tag: impl FnMut(&str) -> Option<&'a str>,
    ) -> Option<Claim> {
        let at = DateTime::parse_from_rfc3339(tag(CULLED_AT)?).ok()?;
        Some(Claim {
            instance: instance.to_string(),
            group: tag(CULL_GROUP).unwrap_or_default().to_string(),
            run: tag(CULL_RUN).unwrap_or_default().to_string(),
            at: at.with_timezone(&Utc),
        })
    }

    /// The tags that make this claim.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            (
                CULLED_AT.to_string(),
                self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            (CULL_RUN.to_string(), self.run.clone()),
            (CULL_GROUP.to_string(), self.group.clone()),
        ]
    }
}

/// Per group: claims in the window `[now - window, now]` (any run).
pub fn used_in_window(
    claims: &[Claim],
    now: DateTime<Utc>,
    window: Duration,
) -> BTreeMap<String, usize> {
    let mut used = BTreeMap::new();
    for c in claims.iter().filter(|c| c.at >= now - window) {
        *used.entry(c.group.clone()).or_insert(0) += 1;
    }
    used
}

/// Which of `run`'s claims it may act on, given what the re-read shows (`visible`, every
/// claim present) and each group's budget per window: other runs' claims in the window come
/// first; of its own, the oldest (then lowest id) fill what is left.
pub fn keep(
    budgets: &BTreeMap<String, usize>,
    visible: &[Claim],
    run: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> BTreeSet<String> {
    let in_window = visible.iter().filter(|c| c.at >= now - window);
    let mut others: BTreeMap<&str, usize> = BTreeMap::new();
    let mut own: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    for c in in_window {
        if c.run == run {
            own.entry(&c.group).or_default().push(c);
        } else {
            *others.entry(&c.group).or_insert(0) += 1;
        }
    }
    let mut out = BTreeSet::new();
    for (g, mut mine) in own {
        let budget = budgets.get(g).copied().unwrap_or(0);
        let left = budget.saturating_sub(others.get(g).copied().unwrap_or(0));
        mine.sort_by(|a, b| (a.at, &a.instance).cmp(&(b.at, &b.instance)));
        out.extend(mine.into_iter().take(left).map(|c| c.instance.clone()));
    }
    out
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

    /// One run's steps: read the claims and plan (choose what the window leaves), claim (tag),
    /// re-read and keep; the claims it does not keep are released.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Plan,
        Claim,
        Decide,
    }

    #[derive(Default, Debug)]
    struct Run {
        chosen: Vec<String>,
        step: usize,
    }

    /// Runs `runs` over one group of `size` candidates with `budget` per window, their steps
    /// interleaved in `order` (each entry picks the run that takes its next step); returns the
    /// instances acted on.
    fn simulate(budget: usize, size: usize, runs: usize, order: &[usize]) -> BTreeSet<String> {
        let budgets: BTreeMap<String, usize> = [("g".to_string(), budget)].into();
        let window = Duration::minutes(60);
        let mut store: Vec<Claim> = Vec::new();
        let mut acted = BTreeSet::new();
        let mut state: Vec<Run> = (0..runs).map(|_| Run::default()).collect();
        let steps = [Step::Plan, Step::Claim, Step::Decide];
        let mut clock = 0;
        for &r in order
            .iter()
            .chain((0..runs).flat_map(|r| [r, r, r]).collect::<Vec<_>>().iter())
        {
            let r = r % runs;
            let Some(step) = steps.get(state[r].step) else {
                continue;
            };
            clock += 1;
            let now = t0() + Duration::seconds(clock);
            let name = format!("run-{r}");
            match step {
                Step::Plan => {
                    let used = used_in_window(&store, now, window)
                        .get("g")
                        .copied()
                        .unwrap_or(0);
                    let left = budget.saturating_sub(used);
                    let claimed: BTreeSet<&str> =
                        store.iter().map(|c| c.instance.as_str()).collect();
                    state[r].chosen = (0..size)
                        .map(|i| format!("i-{i:02}"))
                        .filter(|i| !claimed.contains(i.as_str()) && !acted.contains(i))
                        .take(left)
                        .collect();
                }
                Step::Claim => {
                    for i in &state[r].chosen {
                        store.push(Claim {
                            instance: i.clone(),
                            group: "g".into(),
                            run: name.clone(),
                            at: now,
                        });
                    }
                }
                Step::Decide => {
                    let kept = keep(&budgets, &store, &name, now, window);
                    store.retain(|c| c.run != name || kept.contains(&c.instance));
                    acted.extend(kept);
                }
            }
            state[r].step += 1;
        }
        acted
    }

    proptest! {
        /// However the steps of overlapping runs interleave, together they never act on more
        /// than the budget.
        #[test]
        fn interleaved_runs_never_exceed_the_budget_together(
            budget in 0usize..6,
            size in 0usize..20,
            runs in 1usize..5,
            order in proptest::collection::vec(0usize..5, 0..20),
        ) {
            let acted = simulate(budget, size, runs, &order);
            prop_assert!(acted.len() <= budget, "{} acted on against a budget of {budget}", acted.len());
        }
    }

    #[test]
    fn runs_one_after_another_share_the_window_budget() {
        // Three back-to-back runs, budget 4: 4, then nothing, then nothing (was 4 + 4 + 4).
        let order = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        assert_eq!(simulate(4, 30, 3, &order).len(), 4);
    }

    #[test]
    fn a_run_yields_to_the_claims_of_others_in_the_window() {
        let budgets: BTreeMap<String, usize> = [("g".to_string(), 1)].into();
        let c = |i: &str, run: &str, min: i64| Claim {
            instance: i.into(),
            group: "g".into(),
            run: run.into(),
            at: t0() - Duration::minutes(min),
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
    }

    #[test]
    fn a_claim_round_trips_through_its_tags() {
        let c = Claim {
            instance: "i-1".into(),
            group: "g".into(),
            run: "r".into(),
            at: t0(),
        };
        let tags = c.tags();
        let back = Claim::from_tags("i-1", |k| {
            tags.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
        });
        assert_eq!(back, Some(c));
    }
}
