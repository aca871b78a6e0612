//! Team capacity booking: job types, working hours, bookings, the waitlist, and the
//! events and snapshot of the `team:{id}` stream.
//!
//! Instants are Unix milliseconds (UTC). Working hours are local wall-clock times in
//! the hours' IANA zone; `HH:MM` strings, 24-hour.

use crate::ids::{ItemId, TeamId, UserId};
use serde::{Deserialize, Serialize};

/// A kind of job a team is booked for; its duration is a booking's default length.
/// Organization-wide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobTypeView {
    pub id: String,
    pub name: String,
    /// 5..=1440.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::duration_minutes))]
    pub duration_minutes: u32,
    /// `#rrggbb`
    pub colour: String,
}

/// Where a booking is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BookingState {
    /// Tentative: takes capacity until `hold_expires_at`, then is released.
    Held,
    /// Takes capacity.
    Confirmed,
    /// Done; keeps its interval (it still counts as booked).
    Completed,
    /// Released by someone; takes no capacity.
    Cancelled,
    /// A hold that ran out before it was confirmed (`hold_expired`); takes no capacity.
    Expired,
}

impl BookingState {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Whether the booking is over without having happened (cancelled or run out): it
    /// takes no capacity, and nothing more can be done with it.
    pub fn is_released(self) -> bool {
        matches!(self, Self::Cancelled | Self::Expired)
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "held" => Some(Self::Held),
            "confirmed" => Some(Self::Confirmed),
            "completed" => Some(Self::Completed),
            "cancelled" => Some(Self::Cancelled),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// A booking of a team's capacity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BookingView {
    pub id: String,
    pub team: TeamId,
    pub job_type: String,
    pub title: String,
    /// Unix ms, inclusive.
    pub start: i64,
    /// Unix ms, exclusive.
    pub end: i64,
    /// Members this booking takes from the team's capacity, 1..=capacity.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::members_required_set))]
    pub members_required: u32,
    pub state: BookingState,
    /// Set while `held`: when the hold is released (Unix ms).
    pub hold_expires_at: Option<i64>,
    pub booked_by: UserId,
    /// The booker's display name ("held by Anna").
    pub booked_by_name: String,
    /// Team members assigned to the job (at most `members_required`).
    pub assigned: Vec<UserId>,
    /// The work item and workflow step this booking serves, when linked.
    pub work_item: Option<ItemId>,
    pub step: Option<String>,
    pub completed_by: Option<UserId>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One open period of a weekday, local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkingPeriod {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local, after `start` (`24:00` for midnight at the end of the day).
    pub end: String,
}

/// A local date on which the team is closed (holiday, closed day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedDay {
    /// `YYYY-MM-DD`, local.
    pub date: String,
    pub reason: String,
}

/// When a team can be booked: weekly local-time periods in `zone`, minus closed days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkingHours {
    /// IANA zone the periods and dates are in (the organization's zone by default).
    pub zone: String,
    pub weekly: Vec<WorkingPeriod>,
    #[serde(default)]
    pub closed: Vec<ClosedDay>,
    /// How long a hold lasts when the request does not say, in minutes (1..=1440).
    pub hold_minutes: u32,
}

/// A request waiting for a full slot: when capacity frees up, the first waiter whose
/// slot fits gets a hold and a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaitlistEntry {
    pub id: String,
    pub team: TeamId,
    pub job_type: String,
    pub title: String,
    pub start: i64,
    pub end: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::members_required_set))]
    pub members_required: u32,
    pub user: UserId,
    pub work_item: Option<ItemId>,
    pub step: Option<String>,
    /// How long the hold lasts when the slot frees up (the request's `hold_seconds`);
    /// the team's `hold_minutes` when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::hold_seconds))]
    pub hold_seconds: Option<u32>,
    pub created_at: i64,
}

/// An interval of time (Unix ms, `[start, end)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interval {
    pub start: i64,
    pub end: i64,
}

/// Why a booking request did not fit, and where it would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapacityRefusal {
    /// The first stretch of the requested interval where it does not fit (`null` when
    /// the request lies outside working hours).
    pub conflict: Option<Interval>,
    /// Members already taken there (held + confirmed + completed), at its peak.
    pub booked: u32,
    /// The team's capacity.
    pub capacity: u32,
    /// The next free slots of the same length on the same team, earliest first.
    pub suggestions: Vec<Interval>,
    /// Set when the request joined the slot's waitlist.
    pub waitlisted: Option<WaitlistEntry>,
}

/// Free capacity of one slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotAvailability {
    pub start: i64,
    pub end: i64,
    /// The team's capacity while open, 0 when closed.
    pub capacity: u32,
    /// Members held at the slot's peak.
    pub held: u32,
    /// Members confirmed (or completed) at the slot's peak.
    pub confirmed: u32,
    /// `capacity − (held + confirmed)` at the peak, never below 0.
    pub free: u32,
}

/// Booked versus available member-minutes over one local day or ISO week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkloadPeriod {
    /// `YYYY-MM-DD` (a day) or `YYYY-Www` (an ISO week), local to the working hours.
    pub period: String,
    /// Capacity × open minutes.
    pub capacity_minutes: u64,
    pub held_minutes: u64,
    /// Confirmed and completed.
    pub confirmed_minutes: u64,
    /// `(held + confirmed) / capacity`, 0 when closed.
    pub utilization: f64,
}

/// Utilization of one team by day and by week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workload {
    pub team: TeamId,
    pub days: Vec<WorkloadPeriod>,
    pub weeks: Vec<WorkloadPeriod>,
}

/// The state of a `team:{id}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamCalendarSnapshot {
    pub team: TeamId,
    pub capacity: u32,
    pub hours: WorkingHours,
    /// Held, confirmed and completed bookings ending after a week ago, by start.
    pub bookings: Vec<BookingView>,
    pub waitlist: Vec<WaitlistEntry>,
    pub seq: u64,
}

/// A change on a `team:{id}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TeamEvent {
    /// A new booking, `held` or directly `confirmed`.
    BookingCreated {
        booking: BookingView,
    },
    BookingConfirmed {
        booking: BookingView,
    },
    /// Moved or resized (or its members, title or assignees changed).
    BookingChanged {
        booking: BookingView,
    },
    BookingCancelled {
        booking: BookingView,
    },
    BookingCompleted {
        booking: BookingView,
    },
    /// A hold ran out and was released.
    HoldExpired {
        booking: BookingView,
    },
    WaitlistJoined {
        entry: WaitlistEntry,
    },
    /// Promoted to a hold (`booking`) or withdrawn.
    WaitlistLeft {
        id: String,
        booking: Option<String>,
    },
    CapacityChanged {
        capacity: u32,
    },
    HoursChanged {
        hours: WorkingHours,
    },
}

impl TeamEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BookingCreated { .. } => "booking_created",
            Self::BookingConfirmed { .. } => "booking_confirmed",
            Self::BookingChanged { .. } => "booking_changed",
            Self::BookingCancelled { .. } => "booking_cancelled",
            Self::BookingCompleted { .. } => "booking_completed",
            Self::HoldExpired { .. } => "hold_expired",
            Self::WaitlistJoined { .. } => "waitlist_joined",
            Self::WaitlistLeft { .. } => "waitlist_left",
            Self::CapacityChanged { .. } => "capacity_changed",
            Self::HoursChanged { .. } => "hours_changed",
        }
    }
}
