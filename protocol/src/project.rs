//! Projects and their tasks (the `project:{id}` stream), and attachments of tasks and
//! work items.
//!
//! Instants are Unix milliseconds (UTC); due dates are `YYYY-MM-DD` calendar dates.

use crate::ids::{ItemId, ProjectId, TeamId, UserId, WorkflowId};
use crate::workflow::{CommentView, Priority};
use serde::{Deserialize, Serialize};

/// A status a project's tasks move through (a column of the project's board).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskStatus {
    /// 1–40 characters of `a-z`, `0-9`, `-`, `_`; unique in the project.
    pub id: String,
    /// 1–80 characters.
    pub name: String,
    /// A task in this status is done (not listed under "My tasks", not overdue).
    #[serde(default)]
    pub done: bool,
}

/// A project of an organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectView {
    pub id: ProjectId,
    /// 1–120 characters.
    pub name: String,
    /// At most 5000 characters.
    pub description: String,
    /// Prefix of its tasks' identifiers (`SSE` → `SSE-12`): 1–6 capital letters or
    /// digits, starting with a letter.
    pub key: String,
    /// When set, the statuses are this workflow's steps (a terminal step is `done`).
    pub workflow: Option<WorkflowId>,
    /// In board order: the project's own list, or its workflow's steps.
    pub statuses: Vec<TaskStatus>,
    /// May change the project, its members and statuses, and delete tasks.
    pub admins: Vec<UserId>,
    /// May read the project and create, change and comment on tasks (admins are
    /// members too). Organization admins may always read and manage it.
    pub members: Vec<UserId>,
    pub archived: bool,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a task is linked to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskLink {
    /// A booking on a team's calendar.
    Booking { team: TeamId, booking: String },
    /// A work item (`/items/{id}`).
    Item { item: ItemId },
}

/// A file attached to a task or a work item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentView {
    pub id: String,
    /// The uploaded file's name with directories and control characters removed
    /// (display only: files are stored by content hash).
    pub name: String,
    /// Decided by the server from the content (magic bytes), never by the name.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// A JPEG thumbnail (at most 320 px on its longer side) exists: images only.
    pub thumbnail: bool,
    pub by: UserId,
    pub at: i64,
}

/// A task of a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskView {
    pub id: String,
    pub project: ProjectId,
    /// `KEY-n`, unique in the project.
    pub key: String,
    /// 1–200 characters.
    pub title: String,
    /// At most 10000 characters.
    pub description: String,
    pub assignee: Option<UserId>,
    /// The id of one of the project's statuses.
    pub status: String,
    /// Its status is a done status.
    pub done: bool,
    /// `YYYY-MM-DD`; shown on the assignee's calendar.
    pub due: Option<String>,
    pub priority: Priority,
    pub link: Option<TaskLink>,
    /// Oldest first.
    pub comments: Vec<CommentView>,
    /// Oldest first.
    pub attachments: Vec<AttachmentView>,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One line of a project's activity feed: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    pub at: i64,
    pub by: UserId,
    pub by_name: String,
    /// For people: `moved SSE-3 to Done`.
    pub text: String,
    /// The task it is about, if any.
    pub task: Option<String>,
}

/// What a subscriber of `project:{id}` gets first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSnapshot {
    pub project: ProjectView,
    /// By creation, oldest first.
    pub tasks: Vec<TaskView>,
    /// The latest activity (at most 100), oldest first.
    pub activity: Vec<ActivityEntry>,
    pub seq: u64,
}

/// A change on a `project:{id}` stream. Every event carries its line of the activity
/// feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProjectEvent {
    /// Created, renamed, members or statuses changed, archived or restored.
    ProjectChanged {
        project: Box<ProjectView>,
        activity: ActivityEntry,
    },
    TaskAdded {
        task: Box<TaskView>,
        activity: ActivityEntry,
    },
    /// Any change of a task: fields, status, a comment, an attachment.
    TaskChanged {
        task: Box<TaskView>,
        activity: ActivityEntry,
    },
    TaskRemoved {
        task: String,
        activity: ActivityEntry,
    },
}

impl ProjectEvent {
    /// The event's kind, as stored in the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ProjectChanged { .. } => "project_changed",
            Self::TaskAdded { .. } => "task_added",
            Self::TaskChanged { .. } => "task_changed",
            Self::TaskRemoved { .. } => "task_removed",
        }
    }

    /// The activity line the event carries.
    pub fn activity(&self) -> &ActivityEntry {
        match self {
            Self::ProjectChanged { activity, .. }
            | Self::TaskAdded { activity, .. }
            | Self::TaskChanged { activity, .. }
            | Self::TaskRemoved { activity, .. } => activity,
        }
    }
}

/// A new project or a change of one (`POST /api/v1/projects`, `PATCH
/// /api/v1/projects/{id}`); on a change, absent members stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Only when creating; default: the first letters of the name's words.
    #[serde(default)]
    pub key: Option<String>,
    /// Use this workflow's steps as statuses (creating only; `statuses` must then be
    /// absent).
    #[serde(default)]
    pub workflow: Option<WorkflowId>,
    /// The project's own statuses (1–20); default when creating: To do, In progress,
    /// Done. A status that still holds tasks cannot be removed.
    #[serde(default)]
    pub statuses: Option<Vec<TaskStatus>>,
    /// The creator is always an admin.
    #[serde(default)]
    pub admins: Option<Vec<UserId>>,
    #[serde(default)]
    pub members: Option<Vec<UserId>>,
    #[serde(default)]
    pub archived: Option<bool>,
}

/// A new task (`create_task`, `POST /api/v1/projects/{id}/tasks`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTask {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// A member of the project; notified (`task_assigned`).
    #[serde(default)]
    pub assignee: Option<UserId>,
    /// Default: the first status.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub link: Option<TaskLink>,
}

/// A change of a task; absent members stay as they are, `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `null` unassigns; a new assignee is notified.
    #[serde(
        default,
        with = "crate::workflow::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee: Option<Option<UserId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        default,
        with = "crate::workflow::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(
        default,
        with = "crate::workflow::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub link: Option<Option<TaskLink>>,
}
