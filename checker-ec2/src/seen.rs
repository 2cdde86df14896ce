//! The instance ids a region's scan has handed over, so an instance that two zone shards (or two
//! pages) both return is handed over once. Held compactly: at ten million instances a set of
//! `String`s took about 70 bytes per id (the string's heap block, its 24-byte header and the
//! table's slack), the part of a scan's memory that grew with the fleet (bench/RESULTS-10m.md).
//! An EC2 instance id (`i-` and 8 or 17 lowercase hex digits) is held as its value's low 64
//! bits, in a set per (digit count, the value's high bits): 17 digits are 68 bits, so a fleet's
//! ids fall in at most 16 sets of `u64` (about 10 to 20 bytes an id with the table's slack, half
//! of a `u128`'s). Two ids share a slot only if they are the same id. Any other id is held as it
//! is.
//!
//! Each set is a sorted vector with a small hash set of the ids added since it was last merged
//! ([`Ids`]): about 10 bytes an id where a hash set alone took 14 to 28 (its power-of-two table),
//! the difference between 1.5x and 1.6x of a 1,000,000-instance scan's memory at 10,000,000.

use std::collections::{HashMap, HashSet};

/// Ids seen so far.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// (digit count, high bits) to the low 64 bits of the ids with them.
    ids: HashMap<(u8, u64), Ids>,
    other: HashSet<String>,
}

/// A set of `u64`: sorted, and the recent ones apart until they are an eighth of the rest.
#[derive(Debug, Default)]
struct Ids {
    sorted: Vec<u64>,
    recent: HashSet<u64, foldhash::fast::FixedState>,
}

/// Recent ids held apart at least until there are this many.
const RECENT: usize = 1024;

impl Ids {
    /// Adds `v`; whether it is new.
    fn insert(&mut self, v: u64) -> bool {
        if self.sorted.binary_search(&v).is_ok() || !self.recent.insert(v) {
            return false;
        }
        if self.recent.len() >= (self.sorted.len() / 8).max(RECENT) {
            self.merge();
        }
        true
    }

    /// Merges the recent ids into the sorted ones, from the back, in place.
    fn merge(&mut self) {
        let mut add: Vec<u64> = self.recent.drain().collect();
        add.sort_unstable();
        let n = self.sorted.len();
        self.sorted.reserve_exact(add.len());
        self.sorted.resize(n + add.len(), 0);
        let (mut i, mut k) = (n, n + add.len());
        while let Some(&a) = add.last() {
            k -= 1;
            match i.checked_sub(1).map(|p| self.sorted[p]) {
                Some(s) if s > a => {
                    self.sorted[k] = s;
                    i -= 1;
                }
                _ => {
                    self.sorted[k] = a;
                    add.pop();
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }
}

/// Hex digits a `u128` holds beside their count (the top 8 bits).
const MAX_DIGITS: usize = 30;

/// `i-` and 1 to 30 lowercase hex digits, as (digit count << 120) | value; `None` for any other
/// id (uppercase digits too, so that no two spellings share a number).
fn compact(id: &str) -> Option<u128> {
    let hex = id.strip_prefix("i-")?;
    if hex.is_empty()
        || hex.len() > MAX_DIGITS
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let v = u128::from_str_radix(hex, 16).ok()?;
    Some(((hex.len() as u128) << 120) | v)
}

impl Seen {
    /// Records `id`; whether it is new.
    pub(crate) fn insert(&mut self, id: &str) -> bool {
        match compact(id) {
            Some(k) => {
                let (digits, high, low) = (
                    (k >> 120) as u8,
                    (k >> 64) as u64 & ((1 << 56) - 1),
                    k as u64,
                );
                self.ids.entry((digits, high)).or_default().insert(low)
            }
            None => self.other.insert(id.to_string()),
        }
    }

    /// Ids seen.
    pub(crate) fn len(&self) -> usize {
        self.ids.values().map(Ids::len).sum::<usize>() + self.other.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_id_is_new_once_and_spellings_stay_apart() {
        let mut s = Seen::default();
        let ids = [
            "i-0a1b2c3d4e5f60718",
            "i-a1b2c3d4",
            "i-00a1b2c3d4",
            "i-0000000a",
            "i-00000000000000000",
            "i-0000000000000000a",
            "i-0A1B2C3D4E5F60718",
            "i-xyz",
            "mi-0123456789abcdef0",
            "vm-7",
            "i-",
            "",
        ];
        for id in ids {
            assert!(s.insert(id), "{id} is new");
        }
        for id in ids {
            assert!(!s.insert(id), "{id} was seen");
        }
        assert_eq!(s.len(), ids.len());
        assert_eq!(compact("i-0A1B"), None, "uppercase digits are kept as text");
        assert_eq!(compact(&format!("i-{}", "f".repeat(31))), None);
    }

    proptest! {
        /// The sorted set with its recent part holds what a hash set holds, across its merges.
        #[test]
        fn the_merged_set_is_a_set(values in proptest::collection::vec(0u64..6000, 0..9000)) {
            let mut ids = Ids::default();
            let mut plain = HashSet::new();
            for v in values {
                prop_assert_eq!(ids.insert(v), plain.insert(v));
            }
            prop_assert_eq!(ids.len(), plain.len());
            prop_assert!(ids.sorted.is_sorted_by(|a, b| a < b), "strictly increasing");
        }

        /// Two ids share a number only if they are the same id.
        #[test]
        fn compact_ids_are_one_to_one(a in "i-[0-9a-f]{1,30}", b in "i-[0-9a-f]{1,30}") {
            prop_assert_eq!(compact(&a) == compact(&b), a == b);
        }

        /// A second id is new unless it is the first.
        #[test]
        fn a_second_id_is_new_unless_it_is_the_first(a in "i-[0-9a-f]{1,30}", b in "i-[0-9a-f]{1,30}") {
            let mut s = Seen::default();
            prop_assert!(s.insert(&a));
            prop_assert_eq!(s.insert(&b), a != b);
            prop_assert_eq!(s.len(), if a == b { 1 } else { 2 });
        }
    }
}
