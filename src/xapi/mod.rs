//! The xAPI data model, pure (no I/O): strict JSON parsing, Statement validation for
//! xAPI 1.0.3 and 2.0.0, index extraction, comparison, and the `format` views.

pub mod activity;
pub mod agent;
pub mod attachment;
pub mod compare;
pub mod context;
pub mod definition;
pub mod error;
pub mod format;
pub mod ifi;
pub mod index;
pub mod ingest;
pub mod iri;
pub mod json;
pub mod langmap;
pub mod multipart;
pub mod result;
pub mod signature;
pub mod statement;
pub mod terms;
pub mod time;
pub mod uuid_text;
pub mod version;

#[cfg(test)]
mod conformance_data;

pub use error::Invalid;
pub use ifi::Ifi;
pub use index::{ActivityRole, AgentRole};
pub use statement::{parse_statement, parse_statements, ParsedStatement};
pub use version::Version;
