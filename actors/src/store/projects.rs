//! Records, reads and writes of projects with their tasks and task comments (each
//! project's `Project` actor's), and of attachments (their owner's actor's: the
//! `Project` for a task's, the `WorkItem` for an item's).

use super::writes::Write;
use super::{CommentRecord, Store, StoreError, StoreResult};
use cflows_protocol::{
    AttachmentView, CommentView, Priority, ProjectId, ProjectView, TaskLink, TaskStatus, TaskView,
    UserId, WorkflowId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Who holds the bytes of one hash (uploads between writing them and committing their
/// row) and whether a node is removing them: shared by every node on the files volume.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlobRecord {
    pub id: String,
    #[serde(default)]
    pub removing_until: Option<i64>,
    #[serde(default)]
    pub leases: Vec<BlobLease>,
}

/// One upload's hold on a hash's bytes, until `until` (Unix ms).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlobLease {
    pub id: String,
    pub until: i64,
}

pub(super) const BLOB_FIELDS: &str = "record::id(id) AS id, removing_until, leases";

/// A project row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: String,
    pub org: String,
    pub name: String,
    pub description: String,
    pub key: String,
    pub workflow: Option<String>,
    pub statuses: Vec<TaskStatus>,
    pub admins: Vec<String>,
    pub members: Vec<String>,
    pub archived: bool,
    pub next_number: u32,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ProjectRecord> for ProjectView {
    fn from(r: ProjectRecord) -> Self {
        Self {
            id: ProjectId::new(r.id),
            name: r.name,
            description: r.description,
            key: r.key,
            workflow: r.workflow.map(WorkflowId::new),
            statuses: r.statuses,
            admins: r.admins.into_iter().map(UserId::new).collect(),
            members: r.members.into_iter().map(UserId::new).collect(),
            archived: r.archived,
            created_by: UserId::new(r.created_by),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A task row (its comments and attachments are rows of their own).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub org: String,
    pub project: String,
    pub key: String,
    pub title: String,
    pub description: String,
    pub assignee: Option<String>,
    pub status: String,
    pub done: bool,
    pub due: Option<String>,
    pub priority: Priority,
    pub link: Option<TaskLink>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<TaskRecord> for TaskView {
    fn from(r: TaskRecord) -> Self {
        Self {
            id: r.id,
            project: ProjectId::new(r.project),
            key: r.key,
            title: r.title,
            description: r.description,
            assignee: r.assignee.map(UserId::new),
            status: r.status,
            done: r.done,
            due: r.due,
            priority: r.priority,
            link: r.link,
            comments: Vec::new(),
            attachments: Vec::new(),
            created_by: UserId::new(r.created_by),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An attachment row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub id: String,
    pub org: String,
    /// `task:{id}` or `item:{id}`.
    pub owner: String,
    pub project: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub thumbnail: bool,
    pub by: String,
    pub at: i64,
}

impl From<AttachmentRecord> for AttachmentView {
    fn from(r: AttachmentRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            thumbnail: r.thumbnail,
            by: UserId::new(r.by),
            at: r.at,
        }
    }
}

/// A task comment in the row shape of an item's comments (`item` naming the task).
pub(super) const TASK_COMMENT_FIELDS: &str =
    "record::id(id) AS id, task AS item, at, by, by_name, body, mentions";
pub(super) const PROJECT_FIELDS: &str = "record::id(id) AS id, org, name, description, key, workflow, statuses, admins, members, archived, next_number, created_by, created_at, updated_at";
pub(super) const TASK_FIELDS: &str = "record::id(id) AS id, org, project, key, title, description, assignee, status, done, due, priority, link, created_by, created_at, updated_at";
pub(super) const ATTACHMENT_FIELDS: &str = "record::id(id) AS id, org, owner, project, name, content_type, size, sha256, thumbnail, by, at";

impl Store {
    /// The projects of an organization, by name.
    ///
    /// # Errors
    /// The query fails.
    pub async fn projects_of_org(&self, org: &str) -> StoreResult<Vec<ProjectRecord>> {
        self.rows(
            &format!("SELECT {PROJECT_FIELDS} FROM project WHERE org = $org ORDER BY name"),
            json!({ "org": org }),
        )
        .await
    }

    /// One project.
    ///
    /// # Errors
    /// The query fails.
    pub async fn project(&self, id: &str) -> StoreResult<Option<ProjectRecord>> {
        self.row(
            &format!("SELECT {PROJECT_FIELDS} FROM type::record('project', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// A project's tasks, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn tasks_of_project(&self, project: &str) -> StoreResult<Vec<TaskRecord>> {
        self.rows(
            &format!("SELECT {TASK_FIELDS} FROM task WHERE project = $p ORDER BY created_at, id"),
            json!({ "p": project }),
        )
        .await
    }

    /// The comments on a project's tasks, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn task_comments_of_project(&self, project: &str) -> StoreResult<Vec<CommentRecord>> {
        // The same row shape as an item's comments, `item` naming the task.
        self.rows(
            &format!(
                "SELECT {TASK_COMMENT_FIELDS} FROM task_comment WHERE project = $p ORDER BY at, id"
            ),
            json!({ "p": project }),
        )
        .await
    }

    /// The attachments of a project's tasks, oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn attachments_of_project(
        &self,
        project: &str,
    ) -> StoreResult<Vec<AttachmentRecord>> {
        self.rows(
            &format!(
                "SELECT {ATTACHMENT_FIELDS} FROM attachment WHERE project = $p ORDER BY at, id"
            ),
            json!({ "p": project }),
        )
        .await
    }

    /// The attachments of one owner (`item:{id}`, `task:{id}`), oldest first.
    ///
    /// # Errors
    /// The query fails.
    pub async fn attachments_of(&self, owner: &str) -> StoreResult<Vec<AttachmentRecord>> {
        self.rows(
            &format!("SELECT {ATTACHMENT_FIELDS} FROM attachment WHERE owner = $o ORDER BY at, id"),
            json!({ "o": owner }),
        )
        .await
    }

    /// One attachment.
    ///
    /// # Errors
    /// The query fails.
    pub async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>> {
        self.row(
            &format!("SELECT {ATTACHMENT_FIELDS} FROM type::record('attachment', $id)"),
            json!({ "id": id }),
        )
        .await
    }

    /// How many attachment rows (of any organization) name these bytes.
    ///
    /// # Errors
    /// The query fails.
    pub async fn attachment_uses(&self, sha256: &str) -> StoreResult<u64> {
        self.attachment_uses_inner(sha256).await
    }

    /// Takes a lease on the bytes `sha256` until `until` (an upload between writing them
    /// and committing the row that names them), unless a node is removing them now:
    /// `false` then (wait and try again; the removal is quick). The lease and a removal
    /// both write the hash's `blob` record, so two nodes never do both at once.
    ///
    /// # Errors
    /// The transaction fails otherwise.
    pub async fn lease_blob(
        &self,
        sha256: &str,
        lease: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<bool> {
        let write = Write::new(
            "LET $b = (SELECT * FROM ONLY type::record('blob', $blob_sha));
             IF ($b.removing_until ?? 0) > $blob_now { THROW 'bytes being removed' };
             UPSERT type::record('blob', $blob_sha) SET removing_until = NONE, leases = array::append(array::filter(leases ?? [], |$l| $l.until > $blob_now), { id: $blob_lease, until: $blob_until });",
            json!({ "blob_sha": sha256, "blob_lease": lease, "blob_now": now, "blob_until": until }),
        );
        match self.commit(write, &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Db(e)) if e.contains("being removed") => Ok(false),
            Err(StoreError::TxConflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends lease `lease` on the bytes `sha256`.
    ///
    /// # Errors
    /// The write fails.
    pub async fn end_blob_lease(&self, sha256: &str, lease: &str) -> StoreResult<()> {
        self.run(
            "UPDATE type::record('blob', $sha) SET leases = array::filter(leases ?? [], |$l| $l.id != $lease);",
            json!({ "sha": sha256, "lease": lease }),
        )
        .await
        .map(|_| ())
    }

    /// Claims the removal of the bytes `sha256` for a minute: only when no attachment
    /// row names them and no upload holds a live lease on them (in one transaction with
    /// the hash's `blob` record, which a lease also writes). `false`: keep them.
    ///
    /// # Errors
    /// The transaction fails otherwise.
    pub async fn begin_blob_removal(&self, sha256: &str, now: i64) -> StoreResult<bool> {
        let write = Write::new(
            "LET $b = (SELECT * FROM ONLY type::record('blob', $blob_sha));
             LET $uses = (SELECT count() AS n FROM attachment WHERE sha256 = $blob_sha GROUP ALL)[0].n ?? 0;
             LET $live = array::len(array::filter($b.leases ?? [], |$l| $l.until > $blob_now));
             IF $uses > 0 OR $live > 0 OR ($b.removing_until ?? 0) > $blob_now { THROW 'bytes in use' };
             UPSERT type::record('blob', $blob_sha) SET removing_until = $blob_now + 60000, leases = [];",
            json!({ "blob_sha": sha256, "blob_now": now }),
        );
        match self.commit(write, &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Db(e)) if e.contains("bytes in use") => Ok(false),
            Err(StoreError::TxConflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The removal of the bytes `sha256` is done.
    ///
    /// # Errors
    /// The write fails.
    pub async fn end_blob_removal(&self, sha256: &str) -> StoreResult<()> {
        self.run(
            "DELETE type::record('blob', $sha) WHERE array::len(leases ?? []) = 0;",
            json!({ "sha": sha256 }),
        )
        .await
        .map(|_| ())
    }

    async fn attachment_uses_inner(&self, sha256: &str) -> StoreResult<u64> {
        #[derive(Deserialize)]
        struct Count {
            n: u64,
        }
        let row: Option<Count> = self
            .row(
                "SELECT count() AS n FROM attachment WHERE sha256 = $h GROUP ALL",
                json!({ "h": sha256 }),
            )
            .await?;
        Ok(row.map_or(0, |r| r.n))
    }

    /// The tasks of `org` assigned to `user` that are not done, by due date (undated
    /// last).
    ///
    /// # Errors
    /// The query fails.
    pub async fn open_tasks_of(&self, org: &str, user: &str) -> StoreResult<Vec<TaskRecord>> {
        self.rows(
            &format!(
                "SELECT {TASK_FIELDS}, due ?? '9999-12-31' AS sort_due FROM task WHERE org = $org AND assignee = $u AND done = false ORDER BY sort_due, created_at"
            ),
            json!({ "org": org, "u": user }),
        )
        .await
    }
}

fn project_json(org: &str, p: &ProjectView, next_number: u32) -> serde_json::Value {
    json!({
        "org": org, "name": p.name, "description": p.description, "key": p.key,
        "workflow": p.workflow, "statuses": p.statuses, "admins": p.admins,
        "members": p.members, "archived": p.archived, "next_number": next_number,
        "created_by": p.created_by, "created_at": p.created_at, "updated_at": p.updated_at,
    })
}

/// A project as it is now, and its next task number.
pub fn put_project(org: &str, p: &ProjectView, next_number: u32) -> Write {
    Write::new(
        "UPSERT type::record('project', $project_id) CONTENT $project;",
        json!({ "project_id": p.id, "project": project_json(org, p, next_number) }),
    )
}

/// A task as it is now (its comments and attachments are written on their own).
pub fn put_task(org: &str, t: &TaskView) -> Write {
    Write::new(
        "UPSERT type::record('task', $task_id) CONTENT $task;",
        json!({ "task_id": t.id, "task": {
            "org": org, "project": t.project, "key": t.key, "title": t.title,
            "description": t.description, "assignee": t.assignee, "status": t.status,
            "done": t.done, "due": t.due, "priority": t.priority, "link": t.link,
            "created_by": t.created_by, "created_at": t.created_at, "updated_at": t.updated_at,
        }}),
    )
}

/// Deletes a task with its comments and attachment rows (the bytes are the caller's
/// to release once committed).
pub fn delete_task(id: &str) -> Write {
    Write::new(
        "DELETE type::record('task', $task_id); \
         DELETE task_comment WHERE task = $task_id; \
         DELETE attachment WHERE owner = $task_owner;",
        json!({ "task_id": id, "task_owner": format!("task:{id}") }),
    )
}

/// A new comment on a task.
pub fn add_task_comment(project: &ProjectId, task: &str, c: &CommentView) -> Write {
    Write::new(
        "CREATE type::record('task_comment', $comment_id) CONTENT $comment;",
        json!({ "comment_id": c.id, "comment": {
            "task": task, "project": project, "at": c.at, "by": c.by, "by_name": c.by_name,
            "body": c.body, "mentions": c.mentions,
        }}),
    )
}

/// A new attachment of `owner` (`task:{id}` or `item:{id}`).
pub fn add_attachment(
    org: &str,
    owner: &str,
    project: Option<&ProjectId>,
    a: &AttachmentView,
) -> Write {
    Write::new(
        "CREATE type::record('attachment', $attachment_id) CONTENT $attachment;",
        json!({ "attachment_id": a.id, "attachment": {
            "org": org, "owner": owner, "project": project, "name": a.name,
            "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "thumbnail": a.thumbnail, "by": a.by, "at": a.at,
        }}),
    )
}

/// Deletes an attachment row.
pub fn delete_attachment(id: &str) -> Write {
    Write::new(
        "DELETE type::record('attachment', $attachment_id);",
        json!({ "attachment_id": id }),
    )
}
