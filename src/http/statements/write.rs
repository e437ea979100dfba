//! PUT and POST of Statements (Communication §2.1.1, §2.1.2).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::params::query_pairs;
use crate::auth::Access;
use crate::capture::binding::statement_path;
use crate::http::body::collect;
use crate::http::error::ApiError;
use crate::http::{AppState, Caller};
use crate::modes::Writer;
use crate::privacy;
use crate::store::statements::{LrsProperties, NewAttachment, NewStatement};
use crate::store::{capture, hosts};
use crate::xapi::ingest::{self, credential_authority};
use crate::xapi::multipart::{split_statement_request, AttachmentPart};
use crate::xapi::statement::{parse_statement, parse_statements, ParsedStatement};
use crate::xapi::uuid_text::parse_uuid;
use crate::xapi::{json::parse_json, Version};

pub async fn put(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::WriteStatements)?;
    let pairs = query_pairs(req.query_string())?;
    let mut statement_id = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "statementId" => {
                statement_id = Some(parse_uuid(value).ok_or_else(|| {
                    ApiError::InvalidParameter(format!("statementId: not a UUID: '{value}'"))
                })?)
            }
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of PUT /statements"
                )))
            }
        }
    }
    let id = statement_id.ok_or_else(|| {
        ApiError::InvalidParameter("statementId: required for PUT /statements".into())
    })?;
    let (json, parts) = read_statement_body(&req, payload, &state).await?;
    let mut parsed = parse_statement(json, caller.version, "statement").map_err(invalid)?;
    match parsed.id {
        Some(body_id) if body_id != id => {
            return Err(ApiError::InvalidBody(format!(
                "statement.id: {body_id} differs from the statementId parameter {id}"
            )))
        }
        _ => parsed.id = Some(id),
    }
    store(&caller, &state, vec![parsed], parts, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn post(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::WriteStatements)?;
    if let Some((name, _)) = query_pairs(req.query_string())?.first() {
        return Err(ApiError::InvalidParameter(format!(
            "{name}: POST /statements takes no parameters"
        )));
    }
    let (json, parts) = read_statement_body(&req, payload, &state).await?;
    let sent_as_array = json.is_array();
    let parsed = parse_statements(json, caller.version).map_err(invalid)?;
    let ids = store(&caller, &state, parsed, parts, sent_as_array).await?;
    Ok(HttpResponse::Ok().json(ids))
}

fn invalid(e: crate::xapi::Invalid) -> ApiError {
    ApiError::InvalidBody(e.to_string())
}

/// The Statement JSON and, for `multipart/mixed`, the attachment parts.
async fn read_statement_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(serde_json::Value, Vec<AttachmentPart>), ApiError> {
    let body = collect(payload, state.settings.limits.max_body_bytes).await?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (json_bytes, parts) = if media_type.starts_with("multipart/") {
        split_statement_request(content_type, &body)
            .map_err(|e| ApiError::InvalidBody(format!("multipart body: {e}")))?
    } else if media_type == "application/json" || media_type.is_empty() {
        (body.to_vec(), Vec::new())
    } else {
        return Err(ApiError::InvalidBody(format!(
            "Content-Type {media_type} is not accepted; send application/json or multipart/mixed"
        )));
    };
    let limits = &state.settings.limits;
    if parts.len() > limits.max_attachments {
        return Err(ApiError::InvalidBody(format!(
            "the request has {} attachment parts; at most {} are accepted",
            parts.len(),
            limits.max_attachments
        )));
    }
    if let Some(part) = parts
        .iter()
        .find(|part| part.body.len() > limits.max_attachment_bytes)
    {
        return Err(ApiError::TooLarge(format!(
            "the attachment with hash {} has {} bytes; the limit is {} bytes",
            part.sha2,
            part.body.len(),
            limits.max_attachment_bytes
        )));
    }
    let json = parse_json(&json_bytes, limits.max_json_depth).map_err(invalid)?;
    if let Some(batch) = json.as_array() {
        if batch.len() > limits.max_batch_statements {
            return Err(ApiError::InvalidBody(format!(
                "the batch has {} Statements; at most {} are accepted per request",
                batch.len(),
                limits.max_batch_statements
            )));
        }
    }
    Ok((json, parts))
}

/// Browser capture that reveals a host on the store's deny-list, through any Activity
/// it names, is refused whole before anything is stored: the learner's privacy
/// outranks a partial batch.
async fn refuse_denied_hosts(
    state: &AppState,
    principal: &crate::auth::Principal,
    parsed: &[ParsedStatement],
) -> Result<(), ApiError> {
    if !privacy::is_browser_capture(&principal.tags) {
        return Ok(());
    }
    let found = privacy::revealed_hosts(parsed.iter().map(|s| &s.body));
    let mut hosts: Vec<String> = found.iter().map(|r| r.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let denied = hosts::denied_among(&state.pool, principal.store_id, &hosts).await?;
    let Some((revealed, entry)) = found.iter().find_map(|revealed| {
        denied
            .iter()
            .find(|(h, _)| *h == revealed.host)
            .map(|(_, entry)| (revealed, entry))
    }) else {
        return Ok(());
    };
    let statement = if parsed.len() > 1 {
        format!("statement[{}]", revealed.statement)
    } else {
        "statement".to_string()
    };
    Err(ApiError::Forbidden(format!(
        "{statement}.{path} names the host {host}, which this store does not record from \
         browser capture (denied host '{entry}'); nothing was stored",
        path = revealed.path,
        host = revealed.host,
    )))
}

/// A credential bound to a learner writes only as that learner (or one of their roster
/// aliases) and voids only Statements it wrote itself (or stores new in the same batch:
/// one another credential stored stays theirs even when the batch sends it again).
/// Checked for the whole batch before anything is stored.
async fn within_binding(
    state: &AppState,
    principal: &crate::auth::Principal,
    learner: &str,
    parsed: &[ParsedStatement],
    sent_as_array: bool,
) -> Result<(), ApiError> {
    let binding = capture::binding(&state.pool, principal.store_id, learner).await?;
    if let Some((index, ifi)) = binding.foreign_actor(parsed) {
        let actor = ifi.map_or("an anonymous Group", |ifi| ifi.as_str());
        return Err(ApiError::Forbidden(format!(
            "{}.actor: {actor} is not {learner}, the learner this credential is bound to, \
             nor one of their roster aliases; nothing was stored",
            statement_path(index, sent_as_array)
        )));
    }
    let batch_ids: Vec<Uuid> = parsed.iter().filter_map(|s| s.id).collect();
    let voided: Vec<(usize, Uuid)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(index, s)| s.voids.map(|target| (index, target)))
        .collect();
    let targets: Vec<Uuid> = voided.iter().map(|(_, target)| *target).collect();
    let foreign = capture::not_voidable_by(
        &state.pool,
        principal.store_id,
        &principal.key,
        &targets,
        &batch_ids,
    )
    .await?;
    match voided.iter().find(|(_, target)| foreign.contains(target)) {
        None => Ok(()),
        Some((index, target)) => Err(ApiError::Forbidden(format!(
            "{}.object.id: {target} is not a Statement this credential wrote; a credential \
             bound to a learner voids only its own Statements; nothing was stored",
            statement_path(*index, sent_as_array)
        ))),
    }
}

/// Checks attachments and signatures, then stores the batch; returns the ids in order.
async fn store(
    caller: &Caller,
    state: &AppState,
    parsed: Vec<ParsedStatement>,
    parts: Vec<AttachmentPart>,
    sent_as_array: bool,
) -> Result<Vec<Uuid>, ApiError> {
    let version: Version = caller.version;
    let parts = ingest::check_attachments(&parsed, parts).map_err(invalid)?;
    let principal = &caller.principal;
    if let Some(learner) = &principal.learner {
        within_binding(state, principal, learner, &parsed, sent_as_array).await?;
    }
    refuse_denied_hosts(state, principal, &parsed).await?;
    let (authority, authority_ifi) = match &principal.token_authority {
        Some(token) => ingest::token_authority(&token.issuer, &token.client, token.user.as_deref()),
        None => credential_authority(
            &state.authority_home_page(),
            &principal.key,
            &principal.name,
        ),
    };
    let writer = Writer {
        store: &principal.store,
        credential_key: &principal.key,
        credential_name: &principal.name,
        tags: &principal.tags,
    };
    let lrs = LrsProperties {
        authority: &authority,
        default_version: version.statement_version(),
        credential: &principal.key,
    };
    let batch: Vec<NewStatement> = parsed
        .into_iter()
        .map(|statement| {
            let label = state.settings.modes.classify(&statement.body, &writer);
            NewStatement::from_parsed(statement, &authority_ifi, label, &lrs)
        })
        .collect();
    let ids: Vec<Uuid> = batch.iter().map(|s| s.id).collect();
    let attachments = parts
        .into_iter()
        .map(|part| NewAttachment {
            sha2: part.sha2.to_ascii_lowercase(),
            content_type: part.content_type,
            content: part.body,
        })
        .collect();
    let timer = state.metrics.database_timer("insert_statements");
    state
        .statement_writer
        .write(principal.store_id, batch, attachments)
        .await?;
    timer.observe_duration();
    state.metrics.statements_ingested(ids.len());
    Ok(ids)
}
