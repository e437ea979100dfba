//! The capture policy: what the extension must respect before it sends anything. The
//! server enforces the deny-list itself too (`privacy`); dwell and site-only are
//! settings the extension applies while it measures.

use serde_json::{json, Value};

/// Seconds without input after which the extension stops counting (`chrome.idle`).
pub const IDLE_SECONDS: u32 = 60;

/// A store's capture settings (`commonplace capture policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A visit counts only after this many seconds of active reading.
    pub minimum_dwell_seconds: i32,
    /// Record only the site (origin) of a page, never its path.
    pub site_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            minimum_dwell_seconds: 30,
            site_only: false,
        }
    }
}

/// The learner's roster team as an identified Group for `context.team`: named as the
/// roster names it (which is how the reports group by team), with an account at this
/// LRS so that it has an IFI.
pub fn team_group(public_base: &str, team: &str) -> Value {
    json!({
        "objectType": "Group",
        "name": team,
        "account": {
            "homePage": format!("{}/teams", public_base.trim_end_matches('/')),
            "name": team,
        },
    })
}

/// `GET /capture/policy`.
pub struct Answer<'a> {
    pub denied_hosts: &'a [String],
    pub settings: Settings,
    pub name: Option<&'a str>,
    pub team: Option<Value>,
    pub actor: Value,
}

impl Answer<'_> {
    pub fn to_json(&self) -> Value {
        json!({
            "deniedHosts": self.denied_hosts,
            "minimumDwellSeconds": self.settings.minimum_dwell_seconds,
            "siteOnly": self.settings.site_only,
            "name": self.name,
            "team": self.team,
            "actor": self.actor,
            "idleSeconds": IDLE_SECONDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_has_the_agreed_fields() {
        let hosts = vec!["mail.example.org".to_string()];
        let answer = Answer {
            denied_hosts: &hosts,
            settings: Settings::default(),
            name: Some("Ada"),
            team: Some(team_group("http://lrs.example.org/", "Design")),
            actor: json!({"objectType": "Agent", "mbox": "mailto:ada@example.org"}),
        }
        .to_json();
        assert_eq!(answer["deniedHosts"], json!(["mail.example.org"]));
        assert_eq!(answer["minimumDwellSeconds"], 30);
        assert_eq!(answer["siteOnly"], false);
        assert_eq!(answer["idleSeconds"], 60);
        assert_eq!(
            answer["team"]["account"],
            json!({"homePage": "http://lrs.example.org/teams", "name": "Design"})
        );
    }
}
