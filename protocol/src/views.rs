//! Entity views (what clients see of an entity) and the events of the `org:{id}` stream.
//!
//! Views never carry secrets (no password hashes, no session ids).

use crate::capacity::JobTypeView;
use crate::ids::{OrgId, TeamId, UserId};
use serde::{Deserialize, Serialize};

/// What a member may do inside one organization. Ordered: `Owner > Admin > Member`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Uses calendars and boards.
    Member,
    /// Runs the staff panel: users, teams, settings.
    Admin,
    /// An admin who cannot be demoted or removed by admins; at least one per organization.
    Owner,
}

impl Role {
    /// The role's wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses a wire or form name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    /// Admins and owners run the staff panel.
    pub fn is_admin(self) -> bool {
        self >= Self::Admin
    }
}

/// How the organization shows times of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClockFormat {
    /// 1:30 PM
    H12,
    /// 13:30
    H24,
}

impl ClockFormat {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::H12 => "h12",
            Self::H24 => "h24",
        }
    }

    /// Parses a wire or form name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "h12" => Some(Self::H12),
            "h24" => Some(Self::H24),
            _ => None,
        }
    }
}

/// An organization's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    /// Unique across the platform, used in URLs.
    pub slug: String,
    /// IANA zone name; the default for members who set none.
    pub timezone: String,
    pub clock: ClockFormat,
}

/// A person, as other people see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
}

/// A member's profile inside one organization (a person's title differs between employers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileView {
    pub title: String,
    pub location: String,
    /// IANA zone name; empty means "the organization's zone".
    pub timezone: String,
    /// A `data:image/...;base64,` URL, empty when none was uploaded.
    pub avatar: String,
    pub bio: String,
}

/// A user's membership of one organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    pub user: UserView,
    pub role: Role,
    /// A deactivated member keeps their history but cannot log in to this organization.
    pub active: bool,
    pub profile: ProfileView,
    /// Teams this member belongs to.
    pub teams: Vec<TeamId>,
}

/// A team: a group of members whose bookable count is the capacity booked on its calendar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamView {
    pub id: TeamId,
    pub name: String,
    pub description: String,
    /// `#rrggbb`
    pub colour: String,
    pub parent: Option<TeamId>,
    pub members: Vec<UserId>,
    /// How many members can be booked at the same time (capacity).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::bookable_count))]
    pub bookable_count: u32,
    pub manager: Option<UserId>,
    /// How many hours before a confirmed booking starts the people assigned to it get a
    /// reminder by mail (1–168); none: no reminders.
    #[serde(default)]
    pub reminder_hours: Option<u32>,
}

/// A pending invitation to join an organization. The secret link is shown once, to the
/// admin who created it; views never carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationView {
    pub id: String,
    /// Lower-case; only this address can accept.
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; after this the link no longer works.
    pub expires_at: i64,
}

/// A pending invitation as every member sees it on the `org:` stream: who invited, the
/// role and when it runs out, but not the address — invitees' addresses are for admins
/// (`GET /api/v1/invitations`), and stream frames are shared by every member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingInvitation {
    pub id: String,
    pub role: Role,
    pub invited_by: UserId,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; after this the link no longer works.
    pub expires_at: i64,
}

impl From<&InvitationView> for PendingInvitation {
    fn from(i: &InvitationView) -> Self {
        Self {
            id: i.id.clone(),
            role: i.role,
            invited_by: i.invited_by.clone(),
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// Everything the `org:{id}` stream describes, as of journal position `seq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgSnapshot {
    pub org: OrgView,
    pub members: Vec<MemberView>,
    pub teams: Vec<TeamView>,
    /// Pending, unexpired invitations, newest first (without their addresses).
    pub invitations: Vec<PendingInvitation>,
    /// Job types (what teams are booked for), by name.
    #[serde(default)]
    pub job_types: Vec<JobTypeView>,
    /// Workflows not archived, by name.
    #[serde(default)]
    pub workflows: Vec<crate::workflow::WorkflowView>,
    /// The journal position this snapshot includes.
    pub seq: u64,
}

/// A change on the `org:{id}` stream, journalled with the change that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrgEvent {
    OrgCreated {
        org: OrgView,
    },
    SettingsChanged {
        org: OrgView,
    },
    MemberAdded {
        member: MemberView,
    },
    MemberChanged {
        member: MemberView,
    },
    MemberRemoved {
        user: UserId,
    },
    TeamCreated {
        team: TeamView,
    },
    TeamChanged {
        team: TeamView,
    },
    TeamDeleted {
        team: TeamId,
    },
    InvitationCreated {
        invitation: PendingInvitation,
    },
    /// Revoked by an admin, or replaced by a new invitation to the same address.
    InvitationRevoked {
        id: String,
    },
    /// Followed by `member_added`.
    InvitationAccepted {
        id: String,
        user: UserId,
    },
    JobTypeCreated {
        job_type: JobTypeView,
    },
    JobTypeChanged {
        job_type: JobTypeView,
    },
    JobTypeDeleted {
        id: String,
    },
    /// A workflow was created or a new version of it saved.
    WorkflowSaved {
        workflow: crate::workflow::WorkflowView,
    },
    /// Archived: no new items; its board stays readable.
    WorkflowArchived {
        id: crate::ids::WorkflowId,
    },
    /// A kiosk screen was paired or created, or its name or scope changed.
    KioskSaved {
        kiosk: crate::workflow::KioskView,
    },
    KioskRevoked {
        id: crate::ids::KioskId,
    },
}

impl OrgEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OrgCreated { .. } => "org_created",
            Self::SettingsChanged { .. } => "settings_changed",
            Self::MemberAdded { .. } => "member_added",
            Self::MemberChanged { .. } => "member_changed",
            Self::MemberRemoved { .. } => "member_removed",
            Self::TeamCreated { .. } => "team_created",
            Self::TeamChanged { .. } => "team_changed",
            Self::TeamDeleted { .. } => "team_deleted",
            Self::InvitationCreated { .. } => "invitation_created",
            Self::InvitationRevoked { .. } => "invitation_revoked",
            Self::InvitationAccepted { .. } => "invitation_accepted",
            Self::JobTypeCreated { .. } => "job_type_created",
            Self::JobTypeChanged { .. } => "job_type_changed",
            Self::JobTypeDeleted { .. } => "job_type_deleted",
            Self::WorkflowSaved { .. } => "workflow_saved",
            Self::WorkflowArchived { .. } => "workflow_archived",
            Self::KioskSaved { .. } => "kiosk_saved",
            Self::KioskRevoked { .. } => "kiosk_revoked",
        }
    }
}

/// A change on the `platform` journal: platform-level facts kept for audit. Journal
/// only; no client can subscribe to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlatformEvent {
    UserCreated {
        user: UserView,
    },
    /// One login session ended (logout). `session` is the SHA-256 (hex) of the session
    /// id, never the id itself: every node closes that session's sockets.
    SessionEnded {
        user: UserId,
        session: String,
    },
    /// Every session of the user ended (a new password): every node closes their sockets.
    SessionsEnded {
        user: UserId,
    },
}

impl PlatformEvent {
    /// The journal `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UserCreated { .. } => "user_created",
            Self::SessionEnded { .. } => "session_ended",
            Self::SessionsEnded { .. } => "sessions_ended",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_matches_its_tag() {
        let ev = OrgEvent::MemberRemoved {
            user: UserId::new("u1"),
        };
        let bytes = rmp_serde::to_vec_named(&ev).unwrap();
        #[derive(Deserialize)]
        struct Tagged {
            kind: String,
        }
        let tagged: Tagged = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(tagged.kind, ev.kind());
        let back: OrgEvent = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner.is_admin() && Role::Admin.is_admin() && !Role::Member.is_admin());
        for r in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
