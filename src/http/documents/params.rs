//! The query parameters of the document resources: each resource names its context
//! parameters, every value is validated, and anything else is refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::params::query_pairs;
use crate::store::documents::{Context, Kind};
use crate::xapi::agent::parse_agent_param;
use crate::xapi::iri::is_iri;
use crate::xapi::time::parse_timestamp;
use crate::xapi::uuid_text::parse_uuid;
use crate::xapi::Version;

/// The parameters one resource understands.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub kind: Kind,
    /// `stateId` or `profileId`.
    pub id_param: &'static str,
    pub has_activity: bool,
    pub has_agent: bool,
    pub has_registration: bool,
}

/// What a request is about to do, which decides the parameters it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// GET or HEAD: the id is optional, and `since` applies to the list of ids.
    Read,
    /// PUT or POST: the id is required.
    Write,
    /// DELETE: the id is required unless `bulk_delete` is true.
    Delete { bulk_delete: bool },
}

/// A parsed request address.
#[derive(Debug)]
pub struct Address {
    pub context: Context,
    pub doc_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

pub fn parse(
    shape: Shape,
    operation: Operation,
    store_id: i64,
    version: Version,
    query: &str,
) -> Result<Address, ApiError> {
    let mut params = params_by_name(query)?;
    let mut take_required = |name: &str| {
        params
            .remove(name)
            .ok_or_else(|| ApiError::InvalidParameter(format!("the {name} parameter is required")))
    };
    let activity_id = if shape.has_activity {
        let raw = take_required("activityId")?;
        if !is_iri(&raw) {
            return Err(ApiError::InvalidParameter(format!(
                "activityId '{raw}' is not an IRI"
            )));
        }
        Some(raw)
    } else {
        None
    };
    let agent = if shape.has_agent {
        let raw = take_required("agent")?;
        Some(
            parse_agent_param(&raw, version)
                .map_err(|why| ApiError::InvalidParameter(why.to_string()))?
                .into_string(),
        )
    } else {
        None
    };
    let registration = match shape.has_registration {
        true => params
            .remove("registration")
            .map(|r| parse_registration(&r))
            .transpose()?,
        false => None,
    };
    let doc_id = params.remove(shape.id_param);
    let id_optional = matches!(
        operation,
        Operation::Read | Operation::Delete { bulk_delete: true }
    );
    if doc_id.is_none() && !id_optional {
        return Err(ApiError::InvalidParameter(format!(
            "the {} parameter is required",
            shape.id_param
        )));
    }
    let since = match params.remove("since") {
        Some(_) if operation != Operation::Read => {
            return Err(ApiError::InvalidParameter(
                "since applies only to GET requests for a list of ids".into(),
            ))
        }
        Some(_) if doc_id.is_some() => {
            return Err(ApiError::InvalidParameter(format!(
                "since applies only to the list of ids, not with {}",
                shape.id_param
            )))
        }
        Some(raw) => Some(parse_since(&raw)?),
        None => None,
    };
    if let Some(unknown) = params.keys().next() {
        return Err(ApiError::InvalidParameter(format!(
            "unknown parameter '{unknown}' for this resource"
        )));
    }
    Ok(Address {
        context: Context {
            store_id,
            kind: shape.kind,
            activity_id,
            agent,
            registration,
        },
        doc_id,
        since,
    })
}

/// Query pairs by name (a name given twice is refused by `query_pairs`).
fn params_by_name(query: &str) -> Result<BTreeMap<String, String>, ApiError> {
    Ok(query_pairs(query)?.into_iter().collect())
}

fn parse_registration(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw)
        .ok_or_else(|| ApiError::InvalidParameter(format!("registration '{raw}' is not a UUID")))
}

/// An xAPI Timestamp (ISO 8601 with a zone).
fn parse_since(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_timestamp(raw).map(|t| t.instant).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "since '{raw}' is not a timestamp like 2024-05-04T17:00:00Z"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: Shape = Shape {
        kind: Kind::State,
        id_param: "stateId",
        has_activity: true,
        has_agent: true,
        has_registration: true,
    };
    const AGENT: &str = "agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.org%22%7D";

    fn state(operation: Operation, rest: &str) -> Result<Address, String> {
        let query = format!("activityId=http%3A%2F%2Fx.org%2Fa&{AGENT}{rest}");
        parse(STATE, operation, 1, Version::V2_0_0, &query).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_state_address_parses() {
        let address = state(
            Operation::Write,
            "&registration=6f2a0c4e-6c3b-4f1e-9a5d-6f0e7a1b2c3d&stateId=s1",
        )
        .unwrap();
        assert_eq!(
            address.context.activity_id.as_deref(),
            Some("http://x.org/a")
        );
        assert_eq!(
            address.context.agent.as_deref(),
            Some("mbox:mailto:a@b.org")
        );
        assert!(address.context.registration.is_some());
        assert_eq!(address.doc_id.as_deref(), Some("s1"));
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            (Operation::Write, "", "stateId"),
            (Operation::Read, "&registration=abc", "registration"),
            (
                Operation::Read,
                "&registration=6f2a0c4e6c3b4f1e9a5d6f0e7a1b2c3d",
                "registration",
            ),
            (Operation::Read, "&since=yesterday", "since"),
            (
                Operation::Read,
                "&stateId=a&since=2024-01-01T00:00:00Z",
                "since",
            ),
            (
                Operation::Write,
                "&stateId=a&since=2024-01-01T00:00:00Z",
                "since",
            ),
            (Operation::Read, "&stateId=a&stateId=b", "stateId"),
            (Operation::Read, "&profileId=a", "profileId"),
        ];
        for (operation, rest, named) in cases {
            let message = state(operation, rest).unwrap_err();
            assert!(message.contains(named), "{rest}: {message}");
        }
        let missing = parse(STATE, Operation::Read, 1, Version::V2_0_0, AGENT)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("activityId"), "{missing}");
    }
}
