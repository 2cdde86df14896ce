//! Azure's REST calls, made with the plain HTTP client already in the tree (ureq, on a blocking
//! thread): Resource Graph queries and the ARM subscription read, with a bearer token from
//! [`super::token::Tokens`], the per-user Resource Graph quota shared by every call, and bounded
//! retries.
//!
//! The quota: "a user can send at most 15 queries within every 5-second window"; every answer
//! carries `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (`hh:mm:ss`), and a
//! client at 0 waits that long (<https://learn.microsoft.com/en-us/azure/governance/resource-graph/concepts/guidance-for-throttled-requests>,
//! "Understand throttling headers"). A 429 carries `Retry-After` in seconds.

use super::token::Tokens;
use crate::fleet::prune::{Keep, Pruned};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resource Graph's API version (GA).
pub const GRAPH_API: &str = "2022-10-01";
/// ARM's subscriptions API version.
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";
/// Retries of a 429 or a 5xx before the call fails.
pub const RETRIES: u32 = 4;
/// The longest wait a 429 or the quota header may ask for before the call fails instead.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The largest answer read (a page of 1,000 VMs is a few MB).
const MAX_BODY: u64 = 64 << 20;

/// The per-user Resource Graph quota, shared by every scope and location of a read.
#[derive(Debug, Default)]
pub struct Quota {
    /// When the quota said 0 remain: the instant it resets.
    blocked_until: Mutex<Option<Instant>>,
    /// Waits made because the quota was spent.
    pub waits: AtomicUsize,
}

impl Quota {
    /// Waits while the quota is spent.
    async fn wait(&self) {
        let until = self.blocked_until.lock().ok().and_then(|g| *g);
        if let Some(t) = until {
            let now = Instant::now();
            if t > now {
                self.waits.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(t - now).await;
            }
        }
    }

    /// Reads an answer's quota headers.
    fn note(&self, remaining: Option<&str>, resets_after: Option<&str>) {
        let Some(rem) = remaining.and_then(|r| r.trim().parse::<i64>().ok()) else {
            return;
        };
        let reset = resets_after.and_then(hms).unwrap_or(Duration::from_secs(5));
        if let Ok(mut g) = self.blocked_until.lock() {
            *g = (rem <= 0).then(|| Instant::now() + reset.min(MAX_WAIT));
        }
    }
}

/// `hh:mm:ss` as a duration.
fn hms(s: &str) -> Option<Duration> {
    let parts: Vec<u64> = s
        .trim()
        .split(':')
        .map(|p| p.split('.').next().unwrap_or("").parse().ok())
        .collect::<Option<_>>()?;
    match parts[..] {
        [h, m, s] => Some(Duration::from_secs(h * 3600 + m * 60 + s)),
        _ => None,
    }
}

/// One answer: status, the headers read, the body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    remaining: Option<String>,
    resets_after: Option<String>,
    body: String,
}

/// The client: endpoint, tokens, quota, call counts.
#[derive(Debug, Clone)]
pub struct Client {
    /// ARM / Resource Graph base (`https://management.azure.com`).
    pub endpoint: String,
    tokens: Arc<Tokens>,
    /// The quota every call shares.
    pub quota: Arc<Quota>,
    calls: Arc<AtomicUsize>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of `endpoint` with `tokens`.
    pub fn new(endpoint: &str, tokens: Arc<Tokens>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .user_agent(format!("checker/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            tokens,
            quota: Arc::new(Quota::default()),
            calls: Arc::new(AtomicUsize::new(0)),
            agent,
        }
    }

    /// Calls made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// One HTTP call on a blocking thread; the token is in the request only.
    async fn send(
        &self,
        url: String,
        body: Option<Value>,
        token: String,
    ) -> Result<Answer, String> {
        let agent = self.agent.clone();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let shown = url.split('?').next().unwrap_or("").to_string();
        tokio::task::spawn_blocking(move || {
            let auth = format!("Bearer {token}");
            let r = match body {
                Some(b) => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .send_json(&b),
                None => agent.get(&url).header("Authorization", &auth).call(),
            };
            let mut resp = r.map_err(|e| format!("{shown}: {e}"))?;
            let h = |k: &str| {
                resp.headers()
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (retry_after, remaining, resets_after) = (
                h("retry-after"),
                h("x-ms-user-quota-remaining"),
                h("x-ms-user-quota-resets-after"),
            );
            let status = resp.status().as_u16();
            let body = resp
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_string()
                .map_err(|e| format!("{shown}: reading the answer: {e}"))?;
            Ok(Answer {
                status,
                retry_after,
                remaining,
                resets_after,
                body,
            })
        })
        .await
        .map_err(|e| format!("the HTTP task failed: {e}"))?
    }

    /// A call with the quota, retries (429 after `Retry-After`, 5xx with backoff, each at most
    /// [`RETRIES`] times) and one token refresh on 401; the JSON body of a 200, or why not.
    pub async fn call(&self, what: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call_keeping(what, path, body, Keep::All).await
    }

    /// [`Client::call`], building only what `keep` says of the answer (the rest is skipped
    /// unbuilt: [`crate::fleet::prune`]).
    pub async fn call_keeping(
        &self,
        what: &str,
        path: &str,
        body: Option<Value>,
        keep: Keep,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.endpoint);
        let mut refreshed = false;
        let mut tries = 0;
        loop {
            self.quota.wait().await;
            let token = self.tokens.get(false).await?;
            let a = self.send(url.clone(), body.clone(), token).await?;
            self.quota
                .note(a.remaining.as_deref(), a.resets_after.as_deref());
            match a.status {
                200 => {
                    return parse(&a.body, keep).map_err(|e| {
                        format!("{what}: the answer is not JSON ({e}): truncated or not Azure's")
                    });
                }
                401 if !refreshed => {
                    refreshed = true;
                    self.tokens.get(true).await?;
                }
                401 => {
                    return Err(format!(
                        "{what}: 401 Unauthorized after a fresh token: the credentials are not accepted ({})",
                        error_text(&a.body)
                    ));
                }
                429 | 500..=599 if tries < RETRIES => {
                    tries += 1;
                    let wait = match a.retry_after.as_deref().and_then(|s| s.trim().parse().ok()) {
                        Some(s) => Duration::from_secs(s),
                        None => Duration::from_millis(200 << tries),
                    };
                    if wait > MAX_WAIT {
                        return Err(format!(
                            "{what}: {} asks to wait {}s, longer than {}s: stopped",
                            a.status,
                            wait.as_secs(),
                            MAX_WAIT.as_secs()
                        ));
                    }
                    tracing::debug!(
                        status = a.status,
                        wait_ms = wait.as_millis() as u64,
                        "{what}: retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                s => {
                    return Err(format!("{what}: HTTP {s}: {}", error_text(&a.body)));
                }
            }
        }
    }
}

/// A whole answer as JSON, only what `keep` says built.
fn parse(body: &str, keep: Keep) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(body);
    let v = Pruned(keep).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// ARM's `{"error": {"code", "message"}}`, or the start of the body.
pub fn error_text(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) if v["error"].is_object() => format!(
            "{}: {}",
            v["error"]["code"].as_str().unwrap_or("error"),
            v["error"]["message"].as_str().unwrap_or("")
        ),
        _ => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_reset_reads_hms() {
        assert_eq!(hms("00:00:03"), Some(Duration::from_secs(3)));
        assert_eq!(hms("00:01:02.5"), Some(Duration::from_secs(62)));
        assert_eq!(hms("x"), None);
    }
}
