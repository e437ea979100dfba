//! What one stored Statement contributes to the learning reports: who learned, on
//! which day and at what instant, what, where on the web, in which course, toward
//! which goal, and for how long they said it took. Pure: the learning feed
//! (`store::learning_feed`) computes it for every Statement it folds in.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::host_of;
use crate::xapi::ingest::ifi_of;
use crate::xapi::time::parse_timestamp;

/// The goal activity type of the Commonplace profile.
pub const GOAL_TYPE: &str = "https://commonplace.dev/xapi/activity-types/goal";
/// The context extension that links a Statement to a goal by its IRI.
pub const GOAL_EXTENSION: &str = "https://commonplace.dev/xapi/extensions/goal";
const COURSE_TYPE: &str = "http://adlnet.gov/expapi/activities/course";
const CONTEXT_ROLES: [&str; 4] = ["parent", "grouping", "category", "other"];

#[derive(Debug, Clone, PartialEq)]
pub struct LearningEvent {
    /// The actor's IFI, as the LRS writes IFIs (`mbox:mailto:…`).
    pub learner: String,
    /// The calendar day written in the timestamp (the sender's own day under 1.0.3),
    /// else the day it was stored (UTC).
    pub day: NaiveDate,
    /// The timestamp's instant, else when it was stored.
    pub at: DateTime<Utc>,
    pub verb: String,
    /// The object's id when the object is an Activity.
    pub activity: Option<String>,
    pub activity_type: Option<String>,
    /// The lower-cased web host of the object Activity.
    pub host: Option<String>,
    /// The object when it is typed course, else the first grouping, else the first
    /// parent context Activity, else the object.
    pub course: Option<String>,
    /// `context.team` by name, else by IFI.
    pub team: Option<String>,
    /// The goal extension's value, else the id of a goal-typed context Activity.
    pub goal: Option<String>,
    /// `result.duration` in seconds.
    pub seconds: Option<f64>,
    /// `context.registration`.
    pub registration: Option<Uuid>,
}

impl LearningEvent {
    /// The event of a stored Statement; `None` when its actor has no IFI (an
    /// anonymous Group), so there is no learner to credit.
    pub fn of(body: &Value, stored: DateTime<Utc>) -> Option<LearningEvent> {
        let learner = ifi_of(body.get("actor")?)?.into_string();
        let timestamp = body.get("timestamp").and_then(Value::as_str);
        let object = body.get("object");
        let is_activity = object
            .and_then(|o| o.get("objectType"))
            .and_then(Value::as_str)
            .is_none_or(|t| t == "Activity");
        let activity = object
            .filter(|_| is_activity)
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(String::from);
        let activity_type = object
            .filter(|_| is_activity)
            .and_then(|o| o.pointer("/definition/type"))
            .and_then(Value::as_str)
            .map(String::from);
        let context = body.get("context");
        let first_context_activity = |role: &str| {
            context_activities(context, role)
                .next()
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let course = if activity_type.as_deref() == Some(COURSE_TYPE) {
            activity.clone()
        } else {
            first_context_activity("grouping")
                .or_else(|| first_context_activity("parent"))
                .or_else(|| activity.clone())
        };
        Some(LearningEvent {
            learner,
            day: timestamp
                .and_then(written_day)
                .unwrap_or_else(|| stored.date_naive()),
            at: timestamp
                .and_then(parse_timestamp)
                .map_or(stored, |t| t.instant),
            verb: body
                .pointer("/verb/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            host: activity
                .as_deref()
                .and_then(host_of)
                .map(|h| h.trim_end_matches('.').to_string())
                .filter(|h| !h.is_empty()),
            activity,
            activity_type,
            course,
            team: context.and_then(|c| c.get("team")).and_then(|team| {
                team.get("name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .or_else(|| ifi_of(team).map(|ifi| ifi.into_string()))
            }),
            goal: goal_of(context),
            registration: context
                .and_then(|c| c.get("registration"))
                .and_then(Value::as_str)
                .and_then(|r| Uuid::parse_str(r).ok()),
            seconds: body
                .pointer("/result/duration")
                .and_then(Value::as_str)
                .and_then(duration_seconds),
        })
    }
}

/// The context Activities of one role, sent as an array or (1.0.3) a single object.
fn context_activities<'a>(
    context: Option<&'a Value>,
    role: &str,
) -> impl Iterator<Item = &'a Value> {
    let found = context.and_then(|c| c.pointer(&format!("/contextActivities/{role}")));
    let (many, one) = match found {
        Some(Value::Array(items)) => (Some(items.iter()), None),
        Some(single @ Value::Object(_)) => (None, Some(single)),
        _ => (None, None),
    };
    many.into_iter().flatten().chain(one)
}

fn goal_of(context: Option<&Value>) -> Option<String> {
    let linked = context
        .and_then(|c| c.get("extensions"))
        .and_then(|e| e.get(GOAL_EXTENSION))
        .and_then(Value::as_str);
    if let Some(goal) = linked {
        return Some(goal.to_string());
    }
    CONTEXT_ROLES
        .iter()
        .flat_map(|role| context_activities(context, role))
        .find(|a| a.pointer("/definition/type").and_then(Value::as_str) == Some(GOAL_TYPE))
        .and_then(|a| a.get("id"))
        .and_then(Value::as_str)
        .map(String::from)
}

/// The date a timestamp is written in (`2026-03-02T23:30:00-05:00` → 2026-03-02).
fn written_day(timestamp: &str) -> Option<NaiveDate> {
    let date = timestamp.get(..10)?;
    matches!(timestamp.as_bytes().get(10), Some(b'T' | b't' | b' '))
        .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .flatten()
}

/// An ISO 8601 duration in seconds, years counted as 365 days and months as 30;
/// `None` unless it has the designator form (`P1DT2H`, `PT1.5S`, `P2W`).
pub fn duration_seconds(text: &str) -> Option<f64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let date_units = [
        ('Y', 31_536_000.0),
        ('M', 2_592_000.0),
        ('W', 604_800.0),
        ('D', 86_400.0),
    ];
    let time_units = [('H', 3_600.0), ('M', 60.0), ('S', 1.0)];
    let total = designators(date, &date_units)?
        + time.map_or(Some(0.0), |t| designators(t, &time_units))?;
    (!rest.is_empty()).then_some(total)
}

/// Sums `number unit` pairs whose units appear in `units`' order, each at most once.
fn designators(mut text: &str, units: &[(char, f64)]) -> Option<f64> {
    let mut total = 0.0;
    let mut next_unit = 0;
    while !text.is_empty() {
        let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
        let (number, rest) = text.split_at(end);
        let unit = rest.chars().next()?;
        let position = units[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        let valid = !number.is_empty()
            && number.starts_with(|c: char| c.is_ascii_digit())
            && number.matches(['.', ',']).count() <= 1
            && !number.ends_with(['.', ',']);
        if !valid {
            return None;
        }
        total += number.replace(',', ".").parse::<f64>().ok()? * units[position].1;
        next_unit = position + 1;
        text = &rest[unit.len_utf8()..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> DateTime<Utc> {
        "2026-03-09T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn durations_in_seconds() {
        assert_eq!(duration_seconds("PT10M"), Some(600.0));
        assert_eq!(duration_seconds("PT1M30S"), Some(90.0));
        assert_eq!(duration_seconds("P1DT1H"), Some(90_000.0));
        assert_eq!(duration_seconds("P1Y2M"), Some(31_536_000.0 + 5_184_000.0));
        assert_eq!(duration_seconds("P2W"), Some(1_209_600.0));
        assert_eq!(duration_seconds("PT1,5S"), Some(1.5));
        assert_eq!(duration_seconds("PT0.25H"), Some(900.0));
        for bad in [
            "", "P", "PT", "T1H", "P1H", "PT1S1M", "PT1.S", "PT.5S", "PT1..2S", "P1DT",
        ] {
            assert_eq!(duration_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_event_of_a_course_statement() {
        let body = json!({
            "actor": {"mbox": "mailto:ada@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "https://LMS.example.org./lesson/1"},
            "context": {"contextActivities": {
                "parent": [{"id": "https://lms.example.org/module/1"}],
                "grouping": [{"id": "https://lms.example.org/course/1"}],
                "other": {"id": "https://example.org/goals/sql",
                          "definition": {"type": GOAL_TYPE}}},
                "team": {"objectType": "Group", "mbox": "mailto:ops@example.org"},
                "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7"},
            "result": {"duration": "PT20M"},
            "timestamp": "2026-03-02T23:30:00-05:00",
        });
        let event = LearningEvent::of(&body, stored()).unwrap();
        assert_eq!(event.learner, "mbox:mailto:ada@example.org");
        assert_eq!(event.day, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(
            event.at,
            "2026-03-03T04:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(event.host.as_deref(), Some("lms.example.org"));
        assert_eq!(
            event.course.as_deref(),
            Some("https://lms.example.org/course/1")
        );
        assert_eq!(event.goal.as_deref(), Some("https://example.org/goals/sql"));
        assert_eq!(event.team.as_deref(), Some("mbox:mailto:ops@example.org"));
        assert_eq!(event.seconds, Some(1200.0));
        assert_eq!(
            event.registration,
            Some(Uuid::parse_str("ec531277-b57b-4c15-8d91-d292c5b2b8f7").unwrap())
        );
    }

    #[test]
    fn a_course_object_is_its_own_course_and_the_goal_extension_wins() {
        let body = json!({
            "actor": {"account": {"homePage": "https://id.example.org", "name": "7"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": "urn:course:1", "definition": {"type": COURSE_TYPE}},
            "context": {"extensions": {GOAL_EXTENSION: "https://example.org/goals/a"},
                        "contextActivities": {"grouping": [{"id": "urn:programme"}]},
                        "team": {"objectType": "Group", "name": "Ops", "member": []}},
        });
        let event = LearningEvent::of(&body, stored()).unwrap();
        assert_eq!(event.learner, "account:https://id.example.org|7");
        assert_eq!(event.course.as_deref(), Some("urn:course:1"));
        assert_eq!(event.goal.as_deref(), Some("https://example.org/goals/a"));
        assert_eq!(event.team.as_deref(), Some("Ops"));
        assert_eq!(event.host, None);
        assert_eq!(
            event.day,
            stored().date_naive(),
            "no timestamp: the stored day"
        );
        assert_eq!(event.seconds, None);
    }

    #[test]
    fn an_anonymous_group_and_a_statement_about_an_agent() {
        let anonymous = json!({"actor": {"objectType": "Group", "member": []},
                               "verb": {"id": "v"}, "object": {"id": "urn:x"}});
        assert_eq!(LearningEvent::of(&anonymous, stored()), None);
        let about_agent = json!({"actor": {"mbox": "mailto:a@example.org"},
                                 "verb": {"id": "v"},
                                 "object": {"objectType": "Agent", "mbox": "mailto:b@example.org"}});
        let event = LearningEvent::of(&about_agent, stored()).unwrap();
        assert_eq!(
            (event.activity, event.course, event.host),
            (None, None, None)
        );
    }
}
