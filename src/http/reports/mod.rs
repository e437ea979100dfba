//! The learning reports under `/reports`: outside the xAPI scope (no version header),
//! behind the same Basic credentials, for the `all`, `all/read` and `reports` scopes
//! (`report_access`, shared with the dashboard).

mod concierge;
mod explain;
mod insight;
mod learning;
mod modes;

use actix_web::web;

use super::report_access::reports_gate;
use super::{get_or_head, resource};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/reports")
            .wrap(actix_web::middleware::from_fn(reports_gate))
            .service(resource("/explain").route(get_or_head(explain::explain)))
            .service(resource("/modes").route(get_or_head(modes::modes)))
            .service(resource("/teams").route(get_or_head(learning::teams)))
            .service(resource("/learners/{agent:.+}").route(get_or_head(learning::learner)))
            .service(resource("/sources").route(get_or_head(learning::sources)))
            .service(resource("/goals").route(get_or_head(insight::goals)))
            .service(resource("/sharing").route(get_or_head(insight::sharing)))
            .service(resource("/concierge/stale-goals").route(get_or_head(concierge::stale_goals)))
            .service(resource("/concierge/colleagues").route(get_or_head(concierge::colleagues)))
            .service(resource("/concierge/unfinished").route(get_or_head(concierge::unfinished))),
    );
}
