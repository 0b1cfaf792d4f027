//! The embedded store: SQLite (WAL), one writer. It holds the risk ledger (the day's
//! losses, the streak, the breaker, the bankroll halt), the operator's journal (kill,
//! resume, breaker resets: who, when, why), and the orders placed on the exchange with
//! their fills: an order is written before it is sent (write-ahead), with the signed
//! order itself, so a crash never loses one and a restart can re-send exactly the same
//! order or reconcile it.
//!
//! A file that is not a polybox store, a corrupted one, or one written by a newer polybox
//! (higher schema version) is refused with an error saying so; nothing is ever reset
//! silently.

use std::path::{Path, PathBuf};

use polybox_core::ids::{OrderId, StrategyId, TokenId};
use polybox_core::money::{Price, Size, Usdc};
use polybox_core::order::{Side, TimeInForce};
use polybox_core::orders::{OrderState, TrackedOrder, TradeFill, TradeStatus};
use polybox_core::risk::Ledger;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The schema this polybox writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// Schema 1 → 2: orders and fills.
const ORDERS_SCHEMA: &str = "
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY, strategy INTEGER NOT NULL, token TEXT NOT NULL, side TEXT NOT NULL,
        price INTEGER NOT NULL, size INTEGER NOT NULL, tif TEXT NOT NULL, post_only INTEGER NOT NULL,
        exchange_id TEXT UNIQUE, state TEXT NOT NULL, filled INTEGER NOT NULL, reason TEXT,
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, signed TEXT);
    CREATE TABLE fills (
        order_id INTEGER NOT NULL REFERENCES orders(id), trade_id TEXT NOT NULL, price INTEGER NOT NULL,
        size INTEGER NOT NULL, fee TEXT NOT NULL, status TEXT NOT NULL, ts_ms INTEGER NOT NULL,
        PRIMARY KEY (order_id, trade_id));
    PRAGMA user_version = 2;";

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
        if version < 2 {
            // Keeps the ledger and the journal of schema 1.
            self.conn
                .execute_batch(&format!("BEGIN; {ORDERS_SCHEMA} COMMIT;"))
                .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }

    /// Write an order and its state (insert or update, one transaction with its fills).
    /// `signed`: the signed order as sent, kept so it can be re-sent identically.
    pub fn save_order(
        &mut self,
        o: &TrackedOrder,
        signed: Option<&str>,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let i = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let tx = self.conn.transaction().map_err(|e| StoreError::Sql {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let sql = |e: rusqlite::Error| StoreError::Sql {
            path: self.path.clone(),
            message: e.to_string(),
        };
        tx.execute(
            "INSERT INTO orders (id, strategy, token, side, price, size, tif, post_only, exchange_id, state, filled, reason, created_ms, updated_ms, signed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(id) DO UPDATE SET price = excluded.price, size = excluded.size,
                 exchange_id = excluded.exchange_id, state = excluded.state,
                 filled = excluded.filled, reason = excluded.reason, updated_ms = excluded.updated_ms,
                 signed = COALESCE(excluded.signed, orders.signed)",
            params![
                i(o.id.0),
                i64::from(o.strategy.0),
                o.token.as_str(),
                o.side.as_str(),
                i64::from(o.price.micros()),
                i(o.size.micros()),
                o.tif.as_str(),
                o.post_only,
                o.exchange_id,
                o.state.as_str(),
                i(o.filled.micros()),
                o.reason,
                i(o.created_ms),
                i(now_ms),
                signed
            ],
        )
        .map_err(sql)?;
        for f in o.fills.values() {
            tx.execute(
                "INSERT INTO fills (order_id, trade_id, price, size, fee, status, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(order_id, trade_id) DO UPDATE SET status = excluded.status",
                params![
                    i(o.id.0),
                    f.trade_id,
                    i64::from(f.price.micros()),
                    i(f.size.micros()),
                    f.fee.to_decimal().to_string(),
                    f.status.as_str(),
                    i(now_ms)
                ],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Every stored order with its fills and signed body, by id.
    pub fn load_orders(&self) -> Result<Vec<(TrackedOrder, Option<String>)>, StoreError> {
        let bad = |what: &str, v: &str| self.corrupt(format!("orders: {what} `{v}`"));
        let mut stmt = self
            .conn
            .prepare("SELECT id, strategy, token, side, price, size, tif, post_only, exchange_id, state, filled, reason, created_ms, signed FROM orders ORDER BY id")
            .map_err(|e| self.sql(e))?;
        type Row = (
            i64,
            i64,
            String,
            String,
            i64,
            i64,
            String,
            bool,
            Option<String>,
            String,
            i64,
            Option<String>,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                ))
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        let mut fills_stmt = self
            .conn
            .prepare("SELECT trade_id, price, size, fee, status FROM fills WHERE order_id = ?1 ORDER BY ts_ms, trade_id")
            .map_err(|e| self.sql(e))?;
        let u = |x: i64| u64::try_from(x).unwrap_or(0);
        let mut out = Vec::new();
        for (
            id,
            strategy,
            token,
            side,
            price,
            size,
            tif,
            post_only,
            exchange_id,
            state,
            filled,
            reason,
            created_ms,
            signed,
        ) in rows
        {
            let fills: Vec<(String, i64, i64, String, String)> = fills_stmt
                .query_map([id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(|e| self.sql(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.sql(e))?;
            let mut by_trade = std::collections::BTreeMap::new();
            for (trade_id, fp, fs, fee, status) in fills {
                let f = TradeFill {
                    price: Price::from_micros(
                        u32::try_from(fp).map_err(|_| bad("fill price", &fp.to_string()))?,
                    ),
                    size: Size::from_micros(u(fs)),
                    fee: Usdc::parse(&fee).map_err(|_| bad("fee", &fee))?,
                    status: TradeStatus::parse(&status)
                        .ok_or_else(|| bad("trade status", &status))?,
                    trade_id: trade_id.clone(),
                };
                by_trade.insert(trade_id, f);
            }
            out.push((
                TrackedOrder {
                    id: OrderId(u(id)),
                    strategy: StrategyId(
                        u32::try_from(strategy)
                            .map_err(|_| bad("strategy", &strategy.to_string()))?,
                    ),
                    token: TokenId::new(&token),
                    side: Side::parse(&side).ok_or_else(|| bad("side", &side))?,
                    price: Price::from_micros(
                        u32::try_from(price).map_err(|_| bad("price", &price.to_string()))?,
                    ),
                    size: Size::from_micros(u(size)),
                    tif: TimeInForce::parse(&tif).ok_or_else(|| bad("time in force", &tif))?,
                    post_only,
                    exchange_id,
                    state: OrderState::parse(&state).ok_or_else(|| bad("state", &state))?,
                    filled: Size::from_micros(u(filled)),
                    fills: by_trade,
                    reason,
                    created_ms: u(created_ms),
                },
                signed,
            ));
        }
        Ok(out)
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

    fn order() -> TrackedOrder {
        TrackedOrder {
            id: OrderId(7),
            strategy: StrategyId(2),
            token: TokenId::new("123"),
            side: Side::Buy,
            price: Price::from_micros(450_000),
            size: Size::from_micros(10_000_000),
            tif: TimeInForce::Gtc,
            post_only: true,
            exchange_id: None,
            state: OrderState::Pending,
            filled: Size::ZERO,
            fills: std::collections::BTreeMap::new(),
            reason: None,
            created_ms: 1,
        }
    }

    #[test]
    fn orders_are_written_ahead_and_keep_their_signed_body_and_fills() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut o = order();
        store.save_order(&o, Some("{\"order\":{}}"), 2).unwrap();
        o.exchange_id = Some("0xabc".to_owned());
        o.state = OrderState::PartiallyFilled;
        o.filled = Size::from_micros(4_000_000);
        o.fills.insert(
            "t1".to_owned(),
            TradeFill {
                trade_id: "t1".to_owned(),
                price: Price::from_micros(450_000),
                size: Size::from_micros(4_000_000),
                fee: Usdc::parse("0.01").unwrap(),
                status: TradeStatus::Matched,
            },
        );
        store.save_order(&o, None, 3).unwrap();
        if let Some(f) = o.fills.get_mut("t1") {
            f.status = TradeStatus::Confirmed;
        }
        store.save_order(&o, None, 4).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let loaded = store.load_orders().unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            loaded[0].0, o,
            "state, exchange id and the fill's latest status"
        );
        assert_eq!(
            loaded[0].1.as_deref(),
            Some("{\"order\":{}}"),
            "the signed body is kept"
        );
    }

    #[test]
    fn a_schema_1_store_gains_orders_and_keeps_its_ledger_and_journal() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, updated_ms INTEGER NOT NULL);
             CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL);
             INSERT INTO journal (ts_ms, who, action, reason) VALUES (1, 'ops', 'kill', 'before the upgrade');
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.journal_entries().unwrap()[0].reason,
            "before the upgrade"
        );
        store.save_order(&order(), None, 1).unwrap();
        assert_eq!(store.load_orders().unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_order_row_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.save_order(&order(), None, 1).unwrap();
        store
            .conn
            .execute("UPDATE orders SET state = 'floating'", [])
            .unwrap();
        let e = store.load_orders().unwrap_err();
        assert!(e.to_string().contains("state `floating`"), "{e}");
    }
}
