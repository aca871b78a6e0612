//! Records, reads and writes of team capacity: job types (the Org actor's), working
//! hours, bookings and the waitlist (each team's TeamCalendar actor's).

use super::writes::Write;
use super::{Store, StoreResult};
use cflows_protocol::{
    BookingState, BookingView, ItemId, JobTypeView, TeamId, UserId, WaitlistEntry, WorkingHours,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A job type row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobTypeRecord {
    pub id: String,
    pub org: String,
    pub name: String,
    pub duration_minutes: u32,
    pub colour: String,
}

impl From<JobTypeRecord> for JobTypeView {
    fn from(r: JobTypeRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            duration_minutes: r.duration_minutes,
            colour: r.colour,
        }
    }
}

/// A booking row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BookingRecord {
    pub id: String,
    pub org: String,
    pub team: String,
    pub job_type: String,
    pub title: String,
    pub start_at: i64,
    pub end_at: i64,
    pub members_required: u32,
    pub state: BookingState,
    pub hold_expires_at: Option<i64>,
    pub booked_by: String,
    pub booked_by_name: String,
    pub assigned: Vec<String>,
    pub work_item: Option<String>,
    pub step: Option<String>,
    pub completed_by: Option<String>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<BookingRecord> for BookingView {
    fn from(r: BookingRecord) -> Self {
        Self {
            id: r.id,
            team: TeamId::new(r.team),
            job_type: r.job_type,
            title: r.title,
            start: r.start_at,
            end: r.end_at,
            members_required: r.members_required,
            state: r.state,
            hold_expires_at: r.hold_expires_at,
            booked_by: UserId::new(r.booked_by),
            booked_by_name: r.booked_by_name,
            assigned: r.assigned.into_iter().map(UserId::new).collect(),
            work_item: r.work_item.map(ItemId::new),
            step: r.step,
            completed_by: r.completed_by.map(UserId::new),
            completed_at: r.completed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A waitlist row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WaitlistRecord {
    pub id: String,
    pub team: String,
    pub job_type: String,
    pub title: String,
    pub start_at: i64,
    pub end_at: i64,
    pub members_required: u32,
    pub user: String,
    pub work_item: Option<String>,
    pub step: Option<String>,
    pub hold_seconds: Option<u32>,
    pub created_at: i64,
}

impl From<WaitlistRecord> for WaitlistEntry {
    fn from(r: WaitlistRecord) -> Self {
        Self {
            id: r.id,
            team: TeamId::new(r.team),
            job_type: r.job_type,
            title: r.title,
            start: r.start_at,
            end: r.end_at,
            members_required: r.members_required,
            user: UserId::new(r.user),
            work_item: r.work_item.map(ItemId::new),
            step: r.step,
            hold_seconds: r.hold_seconds,
            created_at: r.created_at,
        }
    }
}

/// A team's working hours row (record id: the team).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TeamHoursRecord {
    pub hours: WorkingHours,
}

pub(super) const TEAM_HOURS_FIELDS: &str = "record::id(id) AS id, hours";
pub(super) const JOB_TYPE_FIELDS: &str =
    "record::id(id) AS id, org, name, duration_minutes, colour";
pub(super) const BOOKING_FIELDS: &str = "record::id(id) AS id, org, team, job_type, title, start_at, end_at, members_required, state, hold_expires_at, booked_by, booked_by_name, assigned, work_item, step, completed_by, completed_at, created_at, updated_at";
pub(super) const WAITLIST_FIELDS: &str = "record::id(id) AS id, team, job_type, title, start_at, end_at, members_required, user, work_item, step, hold_seconds, created_at";

impl Store {
    /// An organization's job types, by name.
    ///
    /// # Errors
    /// The query fails.
    pub async fn job_types_of_org(&self, org: &str) -> StoreResult<Vec<JobTypeRecord>> {
        self.rows(
            &format!("SELECT {JOB_TYPE_FIELDS} FROM job_type WHERE org = $org ORDER BY name"),
            json!({ "org": org }),
        )
        .await
    }

    /// A team's own working hours, if it has set any.
    ///
    /// # Errors
    /// The query fails or the stored hours do not parse.
    pub async fn team_hours(&self, team: &str) -> StoreResult<Option<WorkingHours>> {
        let row: Option<TeamHoursRecord> = self
            .row(
                &format!("SELECT {TEAM_HOURS_FIELDS} FROM type::record('team_hours', $team)"),
                json!({ "team": team }),
            )
            .await?;
        Ok(row.map(|r| r.hours))
    }

    /// A team's bookings that end after `after` (Unix ms) and are not released
    /// (cancelled or expired).
    ///
    /// # Errors
    /// The query fails.
    pub async fn live_bookings(&self, team: &str, after: i64) -> StoreResult<Vec<BookingRecord>> {
        self.rows(
            &format!(
                "SELECT {BOOKING_FIELDS} FROM booking WHERE team = $team AND end_at > $after AND state NOT IN ['cancelled', 'expired'] ORDER BY start_at"
            ),
            json!({ "team": team, "after": after }),
        )
        .await
    }

    /// One booking of a team (any state).
    ///
    /// # Errors
    /// The query fails.
    pub async fn booking(&self, team: &str, id: &str) -> StoreResult<Option<BookingRecord>> {
        self.row(
            &format!(
                "SELECT {BOOKING_FIELDS} FROM type::record('booking', $id) WHERE team = $team"
            ),
            json!({ "team": team, "id": id }),
        )
        .await
    }

    /// A team's bookings overlapping `[from, to)`, any state but released (cancelled,
    /// expired), by start.
    ///
    /// # Errors
    /// The query fails.
    pub async fn bookings_between(
        &self,
        team: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<BookingRecord>> {
        self.rows(
            &format!(
                "SELECT {BOOKING_FIELDS} FROM booking WHERE team = $team AND end_at > $from AND start_at < $to AND state NOT IN ['cancelled', 'expired'] ORDER BY start_at"
            ),
            json!({ "team": team, "from": from, "to": to }),
        )
        .await
    }

    /// Teams with bookings still in the `held` state (their holds must run out live,
    /// also after a restart).
    ///
    /// # Errors
    /// The query fails.
    pub async fn teams_with_holds(&self) -> StoreResult<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            team: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT team FROM booking WHERE state = 'held' GROUP BY team",
                json!({}),
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.team).collect())
    }

    /// A team's waitlist, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn waitlist(&self, team: &str) -> StoreResult<Vec<WaitlistRecord>> {
        self.rows(
            &format!(
                "SELECT {WAITLIST_FIELDS} FROM waitlist WHERE team = $team ORDER BY created_at, id"
            ),
            json!({ "team": team }),
        )
        .await
    }
}

/// A new job type of `org`.
pub fn create_job_type(org: &str, j: &JobTypeView) -> Write {
    Write::new(
        "CREATE type::record('job_type', $j.id) CONTENT { org: $org, name: $j.name, duration_minutes: $j.duration_minutes, colour: $j.colour };",
        json!({ "org": org, "j": j }),
    )
}

/// A job type's fields.
pub fn update_job_type(j: &JobTypeView) -> Write {
    Write::new(
        "UPDATE type::record('job_type', $j.id) SET name = $j.name, duration_minutes = $j.duration_minutes, colour = $j.colour;",
        json!({ "j": j }),
    )
}

/// Deletes a job type (bookings keep its id and their own length).
pub fn delete_job_type(id: &str) -> Write {
    Write::new("DELETE type::record('job_type', $id);", json!({ "id": id }))
}

/// A team's working hours.
pub fn set_team_hours(org: &str, team: &TeamId, hours: &WorkingHours) -> Write {
    Write::new(
        "UPSERT type::record('team_hours', $team) CONTENT { org: $org, hours: $hours };",
        json!({ "org": org, "team": team, "hours": hours }),
    )
}

fn booking_json(org: &str, b: &BookingView) -> serde_json::Value {
    json!({
        "org": org, "team": b.team, "job_type": b.job_type, "title": b.title,
        "start_at": b.start, "end_at": b.end, "members_required": b.members_required,
        "state": b.state, "hold_expires_at": b.hold_expires_at, "booked_by": b.booked_by,
        "booked_by_name": b.booked_by_name, "assigned": b.assigned, "work_item": b.work_item,
        "step": b.step, "completed_by": b.completed_by, "completed_at": b.completed_at,
        "created_at": b.created_at, "updated_at": b.updated_at,
    })
}

/// Writes bookings as given (new or changed); `suffix` keeps variable names apart when
/// joined with [`Write::and`]. One booking (the common case) is one `UPSERT`.
pub fn put_bookings(org: &str, bookings: &[&BookingView], suffix: &str) -> Write {
    if let [b] = bookings {
        return Write::new(
            &format!("UPSERT type::record('booking', $booking{suffix}) CONTENT $content{suffix};"),
            json!({ format!("booking{suffix}"): b.id, format!("content{suffix}"): booking_json(org, b) }),
        );
    }
    let rows: Vec<_> = bookings
        .iter()
        .map(|b| json!({ "id": b.id, "content": booking_json(org, b) }))
        .collect();
    Write::new(
        &format!(
            "FOR $b IN $bookings{suffix} {{ UPSERT type::record('booking', $b.id) CONTENT $b.content; }};"
        ),
        json!({ format!("bookings{suffix}"): rows }),
    )
}

/// Adds a waitlist entry.
pub fn add_waiter(org: &str, w: &WaitlistEntry) -> Write {
    Write::new(
        "CREATE type::record('waitlist', $w.id) CONTENT { org: $org, team: $w.team, job_type: $w.job_type, title: $w.title, start_at: $w.start, end_at: $w.end, members_required: $w.members_required, user: $w.user, work_item: $w.work_item, step: $w.step, hold_seconds: $w.hold_seconds, created_at: $w.created_at };",
        json!({ "org": org, "w": w }),
    )
}

/// Removes waitlist entries.
pub fn remove_waiters(ids: &[String]) -> Write {
    Write::new(
        "FOR $w IN $waiters { DELETE type::record('waitlist', $w); };",
        json!({ "waiters": ids }),
    )
}

/// Nothing (a decision that only journals).
pub fn nothing() -> Write {
    Write::new("", json!({}))
}
