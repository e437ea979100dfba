//! Forwarding (issue 20) against real targets on loopback: the source LRS is the real
//! binary (so it can be killed with SIGKILL and run twice on one database), managed
//! with `commonplace forwarders …`; the xAPI target is a second Commonplace with a
//! database of its own; the webhook receiver (`receiver.rs`) verifies every signature
//! and fails on purpose.

#[path = "forwarding/crash.rs"]
mod crash;
#[path = "forwarding/filters.rs"]
mod filters;
#[path = "forwarding/give_way.rs"]
mod give_way;
#[path = "forwarding/harness.rs"]
mod harness;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "forwarding/instances.rs"]
mod instances;
#[path = "forwarding/late_writer.rs"]
mod late_writer;
#[path = "forwarding/outage.rs"]
mod outage;
#[path = "forwarding/receiver.rs"]
mod receiver;
#[path = "reliability/server.rs"]
mod server;
#[path = "forwarding/to_lrs.rs"]
mod to_lrs;
#[path = "forwarding/webhook.rs"]
mod webhook;
