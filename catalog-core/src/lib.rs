//! Shared by the catalogue's server, CLI and job runner: logical file names, typed metadata
//! values, the JSON wire types of the HTTP API and a typed client for it. No database, no actix.

pub mod api;
pub mod checksum;
pub mod client;
pub mod credentials;
pub mod cron;
pub mod job;
pub mod lfn;
pub mod meta;
pub mod query;
pub mod text;
pub mod transfer;

pub use client::{Client, ClientError};
pub use lfn::LfnError;
pub use meta::{FieldType, MetaError, MetaValue};
