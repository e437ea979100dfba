//! A bench's databases in its embedded PostgreSQL cluster. Shared by the bench binaries
//! (`#[path]`).

use commonplace::store::embedded::Cluster;
use tokio_postgres::NoTls;

/// The URL the server is given for `database` (over the cluster's socket).
pub fn database_url(cluster: &Cluster, database: &str) -> String {
    format!(
        "host={} user=commonplace dbname={database}",
        cluster.socket_dir().display()
    )
}

pub async fn connect(cluster: &Cluster, database: &str) -> tokio_postgres::Client {
    let (client, connection) = cluster
        .config(database)
        .connect(NoTls)
        .await
        .expect("connect to the bench cluster");
    tokio::spawn(connection);
    client
}

/// Drops `database` (whoever is connected) and creates it empty.
pub async fn recreate(cluster: &Cluster, database: &str) {
    drop_database(cluster, database).await;
    // Alone: CREATE DATABASE may not run inside the transaction a batch of statements is.
    connect(cluster, "postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
}

/// Drops `database`, whoever is connected, if it is there.
pub async fn drop_database(cluster: &Cluster, database: &str) {
    connect(cluster, "postgres")
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await
        .unwrap();
}

/// Brings a database to rest before a measurement: its new rows vacuumed and every
/// dirty page written, so the measurement pays neither for the writes before it nor
/// for an autovacuum of them. PostgreSQL starts one on a table once a fifth of its rows
/// are new, and a checkpoint every `max_wal_size` of WAL, each in whichever
/// measurement it happens to fall.
pub async fn settle(client: &tokio_postgres::Client) {
    // Alone: VACUUM may not run inside the transaction a batch of statements is.
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    client.batch_execute("CHECKPOINT").await.unwrap();
}
