//! Records, reads and writes of calendars, their events and subscription feeds (each
//! calendar's Calendar actor writes its own; feeds are written by their target's actor).

use super::writes::Write;
use super::{Store, StoreResult};
use cflows_protocol::{
    CalendarId, CalendarKind, CalendarMember, CalendarView, EventView, Invitee,
    OccurrenceException, Recurrence, TeamId, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A calendar row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalendarRecord {
    pub id: String,
    pub org: String,
    pub kind: CalendarKind,
    pub name: String,
    pub colour: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub members: Vec<CalendarMember>,
}

impl From<CalendarRecord> for CalendarView {
    fn from(r: CalendarRecord) -> Self {
        Self {
            id: CalendarId::new(r.id),
            kind: r.kind,
            name: r.name,
            colour: r.colour,
            owner: r.owner.map(UserId::new),
            team: r.team.map(TeamId::new),
            members: r.members,
        }
    }
}

/// An event row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalEventRecord {
    pub id: String,
    pub org: String,
    pub calendar: String,
    pub title: String,
    pub description: String,
    pub location: String,
    pub start_at: i64,
    pub end_at: i64,
    pub all_day: bool,
    pub zone: String,
    pub colour: String,
    pub invitees: Vec<Invitee>,
    pub recurrence: Option<Recurrence>,
    pub exceptions: Vec<OccurrenceException>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<CalEventRecord> for EventView {
    fn from(r: CalEventRecord) -> Self {
        Self {
            id: r.id,
            calendar: CalendarId::new(r.calendar),
            title: r.title,
            description: r.description,
            location: r.location,
            start: r.start_at,
            end: r.end_at,
            all_day: r.all_day,
            zone: r.zone,
            colour: r.colour,
            invitees: r.invitees,
            recurrence: r.recurrence,
            exceptions: r.exceptions,
            created_by: UserId::new(r.created_by),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A subscription feed row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedRecord {
    pub id: String,
    pub org: String,
    pub target_kind: String,
    pub target: String,
    pub token_hash: String,
    pub created_at: i64,
}

pub(super) const CALENDAR_FIELDS: &str =
    "record::id(id) AS id, org, kind, name, colour, owner, team, members";
pub(super) const CAL_EVENT_FIELDS: &str = "record::id(id) AS id, org, calendar, title, description, location, start_at, end_at, all_day, zone, colour, invitees, recurrence, exceptions, created_by, created_at, updated_at";
pub(super) const FEED_FIELDS: &str =
    "record::id(id) AS id, org, target_kind, target, token_hash, created_at";

impl Store {
    /// One calendar.
    ///
    /// # Errors
    /// The query fails.
    pub async fn calendar(&self, id: &str) -> StoreResult<Option<CalendarRecord>> {
        self.row(
            &format!("SELECT {CALENDAR_FIELDS} FROM type::record('calendar', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// The calendars of `org` that `user` may see as a member of `teams`: their personal
    /// one, their teams', shared ones they belong to (every shared one for admins).
    ///
    /// # Errors
    /// The query fails.
    pub async fn calendars_for(
        &self,
        org: &str,
        user: &str,
        teams: &[String],
        admin: bool,
    ) -> StoreResult<Vec<CalendarRecord>> {
        self.rows(
            &format!(
                "SELECT {CALENDAR_FIELDS} FROM calendar WHERE org = $org AND (
                    (kind = 'personal' AND owner = $user)
                    OR (kind = 'team' AND (team IN $teams OR $admin))
                    OR (kind = 'shared' AND (member_ids CONTAINS $user OR $admin))
                 ) ORDER BY kind, name"
            ),
            json!({ "org": org, "user": user, "teams": teams, "admin": admin }),
        )
        .await
    }

    /// Every event of a calendar.
    ///
    /// # Errors
    /// The query fails.
    pub async fn events_of_calendar(&self, calendar: &str) -> StoreResult<Vec<CalEventRecord>> {
        self.rows(
            &format!(
                "SELECT {CAL_EVENT_FIELDS} FROM cal_event WHERE calendar = $c ORDER BY start_at"
            ),
            json!({ "c": calendar }),
        )
        .await
    }

    /// Events of `org` that `user` is invited to.
    ///
    /// # Errors
    /// The query fails.
    pub async fn events_inviting(&self, org: &str, user: &str) -> StoreResult<Vec<CalEventRecord>> {
        self.rows(
            &format!(
                "SELECT {CAL_EVENT_FIELDS} FROM cal_event WHERE org = $org AND invitee_ids CONTAINS $user ORDER BY start_at"
            ),
            json!({ "org": org, "user": user }),
        )
        .await
    }

    /// The feed whose secret token hashes to `hash`.
    ///
    /// # Errors
    /// The query fails.
    pub async fn feed_by_token_hash(&self, hash: &str) -> StoreResult<Option<FeedRecord>> {
        self.row(
            &format!("SELECT {FEED_FIELDS} FROM feed WHERE token_hash = $h LIMIT 1"),
            json!({ "h": hash }),
        )
        .await
    }
}

/// The record id of a calendar's or team's feed.
pub fn feed_id(target_kind: &str, target: &str) -> String {
    format!("{target_kind}-{target}")
}

fn calendar_json(org: &str, c: &CalendarView) -> serde_json::Value {
    json!({
        "org": org, "kind": c.kind, "name": c.name, "colour": c.colour, "owner": c.owner,
        "team": c.team, "members": c.members,
        "member_ids": c.members.iter().map(|m| &m.user).collect::<Vec<_>>(),
    })
}

/// A new calendar (fails as a duplicate if its id exists: personal and team calendars
/// have ids derived from their owner).
pub fn create_calendar(org: &str, c: &CalendarView) -> Write {
    Write::new(
        "CREATE type::record('calendar', $id) CONTENT $content;",
        json!({ "id": c.id, "content": calendar_json(org, c) }),
    )
}

/// A calendar's name, colour and members.
pub fn update_calendar(org: &str, c: &CalendarView) -> Write {
    Write::new(
        "UPSERT type::record('calendar', $id) CONTENT $content;",
        json!({ "id": c.id, "content": calendar_json(org, c) }),
    )
}

/// Writes an event as given (new or changed).
pub fn put_event(org: &str, e: &EventView) -> Write {
    put_event_as(org, e, "")
}

/// [`put_event`] with variable names ending in `suffix`, to join another with
/// [`Write::and`].
pub fn put_event_as(org: &str, e: &EventView, suffix: &str) -> Write {
    Write::new(
        &format!("UPSERT type::record('cal_event', $id{suffix}) CONTENT $content{suffix};"),
        json!({ format!("id{suffix}"): e.id, format!("content{suffix}"): {
            "org": org, "calendar": e.calendar, "title": e.title, "description": e.description,
            "location": e.location, "start_at": e.start, "end_at": e.end, "all_day": e.all_day,
            "zone": e.zone, "colour": e.colour, "invitees": e.invitees,
            "invitee_ids": e.invitees.iter().map(|i| &i.user).collect::<Vec<_>>(),
            "recurrence": e.recurrence, "exceptions": e.exceptions, "created_by": e.created_by,
            "created_at": e.created_at, "updated_at": e.updated_at,
        }}),
    )
}

/// Deletes an event.
pub fn delete_event(id: &str) -> Write {
    Write::new(
        "DELETE type::record('cal_event', $id);",
        json!({ "id": id }),
    )
}

/// Deletes a calendar with its events and its subscription feed.
pub fn delete_calendar(id: &str) -> Write {
    Write::new(
        "DELETE cal_event WHERE calendar = $id;
         DELETE type::record('feed', $feed);
         DELETE type::record('calendar', $id);",
        json!({ "id": id, "feed": feed_id("calendar", id) }),
    )
}

/// A calendar's or team's feed with a new token (the old one stops working).
pub fn put_feed(org: &str, target_kind: &str, target: &str, token_hash: &str, now: i64) -> Write {
    Write::new(
        "UPSERT type::record('feed', $id) CONTENT { org: $org, target_kind: $kind, target: $target, token_hash: $hash, created_at: $now };",
        json!({ "id": feed_id(target_kind, target), "org": org, "kind": target_kind,
                "target": target, "hash": token_hash, "now": now }),
    )
}

/// Revokes a calendar's or team's feed.
pub fn delete_feed(target_kind: &str, target: &str) -> Write {
    Write::new(
        "DELETE type::record('feed', $id);",
        json!({ "id": feed_id(target_kind, target) }),
    )
}
