//! `forwarders`: send a store's Statements on to another LRS or a webhook
//! (`crate::forwarding` delivers them; this is the management plane). Secrets go into
//! the database and never come back out: no command prints them, no error names them.
//!
//! `input` turns the flags into what the database keeps (and refuses what does not
//! fit); `output` prints forwarders as tables or JSON.

mod input;
mod output;

use chrono::{DateTime, Utc};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgGroup, ArgMatches, Args, CommandFactory, Subcommand, ValueEnum};
use serde_json::json;

use super::{with_database, Cli, DatabaseArgs};
use crate::auth::parse_tag;
use crate::forwarding::filter::Filter;
use crate::store::forwarders::{self, NewForwarder, Replayed};
use crate::telemetry::LogFormat;
use input::{
    filter, parse_actor, parse_iri, parse_mode, parse_name, parse_non_empty, parse_time,
    parse_username, target, UrlParser,
};
use output::{as_object, print_dead_letters, print_details, print_json, print_table};

#[derive(Debug, Subcommand)]
pub(super) enum ForwardersCommand {
    /// Create a forwarder: an xAPI LRS (--kind xapi --endpoint URL) or a webhook
    /// (--kind webhook --url URL --secret SECRET) that receives the store's Statements
    /// matching the filters, from now on (or, with --from-start, all of them).
    // Boxed: its flags outweigh every other subcommand's.
    Create(Box<CreateArgs>),
    /// List forwarders with their figures (never their secrets).
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show a forwarder with its figures and its dead letters.
    Show(NamedArgs),
    /// Stop delivering (the position stays; lag builds up).
    Pause(NamedArgs),
    /// Deliver again from where it stopped.
    Resume(NamedArgs),
    /// Delete a forwarder with its dead letters.
    Delete(NamedArgs),
    /// Send again: the dead letters (--dead-letters), or everything stored after a
    /// time (--since).
    #[command(group(ArgGroup::new("what").required(true).args(["dead_letters", "since"])))]
    Replay {
        name: String,
        /// Send the dead letters again (each is removed once delivered).
        #[arg(long)]
        dead_letters: bool,
        /// Move the position back to just before the first Statement stored after this
        /// time (RFC 3339, e.g. 2026-12-01T09:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<DateTime<Utc>>,
        /// Print the forwarder and what was replayed as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// The forwarder a command acts on, and how the result is printed.
#[derive(Debug, Args)]
pub(super) struct NamedArgs {
    name: String,
    /// Print the forwarder as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Another xAPI LRS: POST {endpoint}/statements.
    Xapi,
    /// A webhook: POST of a signed JSON batch.
    Webhook,
}

/// No `Debug` derived: it holds secrets (its `Debug` names the forwarder only).
#[derive(Args)]
pub(super) struct CreateArgs {
    /// Unique across the LRS: letters, digits, '.', '_' and '-' (the `forwarder` label
    /// of its metrics).
    #[arg(long, value_parser = parse_name)]
    name: String,
    #[arg(long, value_enum)]
    kind: Kind,
    /// xapi: the target's xAPI endpoint (http:// or https://); Statements are POSTed to
    /// ENDPOINT/statements.
    #[arg(long, value_parser = UrlParser::ENDPOINT, required_if_eq("kind", "xapi"))]
    endpoint: Option<String>,
    /// xapi: HTTP Basic user (key) at the target. Keys and secrets may begin with `-`.
    #[arg(long, value_parser = parse_username, allow_hyphen_values = true)]
    username: Option<String>,
    /// xapi: HTTP Basic password (secret) at the target; never printed.
    #[arg(
        long,
        env = "COMMONPLACE_FORWARDER_PASSWORD",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_parser = parse_non_empty
    )]
    password: Option<String>,
    /// xapi: the target's OAuth 2.0 token endpoint (client-credentials grant), instead
    /// of Basic.
    #[arg(long, value_parser = UrlParser::ANY)]
    token_url: Option<String>,
    /// xapi: the OAuth client id.
    #[arg(long, value_parser = parse_non_empty, allow_hyphen_values = true)]
    client_id: Option<String>,
    /// xapi: the OAuth client secret; never printed.
    #[arg(
        long,
        env = "COMMONPLACE_FORWARDER_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_parser = parse_non_empty
    )]
    client_secret: Option<String>,
    /// xapi: the OAuth scope to ask for (space-separated), if the target wants one.
    #[arg(long, value_parser = parse_non_empty)]
    scope: Option<String>,
    /// xapi: X-Experience-API-Version sent to the target [default: 1.0.3].
    #[arg(long, value_parser = ["1.0.3", "2.0.0"])]
    xapi_version: Option<String>,
    /// webhook: the URL batches are POSTed to (http:// or https://).
    #[arg(long, value_parser = UrlParser::ANY, required_if_eq("kind", "webhook"))]
    url: Option<String>,
    /// webhook: the HMAC-SHA256 key of Commonplace-Signature (at least 16 characters;
    /// e.g. `openssl rand -hex 32`); never printed.
    #[arg(
        long,
        env = "COMMONPLACE_FORWARDER_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_parser = parse_non_empty,
        required_if_eq("kind", "webhook")
    )]
    secret: Option<String>,
    /// The store whose Statements are forwarded.
    #[arg(long, default_value = "default")]
    store: String,
    /// Also send the Statements already stored (default: only those stored from now on).
    #[arg(long)]
    from_start: bool,
    /// Only Statements with this verb id (repeatable: any of them).
    #[arg(long = "verb", value_name = "IRI", value_parser = parse_iri)]
    verbs: Vec<String>,
    /// Only Statements about this Activity id, as object or context Activity
    /// (repeatable).
    #[arg(long = "activity", value_name = "IRI", value_parser = parse_iri)]
    activities: Vec<String>,
    /// Only Statements about an Activity whose id starts with this (repeatable).
    #[arg(long = "activity-prefix", value_name = "IRI", value_parser = parse_iri)]
    activity_prefixes: Vec<String>,
    /// Only Statements whose object Activity has this type (repeatable).
    #[arg(long = "activity-type", value_name = "IRI", value_parser = parse_iri)]
    activity_types: Vec<String>,
    /// Only Statements by this actor (repeatable): mailto:a@b.org,
    /// mbox:mailto:a@b.org, account:HOMEPAGE|NAME, openid:URI, mbox_sha1sum:HEX, or
    /// an Agent as JSON.
    #[arg(long = "actor", value_name = "IFI", value_parser = parse_actor)]
    actors: Vec<String>,
    /// Only Statements of this learning mode (repeatable): directed, guided,
    /// self_planned, self_directed, unclassified.
    #[arg(long = "mode", value_name = "MODE", value_parser = parse_mode)]
    modes: Vec<String>,
    /// Only Statements written by a credential with this tag, KEY=VALUE (repeatable:
    /// every key given must hold, any of the values given for one key).
    #[arg(long = "credential-tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    credential_tags: Vec<(String, String)>,
    /// Also send voiding Statements whose target matches the filters (a voiding
    /// Statement is otherwise never sent).
    #[arg(long)]
    voiding: bool,
    /// Statements per request [default: 500].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=5000))]
    batch_size: Option<i32>,
    /// Milliseconds a batch that is not full waits for more Statements [default: 100].
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=60000))]
    linger_ms: Option<i32>,
    /// Requests in flight at once [default: 4].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=64))]
    max_in_flight: Option<i32>,
    /// Print the forwarder as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Which secrets came from the environment rather than a flag (see
    /// [`ForwardersCommand::note_environment`]).
    #[arg(skip)]
    from_environment: FromEnvironment,
}

impl std::fmt::Debug for CreateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateArgs")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The secrets of `create` whose value clap took from `COMMONPLACE_FORWARDER_*`.
#[derive(Debug, Default, Clone, Copy)]
struct FromEnvironment {
    password: bool,
    client_secret: bool,
    secret: bool,
}

impl ForwardersCommand {
    /// Notes which secrets of `create` came from the environment (clap's derive keeps
    /// only the values): `input::target` ignores those the kind does not take.
    pub(super) fn note_environment(&mut self, matches: &ArgMatches) {
        let ForwardersCommand::Create(args) = self else {
            return;
        };
        let Some(create) = matches
            .subcommand_matches("forwarders")
            .and_then(|forwarders| forwarders.subcommand_matches("create"))
        else {
            return;
        };
        let from_environment = |id: &str| create.value_source(id) == Some(ValueSource::EnvVariable);
        args.from_environment = FromEnvironment {
            password: from_environment("password"),
            client_secret: from_environment("client_secret"),
            secret: from_environment("secret"),
        };
    }

    pub(super) fn log_format(&self) -> LogFormat {
        match self {
            ForwardersCommand::Create(args) => args.database.log_format,
            ForwardersCommand::Show(args)
            | ForwardersCommand::Pause(args)
            | ForwardersCommand::Resume(args)
            | ForwardersCommand::Delete(args) => args.database.log_format,
            ForwardersCommand::List { database, .. }
            | ForwardersCommand::Replay { database, .. } => database.log_format,
        }
    }
}

pub(super) async fn forwarders_command(command: ForwardersCommand) -> Result<(), String> {
    match command {
        ForwardersCommand::Create(args) => create(*args).await,
        ForwardersCommand::List { json, database } => {
            with_database(&database, |pool| async move {
                let all = forwarders::list(&pool).await.map_err(|e| e.to_string())?;
                if json {
                    print_json(&all)
                } else {
                    print_table(&all);
                    Ok(())
                }
            })
            .await
        }
        ForwardersCommand::Show(NamedArgs {
            name,
            json,
            database,
        }) => {
            with_database(&database, |pool| async move {
                let (info, dead_letters) = forwarders::show(&pool, &name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| no_forwarder(&name))?;
                if json {
                    let mut object = as_object(&info);
                    object.insert("dead_letters".into(), json!(dead_letters));
                    print_json(&object)
                } else {
                    print_details(&info);
                    print_dead_letters(&dead_letters);
                    Ok(())
                }
            })
            .await
        }
        ForwardersCommand::Pause(args) => set_active(args, false).await,
        ForwardersCommand::Resume(args) => set_active(args, true).await,
        ForwardersCommand::Delete(NamedArgs {
            name,
            json,
            database,
        }) => {
            with_database(&database, |pool| async move {
                let info = forwarders::delete(&pool, &name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| no_forwarder(&name))?;
                if json {
                    print_json(&info)
                } else {
                    println!("deleted forwarder '{name}'");
                    Ok(())
                }
            })
            .await
        }
        ForwardersCommand::Replay {
            name,
            dead_letters: _,
            since,
            json,
            database,
        } => {
            with_database(&database, |pool| async move {
                // clap lets through exactly one of --since and --dead-letters.
                let replayed = match since {
                    Some(since) => forwarders::replay_since(&pool, &name, since).await,
                    None => forwarders::replay_dead_letters(&pool, &name).await,
                }
                .map_err(|e| e.to_string())?
                .ok_or_else(|| no_forwarder(&name))?;
                let (info, _) = forwarders::show(&pool, &name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| no_forwarder(&name))?;
                if json {
                    let mut object = as_object(&info);
                    let replayed = match replayed {
                        Replayed::Position { from, to } => {
                            json!({"position_from": from, "position_to": to})
                        }
                        Replayed::DeadLetters(count) => json!({"dead_letters": count}),
                    };
                    object.insert("replayed".into(), replayed);
                    return print_json(&object);
                }
                match replayed {
                    Replayed::Position { from, to } if to < from => println!(
                        "forwarder '{name}': position moved back from {from} to {to}; \
                         {} Statements of store '{}' to go through again",
                        info.lag, info.store
                    ),
                    Replayed::Position { from, .. } => println!(
                        "forwarder '{name}': position {from} unchanged: every Statement \
                         stored after that time is still ahead of it"
                    ),
                    Replayed::DeadLetters(count) => {
                        println!("forwarder '{name}': {count} dead letters to be sent again")
                    }
                }
                Ok(())
            })
            .await
        }
    }
}

async fn set_active(args: NamedArgs, active: bool) -> Result<(), String> {
    let NamedArgs {
        name,
        json,
        database,
    } = args;
    with_database(&database, |pool| async move {
        let info = forwarders::set_active(&pool, &name, active)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| no_forwarder(&name))?;
        if json {
            print_json(&info)
        } else {
            println!("forwarder '{name}' is {}", info.state);
            Ok(())
        }
    })
    .await
}

async fn create(args: CreateArgs) -> Result<(), String> {
    let (url, auth) = target(&args).unwrap_or_else(|message| {
        let mut command = Cli::command();
        // Built, so the usage line names the whole command.
        command.build();
        let create = command
            .find_subcommand_mut("forwarders")
            .and_then(|forwarders| forwarders.find_subcommand_mut("create"))
            .expect("the forwarders create command exists");
        create.error(ErrorKind::ArgumentConflict, message).exit()
    });
    let filter = filter(&args);
    // What this command writes, the engine must read: a filter it refuses would stop
    // the forwarder on its first Statement.
    Filter::parse(&filter)?;
    with_database(&args.database, |pool| async move {
        let info = forwarders::create(
            &pool,
            NewForwarder {
                name: &args.name,
                store: &args.store,
                kind: match args.kind {
                    Kind::Xapi => "xapi",
                    Kind::Webhook => "webhook",
                },
                url: &url,
                auth: &auth,
                xapi_version: args.xapi_version.as_deref(),
                filter: &filter,
                batch_size: args.batch_size,
                linger_ms: args.linger_ms,
                max_in_flight: args.max_in_flight,
                from_start: args.from_start,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        if args.json {
            print_json(&info)
        } else {
            println!(
                "created forwarder '{}': {} to {}, the Statements of store '{}' {}",
                info.name,
                info.kind,
                info.url,
                info.store,
                if args.from_start {
                    "already stored and to come"
                } else {
                    "stored from now on"
                }
            );
            Ok(())
        }
    })
    .await
}

fn no_forwarder(name: &str) -> String {
    format!("no forwarder named '{name}' (see `commonplace forwarders list`)")
}
