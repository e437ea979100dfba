//! Commonplace: an xAPI Learning Record Store on PostgreSQL.

pub mod auth;
pub mod capture;
pub mod cli;
pub mod configuration;
pub mod demo;
pub mod forwarding;
pub mod http;
pub mod modes;
pub mod oauth;
pub mod privacy;
pub mod reclassify;
pub mod request_load;
pub mod roster;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod transfer;
pub mod workload;
pub mod xapi;
