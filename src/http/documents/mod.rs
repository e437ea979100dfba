//! The document resources (Communication §2.2–§2.7): State, Activity Profile and
//! Agent Profile. One set of handlers serves all three; a [`Resource`] says which
//! parameters, scopes and concurrency rules apply.

mod params;
mod rules;

use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::error::ApiError;
use super::{get_or_head, AppState, Caller};
use crate::auth::Access;
use crate::store::capture;
use crate::store::documents::{self, Change, Document, Kind, NewContent};
use crate::store::replicas::Need;
use params::{Address, Operation, Shape};
use rules::Preconditions;

/// The Content-Type stored for a body sent without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug, Clone, Copy)]
struct Resource {
    shape: Shape,
    read: Access,
    write: Access,
}

const STATE: Resource = Resource {
    shape: Shape {
        kind: Kind::State,
        id_param: "stateId",
        has_activity: true,
        has_agent: true,
        has_registration: true,
    },
    read: Access::ReadState,
    write: Access::WriteState,
};

const ACTIVITY_PROFILE: Resource = Resource {
    shape: Shape {
        kind: Kind::ActivityProfile,
        id_param: "profileId",
        has_activity: true,
        has_agent: false,
        has_registration: false,
    },
    read: Access::ReadProfiles,
    write: Access::WriteProfiles,
};

const AGENT_PROFILE: Resource = Resource {
    shape: Shape {
        kind: Kind::AgentProfile,
        id_param: "profileId",
        has_activity: false,
        has_agent: true,
        has_registration: false,
    },
    read: Access::ReadProfiles,
    write: Access::WriteProfiles,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, resource) in [
        ("/activities/state", STATE),
        ("/activities/profile", ACTIVITY_PROFILE),
        ("/agents/profile", AGENT_PROFILE),
    ] {
        cfg.service(
            super::resource(path)
                .app_data(web::Data::new(resource))
                .route(get_or_head(read))
                .route(web::put().to(put))
                .route(web::post().to(post))
                .route(web::delete().to(delete)),
        );
    }
}

/// GET/HEAD: one document when its id is given, else the JSON array of ids.
async fn read(
    resource: web::Data<Resource>,
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(resource.read)?;
    let address = address(&resource, &caller, &state, &req, Operation::Read).await?;
    // A replica serves them once it has replayed everything committed before this read
    // (a document just written included), else the primary does.
    let Some(doc_id) = &address.doc_id else {
        let (ids, latest) = state
            .read(Need::Latest, async |pool| {
                documents::list_ids(pool, &address.context, address.since).await
            })
            .await?
            .value;
        let body = serde_json::to_vec(&ids).map_err(|_| ApiError::Internal)?;
        let mut response = HttpResponse::Ok();
        response.insert_header(etag_header(&documents::etag_of(&body)));
        if let Some(latest) = latest {
            response.insert_header(last_modified(latest));
        }
        return Ok(response.content_type("application/json").body(body));
    };
    let document = state
        .read(Need::Latest, async |pool| {
            documents::fetch(pool, &address.context, doc_id).await
        })
        .await?
        .value
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no document with {} '{doc_id}' here",
                resource.shape.id_param
            ))
        })?;
    Ok(HttpResponse::Ok()
        .insert_header(etag_header(&document.etag))
        .insert_header(last_modified(document.updated))
        .content_type(document.content_type)
        .body(document.content))
}

/// PUT replaces the document. Without a concurrency header it may only create one,
/// except for State under 1.0.3, which §3.1 exempts from concurrency control.
async fn put(
    resource: web::Data<Resource>,
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(resource.write)?;
    let address = address(&resource, &caller, &state, &req, Operation::Write).await?;
    let preconditions = Preconditions::from_headers(req.headers())?;
    let posted = content(&req, body, state.settings.limits.max_body_bytes).await?;
    let headerless_overwrite_allowed =
        resource.shape.kind == Kind::State && !caller.version.is_2_0();
    change(&state, &address, |current| {
        preconditions.check(current)?;
        if current.is_some() && !preconditions.given() && !headerless_overwrite_allowed {
            return Err(ApiError::Conflict(
                "the document already exists: GET it and send its ETag in If-Match to replace it"
                    .into(),
            ));
        }
        Ok(Change::Write(posted.clone()))
    })
    .await
}

/// POST creates the document or merges JSON into it.
async fn post(
    resource: web::Data<Resource>,
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(resource.write)?;
    let address = address(&resource, &caller, &state, &req, Operation::Write).await?;
    let preconditions = Preconditions::from_headers(req.headers())?;
    let posted = content(&req, body, state.settings.limits.max_body_bytes).await?;
    change(&state, &address, |current| {
        preconditions.check(current)?;
        Ok(Change::Write(rules::post_result(current, posted.clone())?))
    })
    .await
}

/// DELETE removes one document, or (State only) every document of the context.
async fn delete(
    resource: web::Data<Resource>,
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(resource.write)?;
    let bulk_delete = resource.shape.kind == Kind::State;
    let address = address(
        &resource,
        &caller,
        &state,
        &req,
        Operation::Delete { bulk_delete },
    )
    .await?;
    let preconditions = Preconditions::from_headers(req.headers())?;
    if address.doc_id.is_none() {
        documents::delete_all(&state.pool, &address.context).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    change(&state, &address, |current| {
        preconditions.check(current)?;
        Ok(Change::Delete)
    })
    .await
}

/// The document the request is about, once the caller may touch it.
async fn address(
    resource: &Resource,
    caller: &Caller,
    state: &AppState,
    req: &HttpRequest,
    operation: Operation,
) -> Result<Address, ApiError> {
    let address = params::parse(
        resource.shape,
        operation,
        caller.principal.store_id,
        caller.version,
        req.query_string(),
    )?;
    if let Some(learner) = &caller.principal.learner {
        within_binding(resource, caller, state, learner, &address, operation).await?;
    }
    Ok(address)
}

/// A credential bound to a learner keeps documents of that learner's agent only, and
/// writes no Activity Profile (those are shared by every learner of the Activity).
async fn within_binding(
    resource: &Resource,
    caller: &Caller,
    state: &AppState,
    learner: &str,
    address: &Address,
    operation: Operation,
) -> Result<(), ApiError> {
    if resource.shape.kind == Kind::ActivityProfile && operation != Operation::Read {
        return Err(ApiError::Forbidden(
            "this credential is bound to a learner and may not change Activity Profiles".into(),
        ));
    }
    let Some(agent) = &address.context.agent else {
        return Ok(());
    };
    let binding = capture::binding(&state.pool, caller.principal.store_id, learner).await?;
    if binding.covers(agent) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "agent: {agent} is not {learner}, the learner this credential is bound to, nor one \
         of their roster aliases"
    )))
}

async fn change(
    state: &AppState,
    address: &Address,
    decide: impl Fn(Option<&Document>) -> Result<Change, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = address.doc_id.as_deref().ok_or(ApiError::Internal)?;
    documents::change(&state.pool, &address.context, doc_id, decide).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The body and its Content-Type, refused with 413 beyond `limit` bytes and with 400
/// when there is neither (an empty body that declares a type is an empty document).
async fn content(
    req: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
) -> Result<NewContent, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk: Bytes =
            chunk.map_err(|e| ApiError::InvalidBody(format!("could not read the body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    let content_type = match req.headers().get(header::CONTENT_TYPE) {
        // No body and no type: there is no document to store or merge (XAPI-00314).
        None if bytes.is_empty() => {
            return Err(ApiError::InvalidBody(
                "the request carries no document: send it as the body, with its Content-Type"
                    .into(),
            ))
        }
        None => DEFAULT_CONTENT_TYPE.to_string(),
        Some(value) => value
            .to_str()
            .map_err(|_| ApiError::InvalidParameter("Content-Type is not valid text".into()))?
            .to_string(),
    };
    Ok(NewContent {
        content_type,
        content: bytes.to_vec(),
    })
}

fn etag_header(etag: &str) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{etag}\""))
}

fn last_modified(updated: chrono::DateTime<chrono::Utc>) -> header::LastModified {
    header::LastModified(HttpDate::from(SystemTime::from(updated)))
}
