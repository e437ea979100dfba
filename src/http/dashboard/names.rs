//! How the dashboard pages name learners: by the one definition every report uses
//! (`store::learners`), never by the raw `mbox:` IFI when a name is known.

use std::collections::HashMap;

use deadpool_postgres::Pool;

use super::learner::typed;
use crate::store::learners::{identities, LearnerIdentity};
use crate::store::{self};

pub struct Names(HashMap<String, LearnerIdentity>);

impl Names {
    /// The names of `learners` (IFIs as the LRS writes them).
    pub async fn of(
        pool: &Pool,
        store_id: i64,
        learners: &[String],
    ) -> Result<Names, store::Error> {
        Ok(Names(identities(pool, store_id, learners).await?))
    }

    /// A learner's name, else their IFI as it is typed (`mailto:…`).
    pub fn label<'a>(&'a self, learner: &'a str) -> &'a str {
        match self.0.get(learner) {
            Some(identity) if identity.name != learner => &identity.name,
            _ => typed(learner),
        }
    }
}
