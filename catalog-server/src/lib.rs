//! The catalogue server: namespace, files, replicas, typed metadata and provenance, kept in
//! SQLite or PostgreSQL through one diesel code base and served over HTTP.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod config;
pub mod datasets;
pub mod db;
pub mod deletion;
pub mod error;
pub mod files;
pub mod jobs;
pub mod leftovers;
pub mod metadata;
pub mod metrics;
pub mod namespace;
pub mod objects;
pub mod provenance;
pub mod query;
pub mod replicas;
pub mod replication;
pub mod schemas;
pub mod search;
pub mod storage;
pub mod stores;
