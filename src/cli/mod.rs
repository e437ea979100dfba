//! The `commonplace` command line: `serve` (the default), `migrate`, and the operator
//! commands (`credentials` and `stores` in `accounts`; `modes`, `roster` and `hosts` in
//! `learning`; `capture` in `capture`; `forwarders` in `forwarders`; `demo`, `export`,
//! `import`, `erase`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::auth::NewSecret;
use crate::configuration::{Limits, OidcSettings, Settings, SignInSettings};
use crate::request_load::Patience;
use crate::startup::{bootstrap_credential, Application};
use crate::store::replicas::ReplicaOptions;
use crate::store::{Database, PoolOptions, Source};
use crate::telemetry::{self, LogFormat};
use crate::xapi::version::Version;

mod accounts;
mod capture;
mod forwarders;
mod learning;
mod migrate;

use accounts::{credentials_command, stores_command, CredentialsCommand, StoresCommand};
use capture::{capture_command, CaptureCommand};
use forwarders::{forwarders_command, ForwardersCommand};
use learning::{
    hosts_command, modes_command, HostsCommand, ModesArgs, ModesCommand, RosterCommand,
};
use migrate::{migrate, MigrateArgs};

#[derive(Debug, Parser)]
#[command(
    name = "commonplace",
    version,
    about = "An xAPI Learning Record Store on PostgreSQL"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the LRS (the default when no command is given).
    // Boxed: the server's flags outweigh every other command's.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations (converting a store written by an older
    /// version, with an estimate and progress) and exit.
    Migrate(MigrateArgs),
    /// Manage the credentials clients authenticate with.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Manage stores (tenants).
    #[command(subcommand)]
    Stores(StoresCommand),
    /// Write a store's Statements and attachments as NDJSON.
    Export {
        #[arg(long, default_value = "default")]
        store: String,
        /// Where to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Load an export through the same validation; idempotent and resumable
    /// (progress is kept in FILE.progress).
    Import {
        file: PathBuf,
        /// Into this store (default: the store named in the file).
        #[arg(long)]
        store: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Erase a person (data-protection request): every Statement in which the Agent
    /// appears, their documents, and attachments no other Statement uses. The one
    /// exception to Statement immutability; voiding stays the way to correct a Statement.
    Erase {
        /// The person, as the xAPI `agent` parameter: e.g. '{"mbox":"mailto:a@b.org"}'.
        #[arg(long)]
        agent: String,
        /// Only this store (default: every store).
        #[arg(long)]
        store: Option<String>,
        /// Who asked, for the audit record (default: $USER).
        #[arg(long)]
        requested_by: Option<String>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Learning modes: re-apply the rules to stored Statements.
    #[command(subcommand)]
    Modes(ModesCommand),
    /// Teams for the reports.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Post a realistic mixed demo data set through the xAPI API of a running LRS.
    Demo(DemoArgs),
    /// Web hosts a store refuses from browser capture (credentials tagged source=browser).
    #[command(subcommand)]
    Hosts(HostsCommand),
    /// Browser capture: enrolment codes, the capture policy, the extension package.
    #[command(subcommand)]
    Capture(CaptureCommand),
    /// Forwarders: send a store's Statements on to another LRS or a webhook.
    #[command(subcommand)]
    Forwarders(ForwardersCommand),
}

#[derive(Debug, Clone, Args)]
struct DemoArgs {
    /// The LRS's xAPI endpoint (http:// or https://).
    #[arg(
        long,
        env = "COMMONPLACE_DEMO_ENDPOINT",
        default_value = "http://127.0.0.1:8080/xapi/"
    )]
    endpoint: String,
    /// A credential allowed to write Statements. Keys and secrets may begin with `-`.
    #[arg(long, env = "COMMONPLACE_DEMO_KEY", allow_hyphen_values = true)]
    key: String,
    #[arg(long, env = "COMMONPLACE_DEMO_SECRET", allow_hyphen_values = true)]
    secret: String,
    #[arg(long, env = "COMMONPLACE_DEMO_LEARNERS", default_value_t = 200)]
    learners: usize,
    /// Weeks of activity, ending with the current week.
    #[arg(long, env = "COMMONPLACE_DEMO_WEEKS", default_value_t = 12)]
    weeks: u32,
    /// The same seed posts the same data set (with fresh Statement ids).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const DEFAULT_DATA_DIR: &str = "./commonplace-data";

#[derive(Debug, Clone, Args)]
struct DatabaseArgs {
    /// PostgreSQL to use (URL or key=value string). Without it, a private cluster
    /// is run in DATA_DIR/pg.
    #[arg(long, env = "COMMONPLACE_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded PostgreSQL cluster and its log live.
    #[arg(long, env = "COMMONPLACE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Maximum number of database connections.
    #[arg(long, env = "COMMONPLACE_POOL_SIZE", default_value_t = 16)]
    pool_size: usize,
    /// Seconds a request waits for a database connection before it gets 503.
    #[arg(long, env = "COMMONPLACE_DATABASE_TIMEOUT", default_value_t = 5)]
    database_timeout: u64,
    /// Seconds start-up keeps retrying a database that is not up yet.
    #[arg(long, env = "COMMONPLACE_DATABASE_WAIT", default_value_t = 60)]
    database_wait: u64,
    /// Log format.
    #[arg(
        long,
        env = "COMMONPLACE_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    log_format: LogFormat,
}

impl DatabaseArgs {
    fn source(&self) -> Source {
        match &self.database_url {
            Some(url) => Source::External(url.clone()),
            None => Source::Embedded(self.data_dir.clone()),
        }
    }

    fn pool(&self) -> PoolOptions {
        PoolOptions {
            size: self.pool_size.max(1),
            acquire_timeout: Duration::from_secs(self.database_timeout.max(1)),
            startup_wait: Duration::from_secs(self.database_wait),
        }
    }
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COMMONPLACE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// A streaming replica of the database to serve reads (Statement queries,
    /// documents, Activities, Agents, reports, the dashboard); repeatable, one server
    /// per URL (the env variable is comma-separated).
    #[arg(
        long = "replica-url",
        value_name = "URL",
        env = "COMMONPLACE_REPLICA_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    replica_urls: Vec<String>,
    /// A replica whose replay is further behind the primary than this (e.g. 10s,
    /// 500ms, 1m) is taken out of rotation until it catches up.
    #[arg(long, env = "COMMONPLACE_REPLICA_MAX_LAG", default_value = "10s", value_parser = parse_lag)]
    replica_max_lag: Duration,
    /// xAPI version of responses to requests that name no usable version.
    #[arg(long, env = "COMMONPLACE_DEFAULT_XAPI_VERSION", default_value = "2.0.0", value_parser = parse_version)]
    default_xapi_version: Version,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "COMMONPLACE_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Statements per page when a query gives no `limit`.
    #[arg(long, env = "COMMONPLACE_DEFAULT_LIMIT", default_value_t = 100)]
    default_limit: usize,
    /// The most Statements a page may hold (`limit=0` means this many).
    #[arg(long, env = "COMMONPLACE_MAX_LIMIT", default_value_t = 1000)]
    max_limit: usize,
    /// The most Statements one POST may carry.
    #[arg(long, env = "COMMONPLACE_MAX_BATCH", default_value_t = 1000)]
    max_batch: usize,
    /// Deepest JSON nesting (arrays and objects) a Statement may have.
    #[arg(long, env = "COMMONPLACE_MAX_JSON_DEPTH", default_value_t = 64)]
    max_json_depth: usize,
    /// The most attachment parts one request may carry.
    #[arg(long, env = "COMMONPLACE_MAX_ATTACHMENTS", default_value_t = 100)]
    max_attachments: usize,
    /// Largest single attachment, in bytes.
    #[arg(long, env = "COMMONPLACE_MAX_ATTACHMENT_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_attachment_bytes: usize,
    /// Failed authentications per key and per client address within
    /// --auth-failure-window before further attempts get 429 (0 disables).
    #[arg(long, env = "COMMONPLACE_AUTH_FAILURES", default_value_t = 20)]
    auth_failures: u32,
    /// Seconds of the failed-authentication window.
    #[arg(long, env = "COMMONPLACE_AUTH_FAILURE_WINDOW", default_value_t = 60)]
    auth_failure_window: u64,
    /// Requests one credential may make per --rate-window (unset: unlimited).
    #[arg(long, env = "COMMONPLACE_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Seconds of the per-credential rate window.
    #[arg(long, env = "COMMONPLACE_RATE_WINDOW", default_value_t = 60)]
    rate_window: u64,
    /// Origins allowed to call the LRS from a browser (comma-separated); any when unset.
    #[arg(long, env = "COMMONPLACE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Option<Vec<String>>,
    /// The URL clients use to reach this LRS, when it differs from the listen address.
    #[arg(long, env = "COMMONPLACE_PUBLIC_URL")]
    public_url: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "COMMONPLACE_WORKERS")]
    workers: Option<usize>,
    /// How many transactions may store small Statement requests at once; requests
    /// arriving while they are all busy are stored together (default: one per core).
    #[arg(long, env = "COMMONPLACE_STATEMENT_WRITERS")]
    statement_writers: Option<usize>,
    /// Seconds an xAPI request may take before it is answered 503.
    #[arg(long, env = "COMMONPLACE_REQUEST_TIMEOUT", default_value_t = 60)]
    request_timeout: u64,
    /// Seconds in-flight requests may take to finish after SIGINT or SIGTERM.
    #[arg(long, env = "COMMONPLACE_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// How long the learning feed waits at most for running requests to end before
    /// each pass over a backlog while Statements are arriving (e.g. 100ms, 1s): longer
    /// keeps requests faster while it folds, shorter keeps up with more ingest.
    #[arg(long, env = "COMMONPLACE_FEED_PATIENCE", default_value = "100ms", value_parser = parse_patience)]
    feed_patience: Duration,
    /// The same while only reads run (none has stored anything for a second): longer
    /// keeps reads faster while a bulk load or import is folded, shorter folds it sooner.
    #[arg(long, env = "COMMONPLACE_FEED_READ_PATIENCE", default_value = "700ms", value_parser = parse_patience)]
    feed_read_patience: Duration,
    #[command(flatten)]
    rules: ModesArgs,
    /// Team figures of fewer active learners than this are hidden in reports.
    #[arg(long, env = "COMMONPLACE_MIN_TEAM_SIZE", default_value_t = 5)]
    min_team_size: i64,
    /// MiB of report and dashboard answers kept in memory until the figures they come
    /// from change (0: none).
    #[arg(long, env = "COMMONPLACE_REPORT_CACHE_MB", default_value_t = 32)]
    report_cache_mb: u64,
    /// Seconds an OAuth access token from POST /oauth/token is valid (at most a year).
    #[arg(long, env = "COMMONPLACE_OAUTH_TOKEN_LIFETIME", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=365 * 24 * 3600))]
    oauth_token_lifetime: u64,
    /// Seconds a key signs OAuth access tokens before a new one takes over (at most a
    /// year).
    #[arg(long, env = "COMMONPLACE_OAUTH_KEY_ROTATION", default_value_t = 7 * 24 * 3600,
          value_parser = clap::value_parser!(u64).range(1..=365 * 24 * 3600))]
    oauth_key_rotation: u64,
    /// Prefix accepted before xAPI scope names in OAuth scopes (`xapi:statements/write`).
    #[arg(long, env = "COMMONPLACE_OAUTH_SCOPE_PREFIX", default_value = "xapi:")]
    oauth_scope_prefix: String,
    /// An OpenID Connect issuer whose access tokens are accepted (repeatable; the env
    /// variable is comma-separated); its `iss` must match exactly.
    #[arg(long, env = "COMMONPLACE_OIDC_ISSUER", value_delimiter = ',')]
    oidc_issuer: Vec<String>,
    /// The `aud` an external issuer's tokens must carry (required with --oidc-issuer).
    #[arg(long, env = "COMMONPLACE_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
    /// The claim of an external issuer's tokens that names their store (default: every
    /// such token uses the default store).
    #[arg(long, env = "COMMONPLACE_OIDC_STORE_CLAIM")]
    oidc_store_claim: Option<String>,
    /// The dashboard's client id at the first --oidc-issuer: enables sign-in to
    /// /dashboard and /reports with the authorization-code flow (PKCE).
    #[arg(
        long,
        env = "COMMONPLACE_OIDC_CLIENT_ID",
        allow_hyphen_values = true,
        requires = "oidc_client_secret"
    )]
    oidc_client_id: Option<String>,
    /// The dashboard client's secret (sent as client_secret_basic).
    #[arg(
        long,
        env = "COMMONPLACE_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        requires = "oidc_client_id"
    )]
    oidc_client_secret: Option<String>,
    /// The ID token claim that grants the reports scope to signed-in users whose claim
    /// contains --oidc-reports-value (default: every signed-in user has it).
    #[arg(
        long,
        env = "COMMONPLACE_OIDC_REPORTS_CLAIM",
        requires = "oidc_reports_value"
    )]
    oidc_reports_claim: Option<String>,
    /// The value --oidc-reports-claim must contain (e.g. a group name).
    #[arg(
        long,
        env = "COMMONPLACE_OIDC_REPORTS_VALUE",
        requires = "oidc_reports_claim"
    )]
    oidc_reports_value: Option<String>,
    /// Seconds a dashboard session lasts after sign-in.
    #[arg(long, env = "COMMONPLACE_SESSION_LIFETIME", default_value_t = 8 * 3600)]
    session_lifetime: u64,
}

fn parse_lag(raw: &str) -> Result<Duration, String> {
    match humantime::parse_duration(raw.trim()) {
        Ok(lag) if !lag.is_zero() => Ok(lag),
        Ok(_) => Err("must be more than zero".into()),
        Err(e) => Err(format!("{e} (e.g. 10s, 500ms, 1m)")),
    }
}

fn parse_patience(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw.trim()).map_err(|e| format!("{e} (e.g. 100ms, 1s, 0s)"))
}

fn parse_version(raw: &str) -> Result<Version, String> {
    raw.parse()
        .map_err(|e: crate::xapi::version::UnsupportedVersion| e.to_string())
}

impl ServeArgs {
    fn oidc_settings(&self) -> Result<OidcSettings, String> {
        if !self.oidc_issuer.is_empty() && self.oidc_audience.is_none() {
            return Err(
                "--oidc-issuer needs --oidc-audience: the `aud` its tokens carry for this LRS"
                    .into(),
            );
        }
        Ok(OidcSettings {
            issuers: self.oidc_issuer.clone(),
            audience: self.oidc_audience.clone(),
            store_claim: self.oidc_store_claim.clone(),
        })
    }

    fn sign_in_settings(&self) -> Result<Option<SignInSettings>, String> {
        let (Some(client_id), Some(client_secret)) =
            (&self.oidc_client_id, &self.oidc_client_secret)
        else {
            return Ok(None);
        };
        let issuer = self
            .oidc_issuer
            .first()
            .ok_or("--oidc-client-id needs --oidc-issuer: the (first) issuer signs users in")?;
        Ok(Some(SignInSettings {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            session_lifetime: Duration::from_secs(self.session_lifetime.max(60)),
            reports_claim: self
                .oidc_reports_claim
                .clone()
                .zip(self.oidc_reports_value.clone()),
        }))
    }

    fn settings(&self) -> Result<Settings, String> {
        let mut settings = Settings::new(self.listen, self.database.source());
        settings.pool = self.database.pool();
        settings.replicas = ReplicaOptions {
            urls: self.replica_urls.clone(),
            max_lag: self.replica_max_lag,
        };
        settings.default_version = self.default_xapi_version;
        settings.limits = Limits {
            max_body_bytes: self.max_body_bytes,
            default_statement_limit: self.default_limit.max(1),
            max_statement_limit: self.max_limit.max(1),
            max_batch_statements: self.max_batch.max(1),
            max_json_depth: self.max_json_depth.max(2),
            max_attachments: self.max_attachments,
            max_attachment_bytes: self.max_attachment_bytes,
            auth_failures: self.auth_failures,
            auth_failure_window: Duration::from_secs(self.auth_failure_window.max(1)),
            rate_limit: self.rate_limit,
            rate_window: Duration::from_secs(self.rate_window.max(1)),
        };
        settings.cors_origins = self.cors_origins.clone();
        settings.public_url = self.public_url.clone();
        settings.workers = self.workers;
        settings.statement_writers = self.statement_writers;
        settings.shutdown_grace = Duration::from_secs(self.shutdown_grace);
        settings.feed_patience = Patience {
            writes: self.feed_patience,
            reads: self.feed_read_patience,
        };
        settings.modes = Arc::new(self.rules.load()?);
        settings.min_team_size = self.min_team_size.max(1);
        settings.report_cache_bytes = self.report_cache_mb << 20;
        settings.request_timeout = Duration::from_secs(self.request_timeout.max(1));
        settings.oauth = crate::configuration::OAuthSettings {
            token_lifetime: Duration::from_secs(self.oauth_token_lifetime.max(1)),
            key_rotation: Duration::from_secs(self.oauth_key_rotation.max(1)),
            scope_prefix: self.oauth_scope_prefix.clone(),
            oidc: self.oidc_settings()?,
            sign_in: self.sign_in_settings()?,
        };
        Ok(settings)
    }
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli =
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    if let Some(Command::Forwarders(command)) = &mut cli.command {
        command.note_environment(&matches);
    }
    let command = cli.command.unwrap_or(Command::Serve(Box::new(cli.serve)));
    let log_format = match &command {
        Command::Serve(args) => args.database.log_format,
        Command::Demo(_) => LogFormat::Pretty,
        Command::Capture(command) => command.log_format(),
        Command::Forwarders(command) => command.log_format(),
        Command::Migrate(args) => args.database.log_format,
        Command::Credentials(
            CredentialsCommand::Create { database, .. }
            | CredentialsCommand::List { database, .. }
            | CredentialsCommand::Revoke { database, .. },
        )
        | Command::Stores(
            StoresCommand::Create { database, .. } | StoresCommand::List { database, .. },
        )
        | Command::Modes(ModesCommand::Reclassify { database, .. })
        | Command::Roster(RosterCommand::Import { database, .. })
        | Command::Erase { database, .. }
        | Command::Export { database, .. }
        | Command::Import { database, .. }
        | Command::Hosts(
            HostsCommand::Deny { database, .. }
            | HostsCommand::Allow { database, .. }
            | HostsCommand::List { database, .. },
        ) => database.log_format,
    };
    telemetry::init(log_format);
    let outcome = actix_web::rt::System::new().block_on(execute(command));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("commonplace: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Credentials(command) => credentials_command(command).await,
        Command::Stores(command) => stores_command(command).await,
        Command::Modes(command) => modes_command(command).await,
        Command::Hosts(command) => hosts_command(command).await,
        Command::Capture(command) => capture_command(command).await,
        Command::Forwarders(command) => forwarders_command(command).await,
        Command::Demo(args) => {
            let options = crate::demo::DemoOptions {
                endpoint: args.endpoint,
                key: args.key,
                secret: args.secret,
                learners: args.learners.max(1),
                weeks: args.weeks.max(1),
                seed: args.seed,
            };
            let stored = crate::demo::run(&options).await?;
            println!(
                "posted {stored} Statements for {} learners over {} weeks to {}",
                options.learners, options.weeks, options.endpoint
            );
            Ok(())
        }
        Command::Roster(RosterCommand::Import {
            file,
            store,
            database,
        }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let entries =
                crate::roster::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            with_database(&database, |pool| async move {
                let store_id = store_id(&pool, &store).await?;
                let count = crate::store::reports::replace_roster(&pool, store_id, &entries)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("store '{store}': roster replaced, {count} learners");
                Ok(())
            })
            .await
        }
        Command::Export {
            store,
            output,
            database,
        } => {
            with_database(&database, |pool| async move {
                let mut out: Box<dyn std::io::Write> = match &output {
                    Some(path) => Box::new(std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                let count = crate::transfer::export(&pool, &store, &mut out).await?;
                eprintln!("exported {count} statements from store '{store}'");
                Ok(())
            })
            .await
        }
        Command::Import {
            file,
            store,
            database,
        } => {
            with_database(&database, |pool| async move {
                let imported =
                    crate::transfer::import(&pool, &file, store.as_deref(), &mut std::io::stderr())
                        .await?;
                println!(
                    "imported {} statements and {} attachments{}",
                    imported.statements,
                    imported.attachments,
                    if imported.resumed_at > 0 {
                        format!(" (resumed at byte {})", imported.resumed_at)
                    } else {
                        String::new()
                    }
                );
                Ok(())
            })
            .await
        }
        Command::Erase {
            agent,
            store,
            requested_by,
            json,
            database,
        } => {
            let ifi = crate::xapi::agent::parse_agent_param(&agent, Version::V2_0_0)
                .map_err(|e| format!("--agent: {e}"))?;
            let requested_by = requested_by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            with_database(&database, |pool| async move {
                let erased =
                    crate::store::erasure::erase(&pool, &ifi, store.as_deref(), &requested_by)
                        .await
                        .map_err(|e| e.to_string())?;
                // The learning rollups hold the person's IFI too: fold the erasure in
                // now rather than at the next pass of a running server's feed.
                crate::store::learning_feed::catch_up(
                    &pool,
                    crate::store::learning::TimeRule::default(),
                    std::time::Duration::from_secs(60),
                )
                .await
                .map_err(|e| e.to_string())?;
                if json {
                    println!("{}", serde_json::json!(erased));
                } else {
                    println!(
                        "erased: {} statements, {} documents, {} attachments, {} agent entries",
                        erased.statements, erased.documents, erased.attachments, erased.agents
                    );
                }
                Ok(())
            })
            .await
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let bootstrap = bootstrap_from_env()?;
    let app = Application::build(args.settings()?)
        .await
        .map_err(|e| e.to_string())?;
    let chosen = bootstrap.is_some();
    let first = bootstrap_credential(app.pool(), bootstrap)
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = args
        .public_url
        .as_ref()
        .map(|url| format!("{}/xapi/", url.trim_end_matches('/')))
        .unwrap_or_else(|| app.endpoint());
    tracing::info!(%endpoint, "xAPI endpoint ready");
    println!("Commonplace LRS listening: xAPI endpoint {endpoint}");
    match first {
        // The operator chose it: no need to echo the secret into a log.
        Some(secret) if chosen => println!(
            "First credential created from COMMONPLACE_BOOTSTRAP_KEY/_SECRET (all scopes, \
             store 'default'): key {}",
            secret.key
        ),
        Some(secret) => println!(
            "First credential (all scopes, store 'default'), shown once:\n  key:    {}\n  secret: {}\n  e.g. curl -u '{}:{}' -H 'X-Experience-API-Version: 2.0.0' {endpoint}statements",
            secret.key, secret.secret, secret.key, secret.secret
        ),
        None => println!(
            "No credential is printed on later starts; if you lost the first one, create \
             another with:\n  {}",
            create_credential_command(&args.database)
        ),
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// The command that creates a credential in the database this server uses, called as
/// this binary was (`target/release/commonplace` before it is installed).
fn create_credential_command(database: &DatabaseArgs) -> String {
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "commonplace".into());
    let mut words = vec![program.as_str(), "credentials", "create"];
    words.extend(["--name", "NAME", "--scope", "all"]);
    let data_dir = database.data_dir.to_string_lossy();
    match &database.database_url {
        // Not echoed: the URL may hold a password.
        Some(_) => words.extend(["--database-url", "URL"]),
        None if data_dir != DEFAULT_DATA_DIR => words.extend(["--data-dir", &data_dir]),
        None => {}
    }
    // Quoting fails only on a NUL byte, which no argument or path holds.
    shlex::try_join(words.iter().copied()).unwrap_or_else(|_| words.join(" "))
}

fn bootstrap_from_env() -> Result<Option<NewSecret>, String> {
    let key = std::env::var("COMMONPLACE_BOOTSTRAP_KEY").ok();
    let secret = std::env::var("COMMONPLACE_BOOTSTRAP_SECRET").ok();
    match (key, secret) {
        (Some(key), Some(secret))
            if !key.is_empty() && !secret.is_empty() && !key.contains(':') =>
        {
            NewSecret::chosen(key, secret)
                .map(Some)
                .map_err(|why| format!("COMMONPLACE_BOOTSTRAP_SECRET: {why}"))
        }
        (None, None) => Ok(None),
        _ => Err(
            "COMMONPLACE_BOOTSTRAP_KEY and COMMONPLACE_BOOTSTRAP_SECRET must be set together, \
             non-empty, and the key must not contain ':'"
                .into(),
        ),
    }
}

/// Opens the database (attaching to or briefly starting the embedded cluster),
/// runs `work`, and closes it again.
async fn with_database<F, Fut>(db: &DatabaseArgs, work: F) -> Result<(), String>
where
    F: FnOnce(deadpool_postgres::Pool) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let database = Database::open(&db.source(), &db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let outcome = work(database.pool.clone()).await;
    database.close().await;
    outcome
}

/// The id of the store named `store`.
async fn store_id(pool: &deadpool_postgres::Pool, store: &str) -> Result<i64, String> {
    crate::store::modes::store_by_name(pool, store)
        .await
        .map_err(|e| e.to_string())?
        .map(|(id, _)| id)
        .ok_or_else(|| format!("no store named '{store}'"))
}
