//! Runtime settings of the LRS, independent of how they were given (flags, env, tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::modes::Ruleset;
use crate::request_load::Patience;

use crate::store::replicas::ReplicaOptions;
use crate::store::{PoolOptions, Source};
use crate::xapi::version::Version;

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: Source,
    pub pool: PoolOptions,
    /// Streaming replicas that serve reads (`store::replicas`).
    pub replicas: ReplicaOptions,
    /// The version a response carries when the request named no usable one.
    pub default_version: Version,
    pub limits: Limits,
    /// `None` allows every origin.
    pub cors_origins: Option<Vec<String>>,
    /// The URL clients reach this LRS at; used in authorities and printed at start.
    pub public_url: Option<String>,
    pub workers: Option<usize>,
    /// How many combined writes of small Statement requests may run at once (default:
    /// one per core); see `store::write_queue`.
    pub statement_writers: Option<usize>,
    /// The longest an xAPI request may take before it is answered 503 (a database that
    /// hangs rather than fails must not hang its clients).
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGINT or SIGTERM.
    pub shutdown_grace: Duration,
    /// How long the learning feed waits at most for running requests to end before
    /// each pass over a backlog (`store::learning_feed::run`), while Statements may be
    /// arriving and while only reads run.
    pub feed_patience: Patience,
    /// How long a verified credential is trusted before it is looked up again.
    pub credential_cache_ttl: Duration,
    /// The learning-mode rules applied to every Statement as it is stored.
    pub modes: Arc<Ruleset>,
    /// Team figures of fewer learners than this are not reported.
    pub min_team_size: i64,
    /// Bytes of report answers kept in memory (counted as their JSON); 0 keeps none.
    pub report_cache_bytes: u64,
    /// The LRS as an OAuth 2.0 authorization server (`crate::oauth`).
    pub oauth: OAuthSettings,
}

/// The LRS's own access tokens and their signing keys.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub token_lifetime: Duration,
    /// How long a signing key signs before a new one takes over.
    pub key_rotation: Duration,
    /// Accepted before xAPI scope names (`xapi:statements/write`); empty for none.
    pub scope_prefix: String,
    /// External OpenID Connect issuers whose access tokens are accepted too.
    pub oidc: OidcSettings,
    /// Dashboard sign-in through the first of those issuers (`crate::oauth::sign_in`).
    pub sign_in: Option<SignInSettings>,
}

/// The dashboard's OpenID Connect client: the authorization-code flow with PKCE at
/// `issuer`, the session it opens, and who among the signed-in may read reports.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// How long a session lasts, however active.
    pub session_lifetime: Duration,
    /// The ID token claim (a string or an array) that must contain `reports_value` for
    /// the `reports` scope; `None`: every signed-in user of the issuer has it.
    pub reports_claim: Option<(String, String)>,
}

/// The trusted issuers, the audience this LRS answers to, and the claim that names a
/// token's store (`crate::oauth::external`).
#[derive(Debug, Clone, Default)]
pub struct OidcSettings {
    pub issuers: Vec<String>,
    /// Required with issuers: without it, a token the provider issued for any other
    /// application would be accepted here.
    pub audience: Option<String>,
    /// `None`: every token writes to and reads from the default store.
    pub store_claim: Option<String>,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            token_lifetime: Duration::from_secs(3600),
            key_rotation: Duration::from_secs(7 * 24 * 3600),
            scope_prefix: "xapi:".into(),
            oidc: OidcSettings::default(),
            sign_in: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Statements per page when the query gives no `limit`.
    pub default_statement_limit: usize,
    /// The most Statements one page holds (`limit=0` asks for this many).
    pub max_statement_limit: usize,
    /// The most Statements one POST may carry (400 beyond).
    pub max_batch_statements: usize,
    /// Deepest nesting of arrays/objects a Statement body may have (400 beyond).
    pub max_json_depth: usize,
    /// The most attachment parts one request may carry (400 beyond).
    pub max_attachments: usize,
    /// The largest one attachment part may be, in bytes (413 beyond).
    pub max_attachment_bytes: usize,
    /// Failed authentications a key or a client address may make within
    /// `auth_failure_window` before it is answered 429 until the window ends.
    pub auth_failures: u32,
    pub auth_failure_window: Duration,
    /// Requests one credential may make within `rate_window` (`None`: unlimited).
    pub rate_limit: Option<u32>,
    pub rate_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            default_statement_limit: 100,
            max_statement_limit: 1000,
            max_batch_statements: 1000,
            max_json_depth: 64,
            max_attachments: 100,
            max_attachment_bytes: 16 * 1024 * 1024,
            auth_failures: 20,
            auth_failure_window: Duration::from_secs(60),
            rate_limit: None,
            rate_window: Duration::from_secs(60),
        }
    }
}

impl Settings {
    pub fn new(listen: SocketAddr, database: Source) -> Self {
        Settings {
            listen,
            database,
            pool: PoolOptions::default(),
            replicas: ReplicaOptions::default(),
            default_version: Version::V2_0_0,
            limits: Limits::default(),
            cors_origins: None,
            public_url: None,
            workers: None,
            statement_writers: None,
            shutdown_grace: Duration::from_secs(30),
            feed_patience: Patience {
                writes: Duration::from_millis(100),
                reads: Duration::from_millis(700),
            },
            request_timeout: Duration::from_secs(60),
            credential_cache_ttl: Duration::from_secs(10),
            modes: Arc::new(Ruleset::default_rules()),
            min_team_size: 5,
            report_cache_bytes: 32 << 20,
            oauth: OAuthSettings::default(),
        }
    }
}
