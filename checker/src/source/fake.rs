//! Sources for tests: what they can do is set by hand, and they read the records they hold.

use super::*;

/// A fake source.
#[derive(Debug)]
pub struct Fake {
    /// What it says it can do.
    pub caps: Capabilities,
    /// What it reads.
    pub instances: Vec<Instance>,
}

impl Fake {
    /// A source that can do nothing but read, for `why`.
    pub fn unable(why: &str) -> Fake {
        Fake {
            caps: Capabilities {
                reads_recorded: true,
                scans_live: false,
                samples_extra_field: None,
                server_filters: false,
                health: Can::No(format!("{why} (health)")),
                act: Can::No(format!("{why} (act)")),
                concurrency: 1,
            },
            instances: Vec::new(),
        }
    }
}

impl Source for Fake {
    fn describe(&self) -> String {
        "a fake source".into()
    }
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }
    fn read(&self, _: &ContractSet) -> Result<Fleet> {
        Ok(Fleet {
            instances: self.instances.clone(),
            source: SourceInfo::default(),
        })
    }
    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        _: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        Box::pin(async move {
            Ok(HealthRead {
                fleet: self.read(set)?,
                ..HealthRead::default()
            })
        })
    }
}

/// A source that streams its records, a region at a time in pages of 3, into the sink it is
/// given (`read_into`, or `read_for_cull` with a sink), as live EC2 does; a region marked not
/// ok fails halfway (its records must not count). `whole` counts the records it handed over
/// whole, in a fleet, so a test can tell that a command kept no record.
#[derive(Debug, Default)]
pub struct Streaming {
    /// Each region's records, and whether it is read completely.
    pub regions: Vec<(Vec<Instance>, bool)>,
    /// Records handed over whole (in a fleet), not through a sink.
    pub whole: std::sync::atomic::AtomicUsize,
}

impl Streaming {
    /// Hands every region to `sink`, page by page (a failed region is dropped, not named: these
    /// tests are of what is kept).
    fn stream(&self, sink: &dyn RecordSink) -> SourceInfo {
        let mut info = SourceInfo::default();
        for (records, ok) in &self.regions {
            let mut part = sink.part();
            for page in records.chunks(3) {
                part.add(page);
            }
            if *ok {
                info.instances += records.len();
                part.keep();
            }
        }
        info
    }

    /// The records handed over whole: so many.
    pub fn read_whole(&self) -> usize {
        self.whole.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Source for Streaming {
    fn describe(&self) -> String {
        "a streaming fake".into()
    }
    fn capabilities(&self) -> Capabilities {
        let mut caps = Fake::unable("unused").caps;
        caps.health = Can::Yes;
        caps
    }
    fn read(&self, _: &ContractSet) -> Result<Fleet> {
        let mut fleet = Fleet::default();
        for (records, ok) in &self.regions {
            if *ok {
                fleet.instances.extend(records.iter().cloned());
            }
        }
        self.whole
            .fetch_add(fleet.instances.len(), std::sync::atomic::Ordering::SeqCst);
        // Sorted, as the live driver gives a fleet.
        fleet
            .instances
            .sort_by(|a, b| (&a.region, &a.id).cmp(&(&b.region, &b.id)));
        fleet.source.instances = fleet.instances.len();
        Ok(fleet)
    }
    fn read_into(&self, _: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
        Ok(self.stream(sink.as_ref()))
    }
    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        Box::pin(async move {
            let mut read = HealthRead::default();
            match &req.sink {
                Some(sink) => read.fleet.source = self.stream(sink.as_ref()),
                None => read.fleet = self.read(set)?,
            }
            Ok(read)
        })
    }
}

/// The bench contracts: a provider grouping by worker type (the Name tag) and the culling
/// contract, whose error clause breaks on a key name without a worker type.
pub fn bench_set() -> ContractSet {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/contracts");
    crate::load::load(&[dir]).expect("bench contracts")
}

/// Instance `n` of worker type `name` in `region`; `good` key names satisfy the culling
/// contract, the others break it. Every seventh belongs to someone else (unmanaged).
pub fn instance(region: &str, n: usize, name: &str, good: bool) -> Instance {
    let key = if good {
        format!("aws-provisioner-v1-managed:{name}:abc1234")
    } else {
        "aws-provisioner-v1-managed:ffe27db".to_string()
    };
    let mut i = crate::clause::test_support::instance(&key, name, serde_json::Value::Null);
    i.id = format!("i-{n:05}");
    i.region = region.into();
    let owner = if n.is_multiple_of(7) {
        "someone-else"
    } else {
        "ec2-manager-production"
    };
    i.tags.insert("Owner".into(), owner.into());
    i
}

/// Three regions (the last fails halfway); win7 instances with odd numbers have the
/// universal key (when `broken`), everything else a good one.
pub fn regions(broken: bool) -> Vec<(Vec<Instance>, bool)> {
    ["us-west-2", "eu-west-1", "us-east-1"]
        .iter()
        .enumerate()
        .map(|(r, region)| {
            let records = (0..20)
                .map(|k| {
                    let n = r * 100 + k;
                    let name = ["gecko-t-win10-64", "gecko-t-win7-32"][k % 2];
                    instance(region, n, name, !(broken && k % 2 == 1 && n % 3 != 0))
                })
                .collect();
            (records, r != 2)
        })
        .collect()
}
