//! Azure arguments of every live command: which subscriptions (given, or the `subscriptions:`
//! of `--accounts FILE`, chosen with `--account`/`--account-tag`/`--not-account`) and where.

use super::aws::{AccountArgs, Listed};
use checker::cloud::azure::{self, Sub};
use clap::Args;

/// Azure arguments shared by every live command.
#[derive(Debug, Clone, Args)]
pub struct AzureArgs {
    /// An Azure subscription to read through Resource Graph (repeatable; a GUID). The
    /// `subscriptions:` of --accounts FILE are read too. Credentials: AZURE_TENANT_ID,
    /// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH, a PEM, or
    /// AZURE_FEDERATED_TOKEN_FILE), a managed identity (IDENTITY_ENDPOINT, or
    /// --azure-managed-identity on a VM), else `az login`.
    #[arg(help_heading = "Azure", long = "subscription", value_name = "ID")]
    pub azure_subscriptions: Vec<String>,
    /// Another ARM / Resource Graph base URL (a fake, a sovereign cloud).
    #[arg(
        help_heading = "Azure",
        long = "azure-endpoint-url",
        value_name = "URL",
        default_value = azure::ENDPOINT
    )]
    pub azure_endpoint_url: String,
    /// Another token authority (default AZURE_AUTHORITY_HOST or login.microsoftonline.com).
    #[arg(
        help_heading = "Azure",
        long = "azure-authority-url",
        value_name = "URL"
    )]
    pub azure_authority_url: Option<String>,
    /// On an Azure VM: take the token of its managed identity from the instance metadata
    /// service when no other credential is configured (a user-assigned identity by
    /// AZURE_CLIENT_ID). App Service, Functions and Container Apps identities
    /// (IDENTITY_ENDPOINT) are used without it.
    #[arg(help_heading = "Azure", long = "azure-managed-identity")]
    pub azure_managed_identity: bool,
}

impl AzureArgs {
    /// The live Azure source the arguments ask for, `None` when they ask for none (no
    /// `--subscription`, no `subscriptions:` in `listed`, the accounts file as read).
    pub fn live(
        &self,
        accounts: &AccountArgs,
        listed: Option<&Listed>,
    ) -> checker::Result<Option<azure::Live>> {
        let mut subs: Vec<Sub> = self
            .azure_subscriptions
            .iter()
            .map(|id| Sub {
                id: id.clone(),
                name: id.clone(),
            })
            .collect();
        let mut aws_asked = accounts.org;
        if let Some(l) = listed {
            aws_asked |= !l.file.accounts.is_empty();
            if !l.file.subscriptions.is_empty() {
                let picked = checker::accounts::select_as(
                    l.file.subscriptions.clone(),
                    &accounts.only,
                    &accounts.tags,
                    &accounts.not,
                    "subscription",
                )
                .map_err(|e| checker::Error::usage(format!("{}: {e}", l.path.display())))?;
                subs.extend(picked.into_iter().map(|s| Sub {
                    id: s.id,
                    name: s.name,
                }));
            }
        }
        if subs.is_empty() {
            return Ok(None);
        }
        if aws_asked {
            return Err(checker::Error::usage(
                "both live AWS accounts (--accounts accounts:, --org) and Azure subscriptions are asked for; scanning both clouds in one run is not supported yet: run once per cloud",
            ));
        }
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        subs.dedup_by(|a, b| a.id == b.id);
        Ok(Some(azure::Live {
            subscriptions: subs,
            endpoint: self.azure_endpoint_url.clone(),
            authority: self.azure_authority_url.clone(),
            managed_identity: self.azure_managed_identity,
        }))
    }
}
