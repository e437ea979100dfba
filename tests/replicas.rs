//! Scale-out on PostgreSQL with real clusters on loopback: a primary with a streaming
//! standby (`pg_basebackup`), read replicas, failover to a promoted standby, and
//! PgBouncer in front of the primary.

#[path = "api/helpers.rs"]
mod helpers;
#[path = "reliability/load.rs"]
mod load;
#[path = "reliability/server.rs"]
mod server;

#[path = "replicas/cluster.rs"]
mod cluster;
#[path = "replicas/failover.rs"]
mod failover;
#[path = "replicas/pgbouncer.rs"]
mod pgbouncer;
#[path = "replicas/routing.rs"]
mod routing;

mod smoke {
    use crate::cluster::{PoolMode, Replicated, DATABASE};

    /// The harness itself: what the primary commits the standby replays, a paused
    /// standby shows nothing new until resumed, PgBouncer reaches the primary, and a
    /// promoted standby takes writes after the primary is killed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_standby_replays_pauses_and_takes_over() {
        let mut clusters = Replicated::start().await;
        let primary = clusters.primary.connect(DATABASE).await;
        primary
            .batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        clusters.wait_replayed().await;
        let count = |client: tokio_postgres::Client| async move {
            let row = client.query_one("SELECT count(*) FROM t", &[]).await;
            row.unwrap().get::<_, i64>(0)
        };
        assert_eq!(count(clusters.standby.connect(DATABASE).await).await, 1);

        clusters.standby.pause_replay().await;
        primary
            .batch_execute("INSERT INTO t VALUES (2)")
            .await
            .unwrap();
        assert!(clusters.replay_lag_bytes().await > 0);
        assert_eq!(count(clusters.standby.connect(DATABASE).await).await, 1);
        clusters.standby.resume_replay().await;
        clusters.wait_replayed().await;
        assert_eq!(count(clusters.standby.connect(DATABASE).await).await, 2);

        let bouncer = clusters.bouncer(PoolMode::Session);
        let pooled = crate::helpers::connect(&bouncer.url(DATABASE)).await;
        assert_eq!(count(pooled).await, 2, "{}", bouncer.log());

        clusters.make_synchronous().await;
        primary
            .batch_execute("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        clusters.primary.kill_9();
        assert!(primary.batch_execute("SELECT 1").await.is_err());
        clusters.standby.promote().await;
        let promoted = clusters.standby.connect(DATABASE).await;
        promoted
            .batch_execute("INSERT INTO t VALUES (4)")
            .await
            .unwrap();
        assert_eq!(count(promoted).await, 4, "a synchronous commit was lost");
    }
}
