//! `modes`, `roster` and `hosts`: the learning-mode rules and the data the reports use.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_database, DatabaseArgs};
use crate::modes::Ruleset;

#[derive(Debug, Subcommand)]
pub(super) enum HostsCommand {
    /// Refuse browser-captured Statements about HOST and its subdomains (403, nothing
    /// stored).
    Deny {
        host: String,
        #[arg(long, default_value = "default")]
        store: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Take HOST off the deny-list.
    Allow {
        host: String,
        #[arg(long, default_value = "default")]
        store: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the denied hosts.
    List {
        #[arg(long, default_value = "default")]
        store: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum RosterCommand {
    /// Replace a store's roster with a CSV file (columns learner, name, team, manager
    /// and optionally opt_out).
    Import {
        file: PathBuf,
        #[arg(long, default_value = "default")]
        store: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ModesCommand {
    /// Re-label every stored Statement with the current rules, in batches, with a
    /// progress bar. Resumes where an interrupted run of the same rules stopped; safe
    /// while the server runs (restart the server with the same --modes-config so new
    /// Statements get the same rules).
    Reclassify {
        /// Only this store (default: every store).
        #[arg(long)]
        store: Option<String>,
        /// Statements per transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: i64,
        /// Start over even if a run of these rules already finished.
        #[arg(long)]
        restart: bool,
        #[command(flatten)]
        rules: ModesArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub(super) struct ModesArgs {
    /// Learning-mode ruleset (TOML); the built-in default ruleset when unset.
    #[arg(long, env = "COMMONPLACE_MODES_CONFIG")]
    modes_config: Option<PathBuf>,
}

impl ModesArgs {
    pub(super) fn load(&self) -> Result<Ruleset, String> {
        Ruleset::load(self.modes_config.as_deref()).map_err(|e| e.to_string())
    }
}

pub(super) async fn modes_command(command: ModesCommand) -> Result<(), String> {
    match command {
        ModesCommand::Reclassify {
            store,
            batch_size,
            restart,
            rules,
            database,
        } => {
            let rules = rules.load()?;
            with_database(&database, |pool| async move {
                crate::reclassify::run(&pool, &rules, store.as_deref(), batch_size.max(1), restart)
                    .await
            })
            .await
        }
    }
}

pub(super) async fn hosts_command(command: HostsCommand) -> Result<(), String> {
    use crate::store::hosts;
    let (store, database) = match &command {
        HostsCommand::Deny {
            store, database, ..
        }
        | HostsCommand::Allow {
            store, database, ..
        }
        | HostsCommand::List { store, database } => (store.clone(), database.clone()),
    };
    let host = match &command {
        HostsCommand::Deny { host, .. } | HostsCommand::Allow { host, .. } => Some(
            crate::privacy::normalise_host(host)
                .ok_or_else(|| format!("'{host}' is not a host name (e.g. news.example.org)"))?,
        ),
        HostsCommand::List { .. } => None,
    };
    with_database(&database, |pool| async move {
        let store_id = super::store_id(&pool, &store).await?;
        match (command, host) {
            (HostsCommand::Deny { .. }, Some(host)) => {
                let added = hosts::deny(&pool, store_id, &host)
                    .await
                    .map_err(|e| e.to_string())?;
                let note = if added { "denied" } else { "already denied" };
                println!("store '{store}': {host} {note} (and its subdomains)");
            }
            (HostsCommand::Allow { .. }, Some(host)) => {
                if !hosts::allow(&pool, store_id, &host)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!("store '{store}' does not deny {host}"));
                }
                println!("store '{store}': {host} allowed");
            }
            _ => {
                for host in hosts::list(&pool, store_id)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    println!("{host}");
                }
            }
        }
        Ok(())
    })
    .await
}
