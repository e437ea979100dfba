//! The Statement resource: `/xapi/statements`.

mod params;
mod read;
mod write;

use actix_web::{web, Resource};

use super::{get_or_head, resource};

pub fn routes() -> Resource {
    resource("/statements")
        .route(get_or_head(read::get))
        .route(web::put().to(write::put))
        .route(web::post().to(write::post))
}
