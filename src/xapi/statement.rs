//! Statements and SubStatements (Data §2.2, §2.4, 2.0 §4.2): validation, the
//! normalised body to store, and the index data the store needs.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::activity::check_activity;
use super::agent::{check_agent, Expect};
use super::attachment::{check_attachments, AttachmentMeta};
use super::context::{check_context, check_statement_ref, wrap_context_activities};
use super::error::{as_object, as_str, check_properties, required, Invalid, Path};
use super::ifi::Ifi;
use super::index::{ActivityRole, AgentRole, IndexBuilder};
use super::iri::check_iri;
use super::langmap::check_language_map;
use super::result::check_result;
use super::time::check_timestamp;
use super::uuid_text::check_uuid;
use super::version::Version;

pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";

const STATEMENT_PROPERTIES: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
];
const SUBSTATEMENT_PROPERTIES: &[&str] = &[
    "objectType",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "attachments",
];
/// Properties only the LRS (or a top-level Statement) may have (Data §2.4.4.3).
const SUBSTATEMENT_FORBIDDEN: [&str; 4] = ["id", "stored", "version", "authority"];

/// A validated Statement ready to store.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    pub id: Option<Uuid>,
    /// The Statement as it will be stored: single `contextActivities` values wrapped in
    /// arrays and, under 2.0, `timestamp`/`stored` rewritten in UTC; otherwise as sent.
    /// `id`, `stored`, `authority`, `version` and a missing `timestamp` are left for the
    /// LRS to set.
    pub body: Value,
    /// The actor's IFI; `None` when the actor is an anonymous Group.
    pub actor: Option<Ifi>,
    pub verb_id: String,
    pub registration: Option<Uuid>,
    /// The Statement this one voids (voided verb with a StatementRef object).
    pub voids: Option<Uuid>,
    /// The object's id when the object is a StatementRef.
    pub statement_ref: Option<Uuid>,
    /// Every Agent/Group IFI with its role, deduplicated; group members included.
    pub agents: Vec<(Ifi, AgentRole)>,
    pub activities: Vec<(String, ActivityRole)>,
    /// Every Activity that carried a definition, in document order.
    pub activity_definitions: Vec<(String, Value)>,
    /// Every Agent object (group members included), for the Agents resource.
    pub agents_seen: Vec<Value>,
    pub attachments: Vec<AttachmentMeta>,
}

impl ParsedStatement {
    pub fn is_voiding(&self) -> bool {
        self.voids.is_some()
    }
}

/// What the shared Statement/SubStatement walk learns besides the index rows.
struct Core {
    actor: Option<Ifi>,
    verb_id: String,
    registration: Option<Uuid>,
    statement_ref: Option<Uuid>,
    attachments: Vec<AttachmentMeta>,
}

/// Validates one Statement object. `path` names it in errors (`statement`, `statement[3]`).
pub fn parse_statement(
    mut value: Value,
    version: Version,
    path: &str,
) -> Result<ParsedStatement, Invalid> {
    let root = Path::Root(path);
    let map = as_object(&value, &root)?;
    check_properties(map, STATEMENT_PROPERTIES, &root)?;
    let id = map
        .get("id")
        .map(|id| check_uuid(id, &root.key("id")))
        .transpose()?;
    if let Some(statement_version) = map.get("version") {
        check_statement_version(statement_version, &root.key("version"), version)?;
    }
    let stored = map
        .get("stored")
        .map(|stored| check_timestamp(stored, &root.key("stored")))
        .transpose()?;
    let mut index = IndexBuilder::default();
    if let Some(authority) = map.get("authority") {
        check_authority(authority, &root.key("authority"), &mut index)?;
    }
    let core = check_core(map, &root, version, &mut index)?;
    let voids = if core.verb_id == VOIDED_VERB {
        let voided = core.statement_ref.ok_or_else(|| {
            root.key("object")
                .invalid("a voiding Statement's object must be a StatementRef")
        })?;
        Some(voided)
    } else {
        None
    };

    normalise(&mut value, stored.map(|s| s.to_utc_string()));
    index.dedup();
    Ok(ParsedStatement {
        id,
        body: value,
        actor: core.actor,
        verb_id: core.verb_id,
        registration: core.registration,
        voids,
        statement_ref: core.statement_ref,
        agents: index.agents,
        activities: index.activities,
        activity_definitions: index.activity_definitions,
        agents_seen: index.agents_seen,
        attachments: core.attachments,
    })
}

/// Validates a POSTed body: one Statement object or an array of them. An empty array is
/// accepted (nothing forbids it; the LRS stores nothing and returns `[]`). Two Statements
/// in one batch with the same id reject the whole batch (2.0 §4.1.6.1; applied to 1.0.3).
pub fn parse_statements(value: Value, version: Version) -> Result<Vec<ParsedStatement>, Invalid> {
    match value {
        Value::Array(items) => {
            let mut parsed: Vec<ParsedStatement> = Vec::with_capacity(items.len());
            for (position, item) in items.into_iter().enumerate() {
                let statement = parse_statement(item, version, &format!("statement[{position}]"))?;
                if let Some(id) = statement.id {
                    if let Some(first) = parsed.iter().position(|p| p.id == Some(id)) {
                        return Err(Invalid::new(
                            format!("statement[{position}].id"),
                            format!("id {id} is also used by statement[{first}] in this batch"),
                        ));
                    }
                }
                parsed.push(statement);
            }
            Ok(parsed)
        }
        Value::Object(_) => Ok(vec![parse_statement(value, version, "statement")?]),
        other => Err(Invalid::new(
            "statement",
            format!(
                "must be a Statement object or an array of Statements, not {}",
                super::error::type_name(&other)
            ),
        )),
    }
}

/// Shared by Statements and SubStatements: actor, verb, object, result, context,
/// timestamp and attachments.
fn check_core(
    map: &Map<String, Value>,
    path: &Path,
    version: Version,
    index: &mut IndexBuilder,
) -> Result<Core, Invalid> {
    let actor_path = path.key("actor");
    let actor_value = required(map, "actor", path)?;
    let actor = check_agent(actor_value, &actor_path, Expect::AgentOrGroup, false)?;
    let actor_ifi = actor.ifi.clone();
    index.record_agent(actor_value, actor, AgentRole::Actor);

    let verb_id = check_verb(required(map, "verb", path)?, &path.key("verb"))?;

    let object_path = path.key("object");
    let object = required(map, "object", path)?;
    let (object_is_activity, statement_ref) = check_object(object, &object_path, version, index)?;

    if let Some(result) = map.get("result") {
        check_result(result, &path.key("result"))?;
    }
    let registration = match map.get("context") {
        Some(context) => check_context(
            context,
            &path.key("context"),
            version,
            object_is_activity,
            index,
        )?,
        None => None,
    };
    if let Some(timestamp) = map.get("timestamp") {
        check_timestamp(timestamp, &path.key("timestamp"))?;
    }
    let attachments = match map.get("attachments") {
        Some(attachments) => check_attachments(attachments, &path.key("attachments"))?,
        None => Vec::new(),
    };
    Ok(Core {
        actor: actor_ifi,
        verb_id: verb_id.to_string(),
        registration,
        statement_ref,
        attachments,
    })
}

fn check_verb<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, &["id", "display"], path)?;
    let id = check_iri(required(map, "id", path)?, &path.key("id"))?;
    if let Some(display) = map.get("display") {
        check_language_map(display, &path.key("display"))?;
    }
    Ok(id)
}

/// Validates the object by its objectType. Returns whether it is an Activity and, for a
/// StatementRef, the referenced id.
fn check_object(
    value: &Value,
    path: &Path,
    version: Version,
    index: &mut IndexBuilder,
) -> Result<(bool, Option<Uuid>), Invalid> {
    let map = as_object(value, path)?;
    let object_type = match map.get("objectType") {
        Some(object_type) => as_str(object_type, &path.key("objectType"))?,
        None if ["mbox", "mbox_sha1sum", "openid", "account", "member"]
            .iter()
            .any(|k| map.contains_key(*k)) =>
        {
            return Err(path.invalid("an Agent or Group used as the object must have 'objectType'"))
        }
        None => "Activity",
    };
    match object_type {
        "Activity" => {
            let activity = check_activity(value, path)?;
            index.record_activity(activity, ActivityRole::Object);
            Ok((true, None))
        }
        "Agent" | "Group" => {
            let agent = check_agent(value, path, Expect::AgentOrGroup, true)?;
            index.record_agent(value, agent, AgentRole::Object);
            Ok((false, None))
        }
        "StatementRef" => Ok((false, Some(check_statement_ref(value, path)?))),
        "SubStatement" if index.in_substatement => {
            Err(path.invalid("a SubStatement must not contain a SubStatement"))
        }
        "SubStatement" => {
            check_substatement(map, path, version, index)?;
            Ok((false, None))
        }
        other => Err(path.key("objectType").invalid(format!(
            "must be one of Activity, Agent, Group, StatementRef, SubStatement, not '{other}'"
        ))),
    }
}

fn check_substatement(
    map: &Map<String, Value>,
    path: &Path,
    version: Version,
    index: &mut IndexBuilder,
) -> Result<(), Invalid> {
    if let Some(key) = SUBSTATEMENT_FORBIDDEN
        .iter()
        .find(|key| map.contains_key(**key))
    {
        return Err(path.invalid(format!("'{key}' is not allowed in a SubStatement")));
    }
    check_properties(map, SUBSTATEMENT_PROPERTIES, path)?;
    index.in_substatement = true;
    let checked = check_core(map, path, version, index);
    index.in_substatement = false;
    checked.map(|_| ())
}

/// The authority is an Agent, or an anonymous Group of exactly two Agents: the OAuth
/// consumer and the user (Data §2.4.9). One that arrives is checked although the LRS
/// replaces it: a Statement with a malformed authority is malformed.
fn check_authority(value: &Value, path: &Path, index: &mut IndexBuilder) -> Result<(), Invalid> {
    let authority = check_agent(value, path, Expect::AgentOrGroup, false)?;
    if authority.is_group {
        if authority.ifi.is_some() {
            return Err(path.invalid(
                "a Group authority must be anonymous (its two members identify it), not an identified Group",
            ));
        }
        let members = value
            .get("member")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if members != 2 {
            return Err(path.invalid("a Group authority must have exactly two member Agents"));
        }
    }
    index.record_agent(value, authority, AgentRole::Authority);
    Ok(())
}

/// `1.0`, `1.0.x` always; `2.0`, `2.0.x` under 2.0 (Data §2.4.10, 2.0 notes §1).
fn check_statement_version(value: &Value, path: &Path, version: Version) -> Result<(), Invalid> {
    let text = as_str(value, path)?;
    let accepted = |major: &str| {
        text.strip_prefix(major).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix('.').is_some_and(|patch| {
                    !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit())
                })
        })
    };
    if accepted("1.0") || (version.is_2_0() && accepted("2.0")) {
        Ok(())
    } else {
        Err(path.invalid(format!("Statement version '{text}' is not supported")))
    }
}

/// Applies the storage normalisation to a validated Statement in place.
fn normalise(statement: &mut Value, stored_utc: Option<String>) {
    if let Some(context) = statement.get_mut("context") {
        wrap_context_activities(context);
    }
    let substatement = statement
        .get_mut("object")
        .filter(|object| object.get("objectType").and_then(Value::as_str) == Some("SubStatement"));
    if let Some(substatement) = substatement {
        if let Some(context) = substatement.get_mut("context") {
            wrap_context_activities(context);
        }
        timestamp_to_utc(substatement);
    }
    // 2.0 requires UTC; 1.0.3 asks for it (SHOULD*, Data §4.5), so both get it.
    timestamp_to_utc(statement);
    if let (Some(stored), Some(utc)) = (statement.get_mut("stored"), stored_utc) {
        *stored = Value::String(utc);
    }
}

fn timestamp_to_utc(statement: &mut Value) {
    let Some(timestamp) = statement.get_mut("timestamp") else {
        return;
    };
    let utc = timestamp
        .as_str()
        .and_then(super::time::parse_timestamp)
        .map(|parsed| parsed.to_utc_string());
    if let Some(utc) = utc {
        *timestamp = Value::String(utc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/verbs/did", "display": {"en-US": "did"}},
            "object": {"id": "http://example.com/activities/a"}
        })
    }

    fn parse(value: Value) -> Result<ParsedStatement, Invalid> {
        parse_statement(value, Version::V2_0_0, "statement")
    }

    fn parse_1_0(value: Value) -> Result<ParsedStatement, Invalid> {
        parse_statement(value, Version::V1_0_3, "statement")
    }

    fn with(key: &str, value: Value) -> Value {
        let mut statement = minimal();
        statement[key] = value;
        statement
    }

    #[test]
    fn accepts_minimal_statement_and_indexes_it() {
        let parsed = parse(minimal()).unwrap();
        assert_eq!(parsed.id, None);
        assert_eq!(
            parsed.actor.as_ref().unwrap().as_str(),
            "mbox:mailto:a@example.com"
        );
        assert_eq!(parsed.verb_id, "http://example.com/verbs/did");
        assert_eq!(
            parsed.activities,
            [(
                "http://example.com/activities/a".to_string(),
                ActivityRole::Object
            )]
        );
        assert_eq!(
            parsed.agents_seen,
            [json!({"mbox": "mailto:a@example.com"})]
        );
        assert_eq!(parsed.body, minimal());
        assert!(!parsed.is_voiding());
    }

    #[test]
    fn requires_actor_verb_object() {
        for key in ["actor", "verb", "object"] {
            let mut statement = minimal();
            statement.as_object_mut().unwrap().remove(key);
            let error = parse(statement).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("statement: missing required property '{key}'")
            );
        }
    }

    #[test]
    fn rejects_unknown_and_null_properties() {
        assert_eq!(
            parse(with("dummy", json!(1))).unwrap_err().message,
            "unknown property 'dummy'"
        );
        assert!(parse(with("Actor", json!({}))).is_err());
        assert!(parse(with("result", Value::Null)).is_err());
        assert!(parse(with(
            "verb",
            json!({"id": "http://x.org/v", "display": {"en": "x"}, "extra": 1})
        ))
        .is_err());
        assert!(parse(with("verb", json!({"display": {"en": "x"}}))).is_err());
        assert!(parse(with(
            "verb",
            json!({"id": "http://x.org/v", "display": {"test": "x"}})
        ))
        .is_err());
        assert!(parse(json!([])).is_err());
    }

    #[test]
    fn ids_versions_and_timestamps() {
        let parsed = parse(with("id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0"))).unwrap();
        assert_eq!(
            parsed.id.unwrap().to_string(),
            "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
        );
        assert!(parse(with("id", json!("fd41c918b88b4b20a0a5a4c32391aaa0"))).is_err());
        for ok in ["1.0", "1.0.0", "1.0.9", "2.0.0", "2.0"] {
            assert!(parse(with("version", json!(ok))).is_ok(), "{ok}");
        }
        assert!(parse_1_0(with("version", json!("2.0.0"))).is_err());
        for bad in ["0.9.9", "1.1.0", "junk", "1.0.", "1.0.x", "10.0"] {
            assert!(parse(with("version", json!(bad))).is_err(), "{bad}");
        }
        assert!(parse(with("timestamp", json!("2023-05-04T17:00:00-00:00"))).is_err());
        assert!(parse(with("stored", json!("yesterday"))).is_err());
    }

    #[test]
    fn both_versions_convert_timestamps_to_utc() {
        let mut statement = with("timestamp", json!("2023-05-04T12:00:00-05:00"));
        statement["stored"] = json!("2023-05-04T19:00:00.123+02:00");
        let parsed = parse(statement.clone()).unwrap();
        assert_eq!(parsed.body["timestamp"], "2023-05-04T17:00:00.000Z");
        assert_eq!(parsed.body["stored"], "2023-05-04T17:00:00.123Z");
        let older = parse_1_0(statement).unwrap();
        assert_eq!(older.body["timestamp"], "2023-05-04T17:00:00.000Z");
    }

    #[test]
    fn wraps_context_activities_in_statement_and_substatement() {
        let context = json!({"contextActivities": {"parent": {"id": "http://x.org/p"}}});
        let mut statement = with("context", context.clone());
        statement["object"] = json!({
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:b@example.com"},
            "verb": {"id": "http://x.org/v"},
            "object": {"id": "http://x.org/s"},
            "context": context,
            "timestamp": "2030-01-01T00:00:00+01:00"
        });
        let parsed = parse(statement).unwrap();
        assert_eq!(
            parsed.body["context"]["contextActivities"]["parent"],
            json!([{"id": "http://x.org/p"}])
        );
        assert_eq!(
            parsed.body["object"]["context"]["contextActivities"]["parent"],
            json!([{"id": "http://x.org/p"}])
        );
        assert_eq!(
            parsed.body["object"]["timestamp"],
            "2029-12-31T23:00:00.000Z"
        );
        let roles: Vec<ActivityRole> = parsed.activities.iter().map(|(_, r)| *r).collect();
        assert!(roles.contains(&ActivityRole::Parent));
        assert!(roles.contains(&ActivityRole::SubParent));
        assert!(roles.contains(&ActivityRole::SubObject));
        let agent_roles: Vec<AgentRole> = parsed.agents.iter().map(|(_, r)| *r).collect();
        assert!(agent_roles.contains(&AgentRole::SubActor));
    }

    #[test]
    fn object_types() {
        assert!(parse(with(
            "object",
            json!({"objectType": "Agent", "mbox": "mailto:o@x.org"})
        ))
        .is_ok());
        assert!(parse(with("object", json!({"mbox": "mailto:o@x.org"}))).is_err());
        let group = parse(with(
            "object",
            json!({"objectType": "Group", "member": [{"mbox": "mailto:m@x.org"}]}),
        ))
        .unwrap();
        assert_eq!(group.agents[1].1, AgentRole::ObjectMember);
        assert!(parse(with(
            "object",
            json!({"objectType": "activity", "id": "http://x.org/a"})
        ))
        .is_err());
        assert!(parse(with(
            "object",
            json!({"objectType": "Statement", "id": "http://x.org/a"})
        ))
        .is_err());
        let reference = parse(with(
            "object",
            json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}),
        ))
        .unwrap();
        assert!(reference.statement_ref.is_some());
        assert!(!reference.is_voiding());
        assert!(parse(with(
            "object",
            json!({"objectType": "StatementRef", "id": "nope"})
        ))
        .is_err());
        assert!(parse(with("object", json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "definition": {}}))).is_err());
    }

    #[test]
    fn substatement_rules() {
        let substatement = json!({
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:b@example.com"},
            "verb": {"id": "http://x.org/v"},
            "object": {"id": "http://x.org/s"}
        });
        assert!(parse(with("object", substatement.clone())).is_ok());
        for key in ["id", "stored", "version", "authority"] {
            let mut bad = substatement.clone();
            bad[key] = json!("x");
            let error = parse(with("object", bad)).unwrap_err();
            assert_eq!(
                error.message,
                format!("'{key}' is not allowed in a SubStatement")
            );
        }
        let mut nested = substatement.clone();
        nested["object"] = substatement.clone();
        assert_eq!(
            parse(with("object", nested)).unwrap_err().to_string(),
            "statement.object.object: a SubStatement must not contain a SubStatement"
        );
        let mut unknown = substatement.clone();
        unknown["foo"] = json!(1);
        assert!(parse(with("object", unknown)).is_err());
        let mut bad_actor = substatement;
        bad_actor["actor"] = json!({"name": "x"});
        assert_eq!(
            parse(with("object", bad_actor)).unwrap_err().path,
            "statement.object.actor"
        );
    }

    #[test]
    fn voiding() {
        let mut statement = with("verb", json!({"id": VOIDED_VERB}));
        statement["object"] =
            json!({"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"});
        let parsed = parse(statement).unwrap();
        assert!(parsed.is_voiding());
        assert_eq!(parsed.voids, parsed.statement_ref);
        let error = parse(with("verb", json!({"id": VOIDED_VERB}))).unwrap_err();
        assert_eq!(error.path, "statement.object");
    }

    #[test]
    fn authority() {
        assert!(parse(with("authority", json!({"mbox": "mailto:auth@x.org"}))).is_ok());
        let oauth = json!({"objectType": "Group", "member": [
            {"account": {"homePage": "http://x.org/OAuth/Token", "name": "oauth_consumer_x75db"}},
            {"mbox": "mailto:bob@example.com"}]});
        let parsed = parse(with("authority", oauth)).unwrap();
        assert!(parsed
            .agents
            .iter()
            .any(|(_, role)| *role == AgentRole::OtherMember));
        let three = json!({"objectType": "Group", "member": [
            {"mbox": "mailto:a@x.org"}, {"mbox": "mailto:b@x.org"}, {"mbox": "mailto:c@x.org"}]});
        assert!(parse(with("authority", three)).is_err());
        assert!(parse(with("authority", json!({"name": "no ifi"}))).is_err());
        let identified = json!({"objectType": "Group", "mbox": "mailto:g@x.org", "member": [
            {"mbox": "mailto:a@x.org"}, {"mbox": "mailto:b@x.org"}]});
        assert_eq!(
            parse(with("authority", identified)).unwrap_err().path,
            "statement.authority"
        );
    }

    #[test]
    fn batches() {
        let parsed = parse_statements(json!([minimal(), minimal()]), Version::V1_0_3).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parse_statements(json!([]), Version::V1_0_3)
            .unwrap()
            .is_empty());
        assert_eq!(
            parse_statements(minimal(), Version::V1_0_3).unwrap().len(),
            1
        );
        let error =
            parse_statements(json!([minimal(), {"actor": 1}]), Version::V1_0_3).unwrap_err();
        assert_eq!(error.path, "statement[1].actor");
        let same = with("id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0"));
        let error = parse_statements(json!([same.clone(), same]), Version::V2_0_0).unwrap_err();
        assert_eq!(error.path, "statement[1].id");
        assert!(parse_statements(json!("x"), Version::V2_0_0).is_err());
    }

    #[test]
    fn collects_attachments_and_definitions() {
        let mut statement = with(
            "attachments",
            json!([{"usageType": "http://x.org/u", "display": {"en": "d"}, "contentType": "text/plain", "length": 3, "sha2": "AB"}]),
        );
        statement["object"]["definition"] = json!({"name": {"en": "A"}});
        let parsed = parse(statement).unwrap();
        assert_eq!(parsed.attachments[0].sha2, "ab");
        assert_eq!(
            parsed.activity_definitions,
            [(
                "http://example.com/activities/a".to_string(),
                json!({"name": {"en": "A"}})
            )]
        );
    }
}
