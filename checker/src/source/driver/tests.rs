//! The driver with a fake cloud: a test-only [`PageLister`] per location (pages by token) and
//! a test-only [`Scopes`] whose scopes can refuse to open.

use super::*;
use crate::fleet::UserData;
use std::sync::Mutex;

/// A fake location: its pages by token (`""` is the first), read through the scope's budget.
struct FakeLocation {
    name: String,
    pages: BTreeMap<String, (Vec<&'static str>, Option<&'static str>)>,
    budget: Budget,
    /// Calls in flight now, and the most seen at once (shared by the scope's locations).
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    extra_asked: Mutex<Vec<String>>,
    /// Pages served: past ten, the fake refuses (a driver without a guard would loop).
    served: AtomicUsize,
}

impl FakeLocation {
    fn new(name: &str, pages: &[(&str, &[&'static str], Option<&'static str>)]) -> FakeLocation {
        FakeLocation {
            name: name.into(),
            pages: pages
                .iter()
                .map(|(t, ids, next)| (t.to_string(), (ids.to_vec(), *next)))
                .collect(),
            budget: Budget::new(8, None),
            in_flight: Arc::default(),
            most: Arc::default(),
            extra_asked: Mutex::default(),
            served: AtomicUsize::new(0),
        }
    }
}

impl PageLister for FakeLocation {
    fn page<'a>(&'a self, token: Option<&'a str>) -> BoxFuture<'a, Result<Page, String>> {
        Box::pin(async move {
            if self.served.fetch_add(1, Ordering::SeqCst) >= 10 {
                return Err("the fake served ten pages: the driver is looping".into());
            }
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            // Let the other locations' tasks run while this call is "in flight".
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let (ids, next) = self
                .pages
                .get(token.unwrap_or(""))
                .ok_or_else(|| format!("no page {token:?}"))?;
            Ok(Page {
                records: ids
                    .iter()
                    .map(|id| Instance {
                        id: id.to_string(),
                        region: self.name.clone(),
                        ..Instance::default()
                    })
                    .collect(),
                next: next.map(str::to_string),
            })
        })
    }
}

impl Location for FakeLocation {
    fn name(&self) -> &str {
        &self.name
    }
    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(paginate(self, "ListInstances", &self.budget, emit))
    }
    fn extra<'a>(&'a self, id: &'a str, _: &'a SecretPolicy) -> BoxFuture<'a, UserData> {
        self.extra_asked.lock().expect("lock").push(id.to_string());
        Box::pin(async { UserData::Absent })
    }
    fn sample_group(&self, i: &Instance, key: &mut String) {
        // Groups by the id's first letter.
        key.push_str(&i.id[..1]);
    }
    fn extra_concurrency(&self) -> usize {
        2
    }
    fn calls(&self) -> (usize, BTreeMap<String, usize>) {
        let n = self.budget.calls();
        (n, [("ListInstances".to_string(), n)].into())
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    crate::source::runtime().expect("runtime").block_on(f)
}

fn part<'a>(live: &'a LiveFleet, name: &str) -> &'a SourcePart {
    live.parts
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no part {name}: {:?}", live.parts))
}

#[test]
fn a_repeated_token_fails_its_location_and_the_others_are_read() {
    let looping = FakeLocation::new(
        "loop-1",
        &[("", &["i-1"], Some("t1")), ("t1", &["i-2"], Some("t1"))],
    );
    let fine = FakeLocation::new(
        "fine-1",
        &[("", &["i-3", "i-4"], Some("t1")), ("t1", &["i-5"], None)],
    );
    let locations: Vec<Arc<dyn Location>> = vec![Arc::new(looping), Arc::new(fine)];
    let live = run(read_scope(None, locations, &ReadPlan::default()));
    let bad = part(&live, "loop-1");
    assert_eq!(bad.status, PartStatus::Failed);
    assert!(
        bad.error
            .as_deref()
            .is_some_and(|e| e.contains("page token it had already returned")),
        "{bad:?}"
    );
    // Two calls, then the repeated token stops it: no third call.
    assert_eq!(bad.api_calls, Some(2));
    let ok = part(&live, "fine-1");
    assert_eq!(
        (ok.status, ok.instances, ok.api_calls),
        (PartStatus::Ok, 3, Some(2))
    );
    // Only the complete location's records are kept, sorted.
    let ids: Vec<&str> = live.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["i-3", "i-4", "i-5"]);
    assert_eq!((live.api_calls, live.read), (4, 3));
}

/// Scopes `a`, `b`, `c`; `b` refuses to open.
struct FakeScopes;

impl Scopes for FakeScopes {
    type Scope = &'static str;
    fn kind(&self) -> ScopeKind {
        ScopeKind::Account
    }
    fn id(&self, s: &&'static str) -> String {
        format!("{s}{s}{s}")
    }
    fn label(&self, s: &&'static str) -> String {
        format!("{s} ({})", self.id(s))
    }
    fn open<'a>(
        &'a self,
        s: &'a &'static str,
    ) -> BoxFuture<'a, Result<Vec<Arc<dyn Location>>, String>> {
        Box::pin(async move {
            if *s == "b" {
                return Err("could not get in".to_string());
            }
            let l: Arc<dyn Location> =
                Arc::new(FakeLocation::new("r-1", &[("", &["i-1", "i-2"], None)]));
            Ok(vec![l])
        })
    }
}

#[test]
fn a_scope_that_cannot_be_opened_is_named_and_the_others_are_read() {
    let live = run(read_scopes(
        &FakeScopes,
        &["c", "b", "a"],
        &ReadPlan::default(),
    ));
    let names: Vec<(String, PartStatus, Option<&str>)> = live
        .parts
        .iter()
        .map(|p| (p.scope(), p.status, p.scope.as_ref().map(|s| s.id.as_str())))
        .collect();
    assert_eq!(
        names,
        [
            ("r-1 (account aaa)".into(), PartStatus::Ok, Some("aaa")),
            ("account b (bbb)".into(), PartStatus::Failed, Some("bbb")),
            ("r-1 (account ccc)".into(), PartStatus::Ok, Some("ccc")),
        ]
    );
    let failed = part(&live, "account b (bbb)");
    assert_eq!(failed.kind, PartKind::Account);
    assert_eq!(failed.error.as_deref(), Some("could not get in"));
    // Every record is marked with its scope, sorted by (scope, location, id).
    let recs: Vec<(Option<&str>, &str)> = live
        .instances
        .iter()
        .map(|i| (i.scope.as_deref(), i.id.as_str()))
        .collect();
    assert_eq!(
        recs,
        [
            (Some("aaa"), "i-1"),
            (Some("aaa"), "i-2"),
            (Some("ccc"), "i-1"),
            (Some("ccc"), "i-2")
        ]
    );
}

#[test]
fn the_scope_budget_bounds_calls_in_flight_and_in_all() {
    // Three locations of one scope, three pages each, one budget: one call at a time, five
    // in all.
    let budget = Budget::new(1, Some(5));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let locations: Vec<Arc<dyn Location>> = ["r-1", "r-2", "r-3"]
        .into_iter()
        .map(|name| {
            let mut l = FakeLocation::new(
                name,
                &[
                    ("", &["i-1"], Some("t1")),
                    ("t1", &["i-2"], Some("t2")),
                    ("t2", &["i-3"], None),
                ],
            );
            l.budget = budget.clone();
            l.in_flight = in_flight.clone();
            l.most = most.clone();
            Arc::new(l) as Arc<dyn Location>
        })
        .collect();
    let live = run(read_scope(None, locations, &ReadPlan::default()));
    assert_eq!(most.load(Ordering::SeqCst), 1, "calls ran side by side");
    assert_eq!(budget.calls(), 5);
    let failed: Vec<&SourcePart> = live
        .parts
        .iter()
        .filter(|p| p.status == PartStatus::Failed)
        .collect();
    assert!(!failed.is_empty(), "{:?}", live.parts);
    assert!(
        failed.iter().all(|p| p
            .error
            .as_deref()
            .is_some_and(|e| e.contains("budget of 5 API calls is spent"))),
        "{failed:?}"
    );
}

#[test]
fn the_extra_field_is_fetched_for_the_lowest_ids_of_each_group() {
    let l = Arc::new(FakeLocation::new(
        "r-1",
        &[
            ("", &["b-2", "a-3", "a-1"], Some("t")),
            ("t", &["b-1", "a-2"], None),
        ],
    ));
    let plan = ReadPlan {
        extra: Some((Sample::PerGroup(1), SecretPolicy::default())),
        sink: None,
    };
    let live = run(read_scope(
        None,
        vec![l.clone() as Arc<dyn Location>],
        &plan,
    ));
    let mut asked = l.extra_asked.lock().expect("lock").clone();
    asked.sort();
    assert_eq!(asked, ["a-1", "b-1"]);
    assert_eq!(live.user_data_sampled, 2);
    // Two calls at once: one round after the two pages.
    assert_eq!(live.parts[0].sequential_calls, Some(3));
}
