//! Stored rows and the typed queries that read them.
//!
//! Ids are record keys; every query projects `record::id(id) AS id` so rows carry the
//! plain string. Writes that change an owner's state go through [`Store::commit`] from
//! the owning actor; the few writes here are the Directory's own (users, sessions).

use super::{Store, StoreResult};
use cflows_protocol::{ClockFormat, NotificationKind, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// An organization row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgRecord {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub timezone: String,
    pub clock: ClockFormat,
}

/// A user row, with the password hash (never leaves the actors crate as a view).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub platform_operator: bool,
}

/// A membership row: a user's role and profile inside one organization.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MembershipRecord {
    pub org: String,
    pub user: String,
    pub role: Role,
    pub active: bool,
    pub title: String,
    pub location: String,
    pub timezone: String,
    pub avatar: String,
    pub bio: String,
}

/// A team row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TeamRecord {
    pub id: String,
    pub org: String,
    pub name: String,
    pub description: String,
    pub colour: String,
    pub parent: Option<String>,
    pub members: Vec<String>,
    pub bookable_count: u32,
    pub manager: Option<String>,
    #[serde(default)]
    pub reminder_hours: Option<u32>,
}

/// A login session row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user: String,
    /// The active organization; none for a platform operator outside any organization.
    pub org: Option<String>,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// A notification row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: String,
    pub user: String,
    pub org: String,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: String,
    pub entity_kind: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub count: u32,
    pub read: bool,
}

/// A pending invitation row (only the hash of its secret token).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvitationRecord {
    pub id: String,
    pub org: String,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An unexpired session joined with its user, read in one round trip.
#[derive(Clone, Debug, Deserialize)]
pub struct SessionAccount {
    pub id: String,
    pub org: Option<String>,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    /// The session's user; none if the user row is gone.
    pub account: Option<UserRecord>,
}

/// A journal row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventRecord {
    pub stream: String,
    pub seq: u64,
    pub kind: String,
    pub payload: String,
    pub actor: Option<String>,
    pub at: DateTime<Utc>,
}

/// A stream's last written position (record id: the stream name).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamHeadRecord {
    pub seq: u64,
}

pub(super) const STREAM_HEAD_FIELDS: &str = "record::id(id) AS id, seq";
pub(super) const EVENT_FIELDS: &str = "record::id(id) AS id, stream, seq, kind, payload, actor, at";
pub(super) const SESSION_FIELDS: &str = "record::id(id) AS id, user, org, csrf, expires_at";
pub(super) const ORG_FIELDS: &str = "record::id(id) AS id, name, slug, timezone, clock";
pub(super) const USER_FIELDS: &str =
    "record::id(id) AS id, email, display_name, password_hash, platform_operator";
pub(super) const MEMBERSHIP_FIELDS: &str =
    "org, user, role, active, title, location, timezone, avatar, bio";
pub(super) const NOTIFICATION_FIELDS: &str = "record::id(id) AS id, user, org, kind, title, body, link, entity_kind, entity_id, from, created_at, updated_at, count, read";
pub(super) const INVITATION_FIELDS: &str =
    "record::id(id) AS id, org, email, role, token_hash, invited_by, created_at, expires_at";
pub(super) const TEAM_FIELDS: &str = "record::id(id) AS id, org, name, description, colour, parent, members, bookable_count, manager, reminder_hours";

impl Store {
    /// One organization by id.
    ///
    /// # Errors
    /// The query fails.
    pub async fn org(&self, id: &str) -> StoreResult<Option<OrgRecord>> {
        self.row(
            &format!("SELECT {ORG_FIELDS} FROM type::record('org', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// Every organization, by name.
    ///
    /// # Errors
    /// The query fails.
    pub async fn orgs(&self) -> StoreResult<Vec<OrgRecord>> {
        self.rows(
            &format!("SELECT {ORG_FIELDS} FROM org ORDER BY name"),
            json!({}),
        )
        .await
    }

    /// One organization by slug.
    ///
    /// # Errors
    /// The query fails.
    pub async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<OrgRecord>> {
        self.row(
            &format!("SELECT {ORG_FIELDS} FROM org WHERE slug = $slug LIMIT 1"),
            json!({ "slug": slug }),
        )
        .await
    }

    /// One user by id.
    ///
    /// # Errors
    /// The query fails.
    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        self.row(
            &format!("SELECT {USER_FIELDS} FROM type::record('user', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// One user by (already normalised) email.
    ///
    /// # Errors
    /// The query fails.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        self.row(
            &format!("SELECT {USER_FIELDS} FROM user WHERE email = $email LIMIT 1"),
            json!({ "email": email }),
        )
        .await
    }

    /// Users by id, in no particular order; missing ids are skipped.
    ///
    /// # Errors
    /// The query fails.
    pub async fn users(&self, ids: &[String]) -> StoreResult<Vec<UserRecord>> {
        self.rows(
            &format!("SELECT {USER_FIELDS} FROM $ids.map(|$i| type::record('user', $i))"),
            json!({ "ids": ids }),
        )
        .await
    }

    /// Every user (for platform operators and the integrity check).
    ///
    /// # Errors
    /// The query fails.
    pub async fn all_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.rows(
            &format!("SELECT {USER_FIELDS} FROM user ORDER BY email"),
            json!({}),
        )
        .await
    }

    /// Every membership of an organization.
    ///
    /// # Errors
    /// The query fails.
    pub async fn memberships_of_org(&self, org: &str) -> StoreResult<Vec<MembershipRecord>> {
        self.rows(
            &format!("SELECT {MEMBERSHIP_FIELDS} FROM membership WHERE org = $org"),
            json!({ "org": org }),
        )
        .await
    }

    /// Every membership of a user (the organizations they can switch to).
    ///
    /// # Errors
    /// The query fails.
    pub async fn memberships_of_user(&self, user: &str) -> StoreResult<Vec<MembershipRecord>> {
        self.rows(
            &format!("SELECT {MEMBERSHIP_FIELDS} FROM membership WHERE user = $user"),
            json!({ "user": user }),
        )
        .await
    }

    /// Every membership (integrity check).
    ///
    /// # Errors
    /// The query fails.
    pub async fn all_memberships(&self) -> StoreResult<Vec<MembershipRecord>> {
        self.rows(
            &format!("SELECT {MEMBERSHIP_FIELDS} FROM membership"),
            json!({}),
        )
        .await
    }

    /// Every team of an organization.
    ///
    /// # Errors
    /// The query fails.
    pub async fn teams_of_org(&self, org: &str) -> StoreResult<Vec<TeamRecord>> {
        self.rows(
            &format!("SELECT {TEAM_FIELDS} FROM team WHERE org = $org ORDER BY name"),
            json!({ "org": org }),
        )
        .await
    }

    /// One team by id.
    ///
    /// # Errors
    /// The query fails.
    pub async fn team(&self, id: &str) -> StoreResult<Option<TeamRecord>> {
        self.row(
            &format!("SELECT {TEAM_FIELDS} FROM type::record('team', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// Every team (integrity check).
    ///
    /// # Errors
    /// The query fails.
    pub async fn all_teams(&self) -> StoreResult<Vec<TeamRecord>> {
        self.rows(&format!("SELECT {TEAM_FIELDS} FROM team"), json!({}))
            .await
    }

    /// Every invitation row of an organization (expired ones too).
    ///
    /// # Errors
    /// The query fails.
    pub async fn invitations_of_org(&self, org: &str) -> StoreResult<Vec<InvitationRecord>> {
        self.rows(
            &format!("SELECT {INVITATION_FIELDS} FROM invitation WHERE org = $org"),
            json!({ "org": org }),
        )
        .await
    }

    /// Whether `email` has an invitation that works until after `now` (Unix ms).
    ///
    /// # Errors
    /// The query fails.
    pub async fn has_pending_invitation(&self, email: &str, now: i64) -> StoreResult<bool> {
        #[derive(Deserialize)]
        struct Count {
            count: u64,
        }
        let row: Option<Count> = self
            .row(
                "SELECT count() AS count FROM invitation WHERE email = $email AND expires_at > $now GROUP ALL",
                json!({ "email": email, "now": now }),
            )
            .await?;
        Ok(row.is_some_and(|c| c.count > 0))
    }

    /// The invitation whose secret token hashes to `token_hash`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn invitation_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<InvitationRecord>> {
        self.row(
            &format!("SELECT {INVITATION_FIELDS} FROM invitation WHERE token_hash = $h LIMIT 1"),
            json!({ "h": token_hash }),
        )
        .await
    }

    /// One unexpired session.
    ///
    /// # Errors
    /// The query fails.
    pub async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        self.row(
            &format!("SELECT {SESSION_FIELDS} FROM type::record('session', $id) WHERE expires_at > time::now()"),
            json!({ "id": id }),
        )
        .await
    }

    /// Every journal row's stream, position and payload (integrity check).
    ///
    /// # Errors
    /// The query fails.
    pub async fn journal_positions(&self) -> StoreResult<Vec<(String, u64, String)>> {
        #[derive(Deserialize)]
        struct Pos {
            stream: String,
            seq: u64,
            payload: String,
        }
        let rows: Vec<Pos> = self
            .rows("SELECT stream, seq, payload FROM event", json!({}))
            .await?;
        Ok(rows
            .into_iter()
            .map(|p| (p.stream, p.seq, p.payload))
            .collect())
    }

    /// One notification.
    ///
    /// # Errors
    /// The query fails.
    pub async fn notification(&self, id: &str) -> StoreResult<Option<NotificationRecord>> {
        self.row(
            &format!("SELECT {NOTIFICATION_FIELDS} FROM type::record('notification', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// A user's notifications, newest first, older than `before` (an id) when given.
    ///
    /// # Errors
    /// The query fails.
    pub async fn notifications(
        &self,
        user: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<NotificationRecord>> {
        // Ids are time-ordered (UUIDv7), so id order is creation order.
        let filter = if before.is_some() {
            "AND id < type::record('notification', $before)"
        } else {
            ""
        };
        self.rows(
            &format!("SELECT {NOTIFICATION_FIELDS} FROM notification WHERE user = $user {filter} ORDER BY id DESC LIMIT $limit"),
            json!({ "user": user, "before": before, "limit": limit }),
        )
        .await
    }

    /// How many of a user's notifications are unread.
    ///
    /// # Errors
    /// The query fails.
    pub async fn unread_notifications(&self, user: &str) -> StoreResult<u32> {
        #[derive(Deserialize)]
        struct Count {
            count: u32,
        }
        let row: Option<Count> = self
            .row("SELECT count() AS count FROM notification WHERE user = $user AND read = false GROUP ALL", json!({ "user": user }))
            .await?;
        Ok(row.map_or(0, |c| c.count))
    }

    /// One unexpired session with its user, in a single query (the auth hot path).
    ///
    /// # Errors
    /// The query fails.
    pub async fn session_account(&self, id: &str) -> StoreResult<Option<SessionAccount>> {
        self.row(
            &format!(
                "SELECT record::id(id) AS id, org, csrf, expires_at, (SELECT {USER_FIELDS} FROM ONLY type::record('user', $parent.user)) AS account \
                 FROM type::record('session', $id) WHERE expires_at > time::now()"
            ),
            json!({ "id": id }),
        )
        .await
    }

    /// The organization of record `id` in `table` (`None`: no such record): the
    /// registry's tenancy read, one key lookup whether or not the record exists.
    ///
    /// # Errors
    /// The query fails.
    pub async fn org_of(&self, table: &'static str, id: &str) -> StoreResult<Option<String>> {
        self.row(
            "SELECT VALUE org FROM type::record($table, $id)",
            json!({ "table": table, "id": id }),
        )
        .await
    }

    /// Number of rows in `table` (metrics, demo seeding decisions).
    ///
    /// # Errors
    /// The query fails.
    pub async fn count(&self, table: &'static str) -> StoreResult<u64> {
        #[derive(Deserialize)]
        struct Count {
            count: u64,
        }
        let row: Option<Count> = self
            .row(
                &format!("SELECT count() AS count FROM {table} GROUP ALL"),
                json!({}),
            )
            .await?;
        Ok(row.map_or(0, |c| c.count))
    }

    /// Every row of every table whose stored values do not parse as the records the
    /// actors read (an unknown role, clock format or notification kind, a missing
    /// field), one line each. Actors refuse such rows; `cflows check` reports them.
    ///
    /// # Errors
    /// The query fails.
    pub async fn undecodable_rows(&self) -> StoreResult<Vec<String>> {
        let mut problems = Vec::new();
        for table in super::TABLES {
            let rows: Vec<serde_json::Value> = self
                .rows(
                    &format!(
                        "SELECT record::id(id) AS row, {} FROM {}",
                        table.fields, table.name
                    ),
                    json!({}),
                )
                .await?;
            problems.extend(rows.into_iter().filter_map(|row| {
                let id = row
                    .get("row")
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .unwrap_or_else(|| "?".into());
                (table.decodes)(row)
                    .err()
                    .map(|e| format!("{} row {id} does not parse: {e}", table.name))
            }));
        }
        Ok(problems)
    }
}
