//! Bearer tokens for ARM, from the first credential the environment configures, in the order
//! and with the environment variables of `azure_identity`'s `EnvironmentCredential`,
//! `WorkloadIdentityCredential`, `ManagedIdentityCredential` and `AzureCliCredential`
//! (Azure/azure-sdk-for-rust, `sdk/identity/azure_identity`): a client secret
//! (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`), a client certificate
//! (`AZURE_CLIENT_CERTIFICATE_PATH` with the tenant and client; [`super::cert`]), workload identity federation
//! (`AZURE_FEDERATED_TOKEN_FILE` with the tenant and client), a managed identity (App Service,
//! Functions and Container Apps announce theirs with `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`; a
//! VM's instance metadata service is asked only when `--azure-managed-identity` says so, so a
//! run elsewhere never waits on 169.254.169.254), else the Azure CLI's login
//! (`az account get-access-token`). The authority is `AZURE_AUTHORITY_HOST` or
//! `--azure-authority-url` (tests point it at a fake). A token is cached until a 401 asks for a
//! fresh one; it is never logged or reported.

use serde_json::Value;
use std::time::Duration;

/// ARM's token scope.
pub const SCOPE: &str = "https://management.azure.com/.default";
/// Microsoft Entra's public authority.
pub const AUTHORITY: &str = "https://login.microsoftonline.com";
/// A VM's instance metadata service token endpoint, and the API version managed identity
/// endpoints take (azure_identity `virtual_machine_managed_identity_credential.rs` and
/// `app_service_managed_identity_credential.rs` at Azure/azure-sdk-for-rust 0b41a87a).
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const MSI_API_VERSION: &str = "2019-08-01";
/// Attempts at the managed identity endpoint, the first included (three retries).
const MSI_ATTEMPTS: u32 = 4;

/// Where tokens come from.
#[derive(Clone)]
pub enum Credential {
    /// OAuth client credentials: a secret, or a federated token file's assertion.
    Client {
        /// Authority base URL.
        authority: String,
        /// Tenant id.
        tenant: String,
        /// Client (application) id.
        client_id: String,
        /// The secret, or the path of the federated token.
        secret: ClientSecret,
    },
    /// A managed identity: `GET endpoint?api-version&resource[&client_id]` with `Metadata:
    /// true` and, where the platform gives one, the `X-IDENTITY-HEADER` secret.
    ManagedIdentity {
        /// The token endpoint: `IDENTITY_ENDPOINT`, or the VM's [`IMDS_ENDPOINT`].
        endpoint: String,
        /// `IDENTITY_HEADER`, when set.
        header: Option<String>,
        /// A user-assigned identity's client id (`AZURE_CLIENT_ID`); none: system-assigned.
        client_id: Option<String>,
    },
    /// `az account get-access-token`.
    AzureCli,
}

/// A client's proof.
#[derive(Clone)]
pub enum ClientSecret {
    /// `AZURE_CLIENT_SECRET`.
    Secret(String),
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: a PEM certificate and key, read at each fetch, whose
    /// key signs the client assertion.
    Certificate(String),
    /// `AZURE_FEDERATED_TOKEN_FILE`: read at each fetch (it is rotated).
    FederatedFile(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Client {
                authority, secret, ..
            } => {
                let kind = match secret {
                    ClientSecret::Secret(_) => "client secret",
                    ClientSecret::Certificate(_) => "client certificate",
                    ClientSecret::FederatedFile(_) => "workload identity",
                };
                write!(f, "{kind} at {authority}")
            }
            Credential::ManagedIdentity {
                endpoint,
                client_id,
                ..
            } => match client_id {
                Some(id) => write!(f, "managed identity {id} at {endpoint}"),
                None => write!(f, "system-assigned managed identity at {endpoint}"),
            },
            Credential::AzureCli => f.write_str("Azure CLI"),
        }
    }
}

impl Credential {
    /// The credential the environment configures; `authority` overrides the authority host;
    /// `imds` allows a VM's instance metadata service when nothing else is configured.
    pub fn from_env(authority: Option<&str>, imds: bool) -> Credential {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let authority = authority
            .map(str::to_string)
            .or_else(|| var("AZURE_AUTHORITY_HOST"))
            .unwrap_or_else(|| AUTHORITY.into());
        if let (Some(tenant), Some(client_id)) = (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) {
            // azure_identity's order: the environment's secret, then its certificate, then
            // workload identity.
            let secret = var("AZURE_CLIENT_SECRET")
                .map(ClientSecret::Secret)
                .or_else(|| var("AZURE_CLIENT_CERTIFICATE_PATH").map(ClientSecret::Certificate))
                .or_else(|| var("AZURE_FEDERATED_TOKEN_FILE").map(ClientSecret::FederatedFile));
            if let Some(secret) = secret {
                return Credential::Client {
                    authority: authority.trim_end_matches('/').to_string(),
                    tenant,
                    client_id,
                    secret,
                };
            }
        }
        let endpoint = var("IDENTITY_ENDPOINT").or_else(|| imds.then(|| IMDS_ENDPOINT.into()));
        if let Some(endpoint) = endpoint {
            return Credential::ManagedIdentity {
                endpoint,
                header: var("IDENTITY_HEADER"),
                client_id: var("AZURE_CLIENT_ID"),
            };
        }
        Credential::AzureCli
    }
}

/// A cached token of one credential.
#[derive(Debug)]
pub struct Tokens {
    cred: Credential,
    cached: tokio::sync::Mutex<Option<String>>,
}

impl Tokens {
    /// Tokens of `cred`.
    pub fn new(cred: Credential) -> Tokens {
        Tokens {
            cred,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached token, or a new one (always new when `fresh`).
    pub async fn get(&self, fresh: bool) -> Result<String, String> {
        let mut g = self.cached.lock().await;
        if let Some(t) = g.as_ref().filter(|_| !fresh) {
            return Ok(t.clone());
        }
        let cred = self.cred.clone();
        let t = tokio::task::spawn_blocking(move || fetch(&cred))
            .await
            .map_err(|e| format!("the token task failed: {e}"))??;
        *g = Some(t.clone());
        Ok(t)
    }
}

/// Fetches a token (blocking).
fn fetch(cred: &Credential) -> Result<String, String> {
    match cred {
        Credential::Client {
            authority,
            tenant,
            client_id,
            secret,
        } => {
            let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
            let proof = match secret {
                ClientSecret::Secret(s) => ("client_secret", s.clone()),
                ClientSecret::FederatedFile(f) => (
                    "client_assertion",
                    std::fs::read_to_string(f)
                        .map_err(|e| format!("AZURE_FEDERATED_TOKEN_FILE {f}: {e}"))?
                        .trim()
                        .to_string(),
                ),
                ClientSecret::Certificate(p) => (
                    "client_assertion",
                    super::cert::Certificate::read(p)?.assertion(
                        client_id,
                        &url,
                        chrono::Utc::now().timestamp(),
                        &jti()?,
                    )?,
                ),
            };
            let mut form = vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", client_id.clone()),
                ("scope", SCOPE.to_string()),
                proof,
            ];
            if !matches!(secret, ClientSecret::Secret(_)) {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
            }
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(30)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent
                .post(&url)
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
                .map_err(|e| format!("token request to {authority}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            match v["access_token"].as_str() {
                Some(t) if status == 200 => Ok(t.to_string()),
                _ => Err(format!(
                    "the authority {authority} gave no token for client {client_id} (HTTP {status}: {})",
                    error_text(&v)
                )),
            }
        }
        Credential::ManagedIdentity {
            endpoint,
            header,
            client_id,
        } => managed_identity(endpoint, header.as_deref(), client_id.as_deref()),
        Credential::AzureCli => {
            let out = std::process::Command::new("az")
                .args(["account", "get-access-token", "--scope", SCOPE, "-o", "json"])
                .output()
                .map_err(|e| format!("no Azure credentials: AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE) are not set, and the Azure CLI could not run ({e}); see docs/accounts.md"))?;
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            match v["accessToken"].as_str() {
                Some(t) if out.status.success() => Ok(t.to_string()),
                _ => Err(format!(
                    "no Azure credentials: `az account get-access-token` failed ({}); run `az login` or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET; see docs/accounts.md",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                )),
            }
        }
    }
}

/// A fresh assertion id: 16 random bytes, hex.
fn jti() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| format!("no random source for the client assertion: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The first line of a token endpoint's error (`error_description`, else `error`), as Entra ID
/// and the managed identity endpoints write it.
fn error_text(v: &Value) -> &str {
    v["error_description"]
        .as_str()
        .or(v["error"].as_str())
        .unwrap_or("no error given")
        .lines()
        .next()
        .unwrap_or("")
}

/// A managed identity's token: the endpoint asked as the identity services document, the
/// statuses they ask callers to retry (404, 410, 429, 5xx) retried three times with backoff.
fn managed_identity(
    endpoint: &str,
    header: Option<&str>,
    client_id: Option<&str>,
) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let resource = SCOPE.trim_end_matches("/.default");
    let mut backoff = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let mut req = agent
            .get(endpoint)
            .query("api-version", MSI_API_VERSION)
            .query("resource", resource)
            .header("Metadata", "true");
        if let Some(id) = client_id {
            req = req.query("client_id", id);
        }
        if let Some(h) = header {
            req = req.header("X-IDENTITY-HEADER", h);
        }
        let mut resp = req
            .call()
            .map_err(|e| format!("the managed identity endpoint {endpoint}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if let Some(t) = v["access_token"].as_str().filter(|_| status == 200) {
            return Ok(t.to_string());
        }
        let retry = matches!(status, 404 | 410 | 429 | 500..=599);
        if !retry || attempt == MSI_ATTEMPTS {
            let why = match status {
                400 => "the identity is not assigned to this resource".to_string(),
                200 => "the answer has no access_token".to_string(),
                _ => error_text(&v).to_string(),
            };
            return Err(format!(
                "the managed identity endpoint {endpoint} gave no token (HTTP {status}: {why}); see docs/accounts.md"
            ));
        }
        std::thread::sleep(backoff);
        backoff *= 2;
        attempt += 1;
    }
}
