//! Calendars and their events: personal (one per member), team (one per team, beside
//! its bookings) and shared calendars; the events, snapshot and expanded occurrences of
//! a `calendar:{id}` stream.
//!
//! Instants are Unix milliseconds. An event's wall-clock rules (its start time of day,
//! recurrence, exceptions) are in its own IANA `zone`; occurrences are expanded on the
//! server in that zone, so a 09:00 weekly meeting stays 09:00 local across DST.

use crate::ids::{CalendarId, TeamId, UserId};
use serde::{Deserialize, Serialize};

/// What a calendar is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    /// One per member: only its owner sees and edits it.
    Personal,
    /// One per team: the team's members (and admins) see and edit it.
    Team,
    /// Created by anyone; its members may view or edit it.
    Shared,
}

/// A member of a shared calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarMember {
    pub user: UserId,
    pub can_edit: bool,
}

/// A calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarView {
    pub id: CalendarId,
    pub kind: CalendarKind,
    pub name: String,
    /// `#rrggbb`
    pub colour: String,
    /// The owner of a personal calendar, the creator of a shared one.
    pub owner: Option<UserId>,
    /// The team of a team calendar.
    pub team: Option<TeamId>,
    /// Members of a shared calendar (empty for the other kinds).
    pub members: Vec<CalendarMember>,
}

/// An invitee's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rsvp {
    Pending,
    Accepted,
    Declined,
    Tentative,
}

/// Someone invited to an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitee {
    pub user: UserId,
    pub rsvp: Rsvp,
}

/// How often an event repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A recurrence rule (RFC 5545 RRULE subset), in the event's zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recurrence {
    pub freq: Frequency,
    /// Every `interval` days/weeks/months/years, 1..=1000 (default 1).
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::recurrence_interval))]
    pub interval: u32,
    /// ISO weekdays (1 = Monday … 7 = Sunday).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::by_day))]
    pub by_day: Vec<u8>,
    /// Days of the month, 1..=31 or −31..=−1 (from the end).
    #[serde(default)]
    pub by_month_day: Vec<i8>,
    /// Number of occurrences (at most 5000); not with `until`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::recurrence_count))]
    pub count: Option<u32>,
    /// Last local date an occurrence may start on, `YYYY-MM-DD` (inclusive).
    #[serde(default)]
    pub until: Option<String>,
}

fn one() -> u32 {
    1
}

/// A change to one occurrence of a recurring event, named by its original local start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OccurrenceException {
    /// The occurrence's original local start, `YYYY-MM-DDTHH:MM` in the event's zone.
    pub occurrence: String,
    /// The occurrence does not take place.
    #[serde(default)]
    pub cancelled: bool,
    /// Moved: the new start and end (Unix ms).
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
    /// A different title for this occurrence.
    #[serde(default)]
    pub title: Option<String>,
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub id: String,
    pub calendar: CalendarId,
    pub title: String,
    pub description: String,
    pub location: String,
    /// Unix ms. For an all-day event: local midnight of its first day.
    pub start: i64,
    /// Unix ms, after `start`. For an all-day event: local midnight after its last day.
    pub end: i64,
    pub all_day: bool,
    /// IANA zone its local times are in.
    pub zone: String,
    /// `#rrggbb`, empty for the calendar's colour.
    pub colour: String,
    pub invitees: Vec<Invitee>,
    pub recurrence: Option<Recurrence>,
    pub exceptions: Vec<OccurrenceException>,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One occurrence of an event, expanded on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub event: String,
    pub calendar: CalendarId,
    pub title: String,
    pub location: String,
    pub start: i64,
    pub end: i64,
    pub all_day: bool,
    /// The event's zone (IANA): `occurrence` is a local time there, and all-day
    /// occurrences are its local midnights.
    #[serde(default)]
    pub zone: String,
    pub colour: String,
    /// For a recurring event: the original local start that names this occurrence
    /// (what `move_occurrence` and `cancel_occurrence` take).
    pub occurrence: Option<String>,
    /// Moved or retitled by an exception.
    pub changed: bool,
}

/// The state of a `calendar:{id}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarSnapshot {
    pub calendar: CalendarView,
    pub events: Vec<EventView>,
    pub seq: u64,
}

/// A change on a `calendar:{id}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalendarEvent {
    CalendarCreated {
        calendar: CalendarView,
    },
    CalendarChanged {
        calendar: CalendarView,
    },
    EventCreated {
        event: EventView,
    },
    /// Any change to an event: fields, recurrence, exceptions, invitees, answers.
    EventChanged {
        event: EventView,
    },
    EventDeleted {
        id: String,
    },
    /// The calendar and its events are gone: the stream's last event (subscribing again
    /// answers `not_found`; its feed answers 404).
    CalendarDeleted {
        id: CalendarId,
    },
}

impl CalendarEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CalendarCreated { .. } => "calendar_created",
            Self::CalendarChanged { .. } => "calendar_changed",
            Self::EventCreated { .. } => "event_created",
            Self::EventChanged { .. } => "event_changed",
            Self::EventDeleted { .. } => "event_deleted",
            Self::CalendarDeleted { .. } => "calendar_deleted",
        }
    }
}
