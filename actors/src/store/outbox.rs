//! The outbox (messages to send, written with the change that causes them) and one-time
//! password reset links.
//!
//! Must not: send anything (the web layer's mail worker does), decide who gets what.

use super::writes::Write;
use super::{Store, StoreError, StoreResult, new_id, take_rows};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A message to send, as decided: rendered, addressed, with its kind for the staff view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// The organization it is sent for (none: the platform's, e.g. a password reset).
    pub org: Option<String>,
    /// What it is (`password_reset`, `invitation`, …).
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Holds a secret (a reset link): its body is forgotten once sent.
    pub sensitive: bool,
    /// A notification mail's one-click unsubscribe link (RFC 8058).
    #[serde(default)]
    pub unsubscribe: Option<String>,
    /// A calendar message (RFC 6047): its iTIP method (`REQUEST`, `CANCEL`) and the
    /// iCalendar object, sent as a `text/calendar` part and an `invite.ics` attachment.
    #[serde(default)]
    pub ics_method: Option<String>,
    #[serde(default)]
    pub ics: Option<String>,
}

pub(super) const OUTBOX_FIELDS: &str = "record::id(id) AS id, org, kind, to, subject, text, html, sensitive, unsubscribe, ics_method, ics, state, attempts, last_error, created_at, due_at, claimed_by, claimed_until, sent_at";
pub(super) const PASSWORD_RESET_FIELDS: &str =
    "record::id(id) AS id, token_hash, user, expires_at, used";

/// A stored message and how its delivery stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub id: String,
    /// What was decided.
    #[serde(flatten)]
    pub mail: OutgoingMail,
    /// `queued`, `sending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub due_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub sent_at: Option<i64>,
}

/// A one-time password reset link (its token's digest).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordResetRecord {
    pub id: String,
    pub token_hash: String,
    pub user: String,
    pub expires_at: i64,
    pub used: bool,
}

/// What `/metrics` shows of the outbox.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct OutboxCounts {
    pub queued: u64,
    pub failed: u64,
    pub sent: u64,
    /// Age of the oldest queued message (ms; 0 when none).
    pub oldest_queued_ms: i64,
}

/// Queues `mail` for sending, in the transaction of the change that causes it.
pub fn enqueue_mail(mail: &OutgoingMail, now: i64) -> Write {
    enqueue_mail_as(&new_id(), mail, now)
}

/// [`enqueue_mail`] as outbox row `id`: a message derived from a journal row gets an id
/// made from it, so two nodes deriving it write one row (the second's transaction fails).
pub fn enqueue_mail_as(id: &str, mail: &OutgoingMail, now: i64) -> Write {
    Write::new(
        "CREATE type::record('outbox', $mail_id) CONTENT { org: $mail.org, kind: $mail.kind, to: $mail.to, subject: $mail.subject, text: $mail.text, html: $mail.html, sensitive: $mail.sensitive, unsubscribe: $mail.unsubscribe, ics_method: $mail.ics_method, ics: $mail.ics, state: 'queued', attempts: 0, created_at: $mail_now, due_at: $mail_now };",
        json!({ "mail_id": id, "mail": mail, "mail_now": now }),
    )
}

/// What one person was last sent about one booking or event (the calendar mail
/// ledger): the journal position it answers, whether they hold the invitation (or were
/// sent its cancellation), a digest of what the invitation said, and what a later
/// cancellation needs to name it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalendarMailRecord {
    /// `{uid}|{user}` hashed (record id).
    pub id: String,
    /// The booking's or event's id.
    pub uid: String,
    pub user: String,
    /// The stream whose journal row decided it (`team:…`, `calendar:…`).
    pub stream: String,
    pub seq: u64,
    /// Holds the invitation (`false`: sent its cancellation, or nothing yet).
    pub invited: bool,
    pub digest: String,
    pub org: String,
    pub title: String,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    pub zone: String,
    /// A recurring event (its cancellation is news while the series runs).
    #[serde(default)]
    pub recurring: bool,
}

/// Where a consumer of the journal stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JournalCursorRecord {
    pub id: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub(super) const JOURNAL_CURSOR_FIELDS: &str = "record::id(id) AS id, at";

pub(super) const CALENDAR_MAIL_FIELDS: &str = "record::id(id) AS id, uid, user, stream, seq, invited, digest, org, title, start, end, all_day, zone, recurring";

/// Journal kinds the calendar mail follows.
pub const CALENDAR_MAIL_KINDS: [&str; 8] = [
    "booking_created",
    "booking_confirmed",
    "booking_changed",
    "booking_cancelled",
    "event_created",
    "event_changed",
    "event_deleted",
    "calendar_deleted",
];

/// A reset link for `user` valid until `expires_at` (the token's digest is stored).
pub fn create_password_reset(user: &str, token_hash: &str, expires_at: i64) -> Write {
    Write::new(
        "CREATE password_reset CONTENT { token_hash: $reset_hash, user: $reset_user, expires_at: $reset_expires, used: false };",
        json!({ "reset_hash": token_hash, "reset_user": user, "reset_expires": expires_at }),
    )
}

impl Store {
    /// The ledger entries of booking or event `uid`, one a person.
    ///
    /// # Errors
    /// The query fails.
    pub async fn calendar_mail_of(&self, uid: &str) -> StoreResult<Vec<CalendarMailRecord>> {
        self.rows(
            &format!("SELECT {CALENDAR_MAIL_FIELDS} FROM calendar_mail WHERE uid = $uid"),
            json!({ "uid": uid }),
        )
        .await
    }

    /// The ledger entries decided by `stream`'s rows (a deleted calendar's events).
    ///
    /// # Errors
    /// The query fails.
    pub async fn calendar_mail_of_stream(
        &self,
        stream: &str,
    ) -> StoreResult<Vec<CalendarMailRecord>> {
        self.rows(
            &format!("SELECT {CALENDAR_MAIL_FIELDS} FROM calendar_mail WHERE stream = $stream"),
            json!({ "stream": stream }),
        )
        .await
    }

    /// Records `entry` (the ledger for one person and one booking or event) and queues
    /// `mail` as outbox row `mail_id`, in one transaction, only if the ledger still stands
    /// at `expected` (the `seq` read before; `None`: no entry). `false` when another node
    /// recorded it first (nothing written).
    ///
    /// # Errors
    /// The transaction fails otherwise.
    pub async fn record_calendar_mail(
        &self,
        entry: &CalendarMailRecord,
        expected: Option<u64>,
        mail: Option<(&str, &OutgoingMail)>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut write = Write::new(
            "LET $cm_at = (SELECT VALUE seq FROM ONLY type::record('calendar_mail', $cm.id));
             IF ($cm_at ?? -1) != $cm_expected { THROW 'calendar mail recorded meanwhile' };
             UPSERT type::record('calendar_mail', $cm.id) CONTENT { uid: $cm.uid, user: $cm.user, stream: $cm.stream, seq: $cm.seq, invited: $cm.invited, digest: $cm.digest, org: $cm.org, title: $cm.title, start: $cm.start, end: $cm.end, all_day: $cm.all_day, zone: $cm.zone, recurring: $cm.recurring };",
            json!({ "cm": entry, "cm_expected": expected.map_or(-1, |s| s as i64) }),
        );
        if let Some((id, mail)) = mail {
            write = write.and(enqueue_mail_as(id, mail, now));
        }
        match self.commit(write, &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Db(e)) if e.contains("recorded meanwhile") => Ok(false),
            Err(StoreError::TxConflict(_) | StoreError::Duplicate(_)) => Ok(false),
            Err(StoreError::Db(e)) if e.contains("already exists") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Which of outbox rows `ids` exist (a message derived twice is queued once).
    ///
    /// # Errors
    /// The query fails.
    pub async fn outbox_rows_existing(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut r = self
            .run(
                "RETURN array::filter($ids, |$i| record::exists(type::record('outbox', $i)));",
                json!({ "ids": ids }),
            )
            .await?;
        Ok(r.take(0)?)
    }

    /// Queues `mail` as outbox row `id` unless that row exists; `false` when it did.
    ///
    /// # Errors
    /// The write fails otherwise.
    pub async fn enqueue_mail_once(
        &self,
        id: &str,
        mail: &OutgoingMail,
        now: i64,
    ) -> StoreResult<bool> {
        match self.commit(enqueue_mail_as(id, mail, now), &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Duplicate(_) | StoreError::TxConflict(_)) => Ok(false),
            Err(StoreError::Db(e)) if e.contains("already exists") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Teams whose bookings send reminders.
    ///
    /// # Errors
    /// The query fails.
    pub async fn teams_with_reminders(&self) -> StoreResult<Vec<super::TeamRecord>> {
        self.rows(
            &format!(
                "SELECT {} FROM team WHERE reminder_hours > 0",
                super::records::TEAM_FIELDS
            ),
            json!({}),
        )
        .await
    }

    /// Where consumer `name` of the journal stands (the server time it had read to).
    ///
    /// # Errors
    /// The query fails.
    pub async fn journal_cursor(
        &self,
        name: &str,
    ) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
        let mut r = self
            .run(
                "SELECT VALUE at FROM ONLY type::record('journal_cursor', $name);",
                json!({ "name": name }),
            )
            .await?;
        Ok(r.take(0)?)
    }

    /// Moves consumer `name`'s cursor forward to `at` (never back).
    ///
    /// # Errors
    /// The write fails.
    pub async fn set_journal_cursor(
        &self,
        name: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.run(
            "LET $to = <datetime>$at; UPSERT type::record('journal_cursor', $name) SET at = IF at = NONE OR at < $to { $to } ELSE { at };",
            json!({ "name": name, "at": at }),
        )
        .await
        .map(|_| ())
    }

    /// Commits `write` alone (a change whose only record is outside any actor's state:
    /// a reset link and its mail).
    ///
    /// # Errors
    /// The transaction fails.
    pub async fn commit_plain(&self, write: Write) -> StoreResult<()> {
        self.commit(write, &[]).await
    }

    /// Claims up to `n` messages that are due (or whose claimant went quiet) for
    /// `lease_ms`: each is claimed by one node only.
    ///
    /// # Errors
    /// The query fails.
    pub async fn claim_mail(
        &self,
        node: &str,
        now: i64,
        lease_ms: i64,
        n: u32,
    ) -> StoreResult<Vec<OutboxRecord>> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let due: Vec<Id> = self
            .rows(
                "SELECT record::id(id) AS id FROM outbox WHERE (state = 'queued' AND due_at <= $now) OR (state = 'sending' AND claimed_until < $now) LIMIT $n",
                json!({ "now": now, "n": n }),
            )
            .await?;
        let mut claimed = Vec::new();
        for Id { id } in due {
            // The condition is checked again in the update: of two nodes, one claims it.
            let r = self
                .run(
                    &format!(
                        "UPDATE type::record('outbox', $id) SET state = 'sending', claimed_by = $node, claimed_until = $until WHERE (state = 'queued' AND due_at <= $now) OR (state = 'sending' AND claimed_until < $now) RETURN {OUTBOX_FIELDS}"
                    ),
                    json!({ "id": id, "node": node, "now": now, "until": now + lease_ms }),
                )
                .await;
            match r {
                Ok(mut r) => claimed.extend(take_rows::<OutboxRecord>(&mut r, 0)?),
                Err(StoreError::TxConflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(claimed)
    }

    /// Message `id` was accepted by the mail server (a secret's body is forgotten).
    ///
    /// # Errors
    /// The write fails.
    pub async fn mail_sent(&self, id: &str, now: i64) -> StoreResult<()> {
        self.run(
            "UPDATE type::record('outbox', $id) SET state = 'sent', sent_at = $now, attempts += 1, last_error = NONE, claimed_until = NONE, text = IF sensitive { '' } ELSE { text }, html = IF sensitive { '' } ELSE { html };",
            json!({ "id": id, "now": now }),
        )
        .await
        .map(|_| ())
    }

    /// Message `id` could not be sent: queued again at `retry_at`, or failed (`None`).
    ///
    /// # Errors
    /// The write fails.
    pub async fn mail_not_sent(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> StoreResult<()> {
        let sql = match retry_at {
            Some(_) => {
                "UPDATE type::record('outbox', $id) SET state = 'queued', due_at = $retry, attempts += 1, last_error = $error, claimed_until = NONE;"
            }
            None => {
                "UPDATE type::record('outbox', $id) SET state = 'failed', attempts += 1, last_error = $error, claimed_until = NONE;"
            }
        };
        self.run(sql, json!({ "id": id, "error": error, "retry": retry_at }))
            .await
            .map(|_| ())
    }

    /// Queues failed message `id` of `org` again at once (staff "Send again"). `false`
    /// when there is no such failed message of that organization.
    ///
    /// # Errors
    /// The write fails.
    pub async fn retry_mail(&self, org: &str, id: &str, now: i64) -> StoreResult<bool> {
        let rows: Vec<OutboxRecord> = self
            .rows(
                &format!(
                    "UPDATE type::record('outbox', $id) SET state = 'queued', due_at = $now, last_error = NONE WHERE org = $org AND state = 'failed' RETURN {OUTBOX_FIELDS}"
                ),
                json!({ "id": id, "org": org, "now": now }),
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// The organization's most recent messages, newest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn recent_mail(&self, org: &str, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        self.rows(
            &format!(
                "SELECT {OUTBOX_FIELDS} FROM outbox WHERE org = $org ORDER BY created_at DESC LIMIT $limit"
            ),
            json!({ "org": org, "limit": limit }),
        )
        .await
    }

    /// The messages to `to`, newest first, of every organization and none (a password
    /// reset is the platform's): what was sent to one person, and how it stands.
    ///
    /// # Errors
    /// The query fails.
    pub async fn mail_to(&self, to: &str, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        self.rows(
            &format!(
                "SELECT {OUTBOX_FIELDS} FROM outbox WHERE `to` = $to ORDER BY created_at DESC LIMIT $limit"
            ),
            json!({ "to": to, "limit": limit }),
        )
        .await
    }

    /// Queued, failed and sent counts, and the oldest queued message's age.
    ///
    /// # Errors
    /// The query fails.
    pub async fn outbox_counts(&self, now: i64) -> StoreResult<OutboxCounts> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
            n: u64,
            oldest: Option<i64>,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT state, count() AS n, math::min(created_at) AS oldest FROM outbox GROUP BY state",
                json!({}),
            )
            .await?;
        let mut counts = OutboxCounts::default();
        for r in rows {
            match r.state.as_str() {
                "queued" | "sending" => {
                    counts.queued += r.n;
                    if let Some(o) = r.oldest {
                        counts.oldest_queued_ms = counts.oldest_queued_ms.max(now - o);
                    }
                }
                "failed" => counts.failed += r.n,
                "sent" => counts.sent += r.n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The unused, unexpired reset link with this token digest.
    ///
    /// # Errors
    /// The query fails.
    pub async fn password_reset(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<PasswordResetRecord>> {
        self.row(
            &format!(
                "SELECT {PASSWORD_RESET_FIELDS} FROM password_reset WHERE token_hash = $hash AND used = false AND expires_at > $now"
            ),
            json!({ "hash": token_hash, "now": now }),
        )
        .await
    }

    /// Uses up reset link `id`; `false` when it was used meanwhile (by another node).
    ///
    /// # Errors
    /// The write fails.
    pub async fn use_password_reset(&self, id: &str) -> StoreResult<bool> {
        let rows: Vec<PasswordResetRecord> = self
            .rows(
                &format!(
                    "UPDATE type::record('password_reset', $id) SET used = true WHERE used = false RETURN {PASSWORD_RESET_FIELDS}"
                ),
                json!({ "id": id }),
            )
            .await?;
        Ok(!rows.is_empty())
    }
}

pub(super) const MAIL_PREF_FIELDS: &str = "record::id(id) AS id, modes, digest_hour, zone, token";

/// How one person's notifications reach them by mail (record id: the user's id).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MailPrefRecord {
    pub id: String,
    /// Notification kind → `app`, `now` or `digest` (kinds absent: the defaults).
    pub modes: std::collections::BTreeMap<String, String>,
    /// The local hour (0–23) of the daily digest, in `zone`.
    pub digest_hour: i64,
    pub zone: String,
    /// The secret in their unsubscribe links.
    pub token: String,
}

impl Store {
    /// `user`'s mail preferences, if they saved any (or got a mail).
    ///
    /// # Errors
    /// The query fails.
    pub async fn mail_pref(&self, user: &str) -> StoreResult<Option<MailPrefRecord>> {
        self.row(
            &format!("SELECT {MAIL_PREF_FIELDS} FROM type::record('mail_pref', $id)"),
            json!({ "id": user }),
        )
        .await
    }

    /// The preferences whose unsubscribe secret is `token`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn mail_pref_by_token(&self, token: &str) -> StoreResult<Option<MailPrefRecord>> {
        self.row(
            &format!("SELECT {MAIL_PREF_FIELDS} FROM mail_pref WHERE token = $unsub_token"),
            json!({ "unsub_token": token }),
        )
        .await
    }

    /// Saves `pref` (its `id` is the user's).
    ///
    /// # Errors
    /// The write fails.
    pub async fn put_mail_pref(&self, pref: &MailPrefRecord) -> StoreResult<()> {
        self.run(
            "UPSERT type::record('mail_pref', $p.id) CONTENT { modes: $p.modes, digest_hour: $p.digest_hour, zone: $p.zone, token: $p.token };",
            json!({ "p": pref }),
        )
        .await
        .map(|_| ())
    }

    /// Unread notifications updated between `from` and `to` (ms) that were not mailed
    /// since their last update, oldest first.
    ///
    /// # Errors
    /// The query fails or a row does not parse.
    pub async fn unmailed_notifications(
        &self,
        from: i64,
        to: i64,
        limit: u32,
    ) -> StoreResult<Vec<super::NotificationRecord>> {
        self.rows(
            &format!(
                "SELECT {} FROM notification WHERE read = false AND updated_at >= $from AND updated_at <= $to AND (mailed_at = NONE OR mailed_at = NULL OR mailed_at < updated_at) ORDER BY updated_at LIMIT $limit",
                super::records::NOTIFICATION_FIELDS
            ),
            json!({ "from": from, "to": to, "limit": limit }),
        )
        .await
    }

    /// Marks notifications `ids` mailed at `now` and queues `mail` about them, in one
    /// transaction that fails if any of them was read or mailed meanwhile (by another
    /// node): a notification is mailed once. `false` when that happened.
    ///
    /// # Errors
    /// The write fails otherwise.
    pub async fn mail_notifications(
        &self,
        ids: &[String],
        mail: Option<&OutgoingMail>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut write = Write::new(
            "LET $claimed = (UPDATE (array::map($note_ids, |$i| type::record('notification', $i))) SET mailed_at = $note_now WHERE read = false AND (mailed_at = NONE OR mailed_at = NULL OR mailed_at < updated_at) RETURN VALUE id);
             IF array::len($claimed) != array::len($note_ids) { THROW 'mailed meanwhile' };",
            json!({ "note_ids": ids, "note_now": now }),
        );
        if let Some(mail) = mail {
            write = write.and(enqueue_mail(mail, now));
        }
        match self.commit(write, &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Db(e)) if e.contains("mailed meanwhile") => Ok(false),
            Err(StoreError::TxConflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
