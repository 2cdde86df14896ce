//! SDK errors in words: what happened (auth, denied, throttled, malformed, unreachable,
//! timeout) and what to check.

use super::*;

/// An EC2 failure, classified for people.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Ec2Error {
    /// Credentials were refused.
    #[error(
        "AWS refused the credentials ({code}: {message}); check AWS_PROFILE / --profile, or run `aws sts get-caller-identity` with the same settings"
    )]
    Auth {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Not allowed.
    #[error(
        "access denied ({code}: {message}); the role needs the permissions in hooks/iam-policy.json"
    )]
    Denied {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Still throttled after every retry.
    #[error(
        "throttled by EC2 after every retry ({code}: {message}); lower --concurrency or raise --retry-attempts"
    )]
    Throttled {
        /// The error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Any other error EC2 returned.
    #[error("EC2 returned {code}: {message}")]
    Service {
        /// The error code (or the HTTP status).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The response could not be understood.
    #[error("EC2's response could not be parsed ({0}); is --endpoint-url an EC2 endpoint?")]
    Malformed(String),
    /// The endpoint could not be reached.
    #[error("could not reach EC2: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("EC2 did not answer in time: {0}")]
    Timeout(String),
    /// The credentials could not be had (no credentials, or a role that cannot be assumed:
    /// the SDK resolves them before it sends anything).
    #[error("could not get AWS credentials: {0}")]
    Credentials(String),
    /// No credentials anywhere in aws-config's default chain: a configuration problem, not a
    /// failed call (nothing was sent).
    #[error(
        "no AWS credentials found.\n  Tried, in order (aws-config's default chain, the AWS CLI's):\n{}\n  To configure: run `aws configure` (or `aws configure sso`, then `aws sso login`), or\n  export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile NAME for a profile\n  that has them; in the Taskcluster hook, --aws-credentials-secret NAME. `aws sts\n  get-caller-identity` with the same settings shows whether they work.",
        chain_tried(profile.as_deref())
    )]
    NoCredentials {
        /// The profile asked for (`--profile`, AWS_PROFILE), if any.
        profile: Option<String>,
    },
    /// Anything else (no region, ...).
    #[error("{0}")]
    Other(String),
}

/// The providers of aws-config's default credentials chain, in its order (aws-config 1.13.0,
/// src/default_provider/credentials.rs, lines 27-32: environment, shared config, web identity,
/// ECS, IMDS), each with where it looks.
fn chain_tried(profile: Option<&str>) -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let config = var("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into());
    let creds = var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| "~/.aws/credentials".into());
    let profile = profile.unwrap_or("default");
    let imds = if var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        " (disabled by AWS_EC2_METADATA_DISABLED)"
    } else {
        ""
    };
    [
        "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
        format!(
            "profile \"{profile}\" in {creds} and {config} (static keys, SSO, role, credential_process)"
        ),
        "web identity: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN".to_string(),
        "container credentials (ECS): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI".to_string(),
        format!("EC2 instance metadata (IMDS){imds}"),
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| format!("    {}. {s}", i + 1))
    .collect::<Vec<_>>()
    .join("\n")
}

/// Resolves the credentials once before any call, so that having none is said as such
/// ([`Ec2Error::NoCredentials`]) instead of as every region's failed call. Other credential
/// failures (a refused role, an expired SSO token, a slow metadata service) are left to the calls
/// that meet them, which name them per region.
pub async fn require_credentials(sdk: &SdkConfig, profile: Option<&str>) -> Result<(), Ec2Error> {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_credential_types::provider::error::CredentialsError;
    let no_credentials = || Ec2Error::NoCredentials {
        profile: profile.map(str::to_string),
    };
    let Some(provider) = sdk.credentials_provider() else {
        return Err(no_credentials());
    };
    match provider.provide_credentials().await {
        Err(CredentialsError::CredentialsNotLoaded(_)) => Err(no_credentials()),
        _ => Ok(()),
    }
}

impl Ec2Error {
    /// Whether EC2 surely did not carry the call out: it answered with an error (EC2 applies a
    /// call whole or not at all), or the call was never sent. A timeout, a lost connection or an
    /// answer that could not be read leave the outcome unknown, and so does a server-side
    /// failure (`InternalError`, `Unavailable`, an HTTP 5xx).
    pub fn surely_not_applied(&self) -> bool {
        match self {
            Ec2Error::Auth { .. }
            | Ec2Error::Denied { .. }
            | Ec2Error::Throttled { .. }
            | Ec2Error::Credentials(_)
            | Ec2Error::NoCredentials { .. } => true,
            Ec2Error::Service { code, .. } => {
                !(code.contains("Internal") || code.contains("Unavailable") || code.contains('5'))
            }
            _ => false,
        }
    }
}

pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = DisplayErrorContext(&err).to_string();
    let chain = error_chain(&err);
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            let message = e.message().unwrap_or("").to_string();
            match code.as_str() {
                "AuthFailure"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "RequestExpired" => Ec2Error::Auth { code, message },
                "UnauthorizedOperation" | "AccessDenied" | "OptInRequired" | "Blocked" => {
                    Ec2Error::Denied { code, message }
                }
                "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
                    Ec2Error::Throttled { code, message }
                }
                "Unknown" => {
                    if text.contains("failed to parse")
                        || text.contains("XML")
                        || text.contains("xml")
                        || text.contains("deserializ")
                    {
                        Ec2Error::Malformed(short(&text))
                    } else {
                        let status = se.raw();
                        Ec2Error::Service {
                            code: format!("{status:?}").chars().take(60).collect(),
                            message: short(&text),
                        }
                    }
                }
                _ => Ec2Error::Service { code, message },
            }
        }
        SdkError::ResponseError(_) => Ec2Error::Malformed(short(&chain)),
        SdkError::TimeoutError(_) => Ec2Error::Timeout(short(&chain)),
        SdkError::DispatchFailure(d) if d.is_timeout() => Ec2Error::Timeout(short(&chain)),
        SdkError::DispatchFailure(_) if chain.contains("while loading credentials") => {
            Ec2Error::Credentials(short(&chain))
        }
        SdkError::DispatchFailure(_) => Ec2Error::Unreachable(short(&chain)),
        _ => Ec2Error::Other(short(&chain)),
    }
}

/// The error and its sources in words ("a: b: c"), without the SDK's debug dumps.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

pub(crate) fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}
