//! `credentials` and `stores`: who may call the LRS, and for which tenant.

use std::collections::BTreeMap;

use clap::Subcommand;

use super::{with_database, DatabaseArgs};
use crate::auth::{parse_tag, Scope};
use crate::store::credentials;

#[derive(Debug, Subcommand)]
pub(super) enum CredentialsCommand {
    /// Create a credential and print its key and secret (shown only this once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "default")]
        store: String,
        /// xAPI scopes (repeatable); default `all`.
        #[arg(long = "scope", value_parser = |s: &str| s.parse::<Scope>())]
        scopes: Vec<Scope>,
        /// Free-form `key=value` tags (repeatable), e.g. source=lms.
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// Print `{"key":...,"secret":...}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List credentials (never their secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a credential by key.
    Revoke {
        // Keys may begin with `-`.
        #[arg(allow_hyphen_values = true)]
        key: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum StoresCommand {
    /// Create a store.
    Create {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List stores.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub(super) async fn credentials_command(command: CredentialsCommand) -> Result<(), String> {
    match command {
        CredentialsCommand::Create {
            name,
            store,
            scopes,
            tags,
            json,
            database,
        } => {
            let scopes = if scopes.is_empty() {
                vec![Scope::All]
            } else {
                scopes
            };
            let tags: BTreeMap<String, String> = tags.into_iter().collect();
            with_database(&database, |pool| async move {
                let secret = credentials::create(
                    &pool,
                    credentials::NewCredential {
                        name: &name,
                        store: &store,
                        scopes: &scopes,
                        tags: &tags,
                        fixed: None,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"key": secret.key, "secret": secret.secret})
                    );
                } else {
                    println!("key:    {}\nsecret: {}", secret.key, secret.secret);
                }
                Ok(())
            })
            .await
        }
        CredentialsCommand::List { json, database } => {
            with_database(&database, |pool| async move {
                let all = credentials::list(&pool).await.map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?
                    );
                } else {
                    for c in all {
                        let tags: Vec<String> =
                            c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        println!(
                            "{}\t{}\tstore={}\tscopes={}\ttags={}\t{}",
                            c.key,
                            c.name,
                            c.store,
                            c.scopes.join(","),
                            tags.join(","),
                            if c.revoked.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                        );
                    }
                }
                Ok(())
            })
            .await
        }
        CredentialsCommand::Revoke { key, database } => {
            with_database(&database, |pool| async move {
                if credentials::revoke(&pool, &key)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    println!("revoked {key}");
                    Ok(())
                } else {
                    Err(format!("no active credential with key '{key}'"))
                }
            })
            .await
        }
    }
}

pub(super) async fn stores_command(command: StoresCommand) -> Result<(), String> {
    match command {
        StoresCommand::Create { name, database } => {
            with_database(&database, |pool| async move {
                let id = credentials::create_store(&pool, &name)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("created store '{name}' (id {id})");
                Ok(())
            })
            .await
        }
        StoresCommand::List { json, database } => {
            with_database(&database, |pool| async move {
                let stores = credentials::list_stores(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&stores).map_err(|e| e.to_string())?
                    );
                } else {
                    for s in stores {
                        println!("{}\t{}\tcredentials={}", s.id, s.name, s.credentials);
                    }
                }
                Ok(())
            })
            .await
        }
    }
}
