//! Bearer tokens for ARM, from the first credential the environment configures, in the order
//! and with the environment variables of `azure_identity`'s `EnvironmentCredential`,
//! `WorkloadIdentityCredential` and `AzureCliCredential` (Azure/azure-sdk-for-rust,
//! `sdk/identity/azure_identity`): a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`), workload identity federation (`AZURE_FEDERATED_TOKEN_FILE` with the
//! tenant and client), else the Azure CLI's login (`az account get-access-token`). The
//! authority is `AZURE_AUTHORITY_HOST` or `--azure-authority-url` (tests point it at a fake).
//! A token is cached until a 401 asks for a fresh one; it is never logged or reported.

use serde_json::Value;
use std::time::Duration;

/// ARM's token scope.
pub const SCOPE: &str = "https://management.azure.com/.default";
/// Microsoft Entra's public authority.
pub const AUTHORITY: &str = "https://login.microsoftonline.com";

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
    /// `az account get-access-token`.
    AzureCli,
}

/// A client's proof.
#[derive(Clone)]
pub enum ClientSecret {
    /// `AZURE_CLIENT_SECRET`.
    Secret(String),
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
                    ClientSecret::FederatedFile(_) => "workload identity",
                };
                write!(f, "{kind} at {authority}")
            }
            Credential::AzureCli => f.write_str("Azure CLI"),
        }
    }
}

impl Credential {
    /// The credential the environment configures; `authority` overrides the authority host.
    pub fn from_env(authority: Option<&str>) -> Credential {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let authority = authority
            .map(str::to_string)
            .or_else(|| var("AZURE_AUTHORITY_HOST"))
            .unwrap_or_else(|| AUTHORITY.into());
        if let (Some(tenant), Some(client_id)) = (var("AZURE_TENANT_ID"), var("AZURE_CLIENT_ID")) {
            let secret = match (
                var("AZURE_CLIENT_SECRET"),
                var("AZURE_FEDERATED_TOKEN_FILE"),
            ) {
                (Some(s), _) => Some(ClientSecret::Secret(s)),
                (None, Some(f)) => Some(ClientSecret::FederatedFile(f)),
                _ => None,
            };
            if let Some(secret) = secret {
                return Credential::Client {
                    authority: authority.trim_end_matches('/').to_string(),
                    tenant,
                    client_id,
                    secret,
                };
            }
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
            };
            let mut form = vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", client_id.clone()),
                ("scope", SCOPE.to_string()),
                proof,
            ];
            if matches!(secret, ClientSecret::FederatedFile(_)) {
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
                    v["error_description"]
                        .as_str()
                        .or(v["error"].as_str())
                        .unwrap_or("no error given")
                        .lines()
                        .next()
                        .unwrap_or("")
                )),
            }
        }
        Credential::AzureCli => {
            let out = std::process::Command::new("az")
                .args(["account", "get-access-token", "--scope", SCOPE, "-o", "json"])
                .output()
                .map_err(|e| format!("no Azure credentials: AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE) are not set, and the Azure CLI could not run ({e}); see docs/accounts.md"))?;
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
