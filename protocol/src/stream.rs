//! Stream names: which live stream a subscription, an event or a journal row belongs to.
//!
//! A name is a kind and an entity id, written `kind:id` (`org:0192…`, `inbox:…`). This
//! module is the only place that prints or parses that form; everything else passes a
//! [`StreamName`]. It must not learn who may read a stream (the actors decide that).

use crate::ids::{CalendarId, ItemId, KioskId, OrgId, ProjectId, TeamId, UserId, WorkflowId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Longest id accepted inside a stream name.
pub const MAX_STREAM_ID: usize = 64;

/// The kinds of stream, one per owner of live state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// An organization: settings, members, teams.
    Org,
    /// A user's notifications.
    Inbox,
    /// A team's calendar: bookings, holds, capacity.
    Team,
    /// A personal or shared calendar's events.
    Calendar,
    /// A workflow's board: every item's column.
    Board,
    /// One work item.
    Item,
    /// One project and its tasks.
    Project,
    /// A kiosk screen's own channel (scope changes, revocation).
    Kiosk,
    /// Platform-level changes (users created). Journal only: never subscribable.
    Platform,
}

impl StreamKind {
    /// Every kind, in a stable order (metrics, docs).
    pub const ALL: [StreamKind; 9] = [
        Self::Org,
        Self::Inbox,
        Self::Team,
        Self::Calendar,
        Self::Board,
        Self::Item,
        Self::Project,
        Self::Kiosk,
        Self::Platform,
    ];

    /// The name's prefix, also the `stream_kind` tag of events and snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::Inbox => "inbox",
            Self::Team => "team",
            Self::Calendar => "calendar",
            Self::Board => "board",
            Self::Item => "item",
            Self::Project => "project",
            Self::Kiosk => "kiosk",
            Self::Platform => "platform",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// One stream: its kind and the id of the entity that owns it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamName {
    Org(OrgId),
    Inbox(UserId),
    Team(TeamId),
    Calendar(CalendarId),
    Board(WorkflowId),
    Item(ItemId),
    Project(ProjectId),
    Kiosk(KioskId),
    /// The platform journal (`platform`, no id).
    Platform,
}

/// Why a string is not a stream name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamNameError {
    #[error("a stream name is `kind:id`")]
    Shape,
    #[error("unknown stream kind `{0}`")]
    UnknownKind(String),
    #[error("a stream id has 1 to {MAX_STREAM_ID} characters of a-z, A-Z, 0-9, '-' and '_'")]
    BadId,
}

impl StreamName {
    /// The stream's kind.
    pub fn kind(&self) -> StreamKind {
        match self {
            Self::Org(_) => StreamKind::Org,
            Self::Inbox(_) => StreamKind::Inbox,
            Self::Team(_) => StreamKind::Team,
            Self::Calendar(_) => StreamKind::Calendar,
            Self::Board(_) => StreamKind::Board,
            Self::Item(_) => StreamKind::Item,
            Self::Project(_) => StreamKind::Project,
            Self::Kiosk(_) => StreamKind::Kiosk,
            Self::Platform => StreamKind::Platform,
        }
    }

    /// The owning entity's id (empty for `platform`).
    pub fn id(&self) -> &str {
        match self {
            Self::Org(id) => id.as_str(),
            Self::Inbox(id) => id.as_str(),
            Self::Team(id) => id.as_str(),
            Self::Calendar(id) => id.as_str(),
            Self::Board(id) => id.as_str(),
            Self::Item(id) => id.as_str(),
            Self::Project(id) => id.as_str(),
            Self::Kiosk(id) => id.as_str(),
            Self::Platform => "",
        }
    }

    /// Parses `kind:id` (or `platform`).
    ///
    /// # Errors
    /// Not of that shape, an unknown kind, or an id with other characters or too long.
    pub fn parse(raw: &str) -> Result<Self, StreamNameError> {
        if raw == "platform" {
            return Ok(Self::Platform);
        }
        let (kind, id) = raw.split_once(':').ok_or(StreamNameError::Shape)?;
        let kind =
            StreamKind::parse(kind).ok_or_else(|| StreamNameError::UnknownKind(kind.into()))?;
        let ok = !id.is_empty()
            && id.len() <= MAX_STREAM_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(StreamNameError::BadId);
        }
        Ok(match kind {
            StreamKind::Org => Self::Org(OrgId::new(id)),
            StreamKind::Inbox => Self::Inbox(UserId::new(id)),
            StreamKind::Team => Self::Team(TeamId::new(id)),
            StreamKind::Calendar => Self::Calendar(CalendarId::new(id)),
            StreamKind::Board => Self::Board(WorkflowId::new(id)),
            StreamKind::Item => Self::Item(ItemId::new(id)),
            StreamKind::Project => Self::Project(ProjectId::new(id)),
            StreamKind::Kiosk => Self::Kiosk(KioskId::new(id)),
            StreamKind::Platform => return Err(StreamNameError::Shape),
        })
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Platform => f.write_str("platform"),
            other => write!(f, "{}:{}", other.kind().as_str(), other.id()),
        }
    }
}

impl std::str::FromStr for StreamName {
    type Err = StreamNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for StreamName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_print_and_parse_in_one_form() {
        let cases = [
            (StreamName::Org(OrgId::new("o1")), "org:o1"),
            (StreamName::Inbox(UserId::new("u_1")), "inbox:u_1"),
            (StreamName::Team(TeamId::new("t-1")), "team:t-1"),
            (StreamName::Board(WorkflowId::new("w")), "board:w"),
            (StreamName::Platform, "platform"),
        ];
        for (name, text) in cases {
            assert_eq!(name.to_string(), text);
            assert_eq!(StreamName::parse(text).unwrap(), name);
            let bytes = rmp_serde::to_vec_named(&name).unwrap();
            assert_eq!(rmp_serde::from_slice::<String>(&bytes).unwrap(), text);
            assert_eq!(rmp_serde::from_slice::<StreamName>(&bytes).unwrap(), name);
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        assert_eq!(StreamName::parse("org"), Err(StreamNameError::Shape));
        assert_eq!(StreamName::parse("org:"), Err(StreamNameError::BadId));
        assert_eq!(StreamName::parse("org:a:b"), Err(StreamNameError::BadId));
        assert_eq!(StreamName::parse("org:a b"), Err(StreamNameError::BadId));
        assert_eq!(
            StreamName::parse(&format!("org:{}", "a".repeat(MAX_STREAM_ID + 1))),
            Err(StreamNameError::BadId)
        );
        assert!(matches!(
            StreamName::parse("teams:x"),
            Err(StreamNameError::UnknownKind(_))
        ));
        assert_eq!(StreamName::parse("platform:x"), Err(StreamNameError::Shape));
    }

    proptest! {
        #[test]
        fn every_printed_name_parses_back(kind in 0usize..8, id in "[A-Za-z0-9_-]{1,64}") {
            let text = format!("{}:{id}", StreamKind::ALL[kind].as_str());
            let name = StreamName::parse(&text).unwrap();
            prop_assert_eq!(name.to_string(), text);
            prop_assert_eq!(name.kind(), StreamKind::ALL[kind]);
        }
    }
}
