//! Acting on EC2 instances for culling: CreateTags / DeleteTags (claims), DescribeInstances by
//! tag key (the claims of other runs), TerminateInstances / RebootInstances.

use crate::source::{ActError, Acted, Action, Actor, LocationActor, Tagged};
use checker_ec2::{Ec2Error, InstanceAction, RegionClient, SdkConfig};
use futures::future::BoxFuture;

/// Acts through the connection the cull read was made with.
pub(super) struct Ec2Actor {
    /// The account's SDK configuration (its role chain or profile already folded in).
    pub sdk: SdkConfig,
    /// API calls in flight per region.
    pub concurrency: usize,
}

impl Actor for Ec2Actor {
    fn location<'a>(&'a self, region: &str) -> Box<dyn LocationActor + 'a> {
        Box::new(RegionActor(RegionClient::new(
            &self.sdk,
            region,
            self.concurrency,
        )))
    }
}

/// One region's client.
struct RegionActor(RegionClient);

/// An EC2 error in the seam's terms.
fn act_error(e: Ec2Error) -> ActError {
    ActError {
        surely_not_applied: e.surely_not_applied(),
        message: e.to_string(),
    }
}

impl LocationActor for RegionActor {
    fn name(&self) -> &str {
        &self.0.region
    }

    fn tag<'a>(
        &'a self,
        ids: &'a [String],
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), ActError>> {
        Box::pin(async move { self.0.tag(ids, tags).await.map_err(act_error) })
    }

    fn untag_if<'a>(
        &'a self,
        ids: &'a [String],
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), ActError>> {
        Box::pin(async move { self.0.untag_if(ids, tags).await.map_err(act_error) })
    }

    fn tagged<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<Vec<Tagged>, ActError>> {
        Box::pin(async move {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let found = self.0.tagged(&keys).await.map_err(act_error)?;
            Ok(found
                .into_iter()
                .map(|i| Tagged {
                    id: i.id,
                    tags: i.tags,
                })
                .collect())
        })
    }

    fn act<'a>(
        &'a self,
        ids: &'a [String],
        action: Action,
    ) -> BoxFuture<'a, Result<Vec<Acted>, ActError>> {
        let action = match action {
            Action::Terminate => InstanceAction::Terminate,
            Action::Reboot => InstanceAction::Reboot,
        };
        Box::pin(async move {
            let done = self.0.act_chunk(ids, action).await.map_err(act_error)?;
            Ok(done
                .into_iter()
                .map(|r| Acted {
                    id: r.id,
                    state: r.state,
                })
                .collect())
        })
    }
}
