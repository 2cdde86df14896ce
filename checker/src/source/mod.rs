//! The source seam: where a command's instances come from, and what else a source can do.
//!
//! A [`Source`] reads a fleet for a contract set, hands records to a [`RecordSink`] as it reads
//! them (so `check` can evaluate a live fleet without keeping it), and, for `cull`, reads the
//! instances' health and the claims tagged on them and gives an [`Actor`] that acts on them.
//! It says what it can do in its [`Capabilities`]; commands ask them and never look at which
//! source they hold. The implementations are per cloud (`crate::cloud::ec2`: a recorded and a
//! live EC2 source); the binary's `cmd` module is the one place that chooses one.
//!
//! This module is the bottom of the sources layer: it imports the model (contracts, records,
//! the report's source description), never a cloud, evaluation or a command.

use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::{PartKind, SourceInfo};
use futures::future::BoxFuture;
use std::sync::Arc;

mod cull;
pub mod driver;
pub use cull::{
    ActError, Acted, Action, Actor, Health, HealthRead, HealthRequest, LocationActor, Tagged,
};

/// Records and the report's description of where they came from.
#[derive(Debug, Default)]
pub struct Fleet {
    /// The records, sorted as their source gives them.
    pub instances: Vec<Instance>,
    /// Regions or files, each ok or failed.
    pub source: SourceInfo,
}

/// Whether a source can do something, and if not, why (in words a user can act on: the
/// commands print it as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Can {
    /// It can.
    Yes,
    /// It cannot, because of this.
    No(String),
}

impl Can {
    /// Whether it can.
    pub fn yes(&self) -> bool {
        *self == Can::Yes
    }

    /// Why it cannot, when it cannot.
    pub fn why_not(&self) -> Option<&str> {
        match self {
            Can::Yes => None,
            Can::No(why) => Some(why),
        }
    }
}

/// What a source can do; commands decide from this, never from the source's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Reads recorded files (EC2: describe-instances JSON).
    pub reads_recorded: bool,
    /// Scans a live cloud.
    pub scans_live: bool,
    /// Fetches an extra per-instance field for a sample of each group, at one call per
    /// instance (EC2: `user-data`), when some contract reads it.
    pub samples_extra_field: Option<&'static str>,
    /// Sends the contracts' selectors as server-side filters.
    pub server_filters: bool,
    /// Reads instance health (EC2: status checks) for culling.
    pub health: Can,
    /// Acts on instances (terminate, reboot, tag claims).
    pub act: Can,
    /// API calls in flight per location.
    pub concurrency: usize,
}

/// Records handed over as they are read, by a command that keeps none (`check` evaluates them
/// page by page). The evaluation side implements it; the sources only call it.
pub trait RecordSink: Send + Sync {
    /// A fold for one part (a region): it sees that part's records, and counts only if the
    /// part is read completely ([`PartFold::keep`]).
    fn part(&self) -> Box<dyn PartFold>;
}

/// One part's share of a [`RecordSink`].
pub trait PartFold: Send {
    /// Some records of the part.
    fn add(&mut self, records: &[Instance]);
    /// The part was read completely: what it saw counts. A part that failed is dropped.
    fn keep(self: Box<Self>);
}

/// One read handed to several sinks (the hook's check, diff and cull scope): each gets every
/// record of every part, and a part is kept by all or dropped by all.
pub struct Fanout(pub Vec<Arc<dyn RecordSink>>);

impl RecordSink for Fanout {
    fn part(&self) -> Box<dyn PartFold> {
        Box::new(FanoutPart(self.0.iter().map(|s| s.part()).collect()))
    }
}

/// One part's share of a [`Fanout`].
struct FanoutPart(Vec<Box<dyn PartFold>>);

impl PartFold for FanoutPart {
    fn add(&mut self, records: &[Instance]) {
        for p in &mut self.0 {
            p.add(records);
        }
    }

    fn keep(self: Box<Self>) {
        for p in self.0 {
            p.keep();
        }
    }
}

/// Where a command's instances come from.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// What it reads, in words (`live EC2`, `recorded fleet files a.json, b.json`), for logs.
    fn describe(&self) -> String;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// Reads the fleet the contracts need (filtered by their selectors where the source
    /// filters server-side, with the extra field when some contract reads it). Starts its own
    /// runtime when it needs one: not for use inside one.
    fn read(&self, set: &ContractSet) -> Result<Fleet>;

    /// Reads the fleet into `sink`, keeping no records; the source's description is returned.
    /// By default the fleet is read whole, then handed over as one part.
    fn read_into(&self, set: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
        let fleet = self.read(set)?;
        let mut part = sink.part();
        part.add(&fleet.instances);
        part.keep();
        Ok(fleet.source)
    }

    /// For culling, inside a runtime: the fleet, and, as `req` asks, the instances' health,
    /// the instances tagged with claim keys, and an actor when the source can act.
    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>>;
}

/// [`Source::read_for_cull`] of a source that only reads: culling (`req.health`) is refused
/// with `refusal`, else the fleet `read` gives is all there is (a hook that does not cull).
/// `read` is not started when culling is refused.
pub fn read_only_for_cull<'a>(
    req: &HealthRequest,
    refusal: &'static str,
    read: impl Future<Output = Result<Fleet>> + Send + 'a,
) -> BoxFuture<'a, Result<HealthRead>> {
    let health = req.health;
    Box::pin(async move {
        if health {
            return Err(Error::usage(refusal));
        }
        Ok(HealthRead {
            fleet: read.await?,
            ..HealthRead::default()
        })
    })
}

/// Which regions a live scan reads: parsed once, where the user gave them (`--region`, an
/// accounts file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Regions {
    /// None given: the configuration's default region.
    #[default]
    Default,
    /// `all`: every enabled region (listed by the cloud).
    All,
    /// These regions, sorted and without repeats.
    Listed(Vec<String>),
}

impl Regions {
    /// The regions a user wrote: `all` (anywhere in the list) for every enabled region, none
    /// for the default one.
    pub fn parse<S: AsRef<str>>(given: &[S]) -> Regions {
        if given.iter().any(|r| r.as_ref() == "all") {
            return Regions::All;
        }
        let mut listed: Vec<String> = given.iter().map(|r| r.as_ref().to_string()).collect();
        listed.sort();
        listed.dedup();
        if listed.is_empty() {
            Regions::Default
        } else {
            Regions::Listed(listed)
        }
    }

    /// The first region named, if some are.
    pub fn first(&self) -> Option<&str> {
        match self {
            Regions::Listed(l) => l.first().map(String::as_str),
            _ => None,
        }
    }
}

/// A multi-threaded runtime for the live commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Incomplete(format!("cannot start the async runtime: {e}")))
}

/// `warning: region R could not be read: ...`, one line per failed part (`account NAME (ID)
/// could not be read`, `region R of account ID`), and a `note:` line per part read another way
/// than planned.
pub fn failed_region_warnings(src: &SourceInfo) -> Vec<String> {
    let failed = src.failed().map(|p| {
        let what = match (p.kind, &p.scope) {
            (PartKind::Account, _) => p.name.clone(),
            (PartKind::RegionOfAccount, Some(s)) => format!("region {} of {}", p.name, s.label()),
            _ => format!("region {}", p.name),
        };
        format!(
            "warning: {what} could not be read: {}",
            p.error.as_deref().unwrap_or("error")
        )
    });
    let notes = src.parts.iter().filter_map(|p| {
        p.note
            .as_ref()
            .map(|n| format!("note: region {}: {n}", p.name))
    });
    failed.chain(notes).collect()
}

/// Sources for tests.
#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Scope, ScopeKind, SourcePart};

    fn failed(name: &str, account: Option<&str>, kind: PartKind) -> SourcePart {
        SourcePart {
            scope: account.map(|a| Scope::new(ScopeKind::Account, a)),
            ..SourcePart::failed(name, kind, "boom")
        }
    }

    #[test]
    fn a_failed_part_is_named_by_its_kind_not_by_its_name() {
        let src = SourceInfo {
            parts: vec![
                failed("us-east-1", None, PartKind::Region),
                failed("eu-west-1", Some("111122223333"), PartKind::RegionOfAccount),
                failed(
                    "account dev (222233334444)",
                    Some("222233334444"),
                    PartKind::Account,
                ),
                // A region of an account whose name happens to start like an account's label
                // is still a region: the kind decides, not the text.
                failed(
                    "account sized",
                    Some("333344445555"),
                    PartKind::RegionOfAccount,
                ),
            ],
            ..SourceInfo::default()
        };
        assert_eq!(
            failed_region_warnings(&src),
            [
                "warning: region us-east-1 could not be read: boom",
                "warning: region eu-west-1 of account 111122223333 could not be read: boom",
                "warning: account dev (222233334444) could not be read: boom",
                "warning: region account sized of account 333344445555 could not be read: boom",
            ]
        );
    }

    #[test]
    fn regions_are_parsed_once_into_all_listed_or_default() {
        assert_eq!(Regions::parse::<&str>(&[]), Regions::Default);
        assert_eq!(Regions::parse(&["us-west-2", "all"]), Regions::All);
        assert_eq!(
            Regions::parse(&["us-west-2", "eu-west-1", "us-west-2"]),
            Regions::Listed(vec!["eu-west-1".into(), "us-west-2".into()])
        );
        assert_eq!(Regions::parse(&["b", "a"]).first(), Some("a"));
        assert_eq!(Regions::All.first(), None);
    }
}
