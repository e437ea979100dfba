//! The Statement resource: `/xapi/statements`.

mod consistency;
mod params;
mod read;
mod write;

use actix_web::dev::HttpServiceFactory;
use actix_web::web;

use super::{get_or_head, resource};
pub use consistency::RecentConsistency;

pub fn routes() -> impl HttpServiceFactory {
    resource("/statements")
        .route(get_or_head(read::get))
        .route(web::put().to(write::put))
        .route(web::post().to(write::post))
}
