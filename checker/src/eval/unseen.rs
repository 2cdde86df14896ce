//! Reads of outputs nobody provides. A selector or clause reading an output that no provider
//! promises and no instance carries is almost always a typo (`userData.wokerType`,
//! `tag:ManagdBy`): the selector then matches nothing, or the clause fails everywhere, and the
//! reason is one letter. Such reads are found as the fleet is evaluated (only the few suspect
//! paths are read per instance, and only when there are any), each with the closest name that
//! does exist: promised by a provider or carried by an instance.

use crate::contract::ContractSet;
use crate::diag::Diagnostic;
use crate::fleet::{Instance, Read, UserData};
use crate::output::{Field, OutputPath};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Output names collected from the fleet for suggestions, at most.
const MAX_NAMES: usize = 10_000;
/// User-data depth collected for suggestions (`userData.a.b.c`).
const MAX_DEPTH: usize = 3;

/// A read of an output no provider promises, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// The consumer's index in the set.
    pub consumer: usize,
    /// Its JSON pointer in the consumer's file: a selector condition or a clause.
    pub pointer: String,
    /// What it reads.
    pub output: OutputPath,
    /// In the consumer's selector (else in a clause or its `when`).
    pub in_selector: bool,
}

/// A read of an output that no provider promises and no instance of the fleet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnseenRead {
    /// The consumer.
    pub consumer: String,
    /// Its file.
    pub file: PathBuf,
    /// The selector condition or clause that reads it.
    pub pointer: String,
    /// The output, as written.
    pub output: String,
    /// In the consumer's selector.
    pub in_selector: bool,
    /// The closest output that does exist (promised, or carried by an instance).
    pub suggestion: Option<String>,
    /// Whether the fleet was looked at (else only the providers' promises were).
    pub fleet_seen: bool,
}

impl UnseenRead {
    /// The warning, located at the read.
    pub fn diagnostic(&self) -> Diagnostic {
        let whose = if self.in_selector {
            format!("the selector of {}", self.consumer)
        } else {
            self.consumer.to_string()
        };
        let nobody = if self.fleet_seen {
            "no provider promises and no instance of the fleet carries"
        } else {
            "no provider promises"
        };
        let hint = match &self.suggestion {
            Some(s) => format!("did you mean {s}?"),
            None => "check its spelling; if a provisioner sets it, promise it in that provider's manifest".into(),
        };
        Diagnostic::at(
            &self.file,
            self.pointer.clone(),
            format!("{whose} reads {}, which {nobody}", self.output),
        )
        .hint(hint)
    }
}

/// Every read (selector condition, clause, `when`) of a provider-dependent output (a tag,
/// user-data, the key pair, ...) that no provider of the set promises.
pub fn suspects(set: &ContractSet) -> Vec<Suspect> {
    let promised: Vec<&OutputPath> = set
        .providers
        .iter()
        .flat_map(|p| p.outputs.iter().map(|o| &o.path))
        .collect();
    let unpromised =
        |p: &OutputPath| p.provider_dependent() && !promised.iter().any(|q| q.covers(p));
    let mut out: Vec<Suspect> = Vec::new();
    let mut push = |s: Suspect| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for (ci, c) in set.consumers.iter().enumerate() {
        for (k, cond) in c.selector.conditions.iter().enumerate() {
            let mut v = Vec::new();
            cond.outputs(&mut v);
            for p in v.into_iter().filter(|p| unpromised(p)) {
                push(Suspect {
                    consumer: ci,
                    pointer: format!("/selector/conditions/{k}"),
                    output: p,
                    in_selector: true,
                });
            }
        }
        for cl in &c.clauses {
            let mut when = Vec::new();
            if let Some(w) = &cl.when {
                w.outputs(&mut when);
            }
            let mut own = Vec::new();
            cl.check.outputs(&mut own);
            let located = when
                .into_iter()
                .map(|p| (format!("{}/when", cl.pointer), p))
                .chain(own.into_iter().map(|p| (cl.pointer.clone(), p)));
            for (pointer, p) in located.filter(|(_, p)| unpromised(p)) {
                push(Suspect {
                    consumer: ci,
                    pointer,
                    output: p,
                    in_selector: false,
                });
            }
        }
    }
    out
}

/// Without a fleet (`checker validate`): the suspect reads that look like a typo of a promised
/// output. Whether an instance carries them cannot be known, so a read with no close promised
/// name is left to `check`.
pub fn typo_reads(set: &ContractSet) -> Vec<UnseenRead> {
    let names = promised_names(set);
    suspects(set)
        .into_iter()
        .filter_map(|s| {
            let suggestion = closest(&s.output.to_string(), &names)?;
            Some(unseen(set, &s, Some(suggestion), false))
        })
        .collect()
}

fn promised_names(set: &ContractSet) -> BTreeSet<String> {
    set.providers
        .iter()
        .flat_map(|p| p.outputs.iter().map(|o| o.path.to_string()))
        .collect()
}

fn unseen(set: &ContractSet, s: &Suspect, suggestion: Option<String>, fleet: bool) -> UnseenRead {
    let c = &set.consumers[s.consumer];
    UnseenRead {
        consumer: c.name.clone(),
        file: c.file.clone(),
        pointer: s.pointer.clone(),
        output: s.output.to_string(),
        in_selector: s.in_selector,
        suggestion,
        fleet_seen: fleet,
    }
}

/// The existing name closest to `s`, if it is plausibly a typo of it.
fn closest(s: &str, names: &BTreeSet<String>) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let kind = NameKind::of(s);
    names
        .iter()
        .filter(|n| n.as_str() != s && NameKind::of(n) == kind)
        .map(|n| (strsim::levenshtein(&lower, &n.to_ascii_lowercase()), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

/// The kind of an output name: a suggestion is of the same kind as the read (a tag for a tag,
/// a user-data field for a user-data field), so the fleet's names of a kind need collecting
/// only while a read of that kind is unseen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Tag,
    UserData,
    Field,
}

impl NameKind {
    fn of(name: &str) -> NameKind {
        if name.starts_with("tag:") {
            NameKind::Tag
        } else if name.starts_with("userData.") {
            NameKind::UserData
        } else {
            NameKind::Field
        }
    }

    fn of_path(p: &OutputPath) -> NameKind {
        match p {
            OutputPath::Tag(_) => NameKind::Tag,
            OutputPath::UserData(_) => NameKind::UserData,
            OutputPath::Field(_) => NameKind::Field,
        }
    }
}

/// What the evaluation learns about the suspect reads as instances go by.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracker {
    suspects: Vec<Suspect>,
    /// The distinct suspect paths.
    paths: Vec<OutputPath>,
    /// Some instance carries the path.
    seen: Vec<bool>,
    /// Some instance could tell (it has the path, or its data shows it has not).
    told: Vec<bool>,
    /// Per path, a bit per cloud whose consumers read it.
    clouds: Vec<u8>,
    /// Outputs instances carry: tag keys and user-data fields, for suggestions.
    names: BTreeSet<String>,
    /// The tag keys and top-level user-data fields already collected into `names`.
    tag_keys: std::collections::HashSet<String, foldhash::fast::RandomState>,
    user_data_keys: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

impl Tracker {
    pub(crate) fn new(set: &ContractSet) -> Tracker {
        let suspects = suspects(set);
        let paths: Vec<OutputPath> = suspects
            .iter()
            .map(|s| s.output.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Only an instance of a cloud whose consumers read a path can tell whether it carries
        // it: an EC2 fleet says nothing of what GCE's consumers read.
        let clouds = paths
            .iter()
            .map(|p| {
                suspects
                    .iter()
                    .filter(|s| s.output == *p)
                    .fold(0u8, |m, s| {
                        m | 1 << set.consumers[s.consumer].selector.cloud as u8
                    })
            })
            .collect();
        Tracker {
            seen: vec![false; paths.len()],
            told: vec![false; paths.len()],
            clouds,
            suspects,
            paths,
            ..Default::default()
        }
    }

    /// Looks at more instances: nothing to do when no read is suspect or every suspect output
    /// has been seen; else the unseen paths are read and the names instances carry collected
    /// (allocating only for a name not collected yet).
    pub(crate) fn add<'a>(&mut self, fleet: impl Iterator<Item = &'a Instance>) {
        let (mut tags, mut user_data) = self.wanted();
        for i in fleet {
            if self.seen.iter().all(|s| *s) {
                return;
            }
            let cloud = 1u8 << i.cloud() as u8;
            for (k, p) in self.paths.iter().enumerate() {
                if self.seen[k] || self.clouds[k] & cloud == 0 {
                    continue;
                }
                match i.read(p) {
                    Read::Value(_) => {
                        self.seen[k] = true;
                        self.told[k] = true;
                        (tags, user_data) = self.wanted();
                    }
                    Read::Missing => self.told[k] = true,
                    Read::Unknown(_) | Read::NotSampled => {}
                }
            }
            if self.names.len() >= MAX_NAMES {
                continue;
            }
            if tags {
                for t in i.tags.keys() {
                    if !self.tag_keys.contains(t.as_str()) {
                        self.tag_keys.insert(t.clone());
                        self.names.insert(format!("tag:{t}"));
                    }
                }
            }
            if let (true, UserData::Json(m)) = (user_data, &i.user_data) {
                for (k, v) in m.iter() {
                    if !self.user_data_keys.contains(k.as_str()) {
                        self.user_data_keys.insert(k.clone());
                        user_data_names(&format!("userData.{k}"), v, 1, &mut self.names);
                    }
                }
            }
        }
    }

    /// Whether the fleet's tag keys, and its user-data fields, are still wanted for
    /// suggestions: while a read of that kind is unseen.
    fn wanted(&self) -> (bool, bool) {
        let unseen = |kind| {
            self.paths
                .iter()
                .zip(&self.seen)
                .any(|(p, seen)| !seen && NameKind::of_path(p) == kind)
        };
        (unseen(NameKind::Tag), unseen(NameKind::UserData))
    }

    pub(crate) fn merge(&mut self, other: Tracker) {
        for (k, p) in other.paths.iter().enumerate() {
            if let Some(m) = self.paths.iter().position(|q| q == p) {
                self.seen[m] |= other.seen[k];
                self.told[m] |= other.told[k];
            }
        }
        if self.names.len() < MAX_NAMES {
            self.names.extend(other.names);
        }
    }

    /// The suspect reads no instance carried (where some instance could tell), with
    /// suggestions from the promised outputs, the fleet's and EC2's own fields.
    pub(crate) fn finish(self, set: &ContractSet) -> Vec<UnseenRead> {
        let mut names = promised_names(set);
        names.extend(self.names);
        names.extend(Field::all().map(|f| f.name().to_string()));
        self.suspects
            .iter()
            .filter(|s| {
                let k = self.paths.iter().position(|p| *p == s.output);
                k.is_some_and(|k| !self.seen[k] && self.told[k])
            })
            .map(|s| {
                let suggestion = closest(&s.output.to_string(), &names);
                unseen(set, s, suggestion, true)
            })
            .collect()
    }
}

fn user_data_names(path: &str, v: &Value, depth: usize, out: &mut BTreeSet<String>) {
    out.insert(path.to_string());
    if depth >= MAX_DEPTH {
        return;
    }
    if let Value::Object(m) = v {
        for (k, x) in m {
            user_data_names(&format!("{path}.{k}"), x, depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_one_edit_from_the_name_that_exists() {
        let names: BTreeSet<String> = ["userData.workerType", "tag:ManagedBy", "tag:Name"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            closest("userData.wokerType", &names).as_deref(),
            Some("userData.workerType")
        );
        assert_eq!(
            closest("tag:ManagdBy", &names).as_deref(),
            Some("tag:ManagedBy")
        );
        assert_eq!(closest("tag:Colour", &names), None);
    }

    #[test]
    fn a_suggestion_is_a_name_of_the_same_kind() {
        // Long enough that a tag is within the edit distance of a user-data field (and of a
        // field name): only the name of the read's own kind is offered.
        let long = "a".repeat(60);
        let names: BTreeSet<String> = [format!("userData.{long}"), format!("{long}b")]
            .into_iter()
            .collect();
        assert_eq!(closest(&format!("tag:{long}"), &names), None);
        assert_eq!(
            closest(&format!("userData.{long}c"), &names).as_deref(),
            Some(format!("userData.{long}").as_str())
        );
    }
}
