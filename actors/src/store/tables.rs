//! Every table the migrations define, once: how its rows belong to an organization (what
//! `cflows export` writes out) and what its rows must decode as (what `cflows check`
//! reads back). A test compares this list with the migrations' `DEFINE TABLE`s, so a
//! new table cannot be left out of either.
//!
//! Must not: hold SurrealQL beyond field lists; decide anything about the rows.

use super::calendars::{
    CAL_EVENT_FIELDS, CALENDAR_FIELDS, CalEventRecord, CalendarRecord, FEED_FIELDS, FeedRecord,
};
use super::capacity::{
    BOOKING_FIELDS, BookingRecord, JOB_TYPE_FIELDS, JobTypeRecord, TEAM_HOURS_FIELDS,
    TeamHoursRecord, WAITLIST_FIELDS, WaitlistRecord,
};
use super::cluster::{
    NODE_FIELDS, NodeRecord, PAIRING_FIELDS, PairingRecord, THROTTLE_FIELDS, ThrottleRecord,
};
use super::outbox::{
    CALENDAR_MAIL_FIELDS, CalendarMailRecord, JOURNAL_CURSOR_FIELDS, JournalCursorRecord,
    MAIL_PREF_FIELDS, MailPrefRecord, OUTBOX_FIELDS, OutboxRecord, PASSWORD_RESET_FIELDS,
    PasswordResetRecord,
};
use super::portable::Owned;
use super::projects::{
    ATTACHMENT_FIELDS, AttachmentRecord, BLOB_FIELDS, BlobRecord, PROJECT_FIELDS, ProjectRecord,
    TASK_COMMENT_FIELDS, TASK_FIELDS, TaskRecord,
};
use super::records::{
    EVENT_FIELDS, EventRecord, INVITATION_FIELDS, InvitationRecord, MEMBERSHIP_FIELDS,
    MembershipRecord, NOTIFICATION_FIELDS, NotificationRecord, ORG_FIELDS, OrgRecord,
    SESSION_FIELDS, STREAM_HEAD_FIELDS, SessionRecord, StreamHeadRecord, TEAM_FIELDS, TeamRecord,
    USER_FIELDS, UserRecord,
};
use super::workflows::{
    BOARD_CARD_FIELDS, BOARD_FIELDS, BoardCardRecord, BoardRecord, COMMENT_FIELDS, CommentRecord,
    ENTRY_FIELDS, EntryRecord, FILTER_FIELDS, FilterRecord, KIOSK_FIELDS, KioskRecord,
    WORK_ITEM_FIELDS, WORKFLOW_FIELDS, WORKFLOW_VERSION_FIELDS, WorkItemRecord, WorkflowRecord,
    WorkflowVersionRecord,
};
use serde_json::Value as Json;

/// One stored table.
pub struct Table {
    pub name: &'static str,
    /// How its rows belong to an organization; `None`: not exported (why, on the entry).
    pub export: Option<Owned>,
    /// The fields the actors read (a `SELECT` list).
    pub fields: &'static str,
    /// Whether one row, read with `fields`, is what the actors expect.
    pub decodes: fn(Json) -> Result<(), String>,
}

fn decodes<T: serde::de::DeserializeOwned>(row: Json) -> Result<(), String> {
    serde_json::from_value::<T>(row)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

macro_rules! table {
    ($name:literal, $export:expr, $fields:expr, $record:ty) => {
        Table {
            name: $name,
            export: $export,
            fields: $fields,
            decodes: decodes::<$record>,
        }
    };
}

/// Every table, in the order an import writes them back (the journal comes after them).
pub const TABLES: &[Table] = &[
    table!("org", Some(Owned::Itself), ORG_FIELDS, OrgRecord),
    table!("user", Some(Owned::Members), USER_FIELDS, UserRecord),
    table!(
        "membership",
        Some(Owned::ByOrg),
        MEMBERSHIP_FIELDS,
        MembershipRecord
    ),
    table!("team", Some(Owned::ByOrg), TEAM_FIELDS, TeamRecord),
    // Not exported: people log in again.
    table!("session", None, SESSION_FIELDS, SessionRecord),
    // Not exported as a table: the journal travels as the document's `journal`.
    table!("event", None, EVENT_FIELDS, EventRecord),
    // Not exported: an import writes each stream's head from its journal.
    table!("stream_head", None, STREAM_HEAD_FIELDS, StreamHeadRecord),
    table!(
        "invitation",
        Some(Owned::ByOrg),
        INVITATION_FIELDS,
        InvitationRecord
    ),
    table!(
        "notification",
        Some(Owned::ByOrg),
        NOTIFICATION_FIELDS,
        NotificationRecord
    ),
    table!(
        "job_type",
        Some(Owned::ByOrg),
        JOB_TYPE_FIELDS,
        JobTypeRecord
    ),
    table!(
        "team_hours",
        Some(Owned::ByOrg),
        TEAM_HOURS_FIELDS,
        TeamHoursRecord
    ),
    table!("booking", Some(Owned::ByOrg), BOOKING_FIELDS, BookingRecord),
    table!(
        "waitlist",
        Some(Owned::ByOrg),
        WAITLIST_FIELDS,
        WaitlistRecord
    ),
    table!(
        "calendar",
        Some(Owned::ByOrg),
        CALENDAR_FIELDS,
        CalendarRecord
    ),
    table!(
        "cal_event",
        Some(Owned::ByOrg),
        CAL_EVENT_FIELDS,
        CalEventRecord
    ),
    table!("feed", Some(Owned::ByOrg), FEED_FIELDS, FeedRecord),
    table!(
        "workflow",
        Some(Owned::ByOrg),
        WORKFLOW_FIELDS,
        WorkflowRecord
    ),
    table!(
        "workflow_version",
        Some(Owned::ByOrg),
        WORKFLOW_VERSION_FIELDS,
        WorkflowVersionRecord
    ),
    table!(
        "work_item",
        Some(Owned::ByOrg),
        WORK_ITEM_FIELDS,
        WorkItemRecord
    ),
    table!(
        "item_entry",
        Some(Owned::Via("item", "work_item")),
        ENTRY_FIELDS,
        EntryRecord
    ),
    table!(
        "item_comment",
        Some(Owned::Via("item", "work_item")),
        COMMENT_FIELDS,
        CommentRecord
    ),
    table!("board", Some(Owned::ByOrg), BOARD_FIELDS, BoardRecord),
    table!(
        "board_card",
        Some(Owned::Via("workflow", "workflow")),
        BOARD_CARD_FIELDS,
        BoardCardRecord
    ),
    table!(
        "board_filter",
        Some(Owned::ByOrg),
        FILTER_FIELDS,
        FilterRecord
    ),
    table!("kiosk", Some(Owned::ByOrg), KIOSK_FIELDS, KioskRecord),
    table!("project", Some(Owned::ByOrg), PROJECT_FIELDS, ProjectRecord),
    table!("task", Some(Owned::ByOrg), TASK_FIELDS, TaskRecord),
    table!(
        "task_comment",
        Some(Owned::Via("project", "project")),
        TASK_COMMENT_FIELDS,
        CommentRecord
    ),
    table!(
        "attachment",
        Some(Owned::ByOrg),
        ATTACHMENT_FIELDS,
        AttachmentRecord
    ),
    // Not exported: several nodes' working state (heartbeats, screens waiting to be
    // paired, attempt counters), short-lived by design.
    table!("node", None, NODE_FIELDS, NodeRecord),
    table!("pairing", None, PAIRING_FIELDS, PairingRecord),
    table!("throttle", None, THROTTLE_FIELDS, ThrottleRecord),
    // Not exported: messages on their way (and a log of those sent), one-time links.
    table!("outbox", None, OUTBOX_FIELDS, OutboxRecord),
    table!(
        "password_reset",
        None,
        PASSWORD_RESET_FIELDS,
        PasswordResetRecord
    ),
    // Not exported: people set their mail preferences again.
    table!("mail_pref", None, MAIL_PREF_FIELDS, MailPrefRecord),
    // Not exported: what calendar mail was sent (the imported organization's future
    // changes mail everyone afresh), where journal consumers stand.
    table!(
        "calendar_mail",
        None,
        CALENDAR_MAIL_FIELDS,
        CalendarMailRecord
    ),
    table!(
        "journal_cursor",
        None,
        JOURNAL_CURSOR_FIELDS,
        JournalCursorRecord
    ),
    // Not exported: uploads in flight and removals under way.
    table!("blob", None, BLOB_FIELDS, BlobRecord),
];

/// The exported tables with how their rows belong to an organization, in import order.
pub fn exported() -> impl Iterator<Item = (&'static str, Owned)> {
    TABLES
        .iter()
        .filter_map(|t| t.export.map(|owned| (t.name, owned)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MIGRATIONS;
    use std::collections::BTreeSet;

    /// The tables the migrations define (`DEFINE TABLE [IF NOT EXISTS] name`).
    fn defined() -> BTreeSet<String> {
        MIGRATIONS
            .iter()
            .flat_map(|m| m.sql.lines())
            .filter_map(|l| {
                let rest = l.trim().strip_prefix("DEFINE TABLE ")?;
                let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
                rest.split([' ', ';']).next().map(str::to_string)
            })
            .collect()
    }

    #[test]
    fn check_and_export_cover_every_table_the_migrations_define() {
        let defined = defined();
        assert!(defined.len() >= 29, "{defined:?}");
        let listed: BTreeSet<String> = TABLES.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(listed.len(), TABLES.len(), "a table listed twice");
        assert_eq!(
            listed, defined,
            "every table the migrations define is checked and exported (or says why not) — add it to TABLES"
        );
    }
}
