//! Learning modes: where each Statement sits on the spectrum from directed to
//! self-directed learning, chosen by the first matching rule of a ruleset. Pure: the
//! same Statement, credential and ruleset always give the same label, at ingest and
//! when `commonplace modes reclassify` re-applies a changed ruleset.

pub mod event;
pub mod ruleset;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use ruleset::{Rule, Ruleset, RulesetError};

use ruleset::{Conditions, ContextActivityCondition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Directed,
    Guided,
    SelfPlanned,
    SelfDirected,
    Unclassified,
}

impl Mode {
    /// From most to least directed; the order of every report.
    pub const EVERY: [Mode; 5] = [
        Mode::Directed,
        Mode::Guided,
        Mode::SelfPlanned,
        Mode::SelfDirected,
        Mode::Unclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Directed => "directed",
            Mode::Guided => "guided",
            Mode::SelfPlanned => "self_planned",
            Mode::SelfDirected => "self_directed",
            Mode::Unclassified => "unclassified",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        Mode::EVERY.into_iter().find(|m| m.as_str() == text)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a Statement, as far as the rules care.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub store: &'a str,
    pub credential_key: &'a str,
    pub credential_name: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

/// A Statement's mode and the rule that chose it (`None` when no rule matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub mode: Mode,
    pub rule: Option<String>,
}

impl Ruleset {
    /// The mode of `statement` (as stored, or as it will be stored) written by `writer`.
    pub fn classify(&self, statement: &Value, writer: &Writer<'_>) -> Label {
        self.rules
            .iter()
            .find(|rule| holds(&rule.conditions, statement, writer))
            .map(|rule| Label {
                mode: rule.mode,
                rule: Some(rule.id.clone()),
            })
            .unwrap_or(Label {
                mode: Mode::Unclassified,
                rule: None,
            })
    }
}

fn holds(c: &Conditions, statement: &Value, writer: &Writer<'_>) -> bool {
    let context = &statement["context"];
    let object = &statement["object"];
    let is_activity = matches!(object["objectType"].as_str(), None | Some("Activity"));
    let object_id = object["id"].as_str().filter(|_| is_activity);
    let any = |list: &Option<Vec<String>>, value: Option<&str>| match list {
        None => true,
        Some(list) => value.is_some_and(|v| list.iter().any(|l| l == v)),
    };
    let tags_hold = c.credential_tags.as_ref().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(k, v)| writer.tags.get(k).is_some_and(|have| have == v))
    });
    tags_hold
        && any(&c.store, Some(writer.store))
        && any(&c.verb, statement["verb"]["id"].as_str())
        && any(
            &c.object_type,
            object["definition"]["type"]
                .as_str()
                .filter(|_| is_activity),
        )
        && c.object_id_prefix.as_ref().is_none_or(|prefixes| {
            object_id.is_some_and(|id| prefixes.iter().any(|p| id.starts_with(p.as_str())))
        })
        && c.object_host.as_ref().is_none_or(|hosts| {
            object_id
                .and_then(host_of)
                .is_some_and(|host| hosts.iter().any(|h| host_is(&host, h)))
        })
        && c.context_activity
            .as_ref()
            .is_none_or(|wanted| context_activity_holds(wanted, context))
        && c.registration
            .is_none_or(|wanted| context["registration"].is_string() == wanted)
        && any(&c.platform, context["platform"].as_str())
        && c.extension.as_ref().is_none_or(|keys| {
            let places = [
                &context["extensions"],
                &statement["result"]["extensions"],
                &object["definition"]["extensions"],
            ];
            keys.iter()
                .any(|key| places.iter().any(|p| p.get(key.as_str()).is_some()))
        })
        && c.authority.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|n| n == writer.credential_key || n == writer.credential_name)
        })
}

const CONTEXT_ROLES: [&str; 4] = ["parent", "grouping", "category", "other"];

fn context_activity_holds(wanted: &ContextActivityCondition, context: &Value) -> bool {
    let roles: Vec<&str> = match &wanted.roles {
        Some(roles) => roles.iter().map(String::as_str).collect(),
        None => CONTEXT_ROLES.to_vec(),
    };
    roles
        .iter()
        .filter_map(|role| context["contextActivities"][*role].as_array())
        .flatten()
        .any(|activity| {
            let type_holds = wanted.types.as_ref().is_none_or(|types| {
                activity["definition"]["type"]
                    .as_str()
                    .is_some_and(|t| types.iter().any(|w| w == t))
            });
            let id_holds = wanted.id_prefix.as_ref().is_none_or(|prefixes| {
                activity["id"]
                    .as_str()
                    .is_some_and(|id| prefixes.iter().any(|p| id.starts_with(p.as_str())))
            });
            type_holds && id_holds
        })
}

/// The lower-cased host of an IRI such as `https://www.example.org:8443/a?b`.
pub fn host_of(iri: &str) -> Option<String> {
    let (_, rest) = iri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `host` is `wanted` or one of its subdomains.
pub fn host_is(host: &str, wanted: &str) -> bool {
    let wanted = wanted.to_ascii_lowercase();
    host == wanted
        || host
            .strip_suffix(wanted.as_str())
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests;
