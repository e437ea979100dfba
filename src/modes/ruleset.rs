//! Loading a learning-mode ruleset: TOML text, checked against the ruleset's JSON
//! Schema (so a mistake is reported with its path, e.g. `/rule/3/mode`), then read
//! into the typed rules the classifier runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Mode;

/// The ruleset shipped in the binary.
pub const DEFAULT_RULESET: &str = include_str!("default.toml");
/// The JSON Schema every ruleset must satisfy.
const RULESET_SCHEMA: &str = include_str!("ruleset.schema.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ruleset {
    #[serde(default = "first_version")]
    pub version: u32,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

fn first_version() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "match")]
    pub conditions: Conditions,
}

/// Every condition given must hold; a list holds when any of its values does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id_prefix: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_host: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_activity: Option<ContextActivityCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextActivityCondition {
    /// `parent`, `grouping`, `category`, `other`; every role when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_prefix: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("learning-mode ruleset {origin}: {problem}")]
pub struct RulesetError {
    origin: String,
    problem: String,
}

impl Ruleset {
    /// The ruleset shipped in the binary.
    pub fn default_rules() -> Ruleset {
        Ruleset::parse(DEFAULT_RULESET, "(built in)").expect("the default ruleset is valid")
    }

    /// The ruleset in `path`, or the default one when there is no path.
    pub fn load(path: Option<&Path>) -> Result<Ruleset, RulesetError> {
        match path {
            None => Ok(Ruleset::default_rules()),
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| RulesetError {
                    origin: origin.clone(),
                    problem: e.to_string(),
                })?;
                Ruleset::parse(&text, &origin)
            }
        }
    }

    /// Parses and validates ruleset text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Ruleset, RulesetError> {
        let fail = |problem: String| RulesetError {
            origin: origin.to_string(),
            problem,
        };
        let document: toml::Value = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
        let json = serde_json::to_value(&document).map_err(|e| fail(e.to_string()))?;
        let problems = schema_problems(&json);
        if !problems.is_empty() {
            return Err(fail(problems.join("; ")));
        }
        let ruleset: Ruleset = serde_json::from_value(json).map_err(|e| fail(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = ruleset.rules.iter().find(|r| !seen.insert(r.id.as_str())) {
            return Err(fail(format!("rule id '{}' is used twice", twice.id)));
        }
        Ok(ruleset)
    }

    /// Identifies the ruleset's content, so an interrupted reclassification resumes
    /// only under the same rules.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let text = serde_json::to_string(self).expect("a ruleset serialises");
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// Every way `document` breaks the schema, as `path: problem`.
fn schema_problems(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(RULESET_SCHEMA).expect("the ruleset schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the ruleset schema is valid");
    validator
        .iter_errors(document)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() { "/".into() } else { path };
            format!("{at}: {e}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ruleset_loads_and_ends_with_web_media() {
        let rules = Ruleset::default_rules();
        assert!(rules.rules.len() >= 10);
        assert_eq!(rules.rules.last().unwrap().id, "web-media");
        assert_eq!(rules.rule("lms-credential").unwrap().mode, Mode::Directed);
    }

    #[test]
    fn an_unknown_mode_is_reported_with_its_path() {
        let text = r#"
            [[rule]]
            id = "x"
            mode = "informal"
            match = { registration = true }
        "#;
        let error = Ruleset::parse(text, "test.toml").unwrap_err().to_string();
        assert!(error.contains("test.toml"), "{error}");
        assert!(error.contains("/rule/0/mode"), "{error}");
    }

    #[test]
    fn unknown_conditions_and_empty_matches_are_refused() {
        let unknown = r#"
            [[rule]]
            id = "x"
            mode = "guided"
            match = { colour = ["red"] }
        "#;
        let error = Ruleset::parse(unknown, "t").unwrap_err().to_string();
        assert!(error.contains("/rule/0/match"), "{error}");
        let empty = r#"
            [[rule]]
            id = "x"
            mode = "guided"
            match = {}
        "#;
        assert!(Ruleset::parse(empty, "t").is_err());
    }

    #[test]
    fn duplicate_rule_ids_and_bad_toml_are_refused() {
        let twice = r#"
            [[rule]]
            id = "x"
            mode = "guided"
            match = { registration = true }
            [[rule]]
            id = "x"
            mode = "directed"
            match = { registration = false }
        "#;
        let error = Ruleset::parse(twice, "t").unwrap_err().to_string();
        assert!(error.contains("used twice"), "{error}");
        assert!(Ruleset::parse("[[rule]\nid=", "t").is_err());
    }
}
