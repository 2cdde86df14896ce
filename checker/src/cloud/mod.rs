//! The clouds checker reads, each behind the [`crate::source::Source`] seam. A cloud is a
//! module here: its sources (recorded files, a live scan), what it maps into the seam's types
//! (health, tags, acting), and nothing any command has to know about.

pub mod azure;
pub mod ec2;
pub mod gce;
