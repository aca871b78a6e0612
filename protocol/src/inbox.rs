//! Notifications: what lands in a user's inbox, and the events of `inbox:{user_id}`.

use crate::ids::{OrgId, UserId};
use serde::{Deserialize, Serialize};

/// Why a notification was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    TaskAssigned,
    Comment,
    Mention,
    ProjectUpdate,
    DirectMessage,
    EventInvite,
    BookingConfirmed,
    BookingCancelled,
    /// A slot you waited for is held for you.
    BookingHeld,
    /// A work item entered a workflow step that belongs to one of your teams.
    WorkItemMoved,
    /// You were invited to join an organization.
    Invitation,
}

impl NotificationKind {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskAssigned => "task_assigned",
            Self::Comment => "comment",
            Self::Mention => "mention",
            Self::ProjectUpdate => "project_update",
            Self::DirectMessage => "direct_message",
            Self::EventInvite => "event_invite",
            Self::BookingConfirmed => "booking_confirmed",
            Self::BookingCancelled => "booking_cancelled",
            Self::BookingHeld => "booking_held",
            Self::WorkItemMoved => "work_item_moved",
            Self::Invitation => "invitation",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [Self; 11] = [
        Self::TaskAssigned,
        Self::Comment,
        Self::Mention,
        Self::ProjectUpdate,
        Self::DirectMessage,
        Self::EventInvite,
        Self::BookingConfirmed,
        Self::BookingCancelled,
        Self::BookingHeld,
        Self::WorkItemMoved,
        Self::Invitation,
    ];

    /// Parses a wire or storage name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// The entity a notification is about (`kind` such as `task`, `booking`, `user`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntityRef {
    pub kind: String,
    pub id: String,
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: String,
    pub org: OrgId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Deep link, a path on this server (e.g. `/messages/…`).
    pub link: String,
    pub entity: Option<EntityRef>,
    /// Who caused it, if a person did.
    pub from: Option<UserId>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last coalesced update.
    pub updated_at: i64,
    /// How many notifications were coalesced into this one (1 when none).
    pub count: u32,
    pub read: bool,
}

/// What a subscriber of `inbox:{user}` gets first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxSnapshot {
    pub unread: u32,
    /// The newest notifications, newest first (at most 20).
    pub recent: Vec<NotificationView>,
    pub seq: u64,
}

/// A change on the `inbox:{user}` stream. Every event carries the new unread count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxEvent {
    /// A new notification.
    NotificationAdded {
        notification: NotificationView,
        unread: u32,
    },
    /// An unread notification absorbed another of the same kind about the same entity.
    NotificationCoalesced {
        notification: NotificationView,
        unread: u32,
    },
    NotificationRead {
        id: String,
        unread: u32,
    },
    AllRead {
        unread: u32,
    },
}

impl InboxEvent {
    /// The journal `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotificationAdded { .. } => "notification_added",
            Self::NotificationCoalesced { .. } => "notification_coalesced",
            Self::NotificationRead { .. } => "notification_read",
            Self::AllRead { .. } => "all_read",
        }
    }

    /// The unread count after this event.
    pub fn unread(&self) -> u32 {
        match self {
            Self::NotificationAdded { unread, .. }
            | Self::NotificationCoalesced { unread, .. }
            | Self::NotificationRead { unread, .. }
            | Self::AllRead { unread } => *unread,
        }
    }
}
