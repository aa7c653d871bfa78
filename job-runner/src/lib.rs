//! The job runner: submits job specs, and runs subjobs claimed from the catalogue server
//! (stage inputs, run the command, upload outputs, register them with metadata and
//! provenance in one "complete" call).

pub mod attempt;
pub mod outputs;
pub mod retry;
pub mod runner;
pub mod stage;
pub mod submit;
