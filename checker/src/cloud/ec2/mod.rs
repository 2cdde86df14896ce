//! EC2, the first cloud: [`Recorded`] reads `aws ec2 describe-instances` JSON files (and
//! `describe-instance-status` files for culling offline); [`Live`] scans EC2 through
//! `checker_ec2` (the live scan itself is `crate::live`), reads status checks and claims, and
//! acts. Both give `fleet::Instance` records.

mod act;
mod live;
mod recorded;
mod status;

pub use live::Live;
pub use recorded::Recorded;
pub use status::{read_status_file, status_conditions};
