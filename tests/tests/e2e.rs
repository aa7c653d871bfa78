//! End-to-end tests: the real server and CLI binaries, on SQLite and on PostgreSQL.

mod e2e {
    pub mod auth;
    pub mod backup;
    pub mod bad_input;
    pub mod bench_smoke;
    pub mod catalogue;
    pub mod crash;
    pub mod datasets;
    pub mod db_restart;
    pub mod faults;
    pub mod finding;
    pub mod fixtures;
    pub mod jobs;
    pub mod limits;
    pub mod observability;
    pub mod remote_storage;
    pub mod scale;
    pub mod schemas;
    pub mod search;
    pub mod storage;
    pub mod transfers;
}
