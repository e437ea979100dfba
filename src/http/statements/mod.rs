//! The Statement resource: `/xapi/statements`.

mod params;
mod read;
mod write;

use actix_web::dev::HttpServiceFactory;
use actix_web::web;

use super::{get_or_head, resource};

pub fn routes() -> impl HttpServiceFactory {
    resource("/statements")
        .route(get_or_head(read::get))
        .route(web::put().to(write::put))
        .route(web::post().to(write::post))
}
