//! What the LRS does to validated Statements before it stores them: the authority it
//! vouches with, the index terms it files them under, and the checks that tie
//! attachment parts and signatures to the Statements that declare them. Pure: no I/O.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use uuid::Uuid;

use super::compare::equivalent;
use super::index::{ActivityRole, AgentRole};
use super::multipart::AttachmentPart;
use super::signature::verify_jws;
use super::statement::ParsedStatement;
use super::terms::{pair_key, term_key};
use super::{Ifi, Invalid};

pub const SIGNATURE_USAGE_TYPE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// Index kinds beyond the agent (1..) and activity (101..) roles.
pub const VERB_KIND: i16 = 201;
pub const REGISTRATION_KIND: i16 = 202;
/// An Agent the plain `agent` filter matches, paired with the verb: `agent` + `verb`,
/// the commonest combined query, walks one term's entries instead of probing the verb
/// of each of the agent's Statements. Keyed `terms::pair_key(verb key, agent key)`.
pub const AGENT_VERB_KIND: i16 = 203;
const ACTIVITY_KIND_BASE: i16 = 100;

pub fn activity_kind(role: ActivityRole) -> i16 {
    ACTIVITY_KIND_BASE + role.as_i16()
}

/// The class of an index kind: what a query filter asks of a Statement's entry for a
/// term (`statement_terms`), which holds the OR of the classes of the term's kinds in
/// that Statement. Migration 0025's `commonplace_term_class` is the same function.
pub fn kind_class(kind: i16) -> i64 {
    if kind < ACTIVITY_KIND_BASE {
        let plain = AgentRole::from_i16(kind).is_some_and(AgentRole::counts_for_agent_filter);
        return if plain { 1 } else { 2 };
    }
    if kind < VERB_KIND {
        let plain = ActivityRole::from_i16(kind - ACTIVITY_KIND_BASE)
            .is_some_and(ActivityRole::counts_for_activity_filter);
        return if plain { 4 } else { 8 };
    }
    match kind {
        VERB_KIND => 16,
        REGISTRATION_KIND => 32,
        _ => 64,
    }
}

/// The classes of `kinds`, ORed: an entry matches a filter's kinds when it shares one.
pub fn kind_classes(kinds: &[i16]) -> i64 {
    kinds
        .iter()
        .fold(0, |classes, kind| classes | kind_class(*kind))
}

/// Index kinds the plain `agent` filter matches, or every agent kind for `related_agents`.
pub fn agent_kinds(related: bool) -> Vec<i16> {
    (1..ACTIVITY_KIND_BASE)
        .filter_map(AgentRole::from_i16)
        .filter(|role| related || role.counts_for_agent_filter())
        .map(AgentRole::as_i16)
        .collect()
}

/// Index kinds the plain `activity` filter matches, or every kind for `related_activities`.
pub fn activity_kinds(related: bool) -> Vec<i16> {
    (1..ACTIVITY_KIND_BASE)
        .filter_map(ActivityRole::from_i16)
        .filter(|role| related || role.counts_for_activity_filter())
        .map(activity_kind)
        .collect()
}

/// The Agent the LRS names as authority for a credential (Data §2.4.9): an account on
/// this LRS whose name is the credential's key.
pub fn credential_authority(home_page: &str, key: &str, name: &str) -> (Value, Ifi) {
    let agent = json!({
        "objectType": "Agent",
        "name": name,
        "account": {"homePage": home_page, "name": key}
    });
    (agent, Ifi::account(home_page, key))
}

/// The authority for a token of an OpenID Connect issuer (Data §2.4.9, OAuth): the
/// client's Agent, or, when the client acts for a user, the anonymous Group of the two;
/// both are accounts at the issuer. Filed under the client's account, as an imported
/// Group authority is under its first member.
pub fn token_authority(issuer: &str, client: &str, user: Option<&str>) -> (Value, Ifi) {
    let account =
        |name: &str| json!({"objectType": "Agent", "account": {"homePage": issuer, "name": name}});
    let authority = match user {
        None => account(client),
        Some(user) => json!({"objectType": "Group", "member": [account(client), account(user)]}),
    };
    (authority, Ifi::account(issuer, client))
}

/// Every (kind, term key) a Statement is filed under, sorted: its Agents by IFI and
/// Activities by IRI with their roles, the authority, the verb, the registration, and
/// each Agent the plain `agent` filter matches paired with the verb.
pub fn index_terms(statement: &ParsedStatement, authority: &Ifi) -> Vec<(i16, Uuid)> {
    let verb = term_key(&statement.verb_id);
    let mut terms: Vec<(i16, Uuid)> = statement
        .agents
        .iter()
        .map(|(ifi, role)| (role.as_i16(), term_key(ifi.as_str())))
        .chain(
            statement
                .activities
                .iter()
                .map(|(iri, role)| (activity_kind(*role), term_key(iri))),
        )
        .collect();
    terms.push((AgentRole::Authority.as_i16(), term_key(authority.as_str())));
    let agent_verb_terms: Vec<(i16, Uuid)> = statement
        .agents
        .iter()
        .filter(|(_, role)| role.counts_for_agent_filter())
        .map(|(ifi, _)| (AGENT_VERB_KIND, pair_key(verb, term_key(ifi.as_str()))))
        .collect();
    terms.extend(agent_verb_terms);
    terms.push((VERB_KIND, verb));
    if let Some(registration) = statement.registration {
        terms.push((REGISTRATION_KIND, term_key(&registration.to_string())));
    }
    terms.sort();
    terms.dedup();
    terms
}

/// Each Agent's IFI with the name it carried, for the Agents resource.
pub fn agent_names(statement: &ParsedStatement) -> Vec<(String, Option<String>)> {
    statement
        .agents_seen
        .iter()
        .filter_map(|agent| {
            let ifi = ifi_of(agent)?;
            let name = agent.get("name").and_then(Value::as_str).map(String::from);
            Some((ifi.into_string(), name))
        })
        .collect()
}

/// The IFI an Agent or identified Group is filed under.
pub fn ifi_of(agent: &Value) -> Option<Ifi> {
    if let Some(mbox) = agent.get("mbox").and_then(Value::as_str) {
        return Some(Ifi::mbox(mbox));
    }
    if let Some(sum) = agent.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(Ifi::mbox_sha1sum(sum));
    }
    if let Some(openid) = agent.get("openid").and_then(Value::as_str) {
        return Some(Ifi::openid(openid));
    }
    let account = agent.get("account")?;
    Some(Ifi::account(
        account.get("homePage")?.as_str()?,
        account.get("name")?.as_str()?,
    ))
}

/// Ties the attachment parts of a request to the Statements' attachment metadata
/// (Communication §1.5.2) and checks signatures (Data §2.6): every declared attachment
/// without a `fileUrl` has a part, every part is declared, and every signature is a
/// valid JWS whose payload is the Statement it signs. Returns the parts to store.
pub fn check_attachments(
    statements: &[ParsedStatement],
    parts: Vec<AttachmentPart>,
) -> Result<Vec<AttachmentPart>, Invalid> {
    let mut by_hash: HashMap<String, AttachmentPart> = parts
        .into_iter()
        .map(|part| (part.sha2.to_ascii_lowercase(), part))
        .collect();
    let declared: HashSet<String> = statements
        .iter()
        .flat_map(|s| s.attachments.iter().map(|a| a.sha2.to_ascii_lowercase()))
        .collect();
    if let Some(extra) = by_hash.keys().find(|hash| !declared.contains(*hash)) {
        return Err(Invalid::new(
            "attachments",
            format!("the request has a part with hash {extra} that no Statement declares"),
        ));
    }
    for (position, statement) in statements.iter().enumerate() {
        let at = if statements.len() == 1 {
            "statement".to_string()
        } else {
            format!("statement[{position}]")
        };
        for (index, meta) in statement.attachments.iter().enumerate() {
            let path = format!("{at}.attachments[{index}]");
            let part = by_hash.get(&meta.sha2.to_ascii_lowercase());
            if part.is_none() && meta.file_url.is_none() {
                return Err(Invalid::new(
                    &path,
                    format!(
                        "no part with X-Experience-API-Hash {} was sent and there is no fileUrl",
                        meta.sha2
                    ),
                ));
            }
            if meta.usage_type == SIGNATURE_USAGE_TYPE {
                check_signature(statement, meta.content_type.as_str(), part, &path)?;
            }
        }
    }
    Ok(by_hash.drain().map(|(_, part)| part).collect())
}

fn check_signature(
    statement: &ParsedStatement,
    content_type: &str,
    part: Option<&AttachmentPart>,
    path: &str,
) -> Result<(), Invalid> {
    if content_type != "application/octet-stream" {
        return Err(Invalid::new(
            format!("{path}.contentType"),
            "a signature attachment must have contentType application/octet-stream",
        ));
    }
    let part = part.ok_or_else(|| {
        Invalid::new(
            path,
            "a signature must be sent as a part, not only as a fileUrl",
        )
    })?;
    let payload = verify_jws(&part.body)
        .map_err(|e| Invalid::new(path, format!("invalid signature: {e}")))?;
    if !equivalent(&payload, &statement.body) {
        return Err(Invalid::new(
            path,
            "the signature's payload is not the Statement it is attached to",
        ));
    }
    Ok(())
}
