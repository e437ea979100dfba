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
    let admin = connect(cluster, "postgres").await;
    // Each alone: neither may run inside the transaction a batch of statements is.
    for sql in [
        format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        format!("CREATE DATABASE {database}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
}
