//! Bad parameters of the insight reports are refused with 400 and a message that
//! starts with the parameter's name.

use super::get;
use crate::helpers::{error_of, spawn_app_with};

#[tokio::test]
async fn bad_parameters_are_refused_by_name() {
    let app = spawn_app_with(|_| {}).await;
    for (path, parameter) in [
        ("/reports/goals?weeks=0", "weeks"),
        ("/reports/goals?weeks=many", "weeks"),
        ("/reports/goals?top=3", "top"),
        ("/reports/goals?since=yesterday", "since"),
        ("/reports/sharing?top=0", "top"),
        ("/reports/sharing?format=xml", "format"),
        ("/reports/concierge/stale-goals?weeks=105", "weeks"),
        ("/reports/concierge/stale-goals?until=2026-13-01", "until"),
        ("/reports/concierge/colleagues", "learner"),
        ("/reports/concierge/colleagues?learner=ada", "learner"),
        (
            "/reports/concierge/colleagues?learner=%7B%22name%22%3A%22ada%22%7D",
            "learner",
        ),
        (
            "/reports/concierge/colleagues?learner=mailto:ada@example.org&goal=g",
            "learner",
        ),
        ("/reports/concierge/colleagues?goal=", "goal"),
        ("/reports/concierge/colleagues?goal=g&top=101", "top"),
        ("/reports/concierge/unfinished?weeks=2", "weeks"),
        ("/reports/concierge/unfinished?limit=0", "limit"),
        ("/reports/concierge/unfinished?limit=100001", "limit"),
        (
            "/reports/concierge/unfinished?since=2026-03-09&until=2026-03-01",
            "since",
        ),
    ] {
        let (status, code, message) = error_of(get(&app, path).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{path}"
        );
        assert!(
            message.starts_with(&format!("{parameter}:")),
            "{path}: {message}"
        );
    }
}
