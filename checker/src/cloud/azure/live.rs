//! Live Azure through Resource Graph: each subscription is a scope of the live driver
//! (`crate::source::driver`), opened by reading it from ARM (a subscription the credentials
//! cannot read is its own failed part, never rows silently missing: Resource Graph itself
//! answers only for the subscriptions the caller can read) and asking Resource Graph which
//! locations hold its VMs; each location is a part, read in pages of 1,000 with `$skipToken`.
//! Every row goes through [`crate::fleet::parse_azure_vm`], as a recorded Resource Graph result
//! does, so live and recorded agree.

use super::graph::{Client, GRAPH_API, SUBSCRIPTIONS_API};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{AzureField, ScopeKind};
use crate::source::driver::{Budget, Emit, Location, LocationStats, PageGuard, Scopes};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// Rows per Resource Graph page (the API's most).
pub const PAGE: u64 = 1000;
/// Resource Graph calls in flight per subscription.
pub const IN_FLIGHT: usize = 3;

/// The VMs of one location with their first public IP: only what `parse_vm` reads (customData
/// is not in Resource Graph: ARM never returns it, so live user-data is unknown, not absent).
pub fn vm_query(location: &str) -> String {
    format!(
        "Resources
| where type =~ 'microsoft.compute/virtualmachines' and location =~ '{location}'
| extend nicId = tolower(tostring(properties.networkProfile.networkInterfaces[0].id))
| join kind=leftouter (
    Resources
    | where type =~ 'microsoft.network/networkinterfaces'
    | mv-expand ipc = properties.ipConfigurations
    | extend pipId = tolower(tostring(ipc.properties.publicIPAddress.id))
    | join kind=leftouter (
        Resources
        | where type =~ 'microsoft.network/publicipaddresses'
        | project pipId = tolower(id), ip = tostring(properties.ipAddress)
      ) on pipId
    | summarize publicIp = take_any(ip) by nicId = tolower(id)
  ) on nicId
| project id, name, type, location, subscriptionId, tags, publicIp,
    properties = pack('hardwareProfile', properties.hardwareProfile,
        'priority', properties.priority,
        'osProfile', pack('computerName', properties.osProfile.computerName),
        'storageProfile', pack('imageReference', properties.storageProfile.imageReference,
            'osDisk', pack('osType', properties.storageProfile.osDisk.osType)),
        'extended', properties.extended)
| order by name asc"
    )
}

/// The locations holding a subscription's VMs.
pub const LOCATIONS_QUERY: &str = "Resources
| where type =~ 'microsoft.compute/virtualmachines'
| distinct location
| order by location asc";

/// One Resource Graph page: rows, next token; `resultTruncated` is an error.
pub async fn query_page(
    client: &Client,
    sub: &str,
    query: &str,
    token: Option<&str>,
) -> Result<(Vec<Value>, Option<String>), String> {
    let mut options = json!({"$top": PAGE, "resultFormat": "objectArray"});
    if let Some(t) = token {
        options["$skipToken"] = t.into();
    }
    let body = json!({"subscriptions": [sub], "query": query, "options": options});
    let path = format!("/providers/Microsoft.ResourceGraph/resources?api-version={GRAPH_API}");
    let mut v = client
        .call_keeping(
            "Resource Graph query",
            &path,
            Some(body),
            crate::fleet::prune::GRAPH_PAGE,
        )
        .await?;
    let truncated = match &v["resultTruncated"] {
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Bool(b) => *b,
        _ => false,
    };
    if truncated {
        return Err(
            "Resource Graph answered resultTruncated: true (rows left out): the part is incomplete"
                .into(),
        );
    }
    let Value::Array(rows) = v["data"].take() else {
        return Err(
            "Resource Graph's answer has no \"data\" array: not a Resource Graph result".into(),
        );
    };
    let next = v["$skipToken"].as_str().map(str::to_string);
    Ok((rows, next))
}

/// Azure subscriptions as the driver's scopes.
pub struct Subscriptions {
    /// The client every scope shares (one quota: it is per user).
    pub client: Client,
    /// How customData (when a row carries it) is redacted.
    pub secrets: SecretPolicy,
}

/// One subscription to read.
#[derive(Debug, Clone)]
pub struct Sub {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

impl Scopes for Subscriptions {
    type Scope = Sub;

    fn kind(&self) -> ScopeKind {
        ScopeKind::Subscription
    }

    fn id(&self, s: &Sub) -> String {
        s.id.clone()
    }

    fn label(&self, s: &Sub) -> String {
        if s.name == s.id {
            s.id.clone()
        } else {
            format!("{} ({})", s.name, s.id)
        }
    }

    fn open<'a>(&'a self, s: &'a Sub) -> BoxFuture<'a, Result<Vec<Arc<dyn Location>>, String>> {
        Box::pin(async move {
            let path = format!("/subscriptions/{}?api-version={SUBSCRIPTIONS_API}", s.id);
            let v = self
                .client
                .call("reading the subscription", &path, None)
                .await?;
            if let Some(state) = v["state"].as_str()
                && !matches!(state, "Enabled" | "PastDue" | "Warned")
            {
                tracing::info!(subscription = %s.id, state, "subscription not enabled");
            }
            let mut locations = Vec::new();
            let mut token: Option<String> = None;
            let mut guard = crate::source::driver::PageGuard::default();
            loop {
                let (rows, next) =
                    query_page(&self.client, &s.id, LOCATIONS_QUERY, token.as_deref()).await?;
                for r in rows {
                    match r["location"].as_str() {
                        Some(l) if l.chars().all(|c| c.is_ascii_alphanumeric()) => {
                            locations.push(l.to_ascii_lowercase());
                        }
                        _ => {
                            return Err(format!(
                                "Resource Graph gave a location that is not one: {r}"
                            ));
                        }
                    }
                }
                match next.filter(|t| !t.is_empty()) {
                    None => break,
                    Some(t) => {
                        guard.next(&t, "Resource Graph query")?;
                        token = Some(t);
                    }
                }
            }
            locations.sort();
            locations.dedup();
            let budget = Budget::new(IN_FLIGHT, None);
            let sub: Arc<str> = s.id.as_str().into();
            Ok(locations
                .into_iter()
                .map(|location| {
                    Arc::new(AzureLocation {
                        client: self.client.clone(),
                        secrets: self.secrets.clone(),
                        budget: budget.clone(),
                        sub: sub.clone(),
                        query: vm_query(&location),
                        location,
                    }) as Arc<dyn Location>
                })
                .collect())
        })
    }
}

/// One location of one subscription.
struct AzureLocation {
    client: Client,
    secrets: SecretPolicy,
    budget: Budget,
    sub: Arc<str>,
    location: String,
    query: String,
}

/// The name Resource Graph calls are counted and guarded under.
const QUERY: &str = "Resource Graph query";

/// One page as fetched: its rows (only what a record reads) and the next token.
type Fetched = Result<(Vec<Value>, Option<String>), String>;

impl AzureLocation {
    /// The page after `token`, through the subscription's budget, as a task of its own (so it
    /// is in flight while the page before is read).
    fn fetch(&self, token: Option<String>) -> impl Future<Output = Fetched> + Send + 'static {
        let (client, budget) = (self.client.clone(), self.budget.clone());
        let (sub, query) = (self.sub.clone(), self.query.clone());
        async move {
            budget
                .spend(QUERY, query_page(&client, &sub, &query, token.as_deref()))
                .await
        }
    }

    /// One page's rows as records; a bad row fails the location.
    fn records(&self, rows: &[Value]) -> Result<Vec<Instance>, String> {
        let origin = format!("Resource Graph, subscription {}", self.sub);
        let mut records = Vec::with_capacity(rows.len());
        for (n, row) in rows.iter().enumerate() {
            let i = crate::fleet::parse_azure_vm(
                Path::new(&origin),
                &format!("/data/{n}"),
                row,
                &self.secrets,
            )
            .map_err(|d| d.to_string())?;
            records.push(i);
        }
        Ok(records)
    }

    /// Every page, the next one asked for before this one's rows are read and checked (its
    /// `$skipToken` is known once the page is parsed): at most one page ahead, so memory stays
    /// flat. The calls are those of `driver::paginate`, in the same order, each through the
    /// budget (and the client's quota); a token given twice still fails the location, after
    /// the page that gave it is emitted, as there.
    async fn pages(&self, emit: Emit<'_>) -> Result<LocationStats, String> {
        let started = std::time::Instant::now();
        let mut guard = PageGuard::default();
        let mut stats = LocationStats {
            shards: 1,
            ..LocationStats::default()
        };
        let mut fetched = self.fetch(None).await;
        loop {
            let (rows, next) = fetched?;
            let next = next.filter(|t| !t.is_empty());
            let verdict = match &next {
                Some(t) => guard.next(t, QUERY),
                None => Ok(()),
            };
            let ahead = match (&verdict, next) {
                (Ok(()), Some(t)) => Some(tokio::spawn(self.fetch(Some(t)))),
                _ => None,
            };
            let records = match self.records(&rows) {
                Ok(r) => r,
                Err(e) => {
                    if let Some(h) = ahead {
                        h.abort();
                    }
                    return Err(e);
                }
            };
            drop(rows);
            stats.pages += 1;
            stats.instances += records.len();
            emit(records);
            verdict?;
            match ahead {
                None => break,
                Some(h) => {
                    fetched = h
                        .await
                        .map_err(|e| format!("the {QUERY} task failed: {e}"))?;
                }
            }
        }
        stats.max_sequential_pages = stats.pages;
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

impl Location for AzureLocation {
    fn name(&self) -> &str {
        &self.location
    }

    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(self.pages(emit))
    }

    fn extra<'a>(&'a self, _id: &'a str, _s: &'a SecretPolicy) -> BoxFuture<'a, UserData> {
        // ARM never returns customData: there is nothing to fetch.
        Box::pin(async { UserData::NotFetched })
    }

    fn sample_group(&self, i: &Instance, key: &mut String) {
        key.push_str(i.field(AzureField::VmSize).unwrap_or(""));
    }

    fn extra_concurrency(&self) -> usize {
        1
    }

    fn calls(&self) -> (usize, BTreeMap<String, usize>) {
        let n = self.budget.calls();
        (n, BTreeMap::from([("resources".to_string(), n)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::azure::token::{ClientSecret, Credential, Tokens};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    /// Page 1 (with a `$skipToken`) or, asked with it, page 2; counts the asks for page 2.
    struct Pages(Arc<AtomicUsize>);

    impl Respond for Pages {
        fn respond(&self, r: &Request) -> ResponseTemplate {
            let row = |n: &str| {
                json!({"name": n, "location": "eastus", "subscriptionId": "s-1",
                "type": "microsoft.compute/virtualmachines", "tags": {"worker-pool-id": "a/b"},
                "properties": {"hardwareProfile": {"vmSize": "Standard_F8s_v2"}}})
            };
            let second = String::from_utf8_lossy(&r.body).contains("skipToken");
            let page = if second {
                self.0.fetch_add(1, Ordering::SeqCst);
                json!({"resultTruncated": "false", "data": [row("vm-2")]})
            } else {
                json!({"resultTruncated": "false", "data": [row("vm-1")], "$skipToken": "p2"})
            };
            ResponseTemplate::new(200).set_body_json(page)
        }
    }

    /// The next page is asked for while a page is read: when page 1 is emitted (its rows read
    /// into records, about to be checked), the request for page 2 has reached the server. The
    /// old, sequential paging asked for page 2 only after page 1 was emitted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_next_page_is_in_flight_while_a_page_is_read() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/t/oauth2/v2.0/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "tok", "expires_in": 3600})),
            )
            .mount(&server)
            .await;
        let asked = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path("/providers/Microsoft.ResourceGraph/resources"))
            .respond_with(Pages(asked.clone()))
            .mount(&server)
            .await;
        let tokens = Tokens::new(Credential::Client {
            authority: server.uri(),
            tenant: "t".into(),
            client_id: "c".into(),
            secret: ClientSecret::Secret("s".into()),
        });
        let loc = AzureLocation {
            client: Client::new(&server.uri(), Arc::new(tokens)),
            secrets: SecretPolicy::default(),
            budget: Budget::new(IN_FLIGHT, None),
            sub: "s-1".into(),
            location: "eastus".into(),
            query: vm_query("eastus"),
        };
        // (records, whether page 2 had been asked for when they were emitted)
        let seen: Mutex<Vec<(usize, bool)>> = Mutex::new(Vec::new());
        let emit = |records: Vec<Instance>| {
            let t = Instant::now();
            while asked.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(3) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let ahead = asked.load(Ordering::SeqCst) > 0;
            seen.lock().expect("lock").push((records.len(), ahead));
        };
        let stats = loc.scan(&emit).await.expect("reads");
        assert_eq!((stats.pages, stats.instances), (2, 2));
        assert_eq!(seen.into_inner().expect("lock"), vec![(1, true), (1, true)]);
        assert_eq!(loc.calls().0, 2);
    }
}
