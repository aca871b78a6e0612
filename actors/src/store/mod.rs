//! The SurrealDB store: one connection handle, the migration runner and the typed
//! reads and writes the actors use.
//!
//! Only actors write through this module (DESIGN: one writer per piece of state). Every
//! write that changes an entity also writes its journal row in the same transaction
//! ([`Store::commit`]). Rows cross the SDK boundary as JSON values and are (de)serialized
//! with serde, so domain types need no database-specific derives.

mod calendars;
mod capacity;
pub mod check;
mod cluster;
mod migrations;
mod outbox;
mod portable;
mod projects;
mod records;
mod tables;
mod workflows;
pub mod writes;

pub use calendars::{CalEventRecord, CalendarRecord, FeedRecord, feed_id};
pub use capacity::{BookingRecord, JobTypeRecord, WaitlistRecord};
pub use cluster::{FeedRow, NodeRecord, PairingRecord, ThrottleRecord};
pub use migrations::{MIGRATIONS, Migration, MigrationReport};
pub use outbox::{
    CALENDAR_MAIL_KINDS, CalendarMailRecord, MailPrefRecord, OutboxCounts, OutboxRecord,
    OutgoingMail, PasswordResetRecord,
};
pub use portable::Owned;
pub use projects::{AttachmentRecord, ProjectRecord, TaskRecord};
pub use records::*;
pub use tables::{TABLES, Table, exported};
pub use workflows::{
    AuditQuery, AuditRecord, BoardCardRecord, BoardRecord, CommentRecord, EntryRecord,
    FilterRecord, KioskRecord, WorkItemRecord, WorkflowRecord,
};
pub use writes::Write;

use cflows_protocol::StreamName;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use surrealdb::Surreal;
use surrealdb::engine::any::{Any, connect};
use surrealdb::opt::auth::Root;

/// Where and how to open the database. Mirrors the `database` settings section.
#[derive(Clone)]
pub struct StoreConfig {
    /// `surrealkv://path`, `mem://` or `ws://host:port` (also `wss://`).
    pub url: String,
    pub namespace: String,
    pub database: String,
    /// Remote servers only.
    pub username: Option<String>,
    /// Remote servers only.
    pub password: Option<String>,
    /// Embedded surrealkv only: `every` (fsync each commit, the default), `never`, or an
    /// interval such as `1s`.
    pub sync: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sync", &self.sync)
            .finish()
    }
}

impl StoreConfig {
    /// A fresh in-memory database, for tests.
    pub fn memory() -> Self {
        Self {
            url: "mem://".into(),
            namespace: "cflows".into(),
            database: "cflows".into(),
            username: None,
            password: None,
            sync: "every".into(),
        }
    }

    /// The URL handed to the SDK: surrealkv gets its sync mode as a query parameter.
    fn engine_url(&self) -> String {
        if self.url.starts_with("surrealkv://") && !self.url.contains('?') {
            format!("{}?sync={}", self.url, self.sync)
        } else {
            self.url.clone()
        }
    }

    /// Whether this is an embedded on-disk engine (which one process may hold at a time).
    pub fn embedded_path(&self) -> Option<&str> {
        self.url.strip_prefix("surrealkv://")
    }
}

/// Defined beside `CoreError` so the crate's error vocabulary depends on no store.
pub use crate::error::StoreError;

impl From<surrealdb::Error> for StoreError {
    fn from(e: surrealdb::Error) -> Self {
        let msg = e.to_string();
        if e.is_already_exists() || msg.contains("already contains") {
            StoreError::Duplicate(msg)
        } else if msg.to_lowercase().contains("conflict") || msg.contains("can be retried") {
            StoreError::TxConflict(msg)
        } else {
            StoreError::Db(msg)
        }
    }
}

/// How long opening the database may take before start-up gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// One line of the journal, written with the change it describes.
#[derive(Clone, Debug)]
pub struct JournalRow {
    /// The stream, e.g. `org:{id}`.
    pub stream: StreamName,
    /// Gap-free position in the stream, decided by the stream's owning actor.
    pub seq: u64,
    pub kind: &'static str,
    /// The event, JSON-encoded.
    pub payload: String,
    /// The user who caused the change (none for system changes).
    pub actor: Option<String>,
    /// The organization the stream belongs to (none for platform and inbox streams).
    pub org: Option<String>,
}

/// A cheap-to-clone handle on the database connection.
///
/// The `Surreal` client sits behind an `Arc`: in SDK 3 cloning it opens a new server-side
/// session (attach, sign in again, select namespace), which against a remote server costs
/// a password verification per clone. All our statements carry their own transaction, so
/// one session serves every actor.
#[derive(Clone)]
pub struct Store {
    db: Arc<Surreal<Any>>,
    /// Statements sent so far (`run`): tests compare the work of two paths by it.
    queries: Arc<std::sync::atomic::AtomicU64>,
    /// This process's name among the nodes on the database, written on each journal row
    /// it commits (the feed tells its own rows from other nodes' by it).
    node: Arc<str>,
}

impl Store {
    /// Opens the database named by `config` and selects its namespace and database.
    ///
    /// # Errors
    /// The engine cannot be reached, refuses the credentials, or (embedded) is locked.
    pub async fn open(config: &StoreConfig) -> StoreResult<Self> {
        if let Some(path) = config.embedded_path()
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", parent.display())))?;
        }
        // A remote server that does not answer must not hang start-up.
        let db = tokio::time::timeout(CONNECT_TIMEOUT, connect(config.engine_url()))
            .await
            .map_err(|_| {
                StoreError::Db(format!(
                    "could not reach the database at {} within {} s",
                    config.url,
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| StoreError::Db(format!("cannot connect to {}: {e}", config.url)))?;
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            db.signin(Root {
                username: username.clone(),
                password: password.clone(),
            })
            .await?;
        }
        db.use_ns(&config.namespace)
            .use_db(&config.database)
            .await?;
        Ok(Self {
            db: Arc::new(db),
            queries: Arc::default(),
            node: new_id().into(),
        })
    }

    /// This handle's node name (each [`Store::open`] is a node of its own).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The same database under another node name: tests run several nodes on one
    /// in-memory database.
    #[doc(hidden)]
    pub fn as_new_node(&self) -> Self {
        Self {
            db: self.db.clone(),
            queries: Arc::default(),
            node: new_id().into(),
        }
    }

    /// Checks the engine answers.
    ///
    /// # Errors
    /// The engine is unreachable.
    pub async fn health(&self) -> StoreResult<()> {
        tokio::time::timeout(Duration::from_secs(2), self.db.health())
            .await
            .map_err(|_| StoreError::Db("health check timed out".into()))??;
        Ok(())
    }

    /// Runs `sql` with `vars` (a JSON object) and returns every statement's rows.
    async fn run(&self, sql: &str, vars: Json) -> StoreResult<surrealdb::IndexedResults> {
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response = self.db.query(sql).bind(vars).await?;
        let errors = response.take_errors();
        if errors.is_empty() {
            return Ok(response);
        }
        // In a failed transaction every statement reports "not executed"; the statement
        // that failed carries the real cause.
        let mut errors: Vec<_> = errors.into_iter().collect();
        errors.sort_by_key(|(i, _)| *i);
        let root = errors
            .iter()
            .find(|(_, e)| {
                !e.to_string()
                    .contains("not executed due to a failed transaction")
            })
            .unwrap_or(&errors[0]);
        Err(StoreError::from(root.1.clone()))
    }

    /// Rows of statement `index` decoded as `T`.
    async fn rows<T: DeserializeOwned>(&self, sql: &str, vars: Json) -> StoreResult<Vec<T>> {
        let mut response = self.run(sql, vars).await?;
        take_rows(&mut response, 0)
    }

    /// The first row of the first statement, if any.
    async fn row<T: DeserializeOwned>(&self, sql: &str, vars: Json) -> StoreResult<Option<T>> {
        Ok(self.rows(sql, vars).await?.into_iter().next())
    }

    /// How many queries (reads and single statements, not commits) this store has run.
    pub fn queries_run(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Applies `body` (SurrealQL statements using `vars`) and appends `journal` rows in one
    /// transaction. Returns only after the engine has committed (and, for surrealkv with
    /// `sync = every`, synced) the transaction.
    ///
    /// # Errors
    /// Any statement fails (including a unique index), or the commit fails; then nothing
    /// was written.
    pub async fn commit(&self, write: Write, journal: &[JournalRow]) -> StoreResult<()> {
        let Write {
            sql: body,
            mut vars,
        } = write;
        let mut sql = String::with_capacity(body.len() + 256);
        sql.push_str("BEGIN TRANSACTION;\n");
        sql.push_str(&body);
        sql.push('\n');
        for (i, row) in journal.iter().enumerate() {
            let key = format!("__journal{i}");
            sql.push_str(&format!(
                "CREATE event CONTENT {{ stream: ${key}.stream, seq: ${key}.seq, kind: ${key}.kind, payload: ${key}.payload, actor: ${key}.actor, org: ${key}.org, node: $__node, at: time::now() }};\n"
            ));
            vars.insert(
                key,
                json!({
                    "stream": row.stream.to_string(), "seq": row.seq, "kind": row.kind,
                    "payload": row.payload, "actor": row.actor, "org": row.org,
                }),
            );
        }
        // Each stream's new head, so an actor starting reads one record instead of
        // scanning the journal's index backwards.
        let mut heads: Vec<(String, u64)> = Vec::new();
        for row in journal {
            let name = row.stream.to_string();
            match heads.iter_mut().find(|(s, _)| *s == name) {
                Some(h) => h.1 = h.1.max(row.seq),
                None => heads.push((name, row.seq)),
            }
        }
        for (i, (stream, seq)) in heads.into_iter().enumerate() {
            let key = format!("__head{i}");
            sql.push_str(&format!(
                "UPSERT type::record('stream_head', ${key}.stream) SET seq = ${key}.seq;\n"
            ));
            vars.insert(key, json!({ "stream": stream, "seq": seq }));
        }
        if !journal.is_empty() {
            vars.insert("__node".into(), json!(&*self.node));
        }
        sql.push_str("COMMIT TRANSACTION;");
        self.run(&sql, Json::Object(vars)).await?;
        Ok(())
    }

    /// Runs raw SurrealQL outside the actors. Only for tests that must simulate damage
    /// (an edited migration, a dangling reference); never called by cflows itself.
    ///
    /// # Errors
    /// The statement fails.
    #[doc(hidden)]
    pub async fn tamper_for_tests(&self, sql: &str) -> StoreResult<()> {
        self.run(sql, json!({})).await.map(|_| ())
    }

    /// The highest journal sequence number of `stream` (0 when it has none).
    ///
    /// # Errors
    /// The query fails.
    pub async fn last_seq(&self, stream: &StreamName) -> StoreResult<u64> {
        let head: Option<StreamHeadRecord> = self
            .row(
                &format!("SELECT {STREAM_HEAD_FIELDS} FROM type::record('stream_head', $stream)"),
                json!({ "stream": stream.to_string() }),
            )
            .await?;
        // Every journal row is written with its stream's head (migration 0007 wrote the
        // heads of older streams): no head means a stream never written.
        Ok(head.map_or(0, |h| h.seq))
    }

    /// Journal rows of `stream` after `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn journal(
        &self,
        stream: &StreamName,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<EventRecord>> {
        self.rows(
            "SELECT stream, seq, kind, payload, actor, at FROM event WHERE stream = $stream AND seq > $after ORDER BY seq LIMIT $limit",
            json!({ "stream": stream.to_string(), "after": after, "limit": limit }),
        )
        .await
    }
}

fn take_rows<T: DeserializeOwned>(
    response: &mut surrealdb::IndexedResults,
    index: usize,
) -> StoreResult<Vec<T>> {
    let rows: Vec<Json> = response.take(index)?;
    rows.into_iter()
        .map(|row| {
            serde_json::from_value(row).map_err(|e| {
                // A stored value that does not parse is never defaulted: it is an error,
                // logged here and listed by `cflows check`.
                tracing::error!(error = %e, "a stored row does not parse");
                StoreError::Decode(e.to_string())
            })
        })
        .collect()
}

/// A new time-ordered id (UUIDv7 in its simple form).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
