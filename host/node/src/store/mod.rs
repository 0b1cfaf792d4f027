//! The embedded store: SQLite (WAL), one writer. It holds the risk ledger (the day's
//! losses, the streak, the breaker, the bankroll halt) and the operator's journal (kill,
//! resume, breaker resets: who, when, why).
//!
//! A file that is not a polybox store, a corrupted one, or one written by a newer polybox
//! (higher schema version) is refused with an error saying so; nothing is ever reset
//! silently.

use std::path::{Path, PathBuf};

use polybox_core::risk::Ledger;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The schema this polybox writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The database file inside a state directory.
pub const FILE_NAME: &str = "polybox.db";

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file or its directory could not be opened or created.
    #[error("cannot open the store {path}: {message}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file is not a polybox store (not SQLite, or damaged).
    #[error(
        "{path} is not a usable polybox store ({message}); move it aside to start a new one: it is never reset automatically"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Written by a newer polybox.
    #[error(
        "{path} was written by a newer polybox (schema {found}, this one reads up to {SCHEMA_VERSION}): upgrade polybox"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A query failed.
    #[error("store {path}: {message}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// When, UTC ms.
    pub ts_ms: u64,
    /// Who (the operator's user name).
    pub who: String,
    /// What: `kill`, `resume`, `reset-breaker`, ...
    pub action: String,
    /// Why, in the operator's words.
    pub reason: String,
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (or create) the store in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join(FILE_NAME);
        std::fs::create_dir_all(state_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let conn = Connection::open(&path).map_err(|e| StoreError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // Wait for another process's write rather than failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::Open {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let store = Store { conn, path };
        store.init()?;
        Ok(store)
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn sql(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn init(&self) -> Result<(), StoreError> {
        // The first read tells a non-database file apart.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e))?;
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e))?;
        if check != "ok" {
            return Err(self.corrupt(format!("integrity check: {check}")));
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        self.conn
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(|e| self.sql(e))?;
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.corrupt(e))?;
            if tables > 0 {
                return Err(self.corrupt("it holds tables but no polybox schema version"));
            }
            self.conn
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE ledger (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, updated_ms INTEGER NOT NULL);
                     CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL);
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// The stored ledger, if any.
    pub fn load_ledger(&self) -> Result<Option<Ledger>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT state FROM ledger WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| self.corrupt(format!("risk ledger: {e}")))
        })
        .transpose()
    }

    /// Replace the stored ledger (one transaction).
    pub fn save_ledger(&self, ledger: &Ledger, now_ms: u64) -> Result<(), StoreError> {
        let text = serde_json::to_string(ledger).map_err(|e| self.sql(e))?;
        self.conn
            .execute(
                "INSERT INTO ledger (id, state, updated_ms) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
                params![text, i64::try_from(now_ms).unwrap_or(i64::MAX)],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Record an operator action.
    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO journal (ts_ms, who, action, reason) VALUES (?1, ?2, ?3, ?4)",
                params![
                    i64::try_from(entry.ts_ms).unwrap_or(i64::MAX),
                    entry.who,
                    entry.action,
                    entry.reason
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The journal, oldest first.
    pub fn journal_entries(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT ts_ms, who, action, reason FROM journal ORDER BY id")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(JournalEntry {
                    ts_ms: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    who: r.get(1)?,
                    action: r.get(2)?,
                    reason: r.get(3)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polybox_core::ids::StrategyId;
    use polybox_core::money::Usdc;

    #[test]
    fn the_ledger_and_journal_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load_ledger().unwrap(), None);
        let mut l = Ledger::new(0, 5, Usdc::parse("300").unwrap());
        l.roll(1_795_651_200_000);
        l.on_realized(StrategyId(0), Usdc::parse("-12.5").unwrap());
        for _ in 0..5 {
            l.on_close(Usdc::parse("-1").unwrap(), 7);
        }
        store.save_ledger(&l, 1).unwrap();
        store
            .journal(&JournalEntry {
                ts_ms: 5,
                who: "ops".into(),
                action: "kill".into(),
                reason: "test".into(),
            })
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let back = store.load_ledger().unwrap().unwrap();
        assert_eq!(back.realized_today(), l.realized_today());
        assert_eq!(back.breaker(), l.breaker());
        assert_eq!(back.days(), l.days());
        assert_eq!(store.journal_entries().unwrap()[0].action, "kill");
    }

    #[test]
    fn garbage_and_newer_schemas_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            b"this is not a database, it is a note to self\n".repeat(200),
        )
        .unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(
            std::fs::read(&path).unwrap().starts_with(b"this is not"),
            "left untouched"
        );

        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch("PRAGMA user_version = 9;").unwrap();
        drop(conn);
        let err = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 9, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade polybox"));
    }

    #[test]
    fn a_damaged_ledger_row_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO ledger (id, state, updated_ms) VALUES (1, '{broken', 0)",
                [],
            )
            .unwrap();
        assert!(matches!(
            store.load_ledger(),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
