//! Azure: live VMs through Azure Resource Graph ([`Live`]). Recorded Azure fleets (`az vm list
//! -d`, Resource Graph results) are read by `crate::fleet::azure`, whose `parse_vm` reads every
//! live row too.
//!
//! Azure cannot be culled by checker: worker-manager's Azure provider removes workers that never
//! register itself (taskcluster/taskcluster `services/worker-manager/src/providers/azure/index.js`,
//! `checkWorker`: a worker past its `registrationTimeout` is removed), so the health and act
//! capabilities say no, and `cull` refuses with that reason.

use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::SecretPolicy;
use crate::report::{SourceInfo, SourceKind};
use crate::source::driver::{LiveFleet, ReadPlan, read_scopes};
use crate::source::{
    Can, Capabilities, Fleet, HealthRead, HealthRequest, RecordSink, Source, read_only_for_cull,
};
use futures::future::BoxFuture;
use std::sync::Arc;

pub mod cert;
pub mod graph;
pub mod live;
pub mod token;

pub use live::Sub;

/// ARM's public endpoint (Resource Graph is under it).
pub const ENDPOINT: &str = "https://management.azure.com";

/// Why checker does not cull Azure VMs.
pub const NO_CULL: &str = "checker does not cull on Azure: worker-manager's Azure provider removes VMs whose workers never register (registrationTimeout), so Azure is read-only here";

/// Live Azure VMs of some subscriptions.
#[derive(Debug, Clone)]
pub struct Live {
    /// The subscriptions.
    pub subscriptions: Vec<Sub>,
    /// ARM / Resource Graph base URL.
    pub endpoint: String,
    /// The token authority, when not the environment's or Microsoft Entra's.
    pub authority: Option<String>,
    /// Ask the VM's instance metadata service for a managed identity's token when the
    /// environment configures no other credential.
    pub managed_identity: bool,
}

impl Live {
    /// Reads every subscription as `plan` says, on a fresh runtime.
    fn scan(&self, plan: &ReadPlan, secrets: SecretPolicy) -> Result<LiveFleet> {
        if self.subscriptions.is_empty() {
            return Err(Error::usage(
                "no Azure subscription to read: give --subscription ID or an accounts file with `subscriptions:`",
            ));
        }
        let cred = token::Credential::from_env(self.authority.as_deref(), self.managed_identity);
        tracing::debug!(credential = ?cred, "Azure credential");
        let client = graph::Client::new(&self.endpoint, Arc::new(token::Tokens::new(cred)));
        let cloud = live::Subscriptions {
            client: client.clone(),
            secrets,
        };
        crate::source::runtime()?.block_on(async {
            let mut fleet = read_scopes(&cloud, &self.subscriptions, plan).await;
            fleet.api_calls = client.calls();
            tracing::info!(
                api_calls = fleet.api_calls,
                instances = fleet.read,
                quota_waits = client
                    .quota
                    .waits
                    .load(std::sync::atomic::Ordering::Relaxed),
                ms = fleet.elapsed.as_millis() as u64,
                "scan done"
            );
            Ok(fleet)
        })
    }
}

impl Live {
    /// Every VM of the subscriptions, kept (`checker fleet record`).
    pub fn read_all(&self, secrets: &SecretPolicy) -> Result<Fleet> {
        Ok(fleet_of(self.scan(&ReadPlan::default(), secrets.clone())?))
    }
}

/// A live read's records with their source.
fn fleet_of(live: LiveFleet) -> Fleet {
    Fleet {
        source: SourceInfo {
            kind: SourceKind::Live,
            instances: live.read,
            user_data_sampled: live.user_data_sampled,
            parts: live.parts,
        },
        instances: live.instances,
    }
}

impl Source for Live {
    fn describe(&self) -> String {
        "live Azure (Resource Graph)".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reads_recorded: false,
            scans_live: true,
            samples_extra_field: None,
            server_filters: false,
            health: Can::No(NO_CULL.into()),
            act: Can::No(NO_CULL.into()),
            concurrency: live::IN_FLIGHT,
        }
    }

    fn read(&self, set: &ContractSet) -> Result<Fleet> {
        self.read_all(&set.secret_policy())
    }

    fn read_into(&self, set: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
        let plan = ReadPlan {
            extra: None,
            sink: Some(sink),
        };
        Ok(fleet_of(self.scan(&plan, set.secret_policy())?).source)
    }

    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        read_only_for_cull(req, NO_CULL, async move {
            // Reading only (the hook with --no-cull): on a thread of its own, since the read
            // starts its own runtime.
            let this = self.clone();
            let secrets = set.secret_policy();
            let live =
                tokio::task::spawn_blocking(move || this.scan(&ReadPlan::default(), secrets))
                    .await
                    .map_err(|e| Error::Incomplete(format!("the Azure read failed: {e}")))??;
            Ok(fleet_of(live))
        })
    }
}
