//! The benchmarks' shared parts: the DIRAC File Catalog kit's workload, and starting and
//! watching the server under test. `catalog-bench` measures operations one by one;
//! `catalog-soak` holds a fixed rate of mixed requests for minutes.

pub mod server;
pub mod workload;
