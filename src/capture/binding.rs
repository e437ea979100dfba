//! The rules of a credential bound to one learner (enrolled browser capture): it
//! writes only as that learner (or one of their roster aliases), voids only what it
//! wrote, and keeps documents of that learner's agent only.

use crate::xapi::ifi::Ifi;
use crate::xapi::index::AgentRole;
use crate::xapi::statement::ParsedStatement;

/// The learner a credential is bound to, and the other IFIs the roster gives them.
/// IFIs as the LRS writes them (`mbox:mailto:…`, `account:HOMEPAGE|NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub learner: String,
    pub aliases: Vec<String>,
}

impl Binding {
    /// Whether `ifi` is this learner.
    pub fn covers(&self, ifi: &str) -> bool {
        self.learner == ifi || self.aliases.iter().any(|a| a == ifi)
    }

    /// The first Statement of the batch whose actor is someone else, with who that is
    /// (`None`: an anonymous Group, which is nobody's, so someone else too). A Group
    /// named with the learner's IFI is someone else when a member is: the plain `agent`
    /// filter finds a Statement by the members of its actor.
    pub fn foreign_actor<'a>(
        &self,
        batch: &'a [ParsedStatement],
    ) -> Option<(usize, Option<&'a Ifi>)> {
        batch.iter().enumerate().find_map(|(index, statement)| {
            let Some(actor) = &statement.actor else {
                return Some((index, None));
            };
            let member = |(ifi, role): &'a (Ifi, AgentRole)| {
                (*role == AgentRole::ActorMember && !self.covers(ifi.as_str())).then_some(ifi)
            };
            let foreign = match self.covers(actor.as_str()) {
                false => Some(actor),
                true => statement.agents.iter().find_map(member),
            };
            foreign.map(|ifi| (index, Some(ifi)))
        })
    }
}

/// The JSON path of a Statement in a request: `statement` for one sent alone,
/// `statement[i]` for one of an array.
pub fn statement_path(index: usize, sent_as_array: bool) -> String {
    if sent_as_array {
        format!("statement[{index}]")
    } else {
        "statement".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::statement::parse_statements;
    use crate::xapi::Version;
    use serde_json::json;

    fn batch(actors: &[serde_json::Value]) -> Vec<ParsedStatement> {
        let statements: Vec<_> = actors
            .iter()
            .map(|actor| {
                json!({"actor": actor, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                       "object": {"id": "https://example.org/page"}})
            })
            .collect();
        parse_statements(json!(statements), Version::V2_0_0).unwrap()
    }

    #[test]
    fn the_learner_and_their_aliases_may_write_nobody_else() {
        let binding = Binding {
            learner: "mbox:mailto:ada@example.org".into(),
            aliases: vec!["account:https://hr.example.org|77".into()],
        };
        let ada = json!({"mbox": "mailto:ada@example.org"});
        let alias = json!({"account": {"homePage": "https://hr.example.org", "name": "77"}});
        let bob = json!({"mbox": "mailto:bob@example.org"});
        let foreign = |actors: &[serde_json::Value]| {
            binding
                .foreign_actor(&batch(actors))
                .map(|(index, ifi)| (index, ifi.map(|i| i.as_str().to_string())))
        };
        assert_eq!(foreign(&[ada.clone(), alias.clone()]), None);
        let bob_ifi = Some("mbox:mailto:bob@example.org".to_string());
        assert_eq!(
            foreign(&[ada.clone(), bob.clone()]),
            Some((1, bob_ifi.clone()))
        );
        let anonymous =
            json!({"objectType": "Group", "member": [{"mbox": "mailto:ada@example.org"}]});
        assert_eq!(foreign(&[anonymous]), Some((0, None)));
        // A Group under the learner's IFI: its members must be the learner too.
        let group = |members: &[&serde_json::Value]| json!({"objectType": "Group", "mbox": "mailto:ada@example.org", "member": members});
        assert_eq!(foreign(&[group(&[&ada, &alias])]), None);
        assert_eq!(
            foreign(&[ada.clone(), group(&[&ada, &bob])]),
            Some((1, bob_ifi))
        );
        assert_eq!(statement_path(0, true), "statement[0]");
        assert_eq!(statement_path(0, false), "statement");
    }
}
