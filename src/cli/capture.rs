//! `capture`: enrolment codes for the browser extension, the store's capture policy,
//! and the extension package.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::{store_id, with_database, DatabaseArgs};
use crate::capture::enrolment::{self, DEFAULT_EXPIRY};
use crate::capture::package;
use crate::roster::csv_field;
use crate::store::capture;
use crate::telemetry::LogFormat;
use crate::xapi::ifi::Ifi;

#[derive(Debug, Subcommand)]
pub(super) enum CaptureCommand {
    /// Print a one-time enrolment code and URL for a learner (or, with --roster, for
    /// every roster learner who has not opted out, as CSV learner,name,code,url).
    Invite {
        /// The learner's IFI as the roster writes it: mailto:ada@example.org,
        /// account:HOMEPAGE|NAME, openid:URI, mbox_sha1sum:HEX.
        #[arg(long, required_unless_present = "roster", conflicts_with = "roster")]
        learner: Option<String>,
        /// Invite every learner of the store's roster who has not opted out.
        #[arg(long)]
        roster: bool,
        /// With --roster: write the CSV here (default: standard output).
        #[arg(long, requires = "roster")]
        output: Option<PathBuf>,
        /// The store the learner's credential will belong to.
        #[arg(long, default_value = "default")]
        store: String,
        /// How long the code stays valid (e.g. 14d, 12h, 30m; at most 365d).
        #[arg(long, default_value = DEFAULT_EXPIRY)]
        expires: String,
        /// The URL learners reach this LRS at, for the enrolment URL.
        #[arg(
            long,
            env = "COMMONPLACE_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
        /// Print {"code": ..., "url": ...}.
        #[arg(long, conflicts_with = "roster")]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List or revoke enrolment codes.
    #[command(subcommand)]
    Codes(CodesCommand),
    /// Show the store's capture policy, changing what is given.
    Policy {
        /// The store whose policy to show or change.
        #[arg(long, default_value = "default")]
        store: String,
        /// Seconds of active reading before a page counts.
        #[arg(long)]
        minimum_dwell: Option<u16>,
        /// Record only the site (origin) of each page, never its path.
        #[arg(long)]
        site_only: Option<bool>,
        /// Print {"store", "minimumDwellSeconds", "siteOnly"}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write the browser extension as a zip (manifest.json at its root).
    Package {
        /// The zip file to write (e.g. commonplace-capture.zip).
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum CodesCommand {
    /// List enrolment codes (never the codes themselves): id, learner, store, created,
    /// expires, used, revoked.
    List {
        /// Only this store (default: every store).
        #[arg(long)]
        store: Option<String>,
        /// Print the codes as a JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke an unused code by its id.
    Revoke {
        /// The code's id, as `capture codes list` shows it.
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

impl CaptureCommand {
    pub(super) fn log_format(&self) -> LogFormat {
        match self {
            CaptureCommand::Invite { database, .. }
            | CaptureCommand::Policy { database, .. }
            | CaptureCommand::Codes(
                CodesCommand::List { database, .. } | CodesCommand::Revoke { database, .. },
            ) => database.log_format,
            CaptureCommand::Package { .. } => LogFormat::Pretty,
        }
    }
}

pub(super) async fn capture_command(command: CaptureCommand) -> Result<(), String> {
    match command {
        CaptureCommand::Invite {
            learner,
            roster,
            output,
            store,
            expires,
            public_url,
            json,
            database,
        } => {
            let valid_for = enrolment::parse_expiry(&expires)?;
            let learner = learner.as_deref().map(learner_ifi).transpose()?;
            with_database(&database, |pool| async move {
                let store_id = store_id(&pool, &store).await?;
                let invite = |learner: String| {
                    let pool = pool.clone();
                    let public_url = public_url.clone();
                    async move {
                        let code = enrolment::generate_code();
                        capture::create_code(
                            &pool,
                            store_id,
                            &learner,
                            &enrolment::hash_code(&code),
                            valid_for,
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                        let url = enrolment::enrolment_url(&public_url, &code);
                        Ok::<_, String>((code, url))
                    }
                };
                match (learner, roster) {
                    (Some(learner), _) => {
                        let (code, url) = invite(learner.clone()).await?;
                        if json {
                            println!("{}", serde_json::json!({"code": code, "url": url}));
                        } else {
                            println!(
                                "enrolment code for {} (store '{store}', valid for {expires}):\n  \
                                 code: {code}\n  url:  {url}",
                                roster_form(&learner)
                            );
                        }
                    }
                    (None, true) => {
                        let invitees = capture::roster_invitees(&pool, store_id)
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut csv = String::from("learner,name,code,url\r\n");
                        for (learner, name) in &invitees {
                            let (code, url) = invite(learner.clone()).await?;
                            let fields = [roster_form(learner), name, &code, &url];
                            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                            csv.push_str(&line.join(","));
                            csv.push_str("\r\n");
                        }
                        write_out(output.as_ref(), csv.as_bytes())?;
                        eprintln!(
                            "store '{store}': {} learners invited (opted-out learners left out)",
                            invitees.len()
                        );
                    }
                    (None, false) => return Err("give --learner IFI or --roster".into()),
                }
                Ok(())
            })
            .await
        }
        CaptureCommand::Codes(CodesCommand::List {
            store,
            json,
            database,
        }) => {
            with_database(&database, |pool| async move {
                let store_id = match &store {
                    Some(name) => Some(store_id(&pool, name).await?),
                    None => None,
                };
                let codes = capture::list_codes(&pool, store_id)
                    .await
                    .map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&codes).map_err(|e| e.to_string())?
                    );
                    return Ok(());
                }
                let now = chrono::Utc::now();
                for c in codes {
                    let state = match (c.used, c.revoked) {
                        (Some(_), _) => "used",
                        (None, Some(_)) => "revoked",
                        (None, None) if c.expires <= now => "expired",
                        (None, None) => "open",
                    };
                    println!(
                        "{}\t{}\tstore={}\tcreated={}\texpires={}\t{state}",
                        c.id,
                        roster_form(&c.learner),
                        c.store,
                        c.created.to_rfc3339(),
                        c.expires.to_rfc3339(),
                    );
                }
                Ok(())
            })
            .await
        }
        CaptureCommand::Codes(CodesCommand::Revoke { id, database }) => {
            with_database(&database, |pool| async move {
                if !capture::revoke_code(&pool, id)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!("no unused, unrevoked enrolment code with id {id}"));
                }
                println!("revoked enrolment code {id}");
                Ok(())
            })
            .await
        }
        CaptureCommand::Policy {
            store,
            minimum_dwell,
            site_only,
            json,
            database,
        } => {
            with_database(&database, |pool| async move {
                let store_id = store_id(&pool, &store).await?;
                let settings = if minimum_dwell.is_some() || site_only.is_some() {
                    capture::set_policy(&pool, store_id, minimum_dwell.map(i32::from), site_only)
                        .await
                } else {
                    capture::policy(&pool, store_id).await
                }
                .map_err(|e| e.to_string())?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "store": store,
                            "minimumDwellSeconds": settings.minimum_dwell_seconds,
                            "siteOnly": settings.site_only,
                        })
                    );
                } else {
                    println!(
                        "store '{store}': minimum dwell {} s, site only {}",
                        settings.minimum_dwell_seconds, settings.site_only
                    );
                }
                Ok(())
            })
            .await
        }
        CaptureCommand::Package { output } => {
            let bytes = package::zip()?;
            write_out(Some(&output), &bytes)?;
            println!(
                "wrote {} ({} files, {} bytes)",
                output.display(),
                package::files().len(),
                bytes.len()
            );
            Ok(())
        }
    }
}

/// An IFI as the roster writes it, as the LRS writes it (`mbox:mailto:…`).
fn learner_ifi(raw: &str) -> Result<String, String> {
    crate::roster::canonical_ifi(raw.trim())
        .and_then(|ifi| Ifi::from_canonical(&ifi))
        .map(Ifi::into_string)
        .ok_or_else(|| {
            format!(
                "--learner: '{raw}' is not a learner IFI (mailto:…, account:HOMEPAGE|NAME, \
                 openid:…, mbox_sha1sum:…)"
            )
        })
}

/// An IFI as a roster file writes it: a bare `mailto:` for an mbox.
fn roster_form(ifi: &str) -> &str {
    ifi.strip_prefix("mbox:").unwrap_or(ifi)
}

fn write_out(path: Option<&PathBuf>, bytes: &[u8]) -> Result<(), String> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(bytes)
            .map_err(|e| e.to_string()),
    }
}
