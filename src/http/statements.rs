//! The Statement resource.

use actix_web::{web, HttpResponse, Resource};

use super::error::ApiError;
use super::{get_or_head, resource, Caller};
use crate::auth::Access;

pub fn routes() -> Resource {
    resource("/statements")
        .route(get_or_head(read))
        .route(web::put().to(write))
        .route(web::post().to(write))
}

async fn read(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadStatements)?;
    Err(not_yet())
}

async fn write(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Access::WriteStatements)?;
    Err(not_yet())
}

fn not_yet() -> ApiError {
    ApiError::NotImplemented("the Statement resource is not available yet".into())
}
