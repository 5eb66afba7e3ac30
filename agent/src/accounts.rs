//! Accounts, sessions and logon throttling.
//!
//! Passwords are stored as Argon2id hashes. A session is 256 random bits in an HttpOnly, SameSite=Strict cookie,
//! stored in the database (so a restart keeps operators logged on) and expiring after an idle period. Failed
//! logons are counted per account name: the first few answer at once, then each waits longer, then the account
//! is refused with 429 and `Retry-After` for a while; a success resets the count.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use shared::api::{AccountChange, AccountView, Me, Role, UnknownRole};

use crate::db::{self, Db};
use crate::{Error, Result};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "agent_session";
/// Failures answered without delay.
const FREE_FAILURES: u32 = 3;
/// Failures after which the account is refused for [`LOCKOUT`].
const LOCK_AFTER: u32 = 6;
/// How long an account is refused after [`LOCK_AFTER`] failures.
const LOCKOUT: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most account names tracked at once (bounded memory under a spray of made-up names).
const MAX_TRACKED: usize = 10_000;
/// Fewest characters in a password set by `agent users add|passwd` (see docs/decisions.md).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Password(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Password(e.to_string()))
}

/// Argon2id with one of OWASP's recommended settings (46 MiB, one pass, one lane). Its memory is above the
/// allocator's largest mmap threshold, so it is returned to the system after each hash instead of staying in the
/// agent's resident memory (the default 19 MiB setting stayed resident after the first logon).
fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(46 * 1024, 1, 1, None).map_err(|e| Error::Password(e.to_string()))?;
    Ok(Argon2::new(
        Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

/// Whether `password` matches the stored `hash` (with the parameters recorded in the hash).
fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("no such account").unwrap_or_default())
}

/// Random hex of `bytes` bytes.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the `admin` account on a first start. Returns the password when it was generated (to print it once).
pub fn ensure_admin(db: &Db, password: Option<&str>) -> Result<Option<String>> {
    let conn = db.lock();
    let exists: bool = conn.query_row("SELECT EXISTS(SELECT 1 FROM accounts)", [], |r| r.get(0))?;
    if exists {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) if !p.is_empty() => (p.to_string(), false),
        _ => (random_hex(12), true),
    };
    conn.execute(
        "INSERT INTO accounts (username, role, password_hash, created_at) VALUES ('admin', ?1, ?2, ?3)",
        params![Role::Admin.as_str(), hash_password(&password)?, db::now()],
    )?;
    Ok(generated.then_some(password))
}

/// Why a change to an account is refused; the API answers each with its own status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The name breaks the naming rule.
    #[error("a name is 1 to 64 letters, digits, dots, dashes or underscores")]
    BadName,
    /// Another account has the name.
    #[error("the name is taken")]
    NameTaken,
    /// The new password has this many characters, fewer than [`MIN_PASSWORD_CHARS`].
    #[error("the password has {0} characters; it needs at least {MIN_PASSWORD_CHARS}")]
    ShortPassword(usize),
    /// No account has the name.
    #[error("no such account")]
    Unknown,
    /// The change would leave the agent without an admin; says what was refused (`removed`, `demoted`).
    #[error("it is the last admin and cannot be {0}: make another account admin first")]
    LastAdmin(&'static str),
    /// The role stored for the account names no role.
    #[error("{0}")]
    StoredRole(UnknownRole),
}

/// The error refusing a change to `account`.
fn refused(account: &str, refusal: Refusal) -> Error {
    Error::Account {
        account: account.to_string(),
        refusal,
    }
}

/// Records in the account audit that `by` made `what` to `account`, inside the change's transaction (so that no
/// change is made without its entry).
fn audit(conn: &Connection, by: &str, account: &str, what: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO account_changes (account, what, who, at) VALUES (?1, ?2, ?3, ?4)",
        params![account, what, by, db::now()],
    )?;
    Ok(())
}

/// Creates account `username` with `role` and `password`, recorded as done by `by`; refused when the name is
/// taken or unusable or the password too short.
pub fn create(db: &Db, by: &str, username: &str, role: Role, password: &str) -> Result<()> {
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(refused(username, Refusal::BadName));
    }
    check_password(username, password)?;
    let hash = hash_password(password)?;
    let mut conn = db.lock();
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT INTO accounts (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (username) DO NOTHING",
        params![username, role.as_str(), hash, db::now()],
    )?;
    if inserted == 0 {
        return Err(refused(username, Refusal::NameTaken));
    }
    audit(&tx, by, username, &format!("added with the {role} role"))?;
    tx.commit()?;
    Ok(())
}

/// Refuses a new password shorter than [`MIN_PASSWORD_CHARS`] characters, naming the account.
fn check_password(username: &str, password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(refused(username, Refusal::ShortPassword(chars)));
    }
    Ok(())
}

/// Every account, by name, without its password hash.
pub fn list(db: &Db) -> Result<Vec<AccountView>> {
    let conn = db.lock();
    let mut statement = conn.prepare(
        "SELECT a.username, a.role, a.created_at, MAX(s.created_at) FROM accounts a
         LEFT JOIN sessions s ON s.username = a.username GROUP BY a.username ORDER BY a.username",
    )?;
    let rows = statement.query_map([], |r| {
        let last_logon: Option<i64> = r.get(3)?;
        Ok(AccountView {
            username: r.get(0)?,
            role: r.get(1)?,
            created_at: r.get(2)?,
            last_logon: last_logon
                .and_then(|secs| u64::try_from(secs).ok())
                .map(|secs| {
                    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs))
                        .to_string()
                }),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest `limit` entries of the account audit, newest first.
pub fn changes(db: &Db, limit: u32) -> Result<Vec<AccountChange>> {
    let conn = db.lock();
    let mut statement = conn
        .prepare("SELECT account, what, who, at FROM account_changes ORDER BY id DESC LIMIT ?1")?;
    let rows = statement.query_map([limit], |r| {
        Ok(AccountChange {
            account: r.get(0)?,
            what: r.get(1)?,
            by: r.get(2)?,
            at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Refuses when `username` is the only admin (so that the agent always keeps one account able to manage the
/// others); `doing` says what was refused.
fn keep_an_admin(conn: &Connection, username: &str, doing: &'static str) -> Result<()> {
    let (is_admin, admins): (bool, i64) = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM accounts WHERE username = ?1 AND role = 'admin'),
                (SELECT COUNT(*) FROM accounts WHERE role = 'admin')",
        [username],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if is_admin && admins <= 1 {
        return Err(refused(username, Refusal::LastAdmin(doing)));
    }
    Ok(())
}

/// Removes account `username` and ends its sessions at once, recorded as done by `by`; refused for an unknown
/// account or the last admin.
pub fn remove(db: &Db, by: &str, username: &str) -> Result<()> {
    let mut conn = db.lock();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    keep_an_admin(&tx, username, "removed")?;
    tx.execute("DELETE FROM sessions WHERE username = ?1", [username])?;
    if tx.execute("DELETE FROM accounts WHERE username = ?1", [username])? == 0 {
        return Err(refused(username, Refusal::Unknown));
    }
    audit(&tx, by, username, "removed; its sessions ended")?;
    tx.commit()?;
    Ok(())
}

/// Gives account `username` the role `role` (its sessions have it from their next request), recorded as done by
/// `by`; refused for an unknown account or for demoting the last admin. Returns the role it had.
pub fn set_role(db: &Db, by: &str, username: &str, role: Role) -> Result<String> {
    let mut conn = db.lock();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let before: String = tx
        .query_row(
            "SELECT role FROM accounts WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| refused(username, Refusal::Unknown))?;
    if role != Role::Admin {
        keep_an_admin(&tx, username, "demoted")?;
    }
    tx.execute(
        "UPDATE accounts SET role = ?2 WHERE username = ?1",
        params![username, role.as_str()],
    )?;
    audit(&tx, by, username, &format!("role {before} -> {role}"))?;
    tx.commit()?;
    Ok(before)
}

/// Sets a new password for account `username` and ends all its sessions (a password change is how an operator
/// shuts out whoever knew the old one), recorded as done by `by`; refused for an unknown account or a too short
/// password.
pub fn set_password(db: &Db, by: &str, username: &str, password: &str) -> Result<()> {
    check_password(username, password)?;
    let hash = hash_password(password)?;
    let mut conn = db.lock();
    let tx = conn.transaction()?;
    let changed = tx.execute(
        "UPDATE accounts SET password_hash = ?2 WHERE username = ?1",
        params![username, hash],
    )?;
    if changed == 0 {
        return Err(refused(username, Refusal::Unknown));
    }
    tx.execute("DELETE FROM sessions WHERE username = ?1", [username])?;
    audit(&tx, by, username, "password set; its sessions ended")?;
    tx.commit()?;
    Ok(())
}

/// The role stored for `account`; an error naming the account when the word names no role.
fn stored_role(account: &str, word: &str) -> Result<Role> {
    word.parse()
        .map_err(|e: UnknownRole| refused(account, Refusal::StoredRole(e)))
}

/// How a logon attempt ended.
#[derive(Debug)]
pub enum Logon {
    /// Right credentials: the account and a new session token.
    Accepted(Me, String),
    /// Wrong credentials; answer after `delay`.
    Refused {
        /// How long to wait before answering.
        delay: Duration,
    },
    /// Too many failures: refused without checking, retry after this many seconds.
    Throttled {
        /// Seconds until the next attempt is checked.
        retry_after: u64,
    },
}

/// Consecutive failures of one account name.
#[derive(Debug, Clone, Copy)]
struct Failures {
    /// How many in a row.
    count: u32,
    /// When the last one happened.
    last: Instant,
}

/// Accounts and sessions.
pub struct Accounts {
    /// The database.
    db: Db,
    /// Failed logons per account name.
    failures: Mutex<HashMap<String, Failures>>,
    /// Idle time after which a session expires.
    session_idle: Duration,
}

impl Accounts {
    /// Accounts stored in `db`, sessions expiring after `session_idle`.
    pub fn new(db: Db, session_idle: Duration) -> Accounts {
        Accounts {
            db,
            failures: Mutex::new(HashMap::new()),
            session_idle,
        }
    }

    /// Checks a logon; on success creates a session.
    pub async fn logon(&self, username: &str, password: &str) -> Result<Logon> {
        if let Some(retry_after) = self.throttled(username) {
            return Ok(Logon::Throttled { retry_after });
        }
        let name = username.to_string();
        let password = password.to_string();
        let account = self
            .db
            .run(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT role, password_hash FROM accounts WHERE username = ?1",
                        [&name],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                    )
                    .optional()?)
            })
            .await?;
        // Argon2 is deliberately slow: off the async threads.
        let (role, ok) = tokio::task::spawn_blocking(move || match account {
            Some((role, hash)) => {
                let ok = verify_password(&hash, &password);
                (role, ok)
            }
            None => {
                verify_password(dummy_hash(), &password);
                (String::new(), false)
            }
        })
        .await
        .map_err(|e| Error::Password(e.to_string()))?;
        if !ok {
            return Ok(Logon::Refused {
                delay: self.record_failure(username),
            });
        }
        self.lock_failures().remove(username);
        let role = stored_role(username, &role)?;
        let token = random_hex(32);
        let (user, tok) = (username.to_string(), token.clone());
        self.db
            .run(move |conn| {
                let now = db::now_secs();
                conn.execute(
                    "INSERT INTO sessions (token, username, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
                    params![tok, user, now],
                )?;
                Ok(())
            })
            .await?;
        Ok(Logon::Accepted(
            Me {
                username: username.to_string(),
                role,
            },
            token,
        ))
    }

    /// The account behind a session token, when the session exists and has not expired; refreshes its idle time.
    pub async fn session(&self, token: String) -> Result<Option<Me>> {
        let idle = self.session_idle.as_secs() as i64;
        self.db
            .run(move |conn| {
                let now = db::now_secs();
                let found = conn
                    .query_row(
                        "SELECT s.username, a.role, s.last_seen_at FROM sessions s
                         JOIN accounts a ON a.username = s.username WHERE s.token = ?1",
                        [&token],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                            ))
                        },
                    )
                    .optional()?;
                match found {
                    Some((_, _, last_seen)) if now - last_seen > idle => {
                        conn.execute("DELETE FROM sessions WHERE token = ?1", [&token])?;
                        Ok(None)
                    }
                    Some((username, role, last_seen)) => {
                        let role = stored_role(&username, &role)?;
                        // Refresh at most once a minute: a write per request is not needed.
                        if now - last_seen > 60 {
                            conn.execute(
                                "UPDATE sessions SET last_seen_at = ?2 WHERE token = ?1",
                                params![token, now],
                            )?;
                        }
                        Ok(Some(Me { username, role }))
                    }
                    None => Ok(None),
                }
            })
            .await
    }

    /// Ends a session.
    pub async fn logout(&self, token: String) -> Result<()> {
        self.db
            .run(move |conn| {
                conn.execute("DELETE FROM sessions WHERE token = ?1", [&token])?;
                Ok(())
            })
            .await
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds to wait when the account is locked out.
    fn throttled(&self, username: &str) -> Option<u64> {
        let failures = self.lock_failures().get(username).copied()?;
        let elapsed = failures.last.elapsed();
        (failures.count >= LOCK_AFTER && elapsed < LOCKOUT)
            .then(|| (LOCKOUT - elapsed).as_secs().max(1))
    }

    /// Counts a failure; returns how long to wait before answering.
    fn record_failure(&self, username: &str) -> Duration {
        let mut failures = self.lock_failures();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.last.elapsed() < WINDOW);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let now = Instant::now();
        let entry = failures.entry(username.to_string()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) > WINDOW {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        delay_after(entry.count)
    }
}

/// The delay before answering the `count`th consecutive failure: none for the first few, then 1 s, 2 s, 4 s...
fn delay_after(count: u32) -> Duration {
    if count <= FREE_FAILURES {
        Duration::ZERO
    } else {
        Duration::from_secs(1 << (count - FREE_FAILURES - 1).min(3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures() {
        let delays: Vec<u64> = (1..=8).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 1, 2, 4, 8, 8]);
    }

    #[test]
    fn a_password_verifies_against_its_argon2id_hash_only() {
        let hash = hash_password("s3cret").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "s3cret"));
        assert!(!verify_password(&hash, "s3creT"));
    }

    #[tokio::test]
    async fn a_session_expires_after_its_idle_time_and_a_logon_resets_the_failures() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::open(dir.path()).expect("database");
        assert!(
            ensure_admin(&db, Some("pw")).expect("admin").is_none(),
            "a given password is not printed"
        );
        let accounts = Accounts::new(db, Duration::from_secs(1));
        for _ in 0..2 {
            assert!(matches!(
                accounts.logon("admin", "bad").await.expect("logon"),
                Logon::Refused { .. }
            ));
        }
        let Logon::Accepted(me, token) = accounts.logon("admin", "pw").await.expect("logon") else {
            panic!("the right password is accepted");
        };
        assert_eq!(me.role, Role::Admin);
        assert!(
            accounts.lock_failures().get("admin").is_none(),
            "a success resets the failures"
        );
        assert!(
            accounts
                .session(token.clone())
                .await
                .expect("session")
                .is_some()
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            accounts
                .session(token.clone())
                .await
                .expect("session")
                .is_none(),
            "expired"
        );
        assert!(
            accounts.session(token).await.expect("session").is_none(),
            "and deleted"
        );
    }

    #[tokio::test]
    async fn a_created_account_logs_on_with_its_role_and_an_unknown_stored_role_lets_nothing_through()
     {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Db::open(dir.path()).expect("database");
        create(&db, "admin", "olga", Role::Operator, "olga-password").expect("create olga");
        let taken = create(&db, "admin", "olga", Role::Viewer, "other-password")
            .expect_err("the name is taken");
        assert_eq!(taken.to_string(), "account `olga`: the name is taken");
        assert!(
            create(
                &db,
                "admin",
                "no spaces",
                Role::Viewer,
                "long-enough-password"
            )
            .is_err()
        );
        let short =
            create(&db, "admin", "oscar", Role::Viewer, "elevenchars").expect_err("too short");
        assert_eq!(
            short.to_string(),
            "account `oscar`: the password has 11 characters; it needs at least 12"
        );
        let accounts = Accounts::new(db.clone(), Duration::from_secs(60));
        let Logon::Accepted(me, token) = accounts
            .logon("olga", "olga-password")
            .await
            .expect("logon")
        else {
            panic!("the right password is accepted");
        };
        assert_eq!(me.role, Role::Operator);

        db.lock()
            .execute(
                "UPDATE accounts SET role = 'root' WHERE username = 'olga'",
                [],
            )
            .expect("change the stored role");
        let expected = "account `olga`: `root` is not a role (viewer, operator or admin)";
        let session = accounts.session(token).await.expect_err("no session");
        assert_eq!(session.to_string(), expected);
        let logon = accounts
            .logon("olga", "olga-password")
            .await
            .expect_err("no logon");
        assert_eq!(logon.to_string(), expected);
    }
}
