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
use crate::source::driver::{
    Budget, Emit, Location, LocationStats, Page, PageLister, Scopes, paginate,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::BTreeMap;
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

impl PageLister for AzureLocation {
    fn page<'a>(&'a self, token: Option<&'a str>) -> BoxFuture<'a, Result<Page, String>> {
        Box::pin(async move {
            let (rows, next) = query_page(&self.client, &self.sub, &self.query, token).await?;
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
            Ok(Page { records, next })
        })
    }
}

impl Location for AzureLocation {
    fn name(&self) -> &str {
        &self.location
    }

    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(paginate(self, "Resource Graph query", &self.budget, emit))
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
