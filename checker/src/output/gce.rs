//! Google Compute Engine's instance fields, one row each.
//!
//! Names follow the Compute Engine API's `Instance` resource (compute v1: `machineType`,
//! `status`, `scheduling.provisioningModel`, ...), shortened where the API nests a list the
//! contracts read one element of: `externalIp` is `networkInterfaces[0].accessConfigs[0].natIP`
//! (what worker-runner's google provider reads), `serviceAccount` the first service account's
//! email, `sourceImage` the boot disk's image, `localSsd.*` the SCRATCH disks. Labels are
//! `tag:KEY`; the `taskcluster` metadata item's JSON is `userData.*` (docs/contracts.md).

use super::Row;

/// The GCE instance fields contracts may read, in their stable order (new ones at the end).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumCount, strum::EnumIter,
)]
#[allow(
    missing_docs,
    reason = "each variant is documented by its row in GceField::row"
)]
pub enum GceField {
    Name,
    Zone,
    MachineType,
    Status,
    MinCpuPlatform,
    SourceImage,
    ProvisioningModel,
    AutomaticRestart,
    ServiceAccount,
    ExternalIp,
    LocalSsdInterface,
    LocalSsdCount,
}

impl GceField {
    /// Every field, in order.
    pub fn all() -> impl Iterator<Item = GceField> {
        <GceField as strum::IntoEnumIterator>::iter()
    }

    /// The field's row.
    pub const fn row(self) -> Row {
        use GceField::*;
        match self {
            Name => Row::new(
                "name",
                "The instance name (worker-manager: the pool id with `/` and `_` as `-`, cut to 38 characters, a dash and a lower-cased slugid).",
            )
            .per_instance(),
            Zone => Row::new("zone", "The zone (`us-central1-a`), the last segment of the instance's zone URL.").snapshot(),
            MachineType => Row::new("machineType", "The machine type (`n2-standard-4`), the last segment of its URL.").snapshot().init(),
            Status => Row::new("status", "The lifecycle status: PROVISIONING, STAGING, RUNNING, STOPPING, SUSPENDED, TERMINATED.").by_life(),
            MinCpuPlatform => Row::new("minCpuPlatform", "The minimum CPU platform asked for (`Intel Cascadelake`).").snapshot(),
            SourceImage => Row::new("sourceImage", "The boot disk's source image (`projects/P/global/images/NAME`).").snapshot().init().provider_dependent(),
            ProvisioningModel => Row::new("scheduling.provisioningModel", "SPOT or STANDARD.").snapshot(),
            AutomaticRestart => Row::new("scheduling.automaticRestart", "Whether GCE restarts the instance after a host event (`true`/`false`); worker-manager forces `false`.").snapshot().init(),
            ServiceAccount => Row::new("serviceAccount", "The email of the instance's first service account (worker-manager forces its own).").snapshot().init().provider_dependent(),
            ExternalIp => Row::new("externalIp", "The external IPv4 of network interface 0's first access config (`natIP`); a proposal with a ONE_TO_ONE_NAT access config gets `<assigned at launch>`.").per_instance().provider_dependent(),
            LocalSsdInterface => Row::new("localSsd.interface", "The interface of the instance's local SSDs (SCRATCH disks): NVME or SCSI; absent when it has none.").snapshot().init().provider_dependent(),
            LocalSsdCount => Row::new("localSsd.count", "How many local SSDs (SCRATCH disks) the instance has (`0` when none).").snapshot(),
        }
    }
}

/// A GCE record's field values, one slot per [`GceField`].
pub type GceValues = super::Slots<{ <GceField as strum::EnumCount>::COUNT }>;
