//! The per-forwarder series of `/metrics`, read from the database when scraped.

use commonplace::workload::Workload;

use super::{ok, post, NOWHERE};
use crate::helpers::{metric_sample, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_carry_each_forwarders_figures_as_the_database_holds_them() {
    let app = spawn_app().await;
    post(&app, &Workload::new(5).batch(4)).await;
    for (name, extra) in [("behind", &["--from-start"][..]), ("idle", &[])] {
        ok(
            &app,
            &[
                &["create", "--name", name][..],
                &["--kind", "xapi", "--endpoint", NOWHERE],
                extra,
            ]
            .concat(),
        )
        .await;
    }
    ok(&app, &["pause", "idle"]).await;

    let text = app.metrics_text().await;
    let sample = |series: &str, name: &str| {
        let line = format!("commonplace_forwarder_{series}{{forwarder=\"{name}\"}}");
        assert!(
            text.contains(&format!("{line} ")),
            "{line} missing:\n{text}"
        );
        metric_sample(&text, &line)
    };
    assert_eq!(sample("active", "behind"), 1.0);
    assert_eq!(sample("active", "idle"), 0.0);
    assert_eq!(sample("lag_statements", "behind"), 4.0);
    assert_eq!(sample("lag_statements", "idle"), 0.0);
    assert!(sample("lag_seconds", "behind") > 0.0);
    assert_eq!(sample("lag_seconds", "idle"), 0.0);
    for name in ["behind", "idle"] {
        assert_eq!(sample("delivered_total", name), 0.0);
        assert_eq!(sample("dead_lettered_total", name), 0.0);
        sample("failed_total", name);
    }
    assert!(text.contains("# TYPE commonplace_forwarder_delivered_total counter"));
    assert!(text.contains("# TYPE commonplace_forwarder_lag_seconds gauge"));

    // The database is the truth: what changed there shows at the next scrape.
    ok(&app, &["delete", "idle"]).await;
    let text = app.metrics_text().await;
    assert!(!text.contains("forwarder=\"idle\""), "{text}");
    assert!(text.contains("commonplace_forwarder_active{forwarder=\"behind\"} 1"));
}
