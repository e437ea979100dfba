//! Requirement tests for the Statement resource (xAPI 1.0.3 Communication §1.3, §1.5, §2.1;
//! Data §2.3, §2.4.11, §2.6; and the 2.0.0 changes), run against the real server.
//! Each test is named after the requirement it checks.

#[path = "../tests/api/helpers.rs"]
mod helpers;

#[path = "statements/common.rs"]
mod common;

#[path = "statements/access.rs"]
mod access;
#[path = "statements/comm_1_3_alternate_syntax.rs"]
mod comm_1_3_alternate_syntax;
#[path = "statements/comm_1_5_attachments.rs"]
mod comm_1_5_attachments;
#[path = "statements/comm_2_1_1_put.rs"]
mod comm_2_1_1_put;
#[path = "statements/comm_2_1_2_post.rs"]
mod comm_2_1_2_post;
#[path = "statements/comm_2_1_3_consistent_through.rs"]
mod comm_2_1_3_consistent_through;
#[path = "statements/comm_2_1_3_filters.rs"]
mod comm_2_1_3_filters;
#[path = "statements/comm_2_1_3_format_ids.rs"]
mod comm_2_1_3_format_ids;
#[path = "statements/comm_2_1_3_get.rs"]
mod comm_2_1_3_get;
#[path = "statements/comm_2_1_4_voided.rs"]
mod comm_2_1_4_voided;
#[path = "statements/data_2_3_immutability.rs"]
mod data_2_3_immutability;
#[path = "statements/data_2_4_4_1_definition.rs"]
mod data_2_4_4_1_definition;
#[path = "statements/data_2_4_9_authority.rs"]
mod data_2_4_9_authority;
#[path = "statements/data_2_6_signed.rs"]
mod data_2_6_signed;
#[path = "statements/data_files.rs"]
mod data_files;
