//! Bytes per Statement: every table the LRS keeps and its indexes, found in the
//! catalogue (whatever the schema is at this commit), beside `raw_statements(id uuid
//! primary key, statement jsonb)` holding the same Statements' JSON.

use serde::{Deserialize, Serialize};

use crate::harness::copy_store_to_raw;
use crate::Run;

const RAW_TABLE: &str = "raw_statements";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Storage {
    /// Statements stored when the sizes were read.
    pub statements: i64,
    /// Every table of the public schema but the raw one, largest first.
    pub tables: Vec<TableSize>,
    pub raw: TableSize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableSize {
    pub name: String,
    /// Live rows (`pg_class.reltuples` after ANALYZE).
    pub rows: i64,
    /// The table with its TOAST table and maps, without indexes (`pg_table_size`).
    pub table_bytes: i64,
    /// Its indexes (`pg_indexes_size`).
    pub index_bytes: i64,
    /// Both (`pg_total_relation_size`).
    pub total_bytes: i64,
    /// Each index (`pg_relation_size`), largest first.
    pub indexes: Vec<(String, i64)>,
}

impl Storage {
    pub fn total_bytes(&self) -> i64 {
        self.tables.iter().map(|t| t.total_bytes).sum()
    }

    pub fn per_statement(&self, bytes: i64) -> f64 {
        bytes as f64 / self.statements.max(1) as f64
    }

    /// The LRS's bytes over the raw table's.
    pub fn raw_ratio(&self) -> f64 {
        self.total_bytes() as f64 / self.raw.total_bytes.max(1) as f64
    }

    /// Markdown: each table that holds at least a byte per Statement with its share,
    /// the rest together, the total beside the raw table, and the largest indexes.
    pub fn markdown(&self) -> String {
        let per = |bytes: i64| self.per_statement(bytes);
        let raw_total = per(self.raw.total_bytes);
        let mut md = format!(
            "Bytes per Statement, read from the catalogue after VACUUM ANALYZE with {} \
             Statements stored (every table of the schema and its indexes and TOAST, beside \
             `{RAW_TABLE}` holding the same Statements' JSON with a uuid primary key):\n\n\
             | table | rows | table + TOAST B/st | indexes B/st | total B/st | × raw |\n\
             |---|---|---|---|---|---|\n",
            self.statements
        );
        let row = |t: &TableSize| {
            format!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2} |\n",
                t.name,
                t.rows,
                per(t.table_bytes),
                per(t.index_bytes),
                per(t.total_bytes),
                per(t.total_bytes) / raw_total.max(1e-9)
            )
        };
        let (shown, rest): (Vec<&TableSize>, Vec<&TableSize>) =
            self.tables.iter().partition(|t| per(t.total_bytes) >= 1.0);
        for t in &shown {
            md.push_str(&row(t));
        }
        if !rest.is_empty() {
            let bytes = |f: fn(&TableSize) -> i64| rest.iter().map(|t| f(t)).sum::<i64>();
            md.push_str(&row(&TableSize {
                name: format!("{} other tables (under 1 B/st each)", rest.len()),
                rows: bytes(|t| t.rows),
                table_bytes: bytes(|t| t.table_bytes),
                index_bytes: bytes(|t| t.index_bytes),
                total_bytes: bytes(|t| t.total_bytes),
                indexes: Vec::new(),
            }));
        }
        let sum = |f: fn(&TableSize) -> i64| self.tables.iter().map(f).sum::<i64>();
        md.push_str(&format!(
            "| **all {} tables** | | {:.0} | {:.0} | **{:.0}** | **{:.2}** |\n",
            self.tables.len(),
            per(sum(|t| t.table_bytes)),
            per(sum(|t| t.index_bytes)),
            per(self.total_bytes()),
            self.raw_ratio()
        ));
        md.push_str(&row(&TableSize {
            name: format!("`{RAW_TABLE}` (PostgreSQL)"),
            ..self.raw.clone()
        }));
        let mut indexes: Vec<(&str, &str, i64)> = self
            .tables
            .iter()
            .flat_map(|t| {
                t.indexes
                    .iter()
                    .map(|(name, bytes)| (t.name.as_str(), name.as_str(), *bytes))
            })
            .collect();
        indexes.sort_by_key(|(_, _, bytes)| -bytes);
        md.push_str(&format!(
            "\nLargest indexes (B/st): {}.\n",
            indexes
                .iter()
                .take(12)
                .map(|(table, name, bytes)| format!("`{name}` on {table} {:.0}", per(*bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        md
    }
}

/// Copies the store's JSON into the raw table and reads every table's size; the caller
/// has run VACUUM ANALYZE (the raw table gets its own).
pub async fn measure(run: &Run<'_>) -> Storage {
    let client = run.connect().await;
    copy_store_to_raw(&client).await;
    let statements: i64 = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    let rows = client
        .query(
            "SELECT c.oid, c.relname, greatest(c.reltuples, 0)::bigint, pg_table_size(c.oid),
                    pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')
              ORDER BY 6 DESC, 2",
            &[],
        )
        .await
        .unwrap();
    let mut tables = Vec::new();
    for row in rows {
        let oid: u32 = row.get(0);
        let indexes = client
            .query(
                "SELECT i.relname, pg_relation_size(i.oid)
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                  WHERE x.indrelid = $1 ORDER BY 2 DESC, 1",
                &[&oid],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        tables.push(TableSize {
            name: row.get(1),
            rows: row.get(2),
            table_bytes: row.get(3),
            index_bytes: row.get(4),
            total_bytes: row.get(5),
            indexes,
        });
    }
    let raw_at = tables
        .iter()
        .position(|t| t.name == RAW_TABLE)
        .expect("the raw table was just made");
    let raw = tables.remove(raw_at);
    let storage = Storage {
        statements,
        tables,
        raw,
    };
    println!(
        "  bytes per Statement: {:.0} in all {} tables, {:.0} in {RAW_TABLE} ({:.2}×)",
        storage.per_statement(storage.total_bytes()),
        storage.tables.len(),
        storage.per_statement(storage.raw.total_bytes),
        storage.raw_ratio()
    );
    storage
}
