//! Merging the accumulators of parts of a fleet (regions, pages, groups): counts add, sets
//! unite, and the lowest instance id of a uniform group's value is kept, so the order of the
//! parts does not matter.

use super::Acc;

impl Acc {
    /// Adds another accumulator's counts (of other instances of the same contracts).
    pub(super) fn merge(&mut self, other: Acc) {
        self.clouds |= other.clouds;
        for (k, agg) in other.aggs {
            self.aggs.entry(k).or_default().merge(agg);
        }
        for (t, o) in self.tallies.iter_mut().zip(other.tallies) {
            t.selected += o.selected;
            for (c, oc) in t.clauses.iter_mut().zip(o.clauses) {
                c.passed += oc.passed;
                c.failed += oc.failed;
                c.unknown += oc.unknown;
                c.waived += oc.waived;
                c.not_applicable += oc.not_applicable;
                c.skipped += oc.skipped;
            }
        }
        self.evaluations += other.evaluations;
        self.unknown_evaluations += other.unknown_evaluations;
        for (u, o) in self.waiver_used.iter_mut().zip(other.waiver_used) {
            *u |= o;
        }
        for (clause, groups) in other.uniform {
            let mine = self.uniform.entry(clause).or_default();
            for (key, values) in groups {
                let g = mine.entry(key).or_default();
                for (v, (n, min, region)) in values {
                    g.entry(v)
                        .and_modify(|(m, low, low_region)| {
                            *m += n;
                            if min < *low {
                                low.clone_from(&min);
                                low_region.clone_from(&region);
                            }
                        })
                        .or_insert((n, min, region));
                }
            }
        }
    }
}
