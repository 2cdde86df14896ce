//! The Compute REST client: an OAuth token from Application Default Credentials
//! (`google-cloud-auth`), one `instances.aggregatedList` page per call, paced by the project's
//! per-minute bucket, retried on rate limiting and 5xx with bounded backoff, the token
//! refreshed once on a 401. Tokens go only into the `Authorization` header: never into a log
//! field, an error or a report.

use crate::fleet::SecretPolicy;
use crate::source::driver::Page;
use google_cloud_auth::credentials::{AccessTokenCredentials, Builder};
use std::path::Path;
use std::time::Duration;

/// Compute Engine v1's REST root.
pub const DEFAULT_ENDPOINT: &str = "https://compute.googleapis.com/compute/v1";

/// The OAuth scope the listing needs (read-only Compute).
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/compute.readonly";

/// Instances per page (Compute's most).
const MAX_RESULTS: u32 = 500;

/// How the client connects and retries.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The REST root (a fake in tests).
    pub endpoint: String,
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// Backoff before the first retry (doubled after each).
    pub initial_backoff: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

/// Credentials, rebuilt (so refreshed) once after a 401.
pub struct Auth {
    creds: tokio::sync::Mutex<AccessTokenCredentials>,
}

fn credentials() -> Result<AccessTokenCredentials, String> {
    Builder::default()
        .with_scopes([SCOPE_READONLY])
        .build_access_token_credentials()
        .map_err(|e| format!("no Google Application Default Credentials: {e} (set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or run where the metadata server or workload identity federation gives them; see docs/accounts.md)"))
}

impl Auth {
    /// Loads Application Default Credentials.
    pub fn load() -> Result<Auth, String> {
        Ok(Auth {
            creds: tokio::sync::Mutex::new(credentials()?),
        })
    }

    /// A current access token.
    pub async fn token(&self) -> Result<String, String> {
        let creds = self.creds.lock().await.clone();
        creds
            .access_token()
            .await
            .map(|t| t.token)
            .map_err(|e| format!("cannot get a Google access token: {e}"))
    }

    /// Drops the cached token: the next [`Auth::token`] asks for a new one.
    async fn refresh(&self) -> Result<(), String> {
        *self.creds.lock().await = credentials()?;
        Ok(())
    }
}

/// One project's listing: its client, bucket and filter.
pub struct Lister {
    /// The HTTP client (shared).
    pub http: reqwest::Client,
    /// Credentials (shared).
    pub auth: std::sync::Arc<Auth>,
    /// Connection and retries.
    pub settings: Settings,
    /// The project.
    pub project: String,
    /// The server-side filter, if any.
    pub filter: Option<String>,
    /// The project's per-minute bucket.
    pub bucket: governor::DefaultDirectRateLimiter,
}

/// A per-minute bucket: `per_minute` calls a minute, a minute's worth at once.
pub fn bucket(per_minute: f64) -> governor::DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(60.0 / per_minute.max(0.01));
    let burst =
        std::num::NonZeroU32::new(per_minute.max(1.0) as u32).unwrap_or(std::num::NonZeroU32::MIN);
    let quota = governor::Quota::with_period(period)
        .unwrap_or_else(|| governor::Quota::per_minute(std::num::NonZeroU32::MIN))
        .allow_burst(burst);
    governor::RateLimiter::direct(quota)
}

/// What one attempt came to.
enum Attempt {
    Done(bytes::Bytes),
    /// Worth another try after backoff (rate limited, 5xx, a dropped connection).
    Retry(String),
    /// The token was refused.
    Unauthorized(String),
    Fail(String),
}

/// Google's error message in an error body (`{"error": {"message": ..., "errors": [{"reason"}]}}`).
fn google_error(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let msg = v
        .pointer("/error/message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let reason = v
        .pointer("/error/errors/0/reason")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    (msg.chars().take(300).collect(), reason.to_string())
}

impl Lister {
    fn url(&self) -> String {
        format!(
            "{}/projects/{}/aggregated/instances",
            self.settings.endpoint.trim_end_matches('/'),
            self.project
        )
    }

    async fn attempt(&self, token: &str, page: Option<&str>) -> Attempt {
        let mut q: Vec<(&str, String)> = vec![
            ("maxResults", MAX_RESULTS.to_string()),
            ("returnPartialSuccess", "true".into()),
        ];
        if let Some(f) = &self.filter {
            q.push(("filter", f.clone()));
        }
        if let Some(p) = page {
            q.push(("pageToken", p.to_string()));
        }
        let url = match reqwest::Url::parse_with_params(&self.url(), &q) {
            Ok(u) => u,
            Err(e) => return Attempt::Fail(format!("bad endpoint URL {}: {e}", self.url())),
        };
        let resp = match self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(self.settings.timeout)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(format!("no answer: {}", e.without_url())),
        };
        let status = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Attempt::Retry(format!("the answer broke off: {}", e.without_url())),
        };
        if status.is_success() {
            return Attempt::Done(body);
        }
        let (msg, reason) = google_error(&body);
        let said = format!(
            "HTTP {}{}: {msg}",
            status.as_u16(),
            if reason.is_empty() {
                String::new()
            } else {
                format!(" {reason}")
            }
        );
        match status.as_u16() {
            401 => Attempt::Unauthorized(said),
            429 => Attempt::Retry(said),
            403 if reason.contains("ateLimitExceeded") => Attempt::Retry(said),
            s if s >= 500 => Attempt::Retry(said),
            _ => Attempt::Fail(said),
        }
    }

    /// One page's body: paced, retried, the token refreshed once.
    pub async fn fetch(&self, token: Option<&str>) -> Result<bytes::Bytes, String> {
        let mut backoff = self.settings.initial_backoff;
        let mut refreshed = false;
        let mut tries = 0;
        loop {
            self.bucket.until_ready().await;
            tries += 1;
            let bearer = self.auth.token().await?;
            match self.attempt(&bearer, token).await {
                Attempt::Done(b) => return Ok(b),
                Attempt::Fail(e) => return Err(e),
                Attempt::Unauthorized(e) if refreshed => {
                    return Err(format!(
                        "{e}: the credentials were refused again after a fresh token; check that they are valid and hold compute.instances.list (roles/compute.viewer) on the project"
                    ));
                }
                Attempt::Unauthorized(_) => {
                    tracing::info!(project = %self.project, "token refused (401): getting a fresh one");
                    refreshed = true;
                    self.auth.refresh().await?;
                    tries -= 1;
                }
                Attempt::Retry(e) if tries >= self.settings.attempts => {
                    return Err(format!("{e} (gave up after {tries} attempts)"));
                }
                Attempt::Retry(e) => {
                    tracing::info!(project = %self.project, error = %e, ms = backoff.as_millis() as u64, "retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

/// The `nextPageToken` of a page, found without parsing it (so the next page can be fetched
/// while this one is read); the full read checks it. Inside an instance a key of that name
/// cannot occur unescaped: metadata values are JSON strings, label keys are lower-case.
pub fn peek_next(body: &[u8]) -> Option<String> {
    let key = b"\"nextPageToken\"";
    let at = memchr::memmem::rfind(body, key)?;
    let rest = &body[at + key.len()..];
    let open = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b':' | b'\n' | b'\r' | b'\t'))?;
    let rest = rest.get(open..)?.strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

/// Reads a fetched page (page `n` of `project`) into records, as the recorded reader does.
pub fn parse(body: &[u8], project: &str, n: usize, secrets: &SecretPolicy) -> Result<Page, String> {
    let label = format!("project {project} aggregatedList page {n}");
    let (records, next) =
        crate::fleet::read_gce_page(body, Path::new(&label), secrets).map_err(|d| {
            let all: Vec<String> = d.0.iter().map(|x| x.to_string()).collect();
            all.join("; ")
        })?;
    Ok(Page { records, next })
}
