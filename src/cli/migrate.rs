//! `migrate`: the pending migrations, and the conversion of a store written before the
//! term dictionary, with an estimate once its first batch is measured and a progress bar
//! (log lines when stderr is not a terminal).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use indicatif::ProgressBar;

use super::DatabaseArgs;
use crate::store::conversion::{
    about, Advance, Conversion, Logged, Plan, Progress, Rewrite, Step, DEFAULT_BATCH,
};
use crate::store::Database;
use crate::telemetry::statements_bar;

#[derive(Debug, Clone, Args)]
pub(super) struct MigrateArgs {
    #[command(flatten)]
    pub(super) database: DatabaseArgs,
    /// Statements a conversion commits at a time (a stopped conversion resumes after
    /// its last committed batch).
    #[arg(long, env = "COMMONPLACE_CONVERSION_BATCH", default_value_t = DEFAULT_BATCH,
          value_parser = clap::value_parser!(i64).range(1..))]
    conversion_batch: i64,
}

pub(super) async fn migrate(args: MigrateArgs) -> Result<(), String> {
    let console = Console::new(std::io::stderr().is_terminal());
    let conversion = Conversion {
        batch: args.conversion_batch,
        progress: &console,
    };
    let database =
        Database::open_converting(&args.database.source(), &args.database.pool(), &conversion)
            .await
            .map_err(|e| e.to_string())?;
    database.close().await;
    Ok(())
}

/// What `migrate` tells its operator: the plan and the estimate on stdout, then a bar on
/// a terminal, or the server's log lines elsewhere.
struct Console {
    bar: Mutex<Option<ProgressBar>>,
    /// Progress for a log file when there is no terminal to draw a bar on.
    log: Option<Logged>,
    estimated: Mutex<bool>,
}

impl Console {
    fn new(terminal: bool) -> Console {
        Console {
            bar: Mutex::new(None),
            log: (!terminal).then(Logged::default),
            estimated: Mutex::new(false),
        }
    }

    /// Prints a line to stdout without tearing the bar.
    fn say(&self, line: &str) {
        match &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }
}

impl Progress for Console {
    fn rewriting(&self, rewrite: &Rewrite) {
        println!(
            "Migrating {}: {} ({})…",
            rewrite.version,
            rewrite.does,
            about(rewrite.estimate)
        );
    }

    fn rewritten(&self, rewrite: &Rewrite, took: Duration) {
        println!(
            "Migrating {}: done in {}",
            rewrite.version,
            humantime::format_duration(Duration::from_secs(took.as_secs()))
        );
    }

    fn planned(&self, plan: &Plan) {
        let resumed = match plan.converted_before {
            0 => String::new(),
            before => format!(", resuming after {before} converted before"),
        };
        println!(
            "Converting {} Statements to the term dictionary (statement_index: about {} rows; \
             statements: {} MB){resumed}",
            plan.statements,
            plan.index_rows,
            plan.statements_bytes / (1024 * 1024)
        );
        if let Some(log) = &self.log {
            log.planned(plan);
        } else {
            *self.bar.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(statements_bar(plan.statements, "converting"));
        }
    }

    fn advanced(&self, advance: &Advance) {
        let first = !std::mem::replace(
            &mut *self.estimated.lock().unwrap_or_else(|e| e.into_inner()),
            true,
        );
        if first {
            self.say(&format!(
                "First batch: {} Statements in {:.1} s; {} to go (about {} s of batches, then \
                 {} s to build the index and compact)",
                advance.converted,
                advance.elapsed.as_secs_f64(),
                about(advance.remaining() + advance.finishing()),
                advance.remaining().as_secs(),
                advance.finishing().as_secs(),
            ));
        }
        if let Some(log) = &self.log {
            log.advanced(advance);
        }
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.set_position(advance.converted);
        }
    }

    fn step(&self, step: Step) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
        println!("Converting: {}…", step.describe());
    }

    fn step_done(&self, step: Step, took: Duration) {
        println!(
            "Converting: {}: done in {}",
            step.describe(),
            humantime::format_duration(Duration::from_secs(took.as_secs()))
        );
    }
}
