//! A deterministic, seeded stream of realistic Statements: learners taking courses
//! (registrations, course structure, scores, durations) and reading, watching and
//! sharing on the web. Shared by the benchmarks and tests so they measure the same
//! data.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

pub const LEARNERS: usize = 1_000;
const COURSES: usize = 50;
const MODULES_PER_COURSE: usize = 6;
const LESSONS_PER_MODULE: usize = 12;
const SITES: [&str; 10] = [
    "developer.mozilla.org",
    "en.wikipedia.org",
    "stackoverflow.com",
    "medium.com",
    "youtube.com",
    "hbr.org",
    "nngroup.com",
    "martinfowler.com",
    "arxiv.org",
    "podcasts.example.org",
];
const PAGES_PER_SITE: usize = 80;

const COURSE_VERBS: [&str; 10] = [
    "launched",
    "initialized",
    "progressed",
    "experienced",
    "attempted",
    "answered",
    "passed",
    "failed",
    "completed",
    "terminated",
];
const WEB_VERBS: [&str; 8] = [
    "read",
    "watched",
    "listened",
    "bookmarked",
    "shared",
    "commented",
    "liked",
    "posted",
];

/// A reproducible generator: the same seed yields the same Statements.
pub struct Workload {
    rng: StdRng,
    /// One open registration per learner and course, so course statements group.
    registrations: Vec<Uuid>,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        let mut rng = StdRng::seed_from_u64(seed);
        let registrations = (0..LEARNERS * COURSES)
            .map(|_| random_uuid(&mut rng))
            .collect();
        Workload { rng, registrations }
    }

    pub fn learner(index: usize) -> Value {
        json!({
            "objectType": "Agent",
            "name": format!("Learner {index}"),
            "mbox": format!("mailto:learner{index}@example.org")
        })
    }

    /// The next Statement: about 70 % course activity, 30 % web and social.
    pub fn statement(&mut self) -> Value {
        let learner = self.rng.gen_range(0..LEARNERS);
        let mut statement = if self.rng.gen_bool(0.7) {
            self.course_statement(learner)
        } else {
            self.web_statement(learner)
        };
        statement["id"] = json!(random_uuid(&mut self.rng).to_string());
        statement
    }

    pub fn batch(&mut self, size: usize) -> Vec<Value> {
        (0..size).map(|_| self.statement()).collect()
    }

    fn course_statement(&mut self, learner: usize) -> Value {
        let course = self.rng.gen_range(0..COURSES);
        let module = self.rng.gen_range(0..MODULES_PER_COURSE);
        let lesson = self.rng.gen_range(0..LESSONS_PER_MODULE);
        let verb = COURSE_VERBS[self.rng.gen_range(0..COURSE_VERBS.len())];
        let course_id = format!("https://lms.example.org/courses/{course}");
        let module_id = format!("{course_id}/modules/{module}");
        let is_assessment = lesson == 0;
        let object = if is_assessment {
            json!({
                "objectType": "Activity",
                "id": format!("{module_id}/assessment"),
                "definition": {
                    "name": {"en-US": format!("Module {module} check")},
                    "description": {"en-US": "Five questions on the module"},
                    "type": "http://adlnet.gov/expapi/activities/assessment",
                    "interactionType": "choice",
                    "correctResponsesPattern": ["b"],
                    "choices": [
                        {"id": "a", "description": {"en-US": "First option"}},
                        {"id": "b", "description": {"en-US": "Second option"}},
                        {"id": "c", "description": {"en-US": "Third option"}}
                    ]
                }
            })
        } else {
            json!({
                "objectType": "Activity",
                "id": format!("{module_id}/lessons/{lesson}"),
                "definition": {
                    "name": {"en-US": format!("Lesson {lesson} of module {module}")},
                    "description": {"en-US": "A lesson of the course, with text and a short video"},
                    "type": "http://adlnet.gov/expapi/activities/lesson"
                }
            })
        };
        let scaled: f64 = self.rng.gen_range(0.0..=1.0);
        json!({
            "actor": Self::learner(learner),
            "verb": {
                "id": format!("http://adlnet.gov/expapi/verbs/{verb}"),
                "display": {"en-US": verb}
            },
            "object": object,
            "result": {
                "score": {"scaled": (scaled * 100.0).round() / 100.0, "raw": (scaled * 50.0).round(), "min": 0, "max": 50},
                "success": scaled >= 0.6,
                "completion": verb == "completed" || verb == "passed",
                "duration": format!("PT{}M{}S", self.rng.gen_range(0..45), self.rng.gen_range(0..60))
            },
            "context": {
                "registration": self.registrations[learner * COURSES + course].to_string(),
                "contextActivities": {
                    "parent": [{"objectType": "Activity", "id": module_id}],
                    "grouping": [{"objectType": "Activity", "id": course_id}],
                    "category": [{"objectType": "Activity", "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}]
                },
                "platform": "Example LMS",
                "language": "en-US"
            },
            "timestamp": self.timestamp()
        })
    }

    fn web_statement(&mut self, learner: usize) -> Value {
        let site = SITES[self.rng.gen_range(0..SITES.len())];
        let page = self.rng.gen_range(0..PAGES_PER_SITE);
        let verb = WEB_VERBS[self.rng.gen_range(0..WEB_VERBS.len())];
        let mut statement = json!({
            "actor": Self::learner(learner),
            "verb": {
                "id": format!("https://w3id.org/xapi/dod-isd/verbs/{verb}"),
                "display": {"en-US": verb}
            },
            "object": {
                "objectType": "Activity",
                "id": format!("https://{site}/articles/{page}"),
                "definition": {
                    "name": {"en-US": format!("Article {page} on {site}")},
                    "type": "http://activitystrea.ms/schema/1.0/article",
                    "moreInfo": format!("https://{site}/articles/{page}")
                }
            },
            "context": {
                "platform": "Commonplace browser extension",
                "extensions": {"https://commonplace.dev/xapi/extensions/host": site}
            },
            "timestamp": self.timestamp()
        });
        if self.rng.gen_bool(0.3) {
            statement["result"] = json!({"duration": format!("PT{}S", self.rng.gen_range(5..900))});
        }
        statement
    }

    fn timestamp(&mut self) -> String {
        let day = self.rng.gen_range(1..=28);
        let hour = self.rng.gen_range(7..=20);
        let minute = self.rng.gen_range(0..60);
        format!("2026-10-{day:02}T{hour:02}:{minute:02}:00.000Z")
    }
}

/// A version-4 UUID drawn from the seeded generator (so runs repeat).
fn random_uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::{parse_statement, Version};

    #[test]
    fn the_same_seed_gives_the_same_statements() {
        assert_eq!(Workload::new(7).batch(20), Workload::new(7).batch(20));
        assert_ne!(Workload::new(7).batch(20), Workload::new(8).batch(20));
    }

    #[test]
    fn every_generated_statement_is_valid_under_both_versions() {
        let mut workload = Workload::new(1);
        for statement in workload.batch(500) {
            for version in [Version::V1_0_3, Version::V2_0_0] {
                parse_statement(statement.clone(), version, "statement")
                    .unwrap_or_else(|e| panic!("{e}: {statement}"));
            }
        }
    }

    #[test]
    fn the_mix_is_mostly_course_activity_and_about_a_kilobyte() {
        let statements = Workload::new(3).batch(2000);
        let course = statements
            .iter()
            .filter(|s| s["context"]["registration"].is_string())
            .count();
        let share = course as f64 / statements.len() as f64;
        assert!((0.65..0.75).contains(&share), "course share {share}");
        let bytes: usize = statements.iter().map(|s| s.to_string().len()).sum();
        let average = bytes / statements.len();
        assert!((600..1400).contains(&average), "average size {average}");
    }
}
