//! What several nodes on one database share: the journal feed's reads, the nodes'
//! heartbeats, kiosk pairing codes and attempt counters (login throttle).
//!
//! Must not: decide anything (the feed, the Directory and the web layer do); hold
//! state in memory.

use super::{Store, StoreResult, take_rows};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One journal row as the feed reads it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedRow {
    pub stream: String,
    pub seq: u64,
    pub kind: String,
    pub payload: String,
    /// The node that wrote it (none: written before nodes were named).
    #[serde(default)]
    pub node: Option<String>,
    /// The organization of its stream (none: the platform's, an inbox).
    #[serde(default)]
    pub org: Option<String>,
    pub at: DateTime<Utc>,
}

pub(super) const NODE_FIELDS: &str = "record::id(id) AS id, started_at, seen, version";
pub(super) const PAIRING_FIELDS: &str =
    "record::id(id) AS id, code, secret_hash, token, expires_at";
pub(super) const THROTTLE_FIELDS: &str = "record::id(id) AS id, key, window, count, expires_at";

/// A node's heartbeat.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub seen: DateTime<Utc>,
    pub version: String,
}

/// A screen waiting to be paired (secret stored as a digest).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairingRecord {
    pub id: String,
    pub code: String,
    pub secret_hash: String,
    pub token: Option<String>,
    pub expires_at: i64,
}

/// Attempts of one key in one window.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThrottleRecord {
    pub id: String,
    pub key: String,
    pub window: i64,
    pub count: i64,
    pub expires_at: i64,
}

const FEED_FIELDS: &str = "stream, seq, kind, payload, node, org, at";

impl Store {
    /// The database server's clock.
    ///
    /// # Errors
    /// The query fails.
    pub async fn server_now(&self) -> StoreResult<DateTime<Utc>> {
        let mut r = self.run("RETURN time::now();", json!({})).await?;
        let now: Option<DateTime<Utc>> = r.take(0)?;
        now.ok_or_else(|| super::StoreError::Decode("time::now() returned nothing".into()))
    }

    /// Journal rows written after `since` (by the rows' `at`), oldest first, at most
    /// `limit`.
    ///
    /// # Errors
    /// The query fails or a row does not parse.
    pub async fn feed_after(&self, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<FeedRow>> {
        // The bound must be a datetime value when the statement is planned (a `LET`), not
        // a cast in the condition: only then is it a range scan of the `at` index (a cast
        // scans the whole index — checked with EXPLAIN FULL on the server).
        let mut r = self
            .run(
                &format!(
                    "LET $since_at = <datetime>$since; SELECT {FEED_FIELDS} FROM event WHERE at > $since_at ORDER BY at LIMIT $limit"
                ),
                json!({ "since": since, "limit": limit }),
            )
            .await?;
        take_rows(&mut r, 1)
    }

    /// The server's clock, then the journal rows written after `since` (one query: the
    /// clock is read before the rows, so a later sweep from `now - window` misses none
    /// that commit within `window` of their `at`).
    ///
    /// # Errors
    /// The query fails or a row does not parse.
    pub async fn feed_sweep(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<(DateTime<Utc>, Vec<FeedRow>)> {
        let mut r = self
            .run(
                &format!(
                    "RETURN time::now(); LET $since_at = <datetime>$since; SELECT {FEED_FIELDS} FROM event WHERE at > $since_at ORDER BY at"
                ),
                json!({ "since": since }),
            )
            .await?;
        let now: Option<DateTime<Utc>> = r.take(0)?;
        let now = now.ok_or_else(|| super::StoreError::Decode("no server time".into()))?;
        Ok((now, take_rows(&mut r, 2)?))
    }

    /// The server's clock, then at most `limit` journal rows of `kinds` written after
    /// `since`, oldest first (a consumer with a cursor, as [`Store::feed_sweep`]).
    ///
    /// # Errors
    /// The query fails or a row does not parse.
    pub async fn journal_of_kinds(
        &self,
        since: DateTime<Utc>,
        kinds: &[&str],
        limit: u32,
    ) -> StoreResult<(DateTime<Utc>, Vec<FeedRow>)> {
        let mut r = self
            .run(
                &format!(
                    "RETURN time::now(); LET $since_at = <datetime>$since; SELECT {FEED_FIELDS} FROM event WHERE at > $since_at AND kind IN $kinds ORDER BY at LIMIT $limit"
                ),
                json!({ "since": since, "kinds": kinds, "limit": limit }),
            )
            .await?;
        let now: Option<DateTime<Utc>> = r.take(0)?;
        let now = now.ok_or_else(|| super::StoreError::Decode("no server time".into()))?;
        Ok((now, take_rows(&mut r, 2)?))
    }

    /// The stored heads (last written `seq`, 0 for none) of `streams`, one indexed read
    /// each in one query.
    ///
    /// # Errors
    /// The query fails.
    pub async fn stream_heads(&self, streams: &[String]) -> StoreResult<Vec<(String, u64)>> {
        let mut r = self
            .run(
                "RETURN array::map($streams, |$s| [$s, (SELECT VALUE seq FROM ONLY type::record('stream_head', $s)) ?? 0]);",
                json!({ "streams": streams }),
            )
            .await?;
        Ok(r.take(0)?)
    }

    /// Rows of `stream` after `after`, in order (a follower filling a gap).
    ///
    /// # Errors
    /// The query fails or a row does not parse.
    pub async fn feed_stream(
        &self,
        stream: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<FeedRow>> {
        self.rows(
            &format!(
                "SELECT {FEED_FIELDS} FROM event WHERE stream = $stream AND seq > $after ORDER BY seq LIMIT $limit"
            ),
            json!({ "stream": stream, "after": after, "limit": limit }),
        )
        .await
    }

    /// Records that node `id` is alive now.
    ///
    /// # Errors
    /// The write fails.
    pub async fn node_seen(&self, id: &str, version: &str) -> StoreResult<()> {
        self.run(
            "UPSERT type::record('node', $id) SET seen = time::now(), version = $version, started_at = started_at ?? time::now();",
            json!({ "id": id, "version": version }),
        )
        .await
        .map(|_| ())
    }

    /// The nodes seen within `secs` seconds, and forgets those gone for an hour.
    ///
    /// # Errors
    /// The query fails.
    pub async fn live_nodes(&self, secs: u64) -> StoreResult<Vec<NodeRecord>> {
        let mut r = self
            .run(
                &format!(
                    "DELETE node WHERE seen < time::now() - 1h; SELECT {NODE_FIELDS} FROM node WHERE seen > time::now() - <duration>$within ORDER BY id"
                ),
                json!({ "within": format!("{secs}s") }),
            )
            .await?;
        take_rows(&mut r, 1)
    }

    /// A node that stops says so (the others take over its share at once).
    ///
    /// # Errors
    /// The write fails.
    pub async fn node_gone(&self, id: &str) -> StoreResult<()> {
        self.run("DELETE type::record('node', $id);", json!({ "id": id }))
            .await
            .map(|_| ())
    }

    /// Stores a new pairing; `false` when its code is already taken (pick another).
    ///
    /// # Errors
    /// The write fails otherwise.
    pub async fn put_pairing(
        &self,
        code: &str,
        secret_hash: &str,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let sql = "DELETE pairing WHERE expires_at < $now; CREATE pairing CONTENT { code: $code, secret_hash: $secret, token: NONE, expires_at: $expires };";
        match self
            .run(
                sql,
                json!({ "code": code, "secret": secret_hash, "expires": expires_at,
                        "now": Utc::now().timestamp_millis() }),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(super::StoreError::Duplicate(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// How many screens wait to be paired now.
    ///
    /// # Errors
    /// The query fails.
    pub async fn pending_pairings(&self, now: i64) -> StoreResult<u64> {
        #[derive(Deserialize)]
        struct Count {
            n: u64,
        }
        let c: Option<Count> = self
            .row(
                "SELECT count() AS n FROM pairing WHERE expires_at > $now GROUP ALL",
                json!({ "now": now }),
            )
            .await?;
        Ok(c.map_or(0, |c| c.n))
    }

    /// The live pairing whose screen holds `secret_hash`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn pairing_by_secret(
        &self,
        secret_hash: &str,
        now: i64,
    ) -> StoreResult<Option<PairingRecord>> {
        self.row(
            &format!(
                "SELECT {PAIRING_FIELDS} FROM pairing WHERE secret_hash = $secret AND expires_at > $now"
            ),
            json!({ "secret": secret_hash, "now": now }),
        )
        .await
    }

    /// Takes the live, not yet paired pairing with `code` (the code is used up: a second
    /// taker, on any node, finds nothing).
    ///
    /// # Errors
    /// The query fails.
    pub async fn take_pairing_code(
        &self,
        code: &str,
        now: i64,
    ) -> StoreResult<Option<PairingRecord>> {
        self.row(
            &format!(
                "UPDATE pairing SET code = string::concat('taken-', record::id(id)) WHERE code = $code AND expires_at > $now AND token = NONE RETURN {PAIRING_FIELDS}"
            ),
            json!({ "code": code, "now": now }),
        )
        .await
    }

    /// Gives pairing `id` its kiosk token (the screen's next poll collects it).
    ///
    /// # Errors
    /// The write fails.
    pub async fn complete_pairing(&self, id: &str, token: &str) -> StoreResult<()> {
        self.run(
            "UPDATE type::record('pairing', $id) SET token = $kiosk_token;",
            json!({ "id": id, "kiosk_token": token }),
        )
        .await
        .map(|_| ())
    }

    /// Forgets pairing `id` (collected, or given up).
    ///
    /// # Errors
    /// The write fails.
    pub async fn delete_pairing(&self, id: &str) -> StoreResult<()> {
        self.run("DELETE type::record('pairing', $id);", json!({ "id": id }))
            .await
            .map(|_| ())
    }

    /// Counts one attempt of `key` in the window of `window_ms` that holds `now`, and
    /// returns the attempts of this window and the one before (this one included). Every node counts into the
    /// same record.
    ///
    /// # Errors
    /// The write fails.
    pub async fn count_attempt(&self, key: &str, window_ms: i64, now: i64) -> StoreResult<i64> {
        let window_ms = window_ms.max(1);
        let window = now - now.rem_euclid(window_ms);
        let digest = digest_key(key);
        let id = format!("{digest}_{window}");
        let previous = format!("{digest}_{}", window - window_ms);
        #[derive(Deserialize)]
        struct Count {
            count: i64,
        }
        // Kept two windows: the previous one's attempts count too, so a burst across a
        // window's edge is not forgiven at the edge.
        let mut r = self
            .run(
                "DELETE throttle WHERE expires_at < $now; UPSERT type::record('throttle', $id) SET key = $key, window = $window, count = (count ?? 0) + 1, expires_at = $expires RETURN count; SELECT count FROM type::record('throttle', $previous);",
                json!({ "id": id, "key": key, "window": window, "now": now,
                        "expires": window + 2 * window_ms, "previous": previous }),
            )
            .await?;
        let rows: Vec<Count> = take_rows(&mut r, 1)?;
        let before: Vec<Count> = take_rows(&mut r, 2)?;
        Ok(rows.first().map_or(1, |c| c.count) + before.first().map_or(0, |c| c.count))
    }
}

/// A record id for any key (an email or address may hold characters ids do not).
fn digest_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(key.as_bytes());
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The feed's reads are range scans of their indexes: a read costs what it returns,
    /// not the size of the journal (a cast in the condition would scan the whole index).
    #[tokio::test]
    async fn the_feed_reads_ranges_of_the_indexes() {
        let store = crate::testing::memory_store().await;
        let plan = |sql: &'static str| {
            let store = store.clone();
            async move {
                let mut r = store
                    .run(
                        sql,
                        json!({ "since": Utc::now(), "stream": "org:x", "after": 3 }),
                    )
                    .await
                    .unwrap();
                let plan: Option<serde_json::Value> = r.take(1).unwrap();
                plan.unwrap().to_string()
            }
        };
        let tail = plan(
            "LET $since_at = <datetime>$since; SELECT stream FROM event WHERE at > $since_at ORDER BY at LIMIT 10 EXPLAIN",
        )
        .await;
        assert!(tail.contains("event_at") && tail.contains(">d'"), "{tail}");
        let gap = plan(
            "LET $x = 0; SELECT stream FROM event WHERE stream = $stream AND seq > $after ORDER BY seq LIMIT 10 EXPLAIN",
        )
        .await;
        assert!(
            gap.contains("event_stream_seq") && gap.contains("MoreThan"),
            "{gap}"
        );
    }
}
