//! Workflows and work items: definitions (steps, transitions, step forms), items with
//! their history and comments, and the events and snapshots of the `board:{workflow}`
//! and `item:{id}` streams.
//!
//! Instants are Unix milliseconds (UTC); due dates are `YYYY-MM-DD` calendar dates.

use crate::capacity::BookingState;
use crate::ids::{ItemId, TeamId, UserId, WorkflowId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A workflow definition: the steps items go through and the moves allowed between
/// them. Organization-wide; every save makes a new `version`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowView {
    pub id: WorkflowId,
    pub name: String,
    /// Prefix of its items' identifiers (`VH` → `VH-1042`): 1–6 capital letters or
    /// digits, starting with a letter, unique in the organization.
    pub key: String,
    /// 1 for the first save, one more for each later save.
    pub version: u32,
    /// In board order.
    pub steps: Vec<StepDef>,
    pub transitions: Vec<TransitionDef>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A step of a workflow (a board column).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepDef {
    /// Stable across versions: 1–40 characters of `a-z`, `0-9`, `-`, `_`.
    pub id: String,
    /// 1–80 characters, unique in the workflow.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The team responsible for items in this step.
    #[serde(default)]
    pub team: Option<TeamId>,
    /// Items enter the workflow here. Exactly one step is the start.
    #[serde(default)]
    pub start: bool,
    /// Reaching it means done; nothing leaves it.
    #[serde(default)]
    pub terminal: bool,
    /// When set, an item cannot leave this step (forward) until its booking of this job
    /// type on `team`'s calendar is completed; completing it advances the item.
    #[serde(default)]
    pub booking_job_type: Option<String>,
    /// How long an item should stay here at most (minutes); boards turn amber at 75 %
    /// of it and red past it.
    #[serde(default)]
    pub target_minutes: Option<u32>,
    /// The step's form (field keys are unique in the workflow).
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

/// A field of a step's form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldDef {
    /// 1–40 characters of `a-z`, `0-9`, `_`; unique in the workflow.
    pub key: String,
    /// 1–80 characters.
    pub label: String,
    pub kind: FieldKind,
    /// A required field must have a value before the item leaves the step forward.
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select` (1–50, each 1–80 characters); empty otherwise.
    #[serde(default)]
    pub options: Vec<String>,
}

/// A form field's type and the value it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A string of at most 2000 characters.
    Text,
    /// A finite number.
    Number,
    /// A `YYYY-MM-DD` string.
    Date,
    /// One of `options`.
    Select,
    /// A boolean.
    Checkbox,
    /// A file reference: a string of at most 500 characters (a file name or URL).
    File,
}

impl FieldKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Select => "select",
            Self::Checkbox => "checkbox",
            Self::File => "file",
        }
    }

    /// Every kind, in form order.
    pub const ALL: [FieldKind; 6] = [
        Self::Text,
        Self::Number,
        Self::Date,
        Self::Select,
        Self::Checkbox,
        Self::File,
    ];
}

/// A field's value: a boolean, a number or a string, by the field's kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum FieldValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// A move allowed between two steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransitionDef {
    /// A step id.
    pub from: String,
    /// A step id.
    pub to: String,
    /// 1–80 characters, unique among the transitions leaving `from`.
    pub label: String,
    /// Allowed only when this holds on the item's field data.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// A step back (rework): allowed without the step's booking or required fields, and
    /// not taken when a completed booking advances the item.
    #[serde(default)]
    pub back: bool,
}

/// A test on one field of the item's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    /// A field key of the workflow.
    pub field: String,
    pub op: ConditionOp,
    /// Compared with (absent for `set` / `not_set`).
    #[serde(default)]
    pub value: Option<FieldValue>,
}

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    /// Equal to `value`.
    Eq,
    /// Not equal to `value` (also true when the field has no value).
    Ne,
    /// A number greater than `value`.
    Gt,
    /// A number less than `value`.
    Lt,
    /// Has a value (a checkbox: ticked).
    Set,
    /// Has no value (a checkbox: not ticked).
    NotSet,
}

impl ConditionOp {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Lt => "lt",
            Self::Set => "set",
            Self::NotSet => "not_set",
        }
    }
}

/// How urgent a work item is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "low" => Some(Self::Low),
            "normal" => Some(Self::Normal),
            "high" => Some(Self::High),
            "urgent" => Some(Self::Urgent),
            _ => None,
        }
    }

    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];
}

/// The booking serving an item's current step, as the item knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemBooking {
    pub id: String,
    pub team: TeamId,
    pub step: String,
    pub state: BookingState,
    pub start: i64,
    pub end: i64,
    /// While `held`: when the hold runs out (Unix ms), for the countdown beside Confirm.
    #[serde(default)]
    pub hold_expires_at: Option<i64>,
}

/// A work item (a vehicle, a request…) going through a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkItemView {
    pub id: ItemId,
    /// Unique in the organization: the workflow's key and a number (`VH-1042`).
    pub key: String,
    pub title: String,
    pub workflow: WorkflowId,
    /// The workflow version its last move ran under.
    pub version: u32,
    /// A step id.
    pub step: String,
    /// When it entered `step`.
    pub entered_at: i64,
    /// In a terminal step.
    pub done: bool,
    pub assignee: Option<UserId>,
    pub priority: Priority,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    /// Form values by field key.
    pub data: BTreeMap<String, FieldValue>,
    /// The booking of the current step, if it has one.
    pub booking: Option<ItemBooking>,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One move in an item's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub at: i64,
    pub by: UserId,
    pub by_name: String,
    /// Absent for the item's creation.
    pub from: Option<String>,
    pub to: String,
    /// The transition's label (`created` for the creation, `relocated` when a workflow
    /// edit removed its step).
    pub label: String,
    pub comment: Option<String>,
}

/// A comment on an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentView {
    pub id: String,
    pub at: i64,
    pub by: UserId,
    pub by_name: String,
    /// At most 5000 characters; `@handle` mentions notify members.
    pub body: String,
    /// Members mentioned (and notified).
    pub mentions: Vec<UserId>,
}

/// A work item on a board: what a card shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardView {
    pub id: ItemId,
    pub key: String,
    pub title: String,
    pub step: String,
    pub entered_at: i64,
    pub done: bool,
    pub assignee: Option<UserId>,
    pub priority: Priority,
    pub due: Option<String>,
    pub booking: Option<ItemBooking>,
    pub updated_at: i64,
}

impl From<&WorkItemView> for CardView {
    fn from(i: &WorkItemView) -> Self {
        Self {
            id: i.id.clone(),
            key: i.key.clone(),
            title: i.title.clone(),
            step: i.step.clone(),
            entered_at: i.entered_at,
            done: i.done,
            assignee: i.assignee.clone(),
            priority: i.priority,
            due: i.due.clone(),
            booking: i.booking.clone(),
            updated_at: i.updated_at,
        }
    }
}

/// What a subscriber of `board:{workflow}` gets first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoardSnapshot {
    pub workflow: WorkflowView,
    /// Every item not done, and those done in the last 7 days.
    pub cards: Vec<CardView>,
    pub seq: u64,
}

/// A change on a `board:{workflow}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BoardEvent {
    CardAdded {
        card: CardView,
    },
    /// Moved, or its title, assignee, priority, due date or booking changed.
    CardChanged {
        card: CardView,
    },
    CardRemoved {
        id: ItemId,
    },
    /// A new version of the workflow was saved.
    WorkflowChanged {
        workflow: Box<WorkflowView>,
    },
}

impl BoardEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CardAdded { .. } => "card_added",
            Self::CardChanged { .. } => "card_changed",
            Self::CardRemoved { .. } => "card_removed",
            Self::WorkflowChanged { .. } => "workflow_changed",
        }
    }
}

/// What a subscriber of `item:{id}` gets first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemSnapshot {
    pub item: WorkItemView,
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
    /// Oldest first.
    pub comments: Vec<CommentView>,
    /// Oldest first.
    #[serde(default)]
    pub attachments: Vec<crate::project::AttachmentView>,
    pub seq: u64,
}

/// A change on an `item:{id}` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemEvent {
    ItemCreated {
        item: Box<WorkItemView>,
        entry: HistoryEntry,
    },
    ItemMoved {
        item: Box<WorkItemView>,
        entry: HistoryEntry,
    },
    /// Title, assignee, priority, due date, field data or booking changed.
    ItemChanged {
        item: Box<WorkItemView>,
    },
    Commented {
        comment: CommentView,
    },
    AttachmentAdded {
        attachment: crate::project::AttachmentView,
    },
    AttachmentRemoved {
        id: String,
    },
}

impl ItemEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ItemCreated { .. } => "item_created",
            Self::ItemMoved { .. } => "item_moved",
            Self::ItemChanged { .. } => "item_changed",
            Self::Commented { .. } => "commented",
            Self::AttachmentAdded { .. } => "attachment_added",
            Self::AttachmentRemoved { .. } => "attachment_removed",
        }
    }
}

/// A new work item (`POST /api/v1/workflows/{id}/items`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewItem {
    /// 1–200 characters.
    pub title: String,
    #[serde(default)]
    pub assignee: Option<UserId>,
    #[serde(default)]
    pub priority: Priority,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub due: Option<String>,
    /// Values for fields of the start step.
    #[serde(default)]
    pub data: BTreeMap<String, FieldValue>,
}

/// A change of an item's own fields; absent members stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `null` clears it (send `{"assignee": null}`); absent keeps it.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee: Option<Option<UserId>>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// `null` clears it.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due: Option<Option<String>>,
    /// Field values to set; a `null` value clears that field.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: BTreeMap<String, Option<FieldValue>>,
}

/// A move of an item (`move_item`, `POST /api/v1/items/{id}/moves`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MoveRequest {
    /// The step the client believes the item is in: if it moved meanwhile, the move is
    /// refused with `conflict` naming the step it is in now.
    pub from: String,
    pub to: String,
    /// At most 2000 characters.
    #[serde(default)]
    pub comment: Option<String>,
    /// When `to` requires a booking: place a hold on its team's calendar starting here
    /// (Unix ms). Refused with `no_capacity` (nothing moves) when it does not fit.
    #[serde(default)]
    pub booking_start: Option<i64>,
}

/// A saved board filter: every set member must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BoardFilter {
    /// Items in steps of this team.
    #[serde(default)]
    pub team: Option<TeamId>,
    #[serde(default)]
    pub assignee: Option<UserId>,
    #[serde(default)]
    pub priority: Option<Priority>,
}

/// A saved filter of one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedFilter {
    pub id: String,
    pub name: String,
    pub filter: BoardFilter,
}

/// What a kiosk screen shows: it may read these and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KioskScope {
    /// Work boards (`board:{workflow}` streams).
    #[serde(default)]
    pub boards: Vec<WorkflowId>,
    /// Team capacity boards (`team:{id}` streams).
    #[serde(default)]
    pub teams: Vec<TeamId>,
    /// A list of today's bookings of `teams`.
    #[serde(default)]
    pub today_bookings: bool,
    /// Seconds each view stays on screen before the next (5–3600; 20 when absent).
    #[serde(default = "default_cycle")]
    pub cycle_seconds: u32,
}

fn default_cycle() -> u32 {
    20
}

/// A kiosk screen of an organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KioskView {
    pub id: crate::ids::KioskId,
    /// 1–80 characters.
    pub name: String,
    pub scope: KioskScope,
    pub created_by: UserId,
    pub created_at: i64,
    /// When a screen last opened a connection with it (Unix ms).
    pub last_seen: Option<i64>,
}

/// Distinguishes an absent member from an explicit `null`.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_tells_null_from_absent() {
        let c: ItemChange = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
        assert_eq!(c.assignee, Some(None));
        let c: ItemChange = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
        assert_eq!(c.assignee, None);
        let c: ItemChange =
            serde_json::from_str(r#"{"data": {"km": 12, "ok": true, "x": null}}"#).unwrap();
        assert_eq!(c.data["km"], Some(FieldValue::Number(12.0)));
        assert_eq!(c.data["ok"], Some(FieldValue::Bool(true)));
        assert_eq!(c.data["x"], None);
    }
}
