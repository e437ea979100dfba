//! What the store indexes about a Statement: every Agent and Activity with the role it
//! plays, so `agent`/`activity` filters and their `related_*` variants are simple lookups.

use serde_json::Value;

use super::activity::ActivityRef;
use super::agent::Agent;
use super::ifi::Ifi;

/// Where an Agent or Group appears. Codes are stable: they are stored in a smallint column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentRole {
    Actor,
    Object,
    Authority,
    Instructor,
    Team,
    ContextAgent,
    ContextGroup,
    /// A member of the Group that is the actor: the plain `agent` filter matches it
    /// (Communication §2.1.3: Groups whose members match count as a match).
    ActorMember,
    /// A member of the Group that is the object.
    ObjectMember,
    /// A member of a Group in any other position (context, authority, SubStatement).
    OtherMember,
    SubActor,
    SubObject,
    SubInstructor,
    SubTeam,
    SubContextAgent,
    SubContextGroup,
}

const AGENT_ROLES: [AgentRole; 16] = [
    AgentRole::Actor,
    AgentRole::Object,
    AgentRole::Authority,
    AgentRole::Instructor,
    AgentRole::Team,
    AgentRole::ContextAgent,
    AgentRole::ContextGroup,
    AgentRole::ActorMember,
    AgentRole::ObjectMember,
    AgentRole::OtherMember,
    AgentRole::SubActor,
    AgentRole::SubObject,
    AgentRole::SubInstructor,
    AgentRole::SubTeam,
    AgentRole::SubContextAgent,
    AgentRole::SubContextGroup,
];

impl AgentRole {
    /// The stable smallint code (1-based, in declaration order).
    pub fn as_i16(self) -> i16 {
        AGENT_ROLES
            .iter()
            .position(|r| *r == self)
            .map_or(0, |i| i as i16 + 1)
    }

    pub fn from_i16(code: i16) -> Option<AgentRole> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|i| AGENT_ROLES.get(i).copied())
    }

    /// Whether the plain `agent` filter (no `related_agents`) matches this role: the
    /// actor or object, including members of a Group there. `related_agents=true`
    /// matches every role.
    pub fn counts_for_agent_filter(self) -> bool {
        matches!(
            self,
            AgentRole::Actor | AgentRole::Object | AgentRole::ActorMember | AgentRole::ObjectMember
        )
    }

    /// The same role inside a SubStatement.
    pub fn in_substatement(self) -> AgentRole {
        match self {
            AgentRole::Actor => AgentRole::SubActor,
            AgentRole::Object => AgentRole::SubObject,
            AgentRole::Instructor => AgentRole::SubInstructor,
            AgentRole::Team => AgentRole::SubTeam,
            AgentRole::ContextAgent => AgentRole::SubContextAgent,
            AgentRole::ContextGroup => AgentRole::SubContextGroup,
            AgentRole::ActorMember | AgentRole::ObjectMember => AgentRole::OtherMember,
            other => other,
        }
    }

    fn member_role(self) -> AgentRole {
        match self {
            AgentRole::Actor => AgentRole::ActorMember,
            AgentRole::Object => AgentRole::ObjectMember,
            _ => AgentRole::OtherMember,
        }
    }
}

/// Where an Activity appears. Codes are stable (smallint column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActivityRole {
    Object,
    Parent,
    Grouping,
    Category,
    Other,
    SubObject,
    SubParent,
    SubGrouping,
    SubCategory,
    SubOther,
}

const ACTIVITY_ROLES: [ActivityRole; 10] = [
    ActivityRole::Object,
    ActivityRole::Parent,
    ActivityRole::Grouping,
    ActivityRole::Category,
    ActivityRole::Other,
    ActivityRole::SubObject,
    ActivityRole::SubParent,
    ActivityRole::SubGrouping,
    ActivityRole::SubCategory,
    ActivityRole::SubOther,
];

impl ActivityRole {
    /// The stable smallint code (1-based, in declaration order).
    pub fn as_i16(self) -> i16 {
        ACTIVITY_ROLES
            .iter()
            .position(|r| *r == self)
            .map_or(0, |i| i as i16 + 1)
    }

    pub fn from_i16(code: i16) -> Option<ActivityRole> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|i| ACTIVITY_ROLES.get(i).copied())
    }

    /// Whether the plain `activity` filter matches this role (the object only);
    /// `related_activities=true` matches every role.
    pub fn counts_for_activity_filter(self) -> bool {
        self == ActivityRole::Object
    }

    /// The role of a `contextActivities` key.
    pub fn for_context_key(key: &str) -> Option<ActivityRole> {
        Some(match key {
            "parent" => ActivityRole::Parent,
            "grouping" => ActivityRole::Grouping,
            "category" => ActivityRole::Category,
            "other" => ActivityRole::Other,
            _ => return None,
        })
    }

    pub fn in_substatement(self) -> ActivityRole {
        match self {
            ActivityRole::Object => ActivityRole::SubObject,
            ActivityRole::Parent => ActivityRole::SubParent,
            ActivityRole::Grouping => ActivityRole::SubGrouping,
            ActivityRole::Category => ActivityRole::SubCategory,
            ActivityRole::Other => ActivityRole::SubOther,
            other => other,
        }
    }
}

/// Collects index rows while a Statement is validated.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    pub agents: Vec<(Ifi, AgentRole)>,
    pub activities: Vec<(String, ActivityRole)>,
    pub activity_definitions: Vec<(String, Value)>,
    pub agents_seen: Vec<Value>,
    /// Set while validating a SubStatement, so roles get their `Sub*` form.
    pub in_substatement: bool,
}

impl IndexBuilder {
    /// Records a validated Agent or Group found as `value` in `role`.
    pub fn record_agent(&mut self, value: &Value, agent: Agent, role: AgentRole) {
        let role = if self.in_substatement {
            role.in_substatement()
        } else {
            role
        };
        if let Some(ifi) = agent.ifi {
            self.agents.push((ifi, role));
        }
        let member_role = if self.in_substatement {
            AgentRole::OtherMember
        } else {
            role.member_role()
        };
        self.agents
            .extend(agent.members.into_iter().map(|ifi| (ifi, member_role)));
        if agent.is_group {
            if let Some(members) = value.get("member").and_then(Value::as_array) {
                self.agents_seen.extend(members.iter().cloned());
            }
        } else {
            self.agents_seen.push(value.clone());
        }
    }

    pub fn record_activity(&mut self, activity: ActivityRef, role: ActivityRole) {
        let role = if self.in_substatement {
            role.in_substatement()
        } else {
            role
        };
        self.activities.push((activity.id.to_string(), role));
        // An empty definition (`{}`, valid: every property is optional) has nothing
        // for the canonical definition to take.
        if let Some(definition) = activity
            .definition
            .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()))
        {
            self.activity_definitions
                .push((activity.id.to_string(), definition.clone()));
        }
    }

    /// Drops repeated (identifier, role) pairs; definitions and seen agents keep their order.
    pub fn dedup(&mut self) {
        self.agents.sort();
        self.agents.dedup();
        self.activities.sort();
        self.activities.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_codes_are_stable_and_round_trip() {
        assert_eq!(AgentRole::Actor.as_i16(), 1);
        assert_eq!(AgentRole::SubContextGroup.as_i16(), 16);
        assert_eq!(ActivityRole::Object.as_i16(), 1);
        assert_eq!(ActivityRole::SubOther.as_i16(), 10);
        for role in AGENT_ROLES {
            assert_eq!(AgentRole::from_i16(role.as_i16()), Some(role));
        }
        for role in ACTIVITY_ROLES {
            assert_eq!(ActivityRole::from_i16(role.as_i16()), Some(role));
        }
        assert_eq!(AgentRole::from_i16(0), None);
        assert_eq!(AgentRole::from_i16(17), None);
        assert_eq!(ActivityRole::from_i16(-1), None);
    }

    #[test]
    fn plain_filters_match_only_actor_and_object() {
        let plain: Vec<AgentRole> = AGENT_ROLES
            .into_iter()
            .filter(|r| r.counts_for_agent_filter())
            .collect();
        assert_eq!(
            plain,
            [
                AgentRole::Actor,
                AgentRole::Object,
                AgentRole::ActorMember,
                AgentRole::ObjectMember
            ]
        );
        // Migration 0009 pairs these codes with verbs.
        assert_eq!(super::super::ingest::agent_kinds(false), [1, 2, 8, 9]);
        assert!(ActivityRole::Object.counts_for_activity_filter());
        assert!(!ActivityRole::Parent.counts_for_activity_filter());
        assert!(!ActivityRole::SubObject.counts_for_activity_filter());
    }

    #[test]
    fn builder_records_members_and_substatement_roles() {
        let mut builder = IndexBuilder::default();
        let group = json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.org"}]});
        let agent = Agent {
            is_group: true,
            ifi: None,
            members: vec![Ifi::mbox("mailto:a@b.org")],
        };
        builder.record_agent(&group, agent.clone(), AgentRole::Actor);
        builder.in_substatement = true;
        builder.record_agent(&group, agent, AgentRole::Actor);
        builder.dedup();
        assert_eq!(
            builder.agents,
            [
                (Ifi::mbox("mailto:a@b.org"), AgentRole::ActorMember),
                (Ifi::mbox("mailto:a@b.org"), AgentRole::OtherMember)
            ]
        );
        assert_eq!(builder.agents_seen.len(), 2);
    }
}
