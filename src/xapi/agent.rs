//! Agents and Groups (Data §2.4.2) and their Inverse Functional Identifiers.

use serde_json::{Map, Value};

use super::error::{as_array, as_object, as_str, check_properties, required, Invalid, Path};
use super::ifi::Ifi;
use super::iri::{check_irl, is_iri};
use super::json::parse_json;
use super::version::Version;

const IFI_PROPERTIES: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];
const AGENT_PROPERTIES: &[&str] = &[
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
];
const GROUP_PROPERTIES: &[&str] = &[
    "objectType",
    "name",
    "member",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
];

/// A validated Agent or Group, reduced to what identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub is_group: bool,
    /// `None` only for an anonymous Group.
    pub ifi: Option<Ifi>,
    /// IFIs of the Group's members (every member is an Agent, so each has one).
    pub members: Vec<Ifi>,
}

/// Which kinds a position accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    AgentOrGroup,
    Agent,
    Group,
}

/// Validates an Agent or Group object found at `path`. `object_type_required` is set
/// where the spec demands `objectType` (a Statement's object, Data §2.4.4.2).
pub fn check_agent(
    value: &Value,
    path: &Path,
    expect: Expect,
    object_type_required: bool,
) -> Result<Agent, Invalid> {
    let map = as_object(value, path)?;
    let is_group = match map.get("objectType") {
        None if object_type_required => {
            return Err(path.invalid("missing required property 'objectType'"))
        }
        None => expect == Expect::Group,
        Some(object_type) => match as_str(object_type, &path.key("objectType"))? {
            "Agent" => false,
            "Group" => true,
            other => {
                return Err(path
                    .key("objectType")
                    .invalid(format!("must be 'Agent' or 'Group', not '{other}'")))
            }
        },
    };
    match (expect, is_group) {
        (Expect::Agent, true) => return Err(path.invalid("must be an Agent, not a Group")),
        (Expect::Group, false) => return Err(path.invalid("must be a Group")),
        _ => {}
    }
    if expect == Expect::Group && !map.contains_key("objectType") {
        return Err(path.invalid("a Group must have objectType 'Group'"));
    }
    if is_group {
        check_group(map, path)
    } else {
        check_properties(map, AGENT_PROPERTIES, path)?;
        check_name(map, path)?;
        let ifi = check_ifi(map, path)?.ok_or_else(|| {
            path.invalid("exactly one of mbox, mbox_sha1sum, openid, account is required")
        })?;
        Ok(Agent {
            is_group: false,
            ifi: Some(ifi),
            members: Vec::new(),
        })
    }
}

fn check_group(map: &Map<String, Value>, path: &Path) -> Result<Agent, Invalid> {
    check_properties(map, GROUP_PROPERTIES, path)?;
    check_name(map, path)?;
    let ifi = check_ifi(map, path)?;
    let mut members = Vec::new();
    match map.get("member") {
        Some(list) => {
            let member_path = path.key("member");
            let list = as_array(list, &member_path)?;
            if ifi.is_none() && list.is_empty() {
                return Err(member_path.invalid("an anonymous Group must list at least one member"));
            }
            for (index, member) in list.iter().enumerate() {
                let agent = check_agent(member, &member_path.index(index), Expect::Agent, false)?;
                members.extend(agent.ifi);
            }
        }
        None if ifi.is_none() => {
            return Err(path.invalid(
                "an anonymous Group requires 'member'; an identified Group requires exactly one of mbox, mbox_sha1sum, openid, account",
            ))
        }
        None => {}
    }
    Ok(Agent {
        is_group: true,
        ifi,
        members,
    })
}

fn check_name(map: &Map<String, Value>, path: &Path) -> Result<(), Invalid> {
    if let Some(name) = map.get("name") {
        as_str(name, &path.key("name"))?;
    }
    Ok(())
}

/// Returns the object's IFI, `None` when it has none, or an error when it has several or
/// the one it has is malformed.
fn check_ifi(map: &Map<String, Value>, path: &Path) -> Result<Option<Ifi>, Invalid> {
    let present: Vec<&str> = IFI_PROPERTIES
        .iter()
        .copied()
        .filter(|key| map.contains_key(*key))
        .collect();
    let kind = match present.as_slice() {
        [] => return Ok(None),
        [kind] => *kind,
        _ => {
            return Err(path.invalid(format!(
                "exactly one of mbox, mbox_sha1sum, openid, account is allowed, found {}",
                present.join(", ")
            )))
        }
    };
    let value = &map[kind];
    let ifi_path = path.key(kind);
    let ifi = match kind {
        "mbox" => {
            let mbox = as_str(value, &ifi_path)?;
            if !is_mailto(mbox) {
                return Err(ifi_path.invalid(format!("'{mbox}' is not a mailto IRI")));
            }
            Ifi::mbox(mbox)
        }
        "mbox_sha1sum" => {
            let hash = as_str(value, &ifi_path)?;
            if hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ifi_path.invalid("must be 40 hexadecimal characters (a SHA-1 hash)"));
            }
            Ifi::mbox_sha1sum(hash)
        }
        "openid" => {
            let uri = as_str(value, &ifi_path)?;
            if !is_iri(uri) {
                return Err(ifi_path.invalid(format!("'{uri}' is not a URI")));
            }
            Ifi::openid(uri)
        }
        _ => {
            let account = as_object(value, &ifi_path)?;
            check_properties(account, &["homePage", "name"], &ifi_path)?;
            let home_page = check_irl(
                required(account, "homePage", &ifi_path)?,
                &ifi_path.key("homePage"),
            )?;
            let name = as_str(required(account, "name", &ifi_path)?, &ifi_path.key("name"))?;
            Ifi::account(home_page, name)
        }
    };
    Ok(Some(ifi))
}

/// `mailto:` followed by a single address `local@domain`, the whole being a valid IRI.
fn is_mailto(text: &str) -> bool {
    let Some(address) = text.strip_prefix("mailto:") else {
        return false;
    };
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.contains(['?', '/', ','])
        && is_iri(text)
}

/// Validates an Agent or Group given as JSON at `path` (document resources' `agent`).
pub fn parse_agent_object(value: &Value, path: &str, _version: Version) -> Result<Agent, Invalid> {
    check_agent(value, &Path::Root(path), Expect::AgentOrGroup, false)
}

/// Parses the `agent` query parameter: JSON for an Agent or an identified Group.
pub fn parse_agent_param(raw: &str, version: Version) -> Result<Ifi, Invalid> {
    let value = parse_json(raw.as_bytes(), 16)
        .map_err(|error| Invalid::new("agent", format!("not valid JSON: {}", error.message)))?;
    let agent = parse_agent_object(&value, "agent", version)?;
    agent.ifi.ok_or_else(|| {
        Invalid::new(
            "agent",
            "an anonymous Group cannot be used here; an IFI is required",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent(value: Value) -> Result<Agent, Invalid> {
        check_agent(&value, &Path::Root("actor"), Expect::AgentOrGroup, false)
    }

    fn message(value: Value) -> String {
        agent(value).unwrap_err().to_string()
    }

    #[test]
    fn accepts_each_ifi() {
        for (value, ifi) in [
            (json!({"mbox": "mailto:a@b.org"}), "mbox:mailto:a@b.org"),
            (
                json!({"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}),
                "mbox_sha1sum:ebd31e95054c018b10727ccffd2ef2ec3a016ee9",
            ),
            (
                json!({"openid": "http://toby.openid.example.org/"}),
                "openid:http://toby.openid.example.org/",
            ),
            (
                json!({"objectType": "Agent", "name": "x", "account": {"homePage": "http://www.example.com", "name": "1625378"}}),
                "account:http://www.example.com|1625378",
            ),
        ] {
            assert_eq!(agent(value).unwrap().ifi.unwrap().as_str(), ifi);
        }
    }

    #[test]
    fn rejects_zero_or_several_ifis() {
        assert_eq!(
            message(json!({"name": "x"})),
            "actor: exactly one of mbox, mbox_sha1sum, openid, account is required"
        );
        assert!(
            message(json!({"mbox": "mailto:a@b.org", "openid": "http://x.org"}))
                .contains("found mbox, openid")
        );
    }

    #[test]
    fn rejects_malformed_ifis() {
        assert!(message(json!({"mbox": "a@b.org"})).contains("not a mailto IRI"));
        assert!(agent(json!({"mbox": "mailto:"})).is_err());
        assert!(agent(json!({"mbox": "mailto:ab.org"})).is_err());
        assert!(agent(json!({"mbox": "mailto:a b@b.org"})).is_err());
        assert!(agent(json!({"mbox_sha1sum": "xyz"})).is_err());
        assert!(agent(json!({"openid": "not a uri"})).is_err());
        assert!(agent(json!({"account": {"homePage": "http://x.org"}})).is_err());
        assert!(agent(json!({"account": {"name": "n"}})).is_err());
        assert!(agent(json!({"account": {"homePage": "nope", "name": "n"}})).is_err());
        assert!(agent(json!({"account": {"homePage": "http://x.org", "name": 5}})).is_err());
        let error =
            agent(json!({"account": {"homePage": "http://x.org", "name": "n", "extra": 1}}))
                .unwrap_err();
        assert_eq!(error.to_string(), "actor.account: unknown property 'extra'");
    }

    #[test]
    fn rejects_bad_properties_and_object_types() {
        assert!(
            message(json!({"mbox": "mailto:a@b.org", "foo": 1})).contains("unknown property 'foo'")
        );
        assert!(agent(json!({"mbox": "mailto:a@b.org", "objectType": "agent"})).is_err());
        assert!(agent(json!({"mbox": "mailto:a@b.org", "objectType": "Activity"})).is_err());
        assert!(agent(json!({"mbox": "mailto:a@b.org", "name": 5})).is_err());
        assert!(agent(json!({"mbox": "mailto:a@b.org", "name": null})).is_err());
        assert!(agent(json!({"mbox": "mailto:a@b.org", "member": []})).is_err());
        assert!(agent(json!("mailto:a@b.org")).is_err());
    }

    #[test]
    fn groups() {
        let anonymous = agent(json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.org"}, {"openid": "http://x.org/o"}]})).unwrap();
        assert!(anonymous.is_group);
        assert_eq!(anonymous.ifi, None);
        assert_eq!(anonymous.members.len(), 2);
        let identified = agent(json!({"objectType": "Group", "mbox": "mailto:g@b.org"})).unwrap();
        assert_eq!(identified.ifi.unwrap().as_str(), "mbox:mailto:g@b.org");
        assert!(message(json!({"objectType": "Group"})).contains("requires 'member'"));
        assert!(agent(json!({"objectType": "Group", "member": []})).is_err());
        assert!(
            agent(json!({"objectType": "Group", "mbox": "mailto:g@b.org", "member": []})).is_ok()
        );
        let nested = json!({"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@b.org"}]});
        assert_eq!(
            message(nested),
            "actor.member[0]: must be an Agent, not a Group"
        );
        assert!(
            agent(json!({"objectType": "Group", "member": {"mbox": "mailto:a@b.org"}})).is_err()
        );
        assert!(agent(json!({"objectType": "Group", "member": [{"name": "no ifi"}]})).is_err());
        assert!(agent(
            json!({"objectType": "Group", "mbox": "mailto:g@b.org", "openid": "http://x.org"})
        )
        .is_err());
    }

    #[test]
    fn expectations_per_position() {
        let root = Path::Root("object");
        let group = json!({"objectType": "Group", "mbox": "mailto:g@b.org"});
        let plain = json!({"mbox": "mailto:a@b.org"});
        assert!(check_agent(&plain, &root, Expect::AgentOrGroup, true).is_err());
        assert!(check_agent(&group, &root, Expect::Agent, false).is_err());
        assert!(check_agent(&plain, &root, Expect::Group, false).is_err());
        assert!(check_agent(&group, &root, Expect::Group, false).is_ok());
    }

    #[test]
    fn agent_parameter() {
        let ifi = parse_agent_param(r#"{"mbox": "mailto:a@b.org"}"#, Version::V1_0_3).unwrap();
        assert_eq!(ifi.as_str(), "mbox:mailto:a@b.org");
        let error = parse_agent_param(
            r#"{"objectType": "Group", "member": [{"mbox": "mailto:a@b.org"}]}"#,
            Version::V2_0_0,
        )
        .unwrap_err();
        assert_eq!(error.path, "agent");
        assert!(parse_agent_param("not json", Version::V1_0_3).is_err());
        assert!(parse_agent_param(
            r#"{"mbox": "mailto:a@b.org", "mbox": "mailto:a@b.org"}"#,
            Version::V1_0_3
        )
        .is_err());
        assert_eq!(
            parse_agent_param(r#"{"mbox": 1}"#, Version::V1_0_3)
                .unwrap_err()
                .path,
            "agent.mbox"
        );
    }
}
