//! Plain paginated listings, for a cloud that lists a location's instances a page at a time
//! (`list one page of scope S, location L after token T -> records + the next token`): the
//! pagination guard and the scope's API budget, so such a cloud's [`super::Location::scan`] is
//! one call to [`paginate`].

use super::{Emit, LocationStats};
use crate::fleet::Instance;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// The page's records.
    pub records: Vec<Instance>,
    /// The token of the next page; `None` (or empty) on the last.
    pub next: Option<String>,
}

/// A location's listing, a page at a time: what a cloud with plain pages implements.
pub trait PageLister: Send + Sync {
    /// The page after `token` (the first when `None`); an error fails the location.
    fn page<'a>(&'a self, token: Option<&'a str>) -> BoxFuture<'a, Result<Page, String>>;
}

/// More pages than any location holds (100,000 pages): past it, a listing is looping.
pub const MAX_PAGES: usize = 100_000;

/// Pagination that cannot loop: a token the listing already gave, or more than [`MAX_PAGES`]
/// pages, fails the location instead of spending the scope's calls without end.
#[derive(Debug, Default)]
pub struct PageGuard {
    seen: HashSet<String>,
}

impl PageGuard {
    /// Accepts the next page's token, or says why paging must stop (`api` names the call).
    pub fn next(&mut self, token: &str, api: &str) -> Result<(), String> {
        if self.seen.len() >= MAX_PAGES {
            return Err(format!(
                "{api} gave more than {MAX_PAGES} pages: stopped paging (a looping endpoint?)"
            ));
        }
        if !self.seen.insert(token.to_string()) {
            return Err(format!(
                "{api} returned a page token it had already returned: stopped paging rather than loop (the endpoint is paginating in a circle)"
            ));
        }
        Ok(())
    }
}

/// A scope's API budget, shared by every location of the scope: at most `in_flight` calls at
/// once, and, when set, at most `max_calls` in all (past it the location that asks fails: a
/// scope's quota is the cloud's, shared with the provisioner). Counts every call.
#[derive(Debug, Clone)]
pub struct Budget {
    permits: Arc<tokio::sync::Semaphore>,
    calls: Arc<AtomicUsize>,
    max_calls: Option<usize>,
}

impl Budget {
    /// `in_flight` calls at once (at least one), `max_calls` in all when given.
    pub fn new(in_flight: usize, max_calls: Option<usize>) -> Budget {
        Budget {
            permits: Arc::new(tokio::sync::Semaphore::new(in_flight.max(1))),
            calls: Arc::new(AtomicUsize::new(0)),
            max_calls,
        }
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Runs `call` within the budget: waits for a slot, counts it, or refuses once the budget
    /// is spent (the call is then not made).
    pub async fn spend<T>(
        &self,
        api: &str,
        call: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let _slot = self.permits.acquire().await.ok();
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(max) = self.max_calls
            && n >= max
        {
            self.calls.fetch_sub(1, Ordering::Relaxed);
            return Err(format!(
                "the scope's budget of {max} API calls is spent: {api} not called"
            ));
        }
        call.await
    }
}

/// Reads a listing to its end, a page at a time through the scope's `budget`, handing each
/// page to `emit`; a token given twice (or too many pages) fails the location.
pub async fn paginate(
    lister: &dyn PageLister,
    api: &str,
    budget: &Budget,
    emit: Emit<'_>,
) -> Result<LocationStats, String> {
    let started = std::time::Instant::now();
    let mut guard = PageGuard::default();
    let mut token: Option<String> = None;
    let mut stats = LocationStats {
        shards: 1,
        ..LocationStats::default()
    };
    loop {
        let page = budget.spend(api, lister.page(token.as_deref())).await?;
        stats.pages += 1;
        stats.instances += page.records.len();
        emit(page.records);
        match page.next.filter(|t| !t.is_empty()) {
            None => break,
            Some(next) => {
                guard.next(&next, api)?;
                token = Some(next);
            }
        }
    }
    stats.max_sequential_pages = stats.pages;
    stats.elapsed = started.elapsed();
    Ok(stats)
}
