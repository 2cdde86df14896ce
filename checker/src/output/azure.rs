//! Azure virtual machines' fields, one row each.
//!
//! Names follow the ARM `Microsoft.Compute/virtualMachines` resource as `az vm list -d` and
//! Resource Graph project it (`hardwareProfile.vmSize` is `vmSize`, `osProfile.computerName` is
//! `computerName`, the instance view's PowerState is `powerState`). Tags are `tag:KEY`; the JSON
//! worker-manager passes as customData is `userData.*` (docs/contracts.md).

use super::Row;

/// The Azure VM fields contracts may read, in their stable order (new ones at the end).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumCount, strum::EnumIter,
)]
#[allow(
    missing_docs,
    reason = "each variant is documented by its row in AzureField::row"
)]
pub enum AzureField {
    VmName,
    ComputerName,
    VmSize,
    Priority,
    Image,
    OsType,
    PowerState,
    PublicIp,
}

impl AzureField {
    /// Every field, in order.
    pub fn all() -> impl Iterator<Item = AzureField> {
        <AzureField as strum::IntoEnumIterator>::iter()
    }

    /// The field's row.
    pub const fn row(self) -> Row {
        use AzureField::*;
        match self {
            VmName => Row::new("vmName", "The VM's name (worker-manager: `vm-` and 35 random characters; the worker id).").per_instance(),
            ComputerName => Row::new("computerName", "The guest OS's computer name (worker-manager: 15 random characters).").per_instance(),
            VmSize => Row::new("vmSize", "The VM size (`Standard_F8s_v2`).").snapshot().init(),
            Priority => Row::new("priority", "Regular, Spot or Low.").snapshot(),
            Image => Row::new("image", "The image: `storageProfile.imageReference.id`, else `publisher:offer:sku:version`.").snapshot().init().provider_dependent(),
            OsType => Row::new("osType", "Windows or Linux.").snapshot(),
            PowerState => Row::new("powerState", "The power state (`VM running`, `VM deallocated`...).").by_life(),
            PublicIp => Row::new("publicIp", "The VM's public IPv4; a proposal whose deployment creates one gets `<assigned at launch>`.").per_instance().provider_dependent(),
        }
    }
}

/// An Azure record's field values, one slot per [`AzureField`].
pub type AzureValues = super::Slots<{ <AzureField as strum::EnumCount>::COUNT }>;
