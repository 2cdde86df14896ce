//! Talking to Taskcluster: a task's secrets through its taskcluster-proxy, a deployment's JSON
//! Schemas and worker pool definitions. Plain HTTPS GETs of JSON; nothing here is cached in
//! memory beyond the call, and a secret's values never reach a message or a log.

use crate::error::{Error, Result};
use checker_ec2::StaticCredentials;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::time::Duration;

/// The taskcluster-proxy's address inside a task (`features: {taskclusterProxy: true}`).
pub const DEFAULT_PROXY: &str = "http://taskcluster";

/// Where the proxy is: `TASKCLUSTER_PROXY_URL`, else [`DEFAULT_PROXY`].
pub fn proxy_url() -> String {
    std::env::var("TASKCLUSTER_PROXY_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PROXY.to_string())
}

/// The largest answer read by default: 256 MiB. The documented all-pools bundle the gate reads
/// was 6.7 MB and grows with every pool; the HTTP client's own default (10 MB) would soon refuse
/// it. `checker gate --max-response-mb` changes it for pool files.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 << 20;

/// A GET: the status and the body (any status; the caller decides), at most
/// [`DEFAULT_MAX_RESPONSE_BYTES`].
pub fn get(url: &str) -> std::result::Result<(u16, String), String> {
    get_limited(url, DEFAULT_MAX_RESPONSE_BYTES)
}

/// A GET whose body may hold at most `max_bytes`; a larger one is an error that says so.
pub fn get_limited(url: &str, max_bytes: u64) -> std::result::Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .user_agent(format!("checker/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(max_bytes)
        .read_to_string()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => format!(
                "GET {url}: the answer is larger than the limit of {} MiB; raise it (checker gate --max-response-mb)",
                max_bytes >> 20
            ),
            e => format!("GET {url}: reading the body: {e}"),
        })?;
    Ok((status, body))
}

/// GETs JSON; anything but 200 with a JSON body is an error naming the URL and status.
pub fn get_json(url: &str) -> std::result::Result<Value, String> {
    get_json_limited(url, DEFAULT_MAX_RESPONSE_BYTES)
}

/// [`get_json`] with a body of at most `max_bytes`.
pub fn get_json_limited(url: &str, max_bytes: u64) -> std::result::Result<Value, String> {
    let (status, body) = get_limited(url, max_bytes)?;
    if status != 200 {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {url}: the answer is not JSON ({e})"))
}

/// AWS credentials from the Taskcluster secret `name`, read through the proxy at `proxy`. The
/// secret's JSON holds `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
/// `AWS_SESSION_TOKEN`. A missing or malformed secret is bad input (exit 2); its values are never
/// part of a message.
pub fn aws_credentials(proxy: &str, name: &str) -> Result<StaticCredentials> {
    let url = format!(
        "{}/secrets/v1/secret/{}",
        proxy.trim_end_matches('/'),
        name.split('/').map(segment).collect::<Vec<_>>().join("/")
    );
    let (status, body) = get(&url).map_err(|e| {
        Error::Incomplete(format!(
            "--aws-credentials-secret {name}: the taskcluster proxy did not answer ({e}); run inside a task with features.taskclusterProxy, or set TASKCLUSTER_PROXY_URL"
        ))
    })?;
    let hint = "the task needs the scope secrets:get:NAME, and the secret must be JSON {\"AWS_ACCESS_KEY_ID\": ..., \"AWS_SECRET_ACCESS_KEY\": ..., \"AWS_SESSION_TOKEN\": (optional)}";
    match status {
        200 => {}
        404 => {
            return Err(Error::usage(format!(
                "--aws-credentials-secret {name}: no such secret (HTTP 404 from {proxy}); {hint}"
            )));
        }
        401 | 403 => {
            return Err(Error::usage(format!(
                "--aws-credentials-secret {name}: not allowed to read it (HTTP {status}); {hint}"
            )));
        }
        s => {
            return Err(Error::Incomplete(format!(
                "--aws-credentials-secret {name}: HTTP {s} from {proxy}"
            )));
        }
    }
    let malformed = |what: &str| {
        Error::usage(format!(
            "--aws-credentials-secret {name}: the secret is malformed: {what}; {hint}"
        ))
    };
    let v: Value = serde_json::from_str(&body).map_err(|_| malformed("the answer is not JSON"))?;
    let secret = v
        .get("secret")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("it has no \"secret\" object"))?;
    let field = |k: &str| -> Result<Option<String>> {
        match secret.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => {
                let s = s.trim();
                if crate::live::credential_is_printable(s) {
                    Ok(Some(s.to_string()))
                } else {
                    // Never the value: only which key is unusable.
                    Err(malformed(&format!(
                        "{k} holds a line break, a space or another character that is not printable ASCII (AWS credentials are printable ASCII; the SDK cannot send it)"
                    )))
                }
            }
            Some(_) => Err(malformed(&format!("{k} is not a non-empty string"))),
        }
    };
    let (Some(access_key_id), Some(secret_access_key)) =
        (field("AWS_ACCESS_KEY_ID")?, field("AWS_SECRET_ACCESS_KEY")?)
    else {
        let keys: Vec<&str> = secret.keys().map(String::as_str).collect();
        return Err(malformed(&format!(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (its keys: {})",
            keys.join(", ")
        )));
    };
    Ok(StaticCredentials {
        access_key_id,
        secret_access_key,
        session_token: field("AWS_SESSION_TOKEN")?,
    })
}

/// What a path segment keeps unencoded: RFC 3986 unreserved characters and `:`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

/// A path segment percent-encoded (secret names may hold spaces; pool ids hold `/`).
fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A worker pool's definition from the worker-manager API of the deployment at `root_url`
/// (`GET <rootUrl>/api/worker-manager/v1/worker-pool/<workerPoolId>`), as the gate's pool files
/// hold it.
pub fn worker_pool(root_url: &str, pool: &str) -> Result<Value> {
    let url = format!(
        "{}/api/worker-manager/v1/worker-pool/{}",
        root_url.trim_end_matches('/'),
        segment(pool)
    );
    get_json(&url).map_err(|e| Error::Incomplete(format!("worker pool {pool}: {e}")))
}

/// A previous run's artifact, or why there is none.
#[derive(Debug)]
pub enum Fetched {
    /// The artifact's text and the task it came from.
    Found {
        /// The task.
        task_id: String,
        /// The artifact.
        text: String,
    },
    /// No completed earlier fire, or the artifact is not there (HTTP 404), in words.
    Missing(String),
}

/// The newest completed (or failed: its artifacts are uploaded too) successful fire of `hook`
/// (`hookGroupId/hookId`) other than `this_task`, read with `hooks.listLastFires` through the
/// proxy at `proxy` (all pages, by `continuationToken`), and then its artifact `name` through
/// the queue. Needs the scope `hooks:list-last-fires:<hookGroupId>/<hookId>` (and
/// `queue:get-artifact:<name>` unless the artifact is public). Shapes: taskcluster/taskcluster
/// services/hooks/src/api.js (`listLastFires`) and
/// services/hooks/schemas/v1/list-lastFires-response.yml at 9d59eb59f6fd0912075c194100d8910f2da40f52.
pub fn previous_artifact(
    proxy: &str,
    hook: &str,
    this_task: Option<&str>,
    name: &str,
) -> std::result::Result<Fetched, String> {
    let base = proxy.trim_end_matches('/');
    let (group, id) = hook
        .split_once('/')
        .ok_or_else(|| format!("hook {hook}: expected hookGroupId/hookId"))?;
    let fires_url = format!(
        "{base}/api/hooks/v1/hooks/{}/{}/last-fires",
        segment(group),
        segment(id)
    );
    let mut best: Option<(String, String)> = None; // (taskCreateTime, taskId)
    let mut token: Option<String> = None;
    for _page in 0..10_000 {
        let url = match &token {
            Some(t) => format!("{fires_url}?continuationToken={}", segment(t)),
            None => fires_url.clone(),
        };
        let (status, body) = get(&url)?;
        if status == 404 {
            // "No such hook or never fired" (api.js).
            return Ok(Fetched::Missing(format!(
                "hook {hook} has no earlier fires (HTTP 404 from {fires_url})"
            )));
        }
        if status != 200 {
            return Err(format!(
                "GET {url}: HTTP {status} (the task needs the scope hooks:list-last-fires:{hook})"
            ));
        }
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {url}: the answer is not JSON ({e})"))?;
        let fires = v
            .get("lastFires")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("GET {url}: the answer has no lastFires array"))?;
        for f in fires {
            let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default();
            let usable = s("result") == "success"
                && matches!(s("taskState"), "completed" | "failed")
                && !s("taskId").is_empty()
                && Some(s("taskId")) != this_task;
            // RFC 3339 times from the same server compare as text.
            if usable
                && best
                    .as_ref()
                    .is_none_or(|(t, _)| s("taskCreateTime") > t.as_str())
            {
                best = Some((s("taskCreateTime").to_string(), s("taskId").to_string()));
            }
        }
        token = v
            .get("continuationToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let Some((_, task_id)) = best else {
        return Ok(Fetched::Missing(format!(
            "hook {hook} has no earlier completed fire"
        )));
    };
    let url = format!(
        "{base}/api/queue/v1/task/{}/artifacts/{}",
        segment(&task_id),
        segment(name)
    );
    let (status, text) = get(&url)?;
    match status {
        200 => Ok(Fetched::Found { task_id, text }),
        404 => Ok(Fetched::Missing(format!(
            "task {task_id} has no artifact {name} (HTTP 404)"
        ))),
        s => Err(format!(
            "GET {url}: HTTP {s} (a non-public artifact needs the scope queue:get-artifact:{name})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn path_segments_encode_what_a_url_path_cannot_hold() {
        assert_eq!(segment("gecko-t/t-win10-64"), "gecko-t%2Ft-win10-64");
        assert_eq!(segment("my secret:v1"), "my%20secret:v1");
        assert_eq!(segment("a_b.c~d"), "a_b.c~d");
    }
}
