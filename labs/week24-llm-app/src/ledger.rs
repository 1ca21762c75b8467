//! Users, keys and the usage ledger, in SQLite (WAL, `synchronous = FULL`: a committed row
//! survives a killed process and a power cut).
//!
//! Every request that may cost money goes through three steps:
//!
//! 1. **reserve** its worst case (the prompt's tokens and `max_tokens` of answer) in the same
//!    `BEGIN IMMEDIATE` transaction that checks the user's budget: the check and the hold are one
//!    step, so concurrent requests cannot all see the same remaining budget and overspend it;
//! 2. **settle** it at the tokens the model really used (the hold is swapped for the charge, in
//!    one transaction), before the client is told the usage: a client that saw its usage finds
//!    it in the ledger;
//! 3. or **release** it when the request failed (nothing charged).
//!
//! A crash between 1 and 2 leaves a reservation: [`Ledger::recover`], run when the server
//! starts, releases it (the client never got its whole answer). Each user row keeps `spent` and
//! `held` running totals next to the rows they sum, and [`Ledger::audit`] proves they agree.

use crate::bucket::Rate;
use crate::keys::{self, NewKey, Scope};
use crate::pricing::{self, Price};
use crate::{AppError, DbContext, Result, invalid};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id     TEXT PRIMARY KEY,
    budget INTEGER NOT NULL CHECK (budget >= 0),
    spent  INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0),
    held   INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0)
) STRICT;
CREATE TABLE IF NOT EXISTS keys (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    hash       BLOB NOT NULL,
    scopes     TEXT NOT NULL,
    per_minute REAL NOT NULL,
    burst      REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS usage (
    id                INTEGER PRIMARY KEY,
    request           TEXT NOT NULL UNIQUE,
    key_id            TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users(id),
    state             TEXT NOT NULL CHECK (state IN ('reserved', 'charged', 'released')),
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reserved          INTEGER NOT NULL,
    cost              INTEGER NOT NULL,
    created           INTEGER NOT NULL,
    settled           INTEGER,
    note              TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS usage_by_user ON usage (user_id, state);
";

/// A key as stored (its hash, never its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub user: String,
    pub hash: Vec<u8>,
    pub scopes: Vec<Scope>,
    pub rate: Rate,
    pub revoked: bool,
}

/// A user's money, in nano-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Account {
    pub budget: u64,
    /// Charged so far.
    pub spent: u64,
    /// Held by requests still running.
    pub held: u64,
}

impl Account {
    /// What a new request may still reserve.
    pub fn remaining(&self) -> u64 {
        self.budget.saturating_sub(self.spent + self.held)
    }
}

/// A request's hold on a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The ledger row.
    pub id: i64,
    pub request: String,
    pub user: String,
    pub prompt_tokens: u64,
    pub max_completion: u64,
    /// Nano-dollars held: the cost of `prompt_tokens` and `max_completion`.
    pub amount: u64,
}

/// The outcome of [`Ledger::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserve {
    Granted(Reservation),
    /// Nothing was held: `need` is more than the account has left.
    OverBudget {
        account: Account,
        need: u64,
    },
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub id: i64,
    pub request: String,
    pub key_id: String,
    pub user: String,
    /// `reserved`, `charged` or `released`.
    pub state: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reserved: u64,
    pub cost: u64,
    pub note: Option<String>,
}

/// Sums over charged rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: u64,
}

/// The ledger on one SQLite file; one connection, shared by the threads of a process (SQLite
/// writes one transaction at a time anyway). Other processes may open the same file: the
/// `IMMEDIATE` transactions and the busy timeout serialise them.
pub struct Ledger {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn as_i64(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| invalid(what, format!("{n} does not fit in a ledger entry")))
}

/// `user`'s account, read on `conn` (a connection, or a transaction in progress).
fn read_account(conn: &Connection, user: &str) -> Result<Account> {
    conn.query_row(
        "SELECT budget, spent, held FROM users WHERE id = ?1",
        [user],
        |r| {
            Ok(Account {
                budget: r.get::<_, i64>(0)? as u64,
                spent: r.get::<_, i64>(1)? as u64,
                held: r.get::<_, i64>(2)? as u64,
            })
        },
    )
    .optional()
    .during("reading an account")?
    .ok_or_else(|| AppError::NotFound(format!("no user {user:?}")))
}

/// A user id: 1 to 64 letters, digits, `_`, `-`, `.` or `@`.
pub fn check_user_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "user",
            format!("expected 1 to 64 letters, digits, `_`, `-`, `.` or `@`, got {id:?}"),
        ))
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`. A file that is not a SQLite database, or one
    /// whose tables are not the ledger's, is an error naming the file.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let context = format!("opening {}", path.display());
        let conn = Connection::open(path).during(&context)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .during(&context)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .during(&context)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .during(&context)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .during(&context)?;
        conn.execute_batch(SCHEMA).during(&context)?;
        // Tables of the same names but other columns (another program's file).
        conn.prepare("SELECT id, budget, spent, held FROM users LIMIT 0")
            .and_then(|_| conn.prepare("SELECT request, state, reserved, cost FROM usage LIMIT 0"))
            .during(&context)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| invalid("ledger", "a thread panicked while holding the connection"))
    }

    // ----- users and keys -----

    /// A new user with `budget` nano-dollars.
    pub fn add_user(&self, id: &str, budget: u64) -> Result<()> {
        check_user_id(id)?;
        let budget = as_i64(budget, "budget")?;
        let conn = self.conn()?;
        let n = conn
            .execute(
                "INSERT INTO users (id, budget) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                params![id, budget],
            )
            .during("adding a user")?;
        if n == 0 {
            return Err(invalid("user", format!("{id:?} exists already")));
        }
        Ok(())
    }

    /// Sets `user`'s budget (what is spent stays spent).
    pub fn set_budget(&self, user: &str, budget: u64) -> Result<()> {
        let budget = as_i64(budget, "budget")?;
        let n = self
            .conn()?
            .execute(
                "UPDATE users SET budget = ?2 WHERE id = ?1",
                params![user, budget],
            )
            .during("setting a budget")?;
        if n == 0 {
            return Err(AppError::NotFound(format!("no user {user:?}")));
        }
        Ok(())
    }

    /// A new key for `user`: the whole key is in the answer and nowhere else.
    pub fn add_key(&self, user: &str, scopes: &[Scope], rate: Rate) -> Result<NewKey> {
        rate.check()?;
        if scopes.is_empty() {
            return Err(invalid("scopes", "expected at least one scope"));
        }
        let key = keys::generate();
        let conn = self.conn()?;
        let exists: bool = conn
            .query_row("SELECT 1 FROM users WHERE id = ?1", [user], |_| Ok(true))
            .optional()
            .during("finding the key's user")?
            .unwrap_or(false);
        if !exists {
            return Err(invalid("user", format!("no user {user:?}")));
        }
        conn.execute(
            "INSERT INTO keys (id, user_id, hash, scopes, per_minute, burst, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                key.id,
                user,
                key.hash.as_slice(),
                Scope::join(scopes),
                rate.per_second * 60.0,
                rate.capacity,
                now_ms()
            ],
        )
        .during("adding a key")?;
        Ok(key)
    }

    /// Revokes key `id`; false if there is no such key.
    pub fn revoke_key(&self, id: &str) -> Result<bool> {
        let n = self
            .conn()?
            .execute("UPDATE keys SET revoked = 1 WHERE id = ?1", [id])
            .during("revoking a key")?;
        Ok(n == 1)
    }

    /// Key `id`'s record, if there is one.
    pub fn key(&self, id: &str) -> Result<Option<KeyRecord>> {
        let row = self
            .conn()?
            .query_row(
                "SELECT id, user_id, hash, scopes, per_minute, burst, revoked FROM keys WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, f64>(4)?,
                        r.get::<_, f64>(5)?,
                        r.get::<_, i64>(6)? != 0,
                    ))
                },
            )
            .optional()
            .during("reading a key")?;
        row.map(|(id, user, hash, scopes, per_minute, burst, revoked)| {
            Ok(KeyRecord {
                id,
                user,
                hash,
                scopes: Scope::parse_list(&scopes)?,
                rate: Rate::per_minute(per_minute, burst)?,
                revoked,
            })
        })
        .transpose()
    }

    /// Whether any key may administer.
    pub fn has_admin_key(&self) -> Result<bool> {
        let n: i64 = self
            .conn()?
            .query_row(
                "SELECT COUNT(*) FROM keys WHERE revoked = 0 AND ',' || scopes || ',' LIKE '%,admin,%'",
                [],
                |r| r.get(0),
            )
            .during("looking for an admin key")?;
        Ok(n > 0)
    }

    /// `user`'s account.
    pub fn account(&self, user: &str) -> Result<Account> {
        read_account(&*self.conn()?, user)
    }

    // ----- the money -----

    // ANCHOR: reserve
    /// Holds the worst-case cost of request `request` (`prompt_tokens` and `max_completion` at
    /// `price`) on `user`'s budget, if it fits: the budget is read and the hold written in one
    /// `IMMEDIATE` transaction (it takes the database's write lock before reading), so no other
    /// request can spend the same money in between.
    pub fn reserve(
        &self,
        request: &str,
        key_id: &str,
        user: &str,
        prompt_tokens: u64,
        max_completion: u64,
        price: Price,
    ) -> Result<Reserve> {
        let need = pricing::cost(price, prompt_tokens, max_completion)?;
        let mut conn = self.conn()?;
        // BEGIN SOLUTION reserve
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during("starting a reservation")?;
        let account = read_account(&tx, user)?;
        if need > account.remaining() {
            // Dropped without a commit: rolled back, nothing held.
            return Ok(Reserve::OverBudget { account, need });
        }
        let inserted = tx.execute(
            "INSERT INTO usage (request, key_id, user_id, state, prompt_tokens, completion_tokens,
                                reserved, cost, created)
             VALUES (?1, ?2, ?3, 'reserved', ?4, 0, ?5, 0, ?6)",
            params![
                request,
                key_id,
                user,
                as_i64(prompt_tokens, "prompt_tokens")?,
                as_i64(need, "cost")?,
                now_ms()
            ],
        );
        if let Err(rusqlite::Error::SqliteFailure(e, _)) = &inserted
            && e.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return Err(invalid(
                "request",
                format!("{request:?} is in the ledger already"),
            ));
        }
        inserted.during("holding the cost")?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE users SET held = held + ?2 WHERE id = ?1",
            params![user, as_i64(need, "cost")?],
        )
        .during("holding the cost")?;
        tx.commit().during("committing a reservation")?;
        Ok(Reserve::Granted(Reservation {
            id,
            request: request.to_string(),
            user: user.to_string(),
            prompt_tokens,
            max_completion,
            amount: need,
        }))
        // END SOLUTION
    }
    // ANCHOR_END: reserve

    /// Ends reservation `id`: `Some((prompt, completion, price))` charges those tokens (the row
    /// becomes `charged`), `None` releases it (`released`, nothing charged). The hold goes in the
    /// same transaction. Ending a reservation twice is an error: nothing is charged twice.
    fn end(&self, id: i64, charge: Option<(u64, u64, Price)>, note: Option<&str>) -> Result<u64> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during("starting a settlement")?;
        let (state, user, reserved): (String, String, i64) = tx
            .query_row(
                "SELECT state, user_id, reserved FROM usage WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .during("reading a reservation")?
            .ok_or_else(|| invalid("reservation", format!("no ledger row {id}")))?;
        if state != "reserved" {
            return Err(invalid(
                "reservation",
                format!("ledger row {id} is {state} already"),
            ));
        }
        let (state, prompt, completion, cost) = match charge {
            Some((p, c, price)) => ("charged", Some(p), c, pricing::cost(price, p, c)?),
            None => ("released", None, 0, 0),
        };
        let cost_i = as_i64(cost, "cost")?;
        tx.execute(
            "UPDATE usage SET state = ?2, prompt_tokens = COALESCE(?3, prompt_tokens),
                              completion_tokens = ?4, cost = ?5, settled = ?6, note = ?7
             WHERE id = ?1",
            params![
                id,
                state,
                prompt.map(|p| as_i64(p, "prompt_tokens")).transpose()?,
                as_i64(completion, "completion_tokens")?,
                cost_i,
                now_ms(),
                note
            ],
        )
        .during("settling")?;
        tx.execute(
            "UPDATE users SET held = held - ?2, spent = spent + ?3 WHERE id = ?1",
            params![user, reserved, cost_i],
        )
        .during("settling")?;
        tx.commit().during("committing a settlement")?;
        Ok(cost)
    }

    /// Charges reservation `r` for the tokens the model used; returns the cost. A count above the
    /// reservation is still charged (usage is never dropped) and noted.
    pub fn settle(
        &self,
        r: &Reservation,
        prompt: u64,
        completion: u64,
        price: Price,
    ) -> Result<u64> {
        let over = prompt > r.prompt_tokens || completion > r.max_completion;
        self.end(
            r.id,
            Some((prompt, completion, price)),
            over.then_some("more tokens than reserved"),
        )
    }

    /// Charges reservation `r` for part of an answer (the client went away), noting why.
    pub fn settle_partial(
        &self,
        r: &Reservation,
        completion: u64,
        price: Price,
        note: &str,
    ) -> Result<u64> {
        self.end(r.id, Some((r.prompt_tokens, completion, price)), Some(note))
    }

    /// Releases reservation `r` (the request failed): nothing charged.
    pub fn release(&self, r: &Reservation, note: &str) -> Result<()> {
        self.end(r.id, None, Some(note)).map(|_| ())
    }

    /// Releases every reservation left open (run at start-up, when no request can be running):
    /// those of requests a crash cut off. Returns how many.
    pub fn recover(&self) -> Result<usize> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during("starting recovery")?;
        tx.execute(
            "UPDATE users SET held = held - (SELECT COALESCE(SUM(reserved), 0) FROM usage
                                             WHERE usage.user_id = users.id AND state = 'reserved')",
            [],
        )
        .during("recovering")?;
        let n = tx
            .execute(
                "UPDATE usage SET state = 'released', settled = ?1,
                                  note = 'the server stopped before the answer ended'
                 WHERE state = 'reserved'",
                [now_ms()],
            )
            .during("recovering")?;
        tx.commit().during("committing recovery")?;
        Ok(n)
    }

    // ----- reading it -----

    /// The ledger's rows, oldest first (`user`'s only, if given).
    pub fn rows(&self, user: Option<&str>) -> Result<Vec<UsageRow>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, request, key_id, user_id, state, prompt_tokens, completion_tokens,
                        reserved, cost, note
                 FROM usage WHERE ?1 IS NULL OR user_id = ?1 ORDER BY id",
            )
            .during("reading the ledger")?;
        stmt.query_map([user], |r| {
            Ok(UsageRow {
                id: r.get(0)?,
                request: r.get(1)?,
                key_id: r.get(2)?,
                user: r.get(3)?,
                state: r.get(4)?,
                prompt_tokens: r.get::<_, i64>(5)? as u64,
                completion_tokens: r.get::<_, i64>(6)? as u64,
                reserved: r.get::<_, i64>(7)? as u64,
                cost: r.get::<_, i64>(8)? as u64,
                note: r.get(9)?,
            })
        })
        .during("reading the ledger")?
        .collect::<std::result::Result<_, _>>()
        .during("reading the ledger")
    }

    /// Sums over the charged rows (`user`'s only, if given), computed by SQLite.
    pub fn totals(&self, user: Option<&str>) -> Result<Totals> {
        self.conn()?
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
                        COALESCE(SUM(cost), 0)
                 FROM usage WHERE state = 'charged' AND (?1 IS NULL OR user_id = ?1)",
                [user],
                |r| {
                    Ok(Totals {
                        requests: r.get::<_, i64>(0)? as u64,
                        prompt_tokens: r.get::<_, i64>(1)? as u64,
                        completion_tokens: r.get::<_, i64>(2)? as u64,
                        cost: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .during("summing the ledger")
    }

    /// Where the users' running totals disagree with the rows they sum (empty: the ledger adds
    /// up), and users whose charges exceed their budget.
    pub fn audit(&self) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT u.id, u.budget, u.spent, u.held,
                        COALESCE(SUM(CASE WHEN s.state = 'charged' THEN s.cost END), 0),
                        COALESCE(SUM(CASE WHEN s.state = 'reserved' THEN s.reserved END), 0)
                 FROM users u LEFT JOIN usage s ON s.user_id = u.id
                 GROUP BY u.id ORDER BY u.id",
            )
            .during("auditing")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .during("auditing")?
            .collect::<std::result::Result<Vec<_>, _>>()
            .during("auditing")?;
        let mut problems = Vec::new();
        for (user, budget, spent, held, charged, reserved) in rows {
            if spent != charged {
                problems.push(format!(
                    "{user}: spent {spent}, its charged rows sum to {charged}"
                ));
            }
            if held != reserved {
                problems.push(format!(
                    "{user}: held {held}, its open reservations sum to {reserved}"
                ));
            }
            if spent > budget {
                problems.push(format!(
                    "{user}: spent {spent}, over its budget of {budget}"
                ));
            }
        }
        Ok(problems)
    }
}
