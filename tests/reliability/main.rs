//! Reliability and security with the real binary: secrets, database faults, several
//! instances, graceful shutdown.

#[path = "../api/helpers.rs"]
mod helpers;

mod conversion;
mod data_dir;
mod faults;
mod first_run;
mod instances;
mod load;
mod secrets;
mod server;
mod shutdown;
