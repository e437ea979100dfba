//! The query parameters of the Statement resource, parsed into typed requests.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::ApiError;
pub use crate::http::params::query_pairs;
use crate::xapi::ingest::{
    activity_kinds, agent_kinds, AGENT_VERB_KIND, REGISTRATION_KIND, VERB_KIND,
};
use crate::xapi::iri::is_iri;
use crate::xapi::terms::{pair_key, term_key};
use crate::xapi::time::parse_timestamp;
use crate::xapi::uuid_text::parse_uuid;
use crate::xapi::{agent, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Exact,
    Ids,
    Canonical,
}

/// A GET of the Statement resource.
#[derive(Debug, Clone)]
pub enum StatementGet {
    Single(Single),
    Query(Query),
}

/// A GET of one Statement by `statementId` (or, `voided`, by `voidedStatementId`).
#[derive(Debug, Clone)]
pub struct Single {
    pub id: Uuid,
    pub voided: bool,
    pub format: Format,
    pub attachments: bool,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub filter: crate::store::statement_reads::StatementFilter,
    pub limit: Option<usize>,
    pub format: Format,
    pub attachments: bool,
    /// Where the previous page ended (from a `more` link).
    pub resume: Option<Cursor>,
    /// The parameters as sent, so a `more` link can repeat them.
    pub raw: Vec<(String, String)>,
}

/// The position a `more` link carries: the query itself, the store, the last seq
/// returned, and the pinned high-water mark and consistency time of the first page.
/// Nothing is kept in server memory, so the link works across restarts and on every
/// instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "q")]
    pub query: Vec<(String, String)>,
    #[serde(rename = "s")]
    pub store: i64,
    #[serde(rename = "a")]
    pub after: i64,
    #[serde(rename = "p")]
    pub pin: i64,
    /// The consistency time in milliseconds since the epoch.
    #[serde(rename = "t")]
    pub consistent_through: i64,
    /// The primary's WAL position when the first page was read: a replica that has
    /// replayed it holds the whole result set (absent from links made before it was
    /// kept).
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub wal_position: Option<u64>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("cursor serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(token: &str) -> Result<Cursor, ApiError> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                ApiError::InvalidParameter("more: not a valid continuation token".into())
            })
    }
}

const QUERY_PARAMETERS: [&str; 12] = [
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
];

pub fn parse_get(
    pairs: Vec<(String, String)>,
    version: Version,
    store_id: i64,
) -> Result<StatementGet, ApiError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(token) = get("more") {
        if pairs.len() > 1 {
            return Err(ApiError::InvalidParameter(
                "more: cannot be combined with other parameters".into(),
            ));
        }
        let cursor = Cursor::decode(token)?;
        if cursor.store != store_id {
            return Err(ApiError::InvalidParameter(
                "more: this continuation token belongs to another store".into(),
            ));
        }
        let mut query = match parse_get(cursor.query.clone(), version, store_id)? {
            StatementGet::Query(query) => query,
            StatementGet::Single(_) => {
                return Err(ApiError::InvalidParameter(
                    "more: not a valid continuation token".into(),
                ))
            }
        };
        query.resume = Some(cursor);
        return Ok(StatementGet::Query(query));
    }
    let format = match get("format") {
        None | Some("exact") => Format::Exact,
        Some("ids") => Format::Ids,
        Some("canonical") => Format::Canonical,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "format: must be exact, ids or canonical, not '{other}'"
            )))
        }
    };
    let attachments = boolean(get("attachments"), "attachments")?;
    let single = match (get("statementId"), get("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidParameter(
                "statementId and voidedStatementId cannot be used together".into(),
            ))
        }
        (Some(id), None) => Some(("statementId", id, false)),
        (None, Some(id)) => Some(("voidedStatementId", id, true)),
        (None, None) => None,
    };
    if let Some((name, raw, voided)) = single {
        if let Some((other, _)) = pairs
            .iter()
            .find(|(k, _)| k != name && k != "format" && k != "attachments")
        {
            return Err(ApiError::InvalidParameter(format!(
                "{other}: not allowed together with {name}"
            )));
        }
        let id = parse_uuid(raw)
            .ok_or_else(|| ApiError::InvalidParameter(format!("{name}: not a UUID: '{raw}'")))?;
        return Ok(StatementGet::Single(Single {
            id,
            voided,
            format,
            attachments,
        }));
    }
    if let Some((unknown, _)) = pairs
        .iter()
        .find(|(k, _)| !QUERY_PARAMETERS.contains(&k.as_str()))
    {
        return Err(ApiError::InvalidParameter(format!(
            "{unknown}: not a parameter of the Statement resource"
        )));
    }
    let mut filter = crate::store::statement_reads::StatementFilter::default();
    let related_agents = boolean(get("related_agents"), "related_agents")?;
    let related_activities = boolean(get("related_activities"), "related_activities")?;
    filter.ascending = boolean(get("ascending"), "ascending")?;
    let agent = get("agent")
        .map(|raw| agent::parse_agent_param(raw, version))
        .transpose()
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    let verb = get("verb").map(|verb| iri(verb, "verb")).transpose()?;
    match (agent, verb) {
        (Some(ifi), Some(verb)) if !related_agents => filter.terms.push((
            pair_key(term_key(&verb), term_key(ifi.as_str())),
            vec![AGENT_VERB_KIND],
        )),
        (agent, verb) => {
            if let Some(ifi) = agent {
                filter
                    .terms
                    .push((term_key(ifi.as_str()), agent_kinds(related_agents)));
            }
            if let Some(verb) = verb {
                filter.terms.push((term_key(&verb), vec![VERB_KIND]));
            }
        }
    }
    if let Some(activity) = get("activity") {
        filter.terms.push((
            term_key(&iri(activity, "activity")?),
            activity_kinds(related_activities),
        ));
    }
    if let Some(raw) = get("registration") {
        let registration = parse_uuid(raw).ok_or_else(|| {
            ApiError::InvalidParameter(format!("registration: not a UUID: '{raw}'"))
        })?;
        filter
            .terms
            .push((term_key(&registration.to_string()), vec![REGISTRATION_KIND]));
    }
    filter.since = get("since").map(|t| timestamp(t, "since")).transpose()?;
    filter.until = get("until").map(|t| timestamp(t, "until")).transpose()?;
    let limit = get("limit")
        .map(|raw| {
            raw.parse::<usize>().map_err(|_| {
                ApiError::InvalidParameter(format!(
                    "limit: must be a non-negative integer, not '{raw}'"
                ))
            })
        })
        .transpose()?;
    Ok(StatementGet::Query(Query {
        filter,
        limit,
        format,
        attachments,
        resume: None,
        raw: pairs,
    }))
}

fn boolean(raw: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::InvalidParameter(format!(
            "{name}: must be true or false, not '{other}'"
        ))),
    }
}

fn iri(raw: &str, name: &str) -> Result<String, ApiError> {
    if is_iri(raw) {
        Ok(raw.to_string())
    } else {
        Err(ApiError::InvalidParameter(format!(
            "{name}: not an IRI: '{raw}'"
        )))
    }
}

fn timestamp(raw: &str, name: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_timestamp(raw).map(|t| t.instant).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "{name}: not an ISO 8601 timestamp with a time zone: '{raw}'"
        ))
    })
}
