//! checker: contracts between a cloud worker fleet's provisioner and the programs that depend on
//! it, checked before deploy (gate), against the live fleet (check, diff) and when acting on it
//! (cull).
//!
//! The flow: [`load`] contracts into a [`contract::ContractSet`]; get [`fleet::Instance`] records
//! from a [`source`]; [`eval::evaluate`] them (pure); build a [`report::Report`]; [`render`] it.
//! The binary (`src/main.rs`, `src/cmd/`) only parses arguments, calls one library entry point
//! per command and prints; nothing here imports it. docs/architecture.md draws the layout.

pub mod accounts;
pub mod build;
pub mod clause;
pub mod cloud;
pub mod code;
pub mod contract;
pub mod contract_test;
pub mod cull;
pub mod diag;
pub mod error;
pub mod eval;
pub mod exit;
pub mod explain;
pub mod fleet;
pub mod fsio;
pub mod gate;
pub mod history;
pub mod hook;
pub mod init;
pub mod jsondepth;
pub mod live;
pub mod load;
pub mod output;
pub mod proposal;
pub mod redact;
pub mod render;
pub mod report;
pub mod rules;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod taskcluster;
pub mod tcschema;
pub mod template;

pub use error::{Error, Result};
pub use exit::ExitStatus;
